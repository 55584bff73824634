/*
 * event_oracle: the reference encoder of the change envelope. Builds each
 * message as a jansson tree and serializes it through jansson or avro-c: slow
 * and plainly correct. Capture's direct writers (src/event/event_json.c,
 * event_avro_write.c) are checked against it byte for byte
 * (tests/unit/test_event.c), and the fuzz corpus generator encodes with it.
 * Test support only: the product never links it.
 */
#include "support/event_oracle.h"

#include <avro.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"
#include "event/event_schema.h"

static int event_oracle_set(json_t *obj, const char *key, json_t *val)
{
    return val == NULL ? -1 : json_object_set_new(obj, key, val);
}

static json_t *event_oracle_value_json(const change_value_t *v, const char *col, json_t *unchanged,
                                       char *errbuf, size_t errsize)
{
    switch (v->kind) {
    case CHANGE_NULL:
        return json_null();
    case CHANGE_UNCHANGED:
        json_array_append_new(unchanged, json_string(col));
        return json_string(EVENT_UNAVAILABLE);
    case CHANGE_TEXT: {
        json_t *s = json_stringn(v->data, v->len);
        if (s == NULL)
            snprintf(errbuf, errsize, "column \"%s\": value is not valid UTF-8", col);
        return s;
    }
    case CHANGE_BINARY:
        break;
    }
    event_refuse_binary(col, errbuf, errsize);
    return NULL;
}

/* {column: text|null} of a row image; key_only keeps the identity columns. */
static json_t *event_oracle_tuple_json(const change_relation_t *rel, const change_tuple_t *t,
                                       bool key_only, json_t *unchanged, char *errbuf,
                                       size_t errsize)
{
    json_t *obj = json_object();
    for (int c = 0; obj != NULL && c < rel->ncols && c < t->ncols; c++) {
        if (key_only && !rel->cols[c].is_key)
            continue;
        const char *name = rel->cols[c].name;
        json_t *v = event_oracle_value_json(&t->values[c], name, unchanged, errbuf, errsize);
        if (v == NULL || json_object_set_new(obj, name, v) != 0) {
            json_decref(obj);
            obj = NULL;
        }
    }
    return obj;
}

static json_t *event_oracle_columns_json(const change_relation_t *rel)
{
    json_t *cols = json_array();
    for (int c = 0; cols != NULL && c < rel->ncols; c++) {
        const change_column_t *col = &rel->cols[c];
        json_t *o =
            json_pack("{s:s, s:I, s:i, s:b}", "name", col->name, "type", (json_int_t)col->type_oid,
                      "typmod", (int)col->typmod, "key", (int)col->is_key);
        if (o == NULL || json_array_append_new(cols, o) != 0) {
            json_decref(cols);
            cols = NULL;
        }
    }
    return cols;
}

static json_t *event_oracle_source_json(const change_row_t *row, const event_txn_t *txn,
                                        const char *name)
{
    char cl[LSN_STRLEN], el[LSN_STRLEN];
    lsn_format(txn->commit_lsn, cl, sizeof(cl));
    lsn_format(txn->end_lsn, el, sizeof(el));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s?, s:I, s:I, s:b}",
                     "version", SYNCLINE_VERSION, "connector", "postgresql", "name", name, "schema",
                     row->rel->nspname, "table", row->rel->relname, "txId", (json_int_t)txn->xid,
                     "lsn", (json_int_t)txn->commit_lsn, "ts_ms",
                     (json_int_t)event_ts_ms(txn->commit_time), "commit_lsn", cl, "end_lsn",
                     txn->last ? el : NULL, "xid", (json_int_t)txn->xid, "seq",
                     (json_int_t)txn->seq, "last", (int)txn->last);
}

static json_t *event_oracle_meta_json(const change_row_t *row, const event_truncate_t *tpos,
                                      json_t *unchanged)
{
    char ri[2] = {row->rel->replident, '\0'}, old[2] = {row->old_kind, '\0'};
    json_t *trunc = row->op == CHANGE_TRUNCATE
                        ? json_pack("{s:i, s:i, s:i}", "options", (int)tpos->options, "n", tpos->n,
                                    "i", tpos->i)
                        : json_null();
    return json_pack("{s:I, s:s, s:s?, s:O, s:o, s:o}", "relid", (json_int_t)row->rel->relid,
                     "replident", ri, "old", row->old_kind ? old : NULL, "unchanged", unchanged,
                     "columns", event_oracle_columns_json(row->rel), "truncate", trunc);
}

