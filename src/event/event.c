/*
 * event: builds and parses the change envelope (Debezium shape plus a
 * "syncline" section with the relation's columns and transaction markers).
 * Pure: jansson trees in and out; the codecs (event_codec.c) turn them into
 * bytes and back.
 *
 * Why an explicit "syncline" section rather than Debezium's schema block: the
 * applier must rebuild the exact change_relation_t (type OIDs, typmods, replica
 * identity) and tell "unchanged TOAST value" from a string that happens to
 * equal the placeholder; Debezium consumers ignore the extra member.
 */
#include "event/event.h"
#include "event/event_dbz_read.h"
#include "event/event_json_env.h"

#include "core/ddl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building ----------------------------------------------------------- */

void event_refuse_binary(const char *col, char *errbuf, size_t errsize)
{
    snprintf(errbuf, errsize,
             "column \"%s\": binary value; the Kafka transport needs text values "
             "(set apply.binary to false)",
             col);
}

int64_t event_ts_ms(int64_t pg_time)
{
    return pg_time == 0 ? 0 : lsn_pgtime_to_unix_us(pg_time) / 1000;
}

event_op_t event_op_of(change_op_t op)
{
    switch (op) {
    case CHANGE_INSERT:
        break;
    case CHANGE_UPDATE:
        return EVENT_UPDATE;
    case CHANGE_DELETE:
        return EVENT_DELETE;
    case CHANGE_TRUNCATE:
        return EVENT_TRUNCATE;
    }
    return EVENT_CREATE;
}

char *event_key(const change_row_t *row, const char *partitioning, size_t *len)
{
    if (partitioning == NULL || strcmp(partitioning, "none") == 0)
        return NULL;
    json_t *k = json_pack("[s, s]", row->rel->nspname, row->rel->relname);
    const change_tuple_t *t = row->op == CHANGE_DELETE ? row->old_tuple : row->new_tuple;
    if (t == NULL)
        t = row->old_tuple;
    if (strcmp(partitioning, "key") == 0 && row->op != CHANGE_TRUNCATE && t != NULL) {
        for (int c = 0; k != NULL && c < row->rel->ncols && c < t->ncols; c++) {
            const change_value_t *v = &t->values[c];
            if (!row->rel->cols[c].is_key)
                continue;
            json_array_append_new(k, v->kind == CHANGE_TEXT ? json_stringn(v->data, v->len)
                                                            : json_null());
        }
    }
    char *s = k ? json_dumps(k, JSON_COMPACT) : NULL;
    json_decref(k);
    if (s != NULL)
        *len = strlen(s);
    return s;
}

int event_row(const event_t *ev, const change_relation_t *rel, lsn_t lsn, change_row_t *row,
              char *errbuf, size_t errsize)
{
    *row = (change_row_t){.rel = rel, .lsn = lsn};
    switch (ev->op) {
    case EVENT_CREATE:
    case EVENT_READ:
        row->op = CHANGE_INSERT;
        break;
    case EVENT_UPDATE:
        row->op = CHANGE_UPDATE;
        break;
    case EVENT_DELETE:
        row->op = CHANGE_DELETE;
        break;
    case EVENT_TRUNCATE:
        return 1;
    case EVENT_MESSAGE: /* a DDL command: the caller's (the Kafka applier replays it) */
        snprintf(errbuf, errsize, "a DDL message is not a row change");
        return -1;
    }
    if ((row->op != CHANGE_DELETE && !ev->has_new) || (row->op == CHANGE_DELETE && !ev->has_old)) {
        snprintf(errbuf, errsize, "%s of %s.%s without its %s row image",
                 row->op == CHANGE_DELETE ? "delete" : "change", rel->nspname, rel->relname,
                 row->op == CHANGE_DELETE ? "before" : "after");
        return -1;
    }
    row->old_kind = ev->has_old ? ev->old_kind : 0;
    row->old_tuple = row->old_kind ? &ev->old_tuple : NULL;
    row->new_tuple = row->op != CHANGE_DELETE ? &ev->new_tuple : NULL;
    return 0;
}

/* ---- decoding ----------------------------------------------------------- */