/* before/after of a change, by operation. */
static int event_oracle_images(json_t *env, const change_row_t *row, json_t *unchanged,
                               char *errbuf, size_t errsize)
{
    json_t *before = json_null(), *after = json_null();
    if (row->old_kind != 0 && row->old_tuple != NULL)
        before = event_oracle_tuple_json(row->rel, row->old_tuple, row->old_kind == 'K', unchanged,
                                         errbuf, errsize);
    if (row->op != CHANGE_DELETE && row->op != CHANGE_TRUNCATE && row->new_tuple != NULL)
        after =
            event_oracle_tuple_json(row->rel, row->new_tuple, false, unchanged, errbuf, errsize);
    int rc = (before == NULL || after == NULL) ? -1 : 0;
    if (event_oracle_set(env, "before", before) != 0 || event_oracle_set(env, "after", after) != 0)
        rc = -1;
    return rc;
}

json_t *event_oracle_build(const change_row_t *row, const event_truncate_t *tpos,
                           const event_txn_t *txn, const char *name, char *errbuf, size_t errsize)
{
    static const event_truncate_t zeros = {0};
    char op[2] = {(char)event_op_of(row->op), '\0'};
    json_t *env = json_object(), *unchanged = json_array();
    errbuf[0] = '\0';
    int rc = (env == NULL || unchanged == NULL) ? -1 : 0;
    if (rc == 0)
        rc = event_oracle_images(env, row, unchanged, errbuf, errsize);
    if (rc == 0)
        rc = event_oracle_set(env, "source", event_oracle_source_json(row, txn, name));
    if (rc == 0)
        rc = event_oracle_set(env, "op", json_string(op));
    if (rc == 0)
        rc = event_oracle_set(env, "ts_ms", json_integer(event_ts_ms(txn->commit_time)));
    if (rc == 0)
        rc = event_oracle_set(env, "syncline",
                              event_oracle_meta_json(row, tpos != NULL ? tpos : &zeros, unchanged));
    json_decref(unchanged);
    if (rc != 0) {
        if (errbuf[0] == '\0')
            snprintf(errbuf, errsize, "out of memory encoding a change of %s.%s", row->rel->nspname,
                     row->rel->relname);
        json_decref(env);
        return NULL;
    }
    return env;
}

int event_oracle_mark_last(json_t *env, lsn_t end_lsn)
{
    char el[LSN_STRLEN];
    json_t *src = json_object_get(env, "source");
    if (src == NULL)
        return -1;
    if (json_object_set_new(src, "end_lsn", json_string(lsn_format(end_lsn, el, sizeof(el)))) != 0)
        return -1;
    return json_object_set_new(src, "last", json_true());
}

static int event_oracle_avro_set(avro_value_t *val, json_t *j);