void event_clear(event_t *ev)
{
    change_relation_free(ev->rel);
    free(ev->old_tuple.values);
    free(ev->new_tuple.values);
    json_decref(ev->root);
    free(ev->strings);
    memset(ev, 0, sizeof(*ev));
}

/* The transaction members; 0 for what event_txn_from refuses. */
static int event_txn_parts(event_t *ev, const event_parts_t *p)
{
    if (!lsn_parse(p->commit_lsn, &ev->txn.commit_lsn) ||
        (p->end_lsn != NULL && !lsn_parse(p->end_lsn, &ev->txn.end_lsn)))
        return 0;
    if (p->ts_ms > (INT64_MAX - LSN_PG_EPOCH_OFFSET_US) / 1000 ||
        p->ts_ms < (INT64_MIN + LSN_PG_EPOCH_OFFSET_US) / 1000)
        return 0;
    ev->txn.xid = (uint32_t)p->xid;
    ev->txn.seq = p->seq;
    ev->txn.last = p->last;
    ev->txn.commit_time = p->ts_ms == 0 ? 0 : p->ts_ms * 1000 - LSN_PG_EPOCH_OFFSET_US;
    ev->has_txn = true;
    return 1;
}

int event_from_parts(event_t *ev, const event_parts_t *p)
{
    if (strlen(p->op) != 1 || strchr("cudtr", p->op[0]) == NULL || !event_txn_parts(ev, p))
        return 0;
    ev->op = (event_op_t)p->op[0];
    ev->truncate_n = p->truncate ? (int)p->t_n : 1;
    ev->truncate_i = p->truncate ? (int)p->t_i : 0;
    ev->truncate_options = p->truncate ? (uint8_t)p->t_options : 0;
    if (!(ev->truncate_n >= 1 && ev->truncate_i >= 0 && ev->truncate_i < ev->truncate_n))
        return 0;
    change_relation_t rel = {.relid = (uint32_t)p->relid,
                             .nspname = (char *)p->schema,
                             .relname = (char *)p->table,
                             .replident = p->replident[0],
                             .ncols = p->ncols,
                             .cols = p->cols};
    ev->rel = change_relation_dup(&rel);
    ev->old_kind = p->old != NULL ? p->old[0] : 0;
    return ev->rel != NULL;
}

static bool event_tuple_equal(const change_tuple_t *a, const change_tuple_t *b)
{
    if (a->ncols != b->ncols)
        return false;
    for (int c = 0; c < a->ncols; c++) {
        const change_value_t *x = &a->values[c], *y = &b->values[c];
        if (x->kind != y->kind || x->len != y->len ||
            (x->len > 0 && memcmp(x->data, y->data, x->len) != 0))
            return false;
    }
    return true;
}

bool event_equal(const event_t *a, const event_t *b)
{
    return a->op == b->op && a->has_txn == b->has_txn && a->txn.xid == b->txn.xid &&
           a->txn.commit_lsn == b->txn.commit_lsn && a->txn.end_lsn == b->txn.end_lsn &&
           a->txn.commit_time == b->txn.commit_time && a->txn.seq == b->txn.seq &&
           a->txn.last == b->txn.last &&
           (a->rel == NULL || b->rel == NULL ? a->rel == b->rel
                                             : event_relation_equal(a->rel, b->rel)) &&
           a->old_kind == b->old_kind && a->has_old == b->has_old && a->has_new == b->has_new &&
           (!a->has_old || event_tuple_equal(&a->old_tuple, &b->old_tuple)) &&
           (!a->has_new || event_tuple_equal(&a->new_tuple, &b->new_tuple)) &&
           a->truncate_options == b->truncate_options && a->truncate_n == b->truncate_n &&
           a->truncate_i == b->truncate_i && a->ddl.lsn == b->ddl.lsn && a->ddl.len == b->ddl.len &&
           (a->ddl.len == 0 || memcmp(a->ddl.content, b->ddl.content, a->ddl.len) == 0);
}

bool event_relation_equal(const change_relation_t *a, const change_relation_t *b)
{
    if (a->relid != b->relid || a->replident != b->replident || a->ncols != b->ncols ||
        strcmp(a->nspname, b->nspname) != 0 || strcmp(a->relname, b->relname) != 0)
        return false;
    for (int c = 0; c < a->ncols; c++) {
        const change_column_t *x = &a->cols[c], *y = &b->cols[c];
        if (strcmp(x->name, y->name) != 0 || x->type_oid != y->type_oid || x->typmod != y->typmod ||
            x->is_key != y->is_key)
            return false;
    }
    return true;
}