static int event_oracle_avro_set_record(avro_value_t *val, json_t *j)
{
    size_t n;
    if (!json_is_object(j) || avro_value_get_size(val, &n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        avro_value_t field;
        const char *name;
        if (avro_value_get_by_index(val, i, &field, &name) != 0 ||
            event_oracle_avro_set(&field, json_object_get(j, name)) != 0)
            return -1;
    }
    return 0;
}

static int event_oracle_avro_set_map(avro_value_t *val, json_t *j)
{
    const char *key;
    json_t *v;
    if (!json_is_object(j))
        return -1;
    json_object_foreach(j, key, v)
    {
        avro_value_t elem;
        if (avro_value_add(val, key, &elem, NULL, NULL) != 0 ||
            event_oracle_avro_set(&elem, v) != 0)
            return -1;
    }
    return 0;
}

static int event_oracle_avro_set_array(avro_value_t *val, json_t *j)
{
    size_t i;
    json_t *v;
    if (!json_is_array(j))
        return -1;
    json_array_foreach(j, i, v)
    {
        avro_value_t elem;
        if (avro_value_append(val, &elem, NULL) != 0 || event_oracle_avro_set(&elem, v) != 0)
            return -1;
    }
    return 0;
}

static int event_oracle_avro_set_union(avro_value_t *val, json_t *j)
{
    avro_value_t branch;
    int null = j == NULL || json_is_null(j);
    if (avro_value_set_branch(val, null ? 0 : 1, &branch) != 0)
        return -1;
    return null ? avro_value_set_null(&branch) : event_oracle_avro_set(&branch, j);
}

/* The envelope's fixed parts: JSON types map one to one. */
static int event_oracle_avro_set(avro_value_t *val, json_t *j)
{
    switch (avro_value_get_type(val)) {
    case AVRO_STRING:
        return json_is_string(j)
                   ? avro_value_set_string_len(val, json_string_value(j), json_string_length(j) + 1)
                   : -1;
    case AVRO_INT64:
        return json_is_integer(j) ? avro_value_set_long(val, json_integer_value(j)) : -1;
    case AVRO_INT32:
        return json_is_integer(j) ? avro_value_set_int(val, (int32_t)json_integer_value(j)) : -1;
    case AVRO_BOOLEAN:
        return json_is_boolean(j) ? avro_value_set_boolean(val, json_is_true(j)) : -1;
    case AVRO_NULL:
        return avro_value_set_null(val);
    case AVRO_UNION:
        return event_oracle_avro_set_union(val, j);
    case AVRO_RECORD:
        return event_oracle_avro_set_record(val, j);
    case AVRO_MAP:
        return event_oracle_avro_set_map(val, j);
    case AVRO_ARRAY:
        return event_oracle_avro_set_array(val, j);
    default:
        return -1;
    }
}

/* bytea's hex text form "\x0a1b" -> bytes. */
static int event_oracle_avro_set_bytea(avro_value_t *val, const char *s, size_t len)
{
    long n = hex_bytea_size(s, len);
    uint8_t *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    int rc = buf != NULL && hex_decode(s + 2, (size_t)n, buf) == 0
                 ? avro_value_set_bytes(val, buf, (size_t)n)
                 : -1;
    free(buf);
    return rc;
}

/* A number's text, whole (event_schema_parse_number). */
static int event_oracle_avro_set_number(avro_value_t *val, avro_type_t type, const char *s)
{
    event_schema_number_t num;
    event_schema_type_t t = type == AVRO_INT32   ? EVENT_SCHEMA_INT
                            : type == AVRO_INT64 ? EVENT_SCHEMA_LONG
                            : type == AVRO_FLOAT ? EVENT_SCHEMA_FLOAT
                                                 : EVENT_SCHEMA_DOUBLE;
    if (event_schema_parse_number(t, s, &num) != 0)
        return -1;
    switch (type) {
    case AVRO_INT32:
        return avro_value_set_int(val, (int32_t)num.l);
    case AVRO_INT64:
        return avro_value_set_long(val, num.l);
    case AVRO_FLOAT:
        return avro_value_set_float(val, num.f);
    default:
        return avro_value_set_double(val, num.d);
    }
}

/* One column value, text -> the field's type T (inside ["null", T]). */
static int event_oracle_avro_set_text(avro_value_t *val, json_t *j)
{
    const char *s = json_string_value(j);
    size_t len = json_string_length(j);
    avro_type_t type = avro_value_get_type(val);
    if (s == NULL)
        return -1;
    switch (type) {
    case AVRO_STRING:
        return avro_value_set_string_len(val, s, len + 1);
    case AVRO_BYTES:
        return event_oracle_avro_set_bytea(val, s, len);
    case AVRO_BOOLEAN:
        if (strcmp(s, "t") == 0 || strcmp(s, "true") == 0)
            return avro_value_set_boolean(val, 1);
        return strcmp(s, "f") == 0 || strcmp(s, "false") == 0 ? avro_value_set_boolean(val, 0) : -1;
    case AVRO_INT32:
    case AVRO_INT64:
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
        return strlen(s) == len ? event_oracle_avro_set_number(val, type, s) : -1;
    default:
        return -1;
    }
}

static bool event_oracle_avro_in(json_t *names, const char *name)
{
    size_t i;
    json_t *u;
    json_array_foreach(names, i, u)
    {
        if (json_is_string(u) && strcmp(json_string_value(u), name) == 0)
            return true;
    }
    return false;
}

/* A row image {column: text|null} -> the Value record, field i = column i.
 * An unchanged TOAST value (its placeholder, column listed in unchanged) is null. */
static int event_oracle_avro_set_image(avro_value_t *rec, json_t *img, json_t *env, char *errbuf,
                                       size_t errsize)
{
    json_t *meta = json_object_get(env, "syncline");
    json_t *cols = json_object_get(meta, "columns"),
           *unchanged = json_object_get(meta, "unchanged");
    json_t *src = json_object_get(env, "source");
    size_t n;
    if (!json_is_object(img) || avro_value_get_size(rec, &n) != 0 || n != json_array_size(cols))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_object_get(json_array_get(cols, i), "name"));
        json_t *v = name ? json_object_get(img, name) : NULL;
        if (json_is_string(v) && strcmp(json_string_value(v), EVENT_UNAVAILABLE) == 0 &&
            event_oracle_avro_in(unchanged, name))
            v = NULL;
        avro_value_t field, branch;
        int null = v == NULL || json_is_null(v);
        if (avro_value_get_by_index(rec, i, &field, NULL) != 0 ||
            avro_value_set_branch(&field, null ? 0 : 1, &branch) != 0)
            return -1;
        if (null ? avro_value_set_null(&branch) != 0
                 : event_oracle_avro_set_text(&branch, v) != 0) {
            const char *s = json_string_value(v);
            snprintf(errbuf, errsize,
                     "table %s.%s column \"%s\": value \"%.40s\" does not fit Avro type %s",
                     json_string_value(json_object_get(src, "schema")),
                     json_string_value(json_object_get(src, "table")), name ? name : "?",
                     s ? s : "?", avro_schema_type_name(avro_value_get_schema(&branch)));
            return -1;
        }
    }
    return 0;
}