static change_relation_t *event_rel_new(const char *nsp, const char *rel, int ncols)
{
    change_relation_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->nspname = strdup(nsp);
    r->relname = strdup(rel);
    r->cols = calloc((size_t)(ncols > 0 ? ncols : 1), sizeof(*r->cols));
    if (r->nspname == NULL || r->relname == NULL || r->cols == NULL) {
        change_relation_free(r);
        return NULL;
    }
    return r;
}

/* Adds a column; its name is copied. */
static int event_rel_add(change_relation_t *r, const char *name, uint32_t type, int32_t typmod,
                         bool key)
{
    change_column_t *c = &r->cols[r->ncols];
    c->name = strdup(name);
    if (c->name == NULL)
        return -1;
    c->type_oid = type;
    c->typmod = typmod;
    c->is_key = key;
    r->ncols++;
    return 0;
}

/* Keeps text alive in ev->root's "_text" array; its copy there, or NULL. */
static json_t *event_keep_text(event_t *ev, const char *text)
{
    json_t *s = text != NULL ? json_string(text) : NULL;
    if (s == NULL || json_array_append_new(json_object_get(ev->root, "_text"), s) != 0)
        return NULL;
    return s;
}

/* A Debezium value with its field schema fs: its encoding undone
 * (event_dbz_read). 1 when *out is set, 0 when v is to be read as it is. */
static int event_value_decoded(event_t *ev, const json_t *fs, json_t *v, change_value_t *out,
                               char *errbuf, size_t errsize)
{
    char *text;
    switch (event_dbz_read_text(fs, v, &text, errbuf, errsize)) {
    case EVENT_DBZ_READ_AS_IS:
        return 0;
    case EVENT_DBZ_READ_UNAVAILABLE:
        out->kind = CHANGE_UNCHANGED;
        return 1;
    case EVENT_DBZ_READ_TEXT: {
        json_t *s = event_keep_text(ev, text);
        free(text);
        if (s == NULL) {
            snprintf(errbuf, errsize, "out of memory");
            return -1;
        }
        out->kind = CHANGE_TEXT;
        out->data = json_string_value(s);
        out->len = (uint32_t)json_string_length(s);
        return 1;
    }
    case EVENT_DBZ_READ_ERROR:
        break;
    }
    return -1;
}

/* Text of a JSON value kept alive by ev->root's "_text" array (Debezium
 * messages carry numbers, booleans and nested JSON as such; with their
 * field schema fs, Debezium's encodings are undone). */
static int event_value_from(event_t *ev, const json_t *fs, json_t *v, change_value_t *out,
                            char *errbuf, size_t errsize)
{
    if (v == NULL || json_is_null(v)) {
        out->kind = CHANGE_NULL;
        return 0;
    }
    int done = fs != NULL ? event_value_decoded(ev, fs, v, out, errbuf, errsize) : 0;
    if (done != 0)
        return done > 0 ? 0 : -1;
    json_t *s = v;
    if (!json_is_string(v)) {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        s = event_keep_text(ev, text);
        free(text);
        if (s == NULL) {
            snprintf(errbuf, errsize, "cannot read its value");
            return -1;
        }
    }
    out->kind = CHANGE_TEXT;
    out->data = json_string_value(s);
    out->len = (uint32_t)json_string_length(s);
    if (!ev->has_txn && strcmp(out->data, EVENT_UNAVAILABLE) == 0)
        out->kind = CHANGE_UNCHANGED;
    return 0;
}

/* Fills a tuple from a {column: value} image, by the relation's columns
 * (fields: their Connect schemas by name, or NULL). */