/* before/after: a typed Value record, or (earlier envelopes) a map of strings. */
static int event_oracle_avro_set_envelope(avro_value_t *val, json_t *env, char *errbuf,
                                          size_t errsize)
{
    size_t n;
    if (avro_value_get_size(val, &n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        avro_value_t field, branch;
        const char *name;
        if (avro_value_get_by_index(val, i, &field, &name) != 0)
            return -1;
        json_t *j = json_object_get(env, name);
        bool image = strcmp(name, "before") == 0 || strcmp(name, "after") == 0;
        if (!image || j == NULL || json_is_null(j) || avro_value_get_type(&field) != AVRO_UNION) {
            if (event_oracle_avro_set(&field, j) != 0)
                return -1;
            continue;
        }
        if (avro_value_set_branch(&field, 1, &branch) != 0)
            return -1;
        int rc = avro_value_get_type(&branch) == AVRO_RECORD
                     ? event_oracle_avro_set_image(&branch, j, env, errbuf, errsize)
                     : event_oracle_avro_set(&branch, j);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int event_oracle_avro_encode(event_avro_t *ea, event_avro_writer_t *w, json_t *env, char **out,
                             size_t *len, char *errbuf, size_t errsize)
{
    size_t size = 0, hdr;
    char head[EVENT_AVRO_HEADER_MAX];
    if (event_avro_frame(ea, w, head, &hdr, errbuf, errsize) != 0)
        return -1;
    avro_value_t *value = event_avro_writer_value(w);
    errbuf[0] = '\0';
    if (event_oracle_avro_set_envelope(value, env, errbuf, errsize) != 0 ||
        avro_value_sizeof(value, &size) != 0) {
        if (errbuf[0] == '\0')
            snprintf(errbuf, errsize, "envelope does not fit the Avro schema %s: %s",
                     event_avro_writer_name(w), avro_strerror());
        return -1;
    }
    *out = malloc(hdr + size);
    if (*out == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return -1;
    }
    memcpy(*out, head, hdr);
    avro_writer_t aw = avro_writer_memory(*out + hdr, (int64_t)size);
    int rc = aw != NULL ? avro_value_write(aw, value) : -1;
    avro_writer_free(aw);
    if (rc != 0) {
        snprintf(errbuf, errsize, "avro write: %s", avro_strerror());
        free(*out);
        *out = NULL;
        return -1;
    }
    *len = hdr + size;
    return 0;
}

event_avro_writer_t *event_oracle_writer(event_codec_t *codec, json_t *env, char *errbuf,
                                         size_t errsize)
{
    event_avro_t *ea = event_codec_avro(codec);
    if (ea == NULL) {
        snprintf(errbuf, errsize, "the JSON format has no writer schema");
        return NULL;
    }
    return event_avro_writer(ea, env, errbuf, errsize);
}

int event_oracle_encode(event_codec_t *codec, json_t *env, char **out, size_t *len, char *errbuf,
                        size_t errsize)
{
    event_avro_t *ea = event_codec_avro(codec);
    if (ea != NULL) {
        event_avro_writer_t *w = event_avro_writer(ea, env, errbuf, errsize);
        return w != NULL ? event_oracle_avro_encode(ea, w, env, out, len, errbuf, errsize) : -1;
    }
    *out = json_dumps(env, JSON_COMPACT);
    if (*out == NULL) {
        snprintf(errbuf, errsize, "out of memory serializing a change");
        return -1;
    }
    *len = strlen(*out);
    return 0;
}

const char event_oracle_v0_schema[] =
    "{\"name\":\"syncline.Envelope\",\"type\":\"record\",\"fields\":["
    "{\"name\":\"op\",\"type\":\"string\"},"
    "{\"name\":\"before\",\"type\":[\"null\",{\"type\":\"map\",\"values\":[\"null\",\"string\"]}]},"
    "{\"name\":\"after\",\"type\":[\"null\",{\"type\":\"map\",\"values\":[\"null\",\"string\"]}]},"
    "{\"name\":\"source\",\"type\":{\"name\":\"syncline.Source\",\"type\":\"record\",\"fields\":["
    "{\"name\":\"version\",\"type\":\"string\"},{\"name\":\"connector\",\"type\":\"string\"},"
    "{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"schema\",\"type\":\"string\"},"
    "{\"name\":\"table\",\"type\":\"string\"},{\"name\":\"txId\",\"type\":\"long\"},"
    "{\"name\":\"lsn\",\"type\":\"long\"},{\"name\":\"ts_ms\",\"type\":\"long\"},"
    "{\"name\":\"commit_lsn\",\"type\":\"string\"},{\"name\":\"end_lsn\",\"type\":[\"null\","
    "\"string\"]},{\"name\":\"xid\",\"type\":\"long\"},{\"name\":\"seq\",\"type\":\"long\"},"
    "{\"name\":\"last\",\"type\":\"boolean\"}]}},"
    "{\"name\":\"ts_ms\",\"type\":\"long\"},"
    "{\"name\":\"syncline\",\"type\":{\"name\":\"syncline.Meta\",\"type\":\"record\",\"fields\":["
    "{\"name\":\"relid\",\"type\":\"long\"},{\"name\":\"replident\",\"type\":\"string\"},"
    "{\"name\":\"old\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"unchanged\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
    "{\"name\":\"columns\",\"type\":{\"type\":\"array\",\"items\":{\"name\":\"syncline.Column\","
    "\"type\":\"record\",\"fields\":[{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"type\","
    "\"type\":\"long\"},{\"name\":\"typmod\",\"type\":\"int\"},{\"name\":\"key\",\"type\":"
    "\"boolean\"}]}}},"
    "{\"name\":\"truncate\",\"type\":[\"null\",{\"name\":\"syncline.Truncate\",\"type\":\"record\","
    "\"fields\":[{\"name\":\"options\",\"type\":\"int\"},{\"name\":\"n\",\"type\":\"int\"},"
    "{\"name\":\"i\",\"type\":\"int\"}]}]}]}}]}";