static int event_tuple_from(event_t *ev, json_t *img, json_t *unchanged, const json_t *fields,
                            change_tuple_t *t, char *errbuf, size_t errsize)
{
    t->ncols = ev->rel->ncols;
    t->values = calloc((size_t)(t->ncols > 0 ? t->ncols : 1), sizeof(*t->values));
    if (t->values == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return -1;
    }
    for (int c = 0; c < t->ncols; c++) {
        const char *name = ev->rel->cols[c].name;
        char why[256] = "cannot read its value";
        if (event_value_from(ev, fields != NULL ? json_object_get(fields, name) : NULL,
                             json_object_get(img, name), &t->values[c], why, sizeof(why)) != 0) {
            snprintf(errbuf, errsize, "column \"%s\": %s", name, why);
            return -1;
        }
        size_t i;
        json_t *u;
        json_array_foreach(unchanged, i, u)
        {
            if (json_is_string(u) && strcmp(json_string_value(u), name) == 0)
                t->values[c].kind = CHANGE_UNCHANGED;
        }
    }
    return 0;
}

static int event_bad(char *errbuf, size_t errsize, const char *what)
{
    snprintf(errbuf, errsize, "%s", what);
    return -1;
}

/* The relation described by a syncline message's "columns". */
static int event_rel_syncline(event_t *ev, json_t *src, json_t *meta, char *errbuf, size_t errsize)
{
    json_t *cols = json_object_get(meta, "columns");
    const char *ri = json_string_value(json_object_get(meta, "replident"));
    if (!json_is_array(cols) || ri == NULL)
        return event_bad(errbuf, errsize, "syncline.columns or syncline.replident missing");
    ev->rel =
        event_rel_new(json_string_value(json_object_get(src, "schema")),
                      json_string_value(json_object_get(src, "table")), (int)json_array_size(cols));
    if (ev->rel == NULL)
        return event_bad(errbuf, errsize, "out of memory");
    ev->rel->relid = (uint32_t)json_integer_value(json_object_get(meta, "relid"));
    ev->rel->replident = ri[0];
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        json_t *type = json_object_get(c, "type"), *key = json_object_get(c, "key");
        if (name == NULL || !json_is_integer(type) || !json_is_boolean(key))
            return event_bad(errbuf, errsize, "syncline.columns: malformed entry");
        if (event_rel_add(ev->rel, name, (uint32_t)json_integer_value(type),
                          (int32_t)json_integer_value(json_object_get(c, "typmod")),
                          json_is_true(key)) != 0)
            return event_bad(errbuf, errsize, "out of memory");
    }
    return 0;
}

static int event_txn_from(event_t *ev, json_t *src, char *errbuf, size_t errsize)
{
    const char *cl = json_string_value(json_object_get(src, "commit_lsn"));
    const char *el = json_string_value(json_object_get(src, "end_lsn"));
    json_t *seq = json_object_get(src, "seq"), *last = json_object_get(src, "last");
    if (cl == NULL || !lsn_parse(cl, &ev->txn.commit_lsn) || !json_is_integer(seq) ||
        !json_is_boolean(last))
        return event_bad(errbuf, errsize, "source.commit_lsn, seq or last missing or malformed");
    if (el != NULL && !lsn_parse(el, &ev->txn.end_lsn))
        return event_bad(errbuf, errsize, "source.end_lsn is not an LSN");
    ev->txn.xid = (uint32_t)json_integer_value(json_object_get(src, "xid"));
    ev->txn.seq = json_integer_value(seq);
    ev->txn.last = json_is_true(last);
    int64_t ms = json_integer_value(json_object_get(src, "ts_ms"));
    /* a poison ts_ms must not overflow the conversion to a PostgreSQL timestamp */
    if (ms > (INT64_MAX - LSN_PG_EPOCH_OFFSET_US) / 1000 ||
        ms < (INT64_MIN + LSN_PG_EPOCH_OFFSET_US) / 1000)
        return event_bad(errbuf, errsize, "source.ts_ms is out of range");
    ev->txn.commit_time = ms == 0 ? 0 : ms * 1000 - LSN_PG_EPOCH_OFFSET_US;
    ev->has_txn = true;
    return 0;
}

static int event_truncate_from(event_t *ev, json_t *meta)
{
    json_t *t = json_object_get(meta, "truncate");
    ev->truncate_n = 1;
    if (!json_is_object(t))
        return 0;
    ev->truncate_options = (uint8_t)json_integer_value(json_object_get(t, "options"));
    ev->truncate_n = (int)json_integer_value(json_object_get(t, "n"));
    ev->truncate_i = (int)json_integer_value(json_object_get(t, "i"));
    return ev->truncate_n >= 1 && ev->truncate_i >= 0 && ev->truncate_i < ev->truncate_n ? 0 : -1;
}

static int event_decode_syncline(event_t *ev, json_t *env, json_t *meta, char *errbuf,
                                 size_t errsize)
{
    json_t *src = json_object_get(env, "source");
    if (event_txn_from(ev, src, errbuf, errsize) != 0 ||
        event_rel_syncline(ev, src, meta, errbuf, errsize) != 0)
        return -1;
    if (event_truncate_from(ev, meta) != 0)
        return event_bad(errbuf, errsize, "syncline.truncate is malformed");
    const char *old = json_string_value(json_object_get(meta, "old"));
    ev->old_kind = old != NULL ? old[0] : 0;
    json_t *unchanged = json_object_get(meta, "unchanged");
    json_t *before = json_object_get(env, "before"), *after = json_object_get(env, "after");
    ev->has_old = json_is_object(before);
    ev->has_new = json_is_object(after);
    if (ev->has_old &&
        event_tuple_from(ev, before, NULL, NULL, &ev->old_tuple, errbuf, errsize) != 0)
        return -1;
    if (ev->has_new &&
        event_tuple_from(ev, after, unchanged, NULL, &ev->new_tuple, errbuf, errsize) != 0)
        return -1;
    return 0;
}

/* A stable relation id for a Debezium table (no OID travels): FNV-1a. */
static uint32_t event_name_relid(const char *nsp, const char *rel)
{
    uint32_t h = 2166136261u;
    for (const char *p = nsp; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    h = (h ^ '.') * 16777619u;
    for (const char *p = rel; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h | 0x80000000u;
}

/* Debezium keys ({"id": 1} or {"schema":..., "payload": {...}}) name the identity. */
static json_t *event_key_json(const void *key, size_t keylen)
{
    if (key == NULL || keylen == 0)
        return NULL;
    /* a JsonConverter key: only its payload is read, so only it is parsed */
    event_json_span_t s, p;
    json_t *k = event_json_env_find(key, keylen, &s, &p) ? json_loadb(p.p, p.len, 0, NULL) : NULL;
    if (k != NULL)
        return k; /* an object: the span opens with a brace */
    k = json_loadb(key, keylen, 0, NULL);
    json_t *payload = json_object_get(k, "payload");
    if (json_is_object(payload)) {
        json_incref(payload);
        json_decref(k);
        k = payload;
    }
    if (!json_is_object(k)) {
        json_decref(k);
        return NULL;
    }
    return k;
}

static int event_rel_debezium(event_t *ev, json_t *src, json_t *img, json_t *key, char *errbuf,
                              size_t errsize)
{
    const char *nsp = json_string_value(json_object_get(src, "schema"));
    const char *rel = json_string_value(json_object_get(src, "table"));
    ev->rel = event_rel_new(nsp, rel, (int)json_object_size(img));
    if (ev->rel == NULL)
        return event_bad(errbuf, errsize, "out of memory");
    ev->rel->relid = event_name_relid(nsp, rel);
    ev->rel->replident = key != NULL ? 'd' : 'f';
    const char *name;
    json_t *v;
    json_object_foreach(img, name, v)
    {
        bool is_key = key == NULL || json_object_get(key, name) != NULL;
        if (event_rel_add(ev->rel, name, 0, -1, is_key) != 0)
            return event_bad(errbuf, errsize, "out of memory");
    }
    return 0;
}

/* The field schemas of the envelope schema's row struct ("after", else
 * "before"), by column name; NULL without a schema. */
static json_t *event_row_fields(const json_t *schema)
{
    json_t *top = event_dbz_read_fields(schema);
    json_t *row = json_object_get(top, "after");
    if (row == NULL)
        row = json_object_get(top, "before");
    json_t *fields = event_dbz_read_fields(row);
    json_decref(top);
    return fields;
}

static int event_decode_debezium(event_t *ev, json_t *env, const void *key, size_t keylen,
                                 char *errbuf, size_t errsize)
{
    json_t *src = json_object_get(env, "source");
    json_t *before = json_object_get(env, "before"), *after = json_object_get(env, "after");
    ev->txn.last = true;
    ev->truncate_n = 1;
    ev->has_old = json_is_object(before);
    ev->has_new = json_is_object(after) && ev->op != EVENT_DELETE;
    if (ev->op != EVENT_TRUNCATE && !ev->has_new && !ev->has_old)
        return event_bad(errbuf, errsize, "neither before nor after is an object");
    json_t *k = event_key_json(key, keylen);
    int rc = event_rel_debezium(ev, src, ev->has_new ? after : before, k, errbuf, errsize);
    json_decref(k);
    if (rc != 0)
        return -1;
    ev->old_kind = ev->has_old && ev->op != EVENT_CREATE && ev->op != EVENT_READ ? 'O' : 0;
    ev->has_old = ev->old_kind != 0;
    /* the row struct's field schemas, when the JsonConverter wrapper had one */
    json_t *fields = event_row_fields(json_object_get(env, "_schema"));
    rc = 0;
    if (ev->has_old &&
        event_tuple_from(ev, before, NULL, fields, &ev->old_tuple, errbuf, errsize) != 0)
        rc = -1;
    if (rc == 0 && ev->has_new &&
        event_tuple_from(ev, after, NULL, fields, &ev->new_tuple, errbuf, errsize) != 0)
        rc = -1;
    json_decref(fields);
    return rc;
}

/* A DDL event (op "m"): syncline's transaction members and the message
 * "syncline.ddl" with its content and LSN; no relation. */
static int event_decode_ddl(event_t *ev, json_t *env, char *errbuf, size_t errsize)
{
    json_t *msg = json_object_get(env, "message");
    json_t *content = json_object_get(msg, "content");
    const char *prefix = json_string_value(json_object_get(msg, "prefix"));
    const char *lsn = json_string_value(json_object_get(msg, "lsn"));
    ev->op = EVENT_MESSAGE;
    if (prefix == NULL || strcmp(prefix, DDL_MESSAGE_PREFIX) != 0)
        return event_bad(errbuf, errsize,
                         "a logical message (op \"m\") that is not syncline's DDL "
                         "(message.prefix is not \"" DDL_MESSAGE_PREFIX "\")");
    if (!json_is_string(content) || lsn == NULL || !lsn_parse(lsn, &ev->ddl.lsn))
        return event_bad(errbuf, errsize, "message.content or message.lsn missing or malformed");
    if (event_txn_from(ev, json_object_get(env, "source"), errbuf, errsize) != 0)
        return -1;
    ev->ddl.content = json_string_value(content);
    ev->ddl.len = json_string_length(content);
    return 0;
}

static int event_read_op(event_t *ev, json_t *env, char *errbuf, size_t errsize)
{
    const char *op = json_string_value(json_object_get(env, "op"));
    json_t *src = json_object_get(env, "source");
    if (op == NULL || strlen(op) != 1 || strchr("cudtr", op[0]) == NULL)
        return event_bad(errbuf, errsize, "\"op\" is missing or not one of c, u, d, t, r");
    if (json_string_value(json_object_get(src, "schema")) == NULL ||
        json_string_value(json_object_get(src, "table")) == NULL)
        return event_bad(errbuf, errsize, "source.schema or source.table is missing");
    ev->op = (event_op_t)op[0];
    return 0;
}

int event_from_tree(event_t *ev, json_t *env, const void *key, size_t keylen, char *errbuf,
                    size_t errsize)
{
    ev->root = env;
    if (!json_is_object(env) || json_object_set_new(env, "_text", json_array()) != 0) {
        event_clear(ev);
        return event_bad(errbuf, errsize, "not a JSON object");
    }
    const char *op = json_string_value(json_object_get(env, "op"));
    if (op != NULL && strcmp(op, "m") == 0) {
        int rc = event_decode_ddl(ev, env, errbuf, errsize);
        if (rc != 0)
            event_clear(ev);
        return rc;
    }
    int rc = event_read_op(ev, env, errbuf, errsize);
    json_t *meta = json_object_get(env, "syncline");
    if (rc == 0 && json_is_object(meta))
        rc = event_decode_syncline(ev, env, meta, errbuf, errsize);
    else if (rc == 0)
        rc = event_decode_debezium(ev, env, key, keylen, errbuf, errsize);
    if (rc != 0)
        event_clear(ev);
    return rc;
}
