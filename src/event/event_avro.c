/*
 * event_avro: converts the jansson envelope to and from avro-c generic values
 * guided by the writer schema, and frames the datums.
 *
 * Design. Writers are found by relation version when encoding (a hash of
 * schema.table, then the columns' names and Avro types) and by fingerprint
 * or registry id when decoding. avro-c is given each schema's Parsing
 * Canonical Form (full names, nothing but types), which it reads reliably;
 * the published text keeps defaults and docs for other readers.
 *
 * Row images are the one typed part: each Value field is ["null", T] and
 * field i is column i of syncline.columns, whose real names the decoder puts
 * back. Values are converted from and to PostgreSQL's text form exactly
 * (floats print their shortest round-trip form, NaN and infinities
 * included; bytea is hex). Everything else in the envelope converts
 * generically (unions are always ["null", X]), which also reads the fixed
 * envelope of earlier versions (images as maps of strings).
 */
#include "event/event_avro.h"

#include <avro.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"
#include "event/event_avro_read.h"
#include "event/event_schema.h"
#include "core/hex.h"
#include "core/utf8.h"

#define EVENT_AVRO_SO_HEADER 10 /* 0xC3 0x01, fingerprint */
#define EVENT_AVRO_CF_HEADER 5  /* 0x00, schema id */
#define EVENT_AVRO_BUCKETS 256

struct event_avro_writer {
    char *text; /* as published */
    char *name;
    uint64_t fingerprint;
    int64_t id;
    bool published;
    /* the relation version it was derived for (nsp NULL when read back) */
    char *nsp, *rel;
    int ncols;
    char **cols;
    event_schema_type_t *types;
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;
    event_avro_plan_t plan;        /* for event_avro_read */
    event_avro_writer_t *next;     /* every writer */
    event_avro_writer_t *next_rel; /* same hash bucket */
};

struct event_avro {
    event_avro_framing_t framing;
    event_avro_writer_t *all;
    event_avro_writer_t *last; /* the last one decoding found */
    event_avro_writer_t *ddl;  /* the DDL events' writer, once used (in all) */
    event_avro_writer_t *buckets[EVENT_AVRO_BUCKETS];
};

/* ---- writers ------------------------------------------------------------- */

event_avro_t *event_avro_new(event_avro_framing_t framing, char *errbuf, size_t errsize)
{
    event_avro_t *ea = calloc(1, sizeof(*ea));
    if (ea == NULL)
        snprintf(errbuf, errsize, "out of memory");
    else
        ea->framing = framing;
    return ea;
}

static void event_avro_writer_free(event_avro_writer_t *w)
{
    event_avro_plan_clear(&w->plan);
    if (w->value.iface != NULL)
        avro_value_decref(&w->value);
    if (w->iface != NULL)
        avro_value_iface_decref(w->iface);
    if (w->schema != NULL)
        avro_schema_decref(w->schema);
    for (int i = 0; w->cols != NULL && i < w->ncols; i++)
        free(w->cols[i]);
    free(w->cols);
    free(w->types);
    free(w->nsp);
    free(w->rel);
    free(w->text);
    free(w->name);
    free(w);
}

void event_avro_free(event_avro_t *ea)
{
    if (ea == NULL)
        return;
    while (ea->all != NULL) {
        event_avro_writer_t *w = ea->all;
        ea->all = w->next;
        event_avro_writer_free(w);
    }
    free(ea);
}

/* A writer for schema text: canonical form, fingerprint, avro-c classes. */
static event_avro_writer_t *event_avro_writer_new(const char *text, size_t len, char *errbuf,
                                                  size_t errsize)
{
    event_avro_writer_t *w = calloc(1, sizeof(*w));
    char *canon = w ? event_schema_canonical(text, len, errbuf, errsize) : NULL;
    if (canon == NULL) {
        if (w == NULL)
            snprintf(errbuf, errsize, "out of memory");
        free(w);
        return NULL;
    }
    w->id = -1;
    w->fingerprint = event_schema_fingerprint(canon);
    w->text = strndup(text, len);
    if (w->text == NULL || avro_schema_from_json_length(canon, strlen(canon), &w->schema) != 0 ||
        (w->iface = avro_generic_class_from_schema(w->schema)) == NULL ||
        avro_generic_value_new(w->iface, &w->value) != 0) {
        snprintf(errbuf, errsize, "Avro schema %016llx: %s", (unsigned long long)w->fingerprint,
                 avro_strerror());
        free(canon);
        event_avro_writer_free(w);
        return NULL;
    }
    free(canon);
    event_avro_plan_init(&w->plan, w->schema);
    const char *ns = avro_schema_namespace(w->schema);
    const char *name = avro_schema_type_name(w->schema);
    if (name == NULL)
        name = "(unnamed)";
    size_t n = strlen(name) + (ns ? strlen(ns) : 0) + 2;
    if ((w->name = malloc(n)) == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        event_avro_writer_free(w);
        return NULL;
    }
    if (ns != NULL && ns[0] != '\0' && strchr(name, '.') == NULL)
        snprintf(w->name, n, "%s.%s", ns, name);
    else
        snprintf(w->name, n, "%s", name);
    return w;
}

const char *event_avro_writer_text(const event_avro_writer_t *w)
{
    return w->text;
}

const char *event_avro_writer_name(const event_avro_writer_t *w)
{
    return w->name;
}

uint64_t event_avro_writer_fingerprint(const event_avro_writer_t *w)
{
    return w->fingerprint;
}

int64_t event_avro_writer_id(const event_avro_writer_t *w)
{
    return w->id;
}

bool event_avro_writer_published(const event_avro_writer_t *w)
{
    return w->published;
}

void event_avro_writer_set_published(event_avro_writer_t *w, int64_t id)
{
    w->published = true;
    w->id = id;
}

static unsigned event_avro_bucket(const char *nsp, const char *rel)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)nsp; *p; p++)
        h = (h ^ *p) * 16777619u;
    h = (h ^ '.') * 16777619u;
    for (const unsigned char *p = (const unsigned char *)rel; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % EVENT_AVRO_BUCKETS;
}

/* True when w was derived for this relation version. */
static bool event_avro_same(const event_avro_writer_t *w, const char *nsp, const char *rel,
                            const event_schema_column_t *cols, int ncols)
{
    if (w->nsp == NULL || w->ncols != ncols || strcmp(w->nsp, nsp) != 0 || strcmp(w->rel, rel) != 0)
        return false;
    for (int i = 0; i < ncols; i++) {
        if (strcmp(cols[i].name, w->cols[i]) != 0 ||
            event_schema_type_of(cols[i].type_oid) != w->types[i])
            return false;
    }
    return true;
}

/* Records the relation version w stands for. */
static int event_avro_key(event_avro_writer_t *w, const char *nsp, const char *rel,
                          const event_schema_column_t *cols, int ncols)
{
    w->nsp = strdup(nsp);
    w->rel = strdup(rel);
    w->cols = calloc((size_t)ncols + 1, sizeof(*w->cols));
    w->types = calloc((size_t)ncols + 1, sizeof(*w->types));
    if (w->nsp == NULL || w->rel == NULL || w->cols == NULL || w->types == NULL)
        return -1;
    for (int i = 0; i < ncols; i++) {
        w->ncols = i + 1;
        if ((w->cols[i] = strdup(cols[i].name)) == NULL)
            return -1;
        w->types[i] = event_schema_type_of(cols[i].type_oid);
    }
    w->ncols = ncols;
    return 0;
}

/* The name of a relation version that is not valid UTF-8 (an Avro schema and
 * message carry them as strings), or NULL. */
static const char *event_avro_bad_name(const char *nsp, const char *rel,
                                       const event_schema_column_t *sc, int n)
{
    if (!utf8_valid(nsp, strlen(nsp)))
        return nsp;
    if (!utf8_valid(rel, strlen(rel)))
        return rel;
    for (int i = 0; i < n; i++) {
        if (!utf8_valid(sc[i].name, strlen(sc[i].name)))
            return sc[i].name;
    }
    return NULL;
}

static event_avro_writer_t *event_avro_derive(const char *nsp, const char *rel,
                                              const event_schema_column_t *sc, int n, char *errbuf,
                                              size_t errsize)
{
    const char *bad = event_avro_bad_name(nsp, rel, sc, n);
    if (bad != NULL) {
        snprintf(errbuf, errsize, "name \"%s\" is not valid UTF-8", bad);
        return NULL;
    }
    json_t *schema = event_schema_derive(nsp, rel, sc, n);
    char *text = schema ? json_dumps(schema, JSON_COMPACT) : NULL;
    event_avro_writer_t *w =
        text ? event_avro_writer_new(text, strlen(text), errbuf, errsize) : NULL;
    if (w != NULL && event_avro_key(w, nsp, rel, sc, n) != 0) {
        event_avro_writer_free(w);
        w = NULL;
        snprintf(errbuf, errsize, "out of memory");
    } else if (text == NULL) {
        snprintf(errbuf, errsize, "out of memory");
    }
    free(text);
    json_decref(schema);
    return w;
}

/* The writer of a relation version: a known one, or derived and kept. */
static event_avro_writer_t *event_avro_lookup(event_avro_t *ea, const char *nsp, const char *rel,
                                              const event_schema_column_t *sc, int n, char *errbuf,
                                              size_t errsize)
{
    unsigned b = event_avro_bucket(nsp, rel);
    for (event_avro_writer_t *w = ea->buckets[b]; w != NULL; w = w->next_rel) {
        if (event_avro_same(w, nsp, rel, sc, n))
            return w;
    }
    event_avro_writer_t *w = event_avro_derive(nsp, rel, sc, n, errbuf, errsize);
    if (w == NULL) {
        size_t len = strlen(errbuf);
        snprintf(errbuf + len, errsize - len, " (writer schema of %s.%s)", nsp, rel);
        return NULL;
    }
    w->next = ea->all;
    ea->all = w;
    w->next_rel = ea->buckets[b];
    ea->buckets[b] = w;
    return w;
}

event_avro_writer_t *event_avro_writer(event_avro_t *ea, json_t *env, char *errbuf, size_t errsize)
{
    json_t *src = json_object_get(env, "source");
    const char *nsp = json_string_value(json_object_get(src, "schema"));
    const char *rel = json_string_value(json_object_get(src, "table"));
    json_t *cols = json_object_get(json_object_get(env, "syncline"), "columns");
    if (nsp == NULL || rel == NULL || !json_is_array(cols)) {
        snprintf(errbuf, errsize, "envelope without source.schema, source.table or columns");
        return NULL;
    }
    int n = (int)json_array_size(cols);
    event_schema_column_t *sc = calloc((size_t)n + 1, sizeof(*sc));
    if (sc == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        json_t *c = json_array_get(cols, (size_t)i);
        sc[i].name = json_string_value(json_object_get(c, "name"));
        sc[i].type_oid = (uint32_t)json_integer_value(json_object_get(c, "type"));
        if (sc[i].name == NULL) {
            free(sc);
            snprintf(errbuf, errsize, "syncline.columns: malformed entry (writer schema of %s.%s)",
                     nsp, rel);
            return NULL;
        }
    }
    event_avro_writer_t *w = event_avro_lookup(ea, nsp, rel, sc, n, errbuf, errsize);
    free(sc);
    return w;
}

event_avro_writer_t *event_avro_writer_rel(event_avro_t *ea, const change_relation_t *rel,
                                           char *errbuf, size_t errsize)
{
    event_schema_column_t stack[64] = {{0}};
    event_schema_column_t *sc = rel->ncols <= 64 ? stack : calloc((size_t)rel->ncols, sizeof(*sc));
    if (sc == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    for (int i = 0; i < rel->ncols; i++) {
        sc[i].name = rel->cols[i].name;
        sc[i].type_oid = rel->cols[i].type_oid;
    }
    event_avro_writer_t *w =
        event_avro_lookup(ea, rel->nspname, rel->relname, sc, rel->ncols, errbuf, errsize);
    if (sc != stack)
        free(sc);
    return w;
}

event_avro_writer_t *event_avro_writer_ddl(event_avro_t *ea, char *errbuf, size_t errsize)
{
    if (ea->ddl != NULL)
        return ea->ddl;
    event_avro_writer_t *w =
        event_avro_writer_new(event_schema_ddl, strlen(event_schema_ddl), errbuf, errsize);
    if (w == NULL)
        return NULL;
    w->next = ea->all;
    ea->all = w;
    return ea->ddl = w;
}

static event_avro_writer_t *event_avro_find(event_avro_t *ea, const event_avro_ref_t *ref)
{
    if (ea->last != NULL &&
        (ref->by_id ? ea->last->id == ref->id : ea->last->fingerprint == ref->fingerprint))
        return ea->last;
    for (event_avro_writer_t *w = ea->all; w != NULL; w = w->next) {
        if (ref->by_id ? w->id == ref->id : w->fingerprint == ref->fingerprint)
            return ea->last = w;
    }
    return NULL;
}

event_avro_writer_t *event_avro_add(event_avro_t *ea, const char *text, size_t len,
                                    const event_avro_ref_t *ref, char *errbuf, size_t errsize)
{
    event_avro_writer_t *w = event_avro_find(ea, ref);
    if (w != NULL)
        return w;
    w = event_avro_writer_new(text, len, errbuf, errsize);
    if (w == NULL)
        return NULL;
    if (!ref->by_id && w->fingerprint != ref->fingerprint) {
        snprintf(errbuf, errsize, "schema published as fingerprint %016llx has fingerprint %016llx",
                 (unsigned long long)ref->fingerprint, (unsigned long long)w->fingerprint);
        event_avro_writer_free(w);
        return NULL;
    }
    if (ref->by_id) {
        /* the same schema may also be known by fingerprint: keep both */
        event_avro_ref_t fp = {.fingerprint = w->fingerprint};
        event_avro_writer_t *known = event_avro_find(ea, &fp);
        if (known != NULL && known->id < 0) {
            event_avro_writer_free(w);
            known->id = ref->id;
            return known;
        }
        w->id = ref->id;
    }
    w->published = true;
    w->next = ea->all;
    ea->all = w;
    return w;
}

size_t event_avro_header_len(const event_avro_t *ea)
{
    return ea->framing == EVENT_AVRO_CONFLUENT ? EVENT_AVRO_CF_HEADER : EVENT_AVRO_SO_HEADER;
}

int event_avro_frame(const event_avro_t *ea, const event_avro_writer_t *w,
                     char out[EVENT_AVRO_HEADER_MAX], size_t *len, char *errbuf, size_t errsize)
{
    if (ea->framing == EVENT_AVRO_CONFLUENT) {
        if (w->id < 0 || w->id > INT32_MAX) {
            snprintf(errbuf, errsize, "writer schema %s has no Schema Registry id", w->name);
            return -1;
        }
        out[0] = 0;
        for (int i = 0; i < 4; i++)
            out[1 + i] = (char)((uint32_t)w->id >> (8 * (3 - i)));
        *len = EVENT_AVRO_CF_HEADER;
        return 0;
    }
    out[0] = (char)0xC3;
    out[1] = 0x01;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (char)(w->fingerprint >> (8 * i));
    *len = EVENT_AVRO_SO_HEADER;
    return 0;
}

avro_value_t *event_avro_writer_value(event_avro_writer_t *w)
{
    avro_value_reset(&w->value);
    return &w->value;
}

/* ---- avro -> text --------------------------------------------------------- */

static json_t *event_avro_float_text(double d, bool single)
{
    char buf[EVENT_AVRO_READ_FLOATLEN];
    size_t n = event_avro_read_float(d, single, buf);
    return json_stringn(buf, n);
}

static json_t *event_avro_bytea_text(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 3);
    if (s == NULL)
        return NULL;
    json_t *j = json_stringn(s, event_avro_read_bytea(p, n, s));
    free(s);
    return j;
}

/* One Value field (["null", T]) -> its PostgreSQL text form, or null. */
static json_t *event_avro_get_text(avro_value_t *val)
{
    avro_value_t v;
    const void *p;
    const char *s;
    size_t size;
    int32_t i;
    int64_t l;
    float f;
    double d;
    int b;
    char buf[32];
    if (avro_value_get_type(val) != AVRO_UNION)
        v = *val;
    else if (avro_value_get_current_branch(val, &v) != 0)
        return NULL;
    switch (avro_value_get_type(&v)) {
    case AVRO_NULL:
        return json_null();
    case AVRO_STRING:
        return avro_value_get_string(&v, &s, &size) == 0 ? json_stringn(s, size ? size - 1 : 0)
                                                         : NULL;
    case AVRO_BYTES:
        return avro_value_get_bytes(&v, &p, &size) == 0 ? event_avro_bytea_text(p, size) : NULL;
    case AVRO_BOOLEAN:
        return avro_value_get_boolean(&v, &b) == 0 ? json_string(b ? "t" : "f") : NULL;
    case AVRO_INT32:
        return avro_value_get_int(&v, &i) == 0 && snprintf(buf, sizeof(buf), "%d", (int)i) > 0
                   ? json_string(buf)
                   : NULL;
    case AVRO_INT64:
        return avro_value_get_long(&v, &l) == 0 &&
                       snprintf(buf, sizeof(buf), "%lld", (long long)l) > 0
                   ? json_string(buf)
                   : NULL;
    case AVRO_FLOAT:
        return avro_value_get_float(&v, &f) == 0 ? event_avro_float_text(f, true) : NULL;
    case AVRO_DOUBLE:
        return avro_value_get_double(&v, &d) == 0 ? event_avro_float_text(d, false) : NULL;
    default:
        return NULL; /* no PostgreSQL text form for it */
    }
}

/* A Value record -> [text|null, ...] in field order (names come later). */
static json_t *event_avro_get_image(avro_value_t *rec)
{
    size_t n;
    json_t *out = json_array();
    if (out == NULL || avro_value_get_size(rec, &n) != 0) {
        json_decref(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        avro_value_t field;
        json_t *t =
            avro_value_get_by_index(rec, i, &field, NULL) == 0 ? event_avro_get_text(&field) : NULL;
        if (t == NULL || json_array_append_new(out, t) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *event_avro_get(avro_value_t *val);

/* Records (keyed by field name), maps (by key) and arrays. */
static json_t *event_avro_get_compound(avro_value_t *val, avro_type_t type)
{
    size_t n;
    json_t *out = type == AVRO_ARRAY ? json_array() : json_object();
    if (out == NULL || avro_value_get_size(val, &n) != 0) {
        json_decref(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        avro_value_t child;
        const char *name = NULL;
        json_t *c =
            avro_value_get_by_index(val, i, &child, &name) == 0 ? event_avro_get(&child) : NULL;
        int rc = c == NULL            ? -1
                 : type == AVRO_ARRAY ? json_array_append_new(out, c)
                                      : json_object_set_new(out, name, c);
        if (rc != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *event_avro_get(avro_value_t *val)
{
    avro_type_t type = avro_value_get_type(val);
    const char *s;
    size_t size;
    int64_t l;
    int32_t i;
    int b;
    avro_value_t branch;
    switch (type) {
    case AVRO_STRING:
        return avro_value_get_string(val, &s, &size) == 0 ? json_stringn(s, size ? size - 1 : 0)
                                                          : NULL;
    case AVRO_INT64:
        return avro_value_get_long(val, &l) == 0 ? json_integer(l) : NULL;
    case AVRO_INT32:
        return avro_value_get_int(val, &i) == 0 ? json_integer(i) : NULL;
    case AVRO_BOOLEAN:
        return avro_value_get_boolean(val, &b) == 0 ? json_boolean(b) : NULL;
    case AVRO_NULL:
        return json_null();
    case AVRO_UNION:
        if (avro_value_get_current_branch(val, &branch) != 0)
            return NULL;
        /* a typed row image: positional texts */
        return avro_value_get_type(&branch) == AVRO_RECORD &&
                       strcmp(avro_schema_type_name(avro_value_get_schema(&branch)), "Value") == 0
                   ? event_avro_get_image(&branch)
                   : event_avro_get(&branch);
    case AVRO_RECORD:
    case AVRO_MAP:
    case AVRO_ARRAY:
        return event_avro_get_compound(val, type);
    default:
        return NULL;
    }
}

/* [text, ...] images -> {column: text}: field i is column i of syncline.columns
 * (for envelopes without them, as Debezium's, the Avro field names). */
static int event_avro_name_image(json_t *env, const char *member, avro_value_t *root, char *errbuf,
                                 size_t errsize)
{
    json_t *img = json_object_get(env, member);
    if (!json_is_array(img))
        return 0;
    json_t *cols = json_object_get(json_object_get(env, "syncline"), "columns");
    avro_value_t field, rec = {0};
    if (cols == NULL && (avro_value_get_by_name(root, member, &field, NULL) != 0 ||
                         avro_value_get_current_branch(&field, &rec) != 0))
        return -1;
    if (cols != NULL && json_array_size(cols) != json_array_size(img)) {
        snprintf(errbuf, errsize, "%s has %zu fields, syncline.columns %zu columns", member,
                 json_array_size(img), json_array_size(cols));
        return -1;
    }
    json_t *obj = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(img, i, v)
    {
        const char *name = NULL;
        avro_value_t unused;
        if (cols != NULL)
            name = json_string_value(json_object_get(json_array_get(cols, i), "name"));
        else if (avro_value_get_by_index(&rec, i, &unused, &name) != 0)
            name = NULL;
        if (name == NULL || obj == NULL || json_object_set(obj, name, v) != 0) {
            json_decref(obj);
            snprintf(errbuf, errsize, "%s: column %zu has no name in syncline.columns", member, i);
            return -1;
        }
    }
    return json_object_set_new(env, member, obj);
}

/*
 * Checks that the datum at [*p, end) fits the schema before avro-c reads it:
 * avro-c allocates whatever a string length or block count says (a negative
 * or huge one from a poison message means a huge malloc), so every length and
 * count must fit in the bytes that are left. Every item of the envelope's
 * arrays and maps takes at least one byte, so count <= bytes left holds for
 * valid data. Depth is bounded by the schema and the input.
 */
static int event_avro_varint(const uint8_t **p, const uint8_t *end, int64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return 0;
        }
    }
    return -1;
}

static int event_avro_check_string(const uint8_t **p, const uint8_t *end)
{
    int64_t n;
    if (event_avro_varint(p, end, &n) != 0 || n < 0 || n > end - *p)
        return -1;
    *p += n;
    return 0;
}

static int event_avro_skip(const uint8_t **p, const uint8_t *end, int64_t n)
{
    if (n > end - *p)
        return -1;
    *p += n;
    return 0;
}

static int event_avro_check(const uint8_t **p, const uint8_t *end, avro_schema_t s);

static int event_avro_check_blocks(const uint8_t **p, const uint8_t *end, avro_schema_t s)
{
    bool map = is_avro_map(s);
    avro_schema_t items = map ? avro_schema_map_values(s) : avro_schema_array_items(s);
    int64_t count, bytes;
    for (;;) {
        if (event_avro_varint(p, end, &count) != 0)
            return -1;
        if (count == 0)
            return 0;
        if (count < 0) { /* a negative count is followed by the block's size in bytes */
            if (count == INT64_MIN || event_avro_varint(p, end, &bytes) != 0)
                return -1;
            count = -count;
        }
        if (count > end - *p)
            return -1;
        for (int64_t i = 0; i < count; i++) {
            if ((map && event_avro_check_string(p, end) != 0) ||
                event_avro_check(p, end, items) != 0)
                return -1;
        }
    }
}

static int event_avro_check(const uint8_t **p, const uint8_t *end, avro_schema_t s)
{
    int64_t v;
    switch (avro_typeof(s)) {
    case AVRO_STRING:
    case AVRO_BYTES:
        return event_avro_check_string(p, end);
    case AVRO_INT32:
    case AVRO_INT64:
    case AVRO_ENUM:
        return event_avro_varint(p, end, &v);
    case AVRO_FLOAT:
        return event_avro_skip(p, end, 4);
    case AVRO_DOUBLE:
        return event_avro_skip(p, end, 8);
    case AVRO_FIXED:
        return event_avro_skip(p, end, avro_schema_fixed_size(s));
    case AVRO_BOOLEAN:
        return event_avro_skip(p, end, 1);
    case AVRO_NULL:
        return 0;
    case AVRO_LINK:
        return event_avro_check(p, end, avro_schema_link_target(s));
    case AVRO_UNION:
        if (event_avro_varint(p, end, &v) != 0 || v < 0 || v >= (int64_t)avro_schema_union_size(s))
            return -1;
        return event_avro_check(p, end, avro_schema_union_branch(s, (int)v));
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(s); i++)
            if (event_avro_check(p, end, avro_schema_record_field_get_by_index(s, (int)i)) != 0)
                return -1;
        return 0;
    case AVRO_MAP:
    case AVRO_ARRAY:
        return event_avro_check_blocks(p, end, s);
    default:
        return -1;
    }
}

bool event_avro_framed(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    return len >= 1 && (p[0] == 0x00 || (p[0] == 0xC3 && (len < 2 || p[1] == 0x01)));
}

/* The writer a header names; *hdr is the header's size. NULL with errbuf. */
static event_avro_writer_t *event_avro_header_writer(event_avro_t *ea, const uint8_t *p, size_t len,
                                                     size_t *hdr, bool *unknown,
                                                     event_avro_ref_t *ref, char *errbuf,
                                                     size_t errsize)
{
    memset(ref, 0, sizeof(*ref));
    if (len >= 1 && p[0] == 0x00) {
        if (len < EVENT_AVRO_CF_HEADER) {
            snprintf(errbuf, errsize, "Confluent wire format: %zu bytes, less than its header",
                     len);
            return NULL;
        }
        ref->by_id = true;
        ref->id =
            (int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4]);
        *hdr = EVENT_AVRO_CF_HEADER;
    } else if (len >= EVENT_AVRO_SO_HEADER && p[0] == 0xC3 && p[1] == 0x01) {
        for (int k = 7; k >= 0; k--)
            ref->fingerprint = (ref->fingerprint << 8) | p[2 + k];
        *hdr = EVENT_AVRO_SO_HEADER;
    } else {
        snprintf(errbuf, errsize,
                 "not Avro single-object encoding (0xC3 0x01 and a fingerprint) "
                 "nor the Confluent wire format (0x00 and a schema id)");
        return NULL;
    }
    event_avro_writer_t *w = event_avro_find(ea, ref);
    if (w == NULL) {
        *unknown = true;
        if (ref->by_id)
            snprintf(errbuf, errsize, "unknown Avro writer schema id %d", (int)ref->id);
        else
            snprintf(errbuf, errsize, "unknown Avro writer schema fingerprint %016llx",
                     (unsigned long long)ref->fingerprint);
    }
    return w;
}

json_t *event_avro_decode(event_avro_t *ea, const void *buf, size_t len, bool *unknown,
                          event_avro_ref_t *missing, char *errbuf, size_t errsize)
{
    const uint8_t *p = buf;
    size_t hdr = 0;
    *unknown = false;
    event_avro_writer_t *w =
        event_avro_header_writer(ea, p, len, &hdr, unknown, missing, errbuf, errsize);
    if (w == NULL)
        return NULL;
    const uint8_t *datum = p + hdr;
    if (event_avro_check(&datum, p + len, w->schema) != 0 || datum != p + len) {
        snprintf(errbuf, errsize,
                 "Avro datum does not decode: a length, count or union branch does not fit "
                 "writer schema %s",
                 w->name);
        return NULL;
    }
    avro_value_reset(&w->value);
    avro_reader_t r = avro_reader_memory((const char *)p + hdr, (int64_t)(len - hdr));
    json_t *env = NULL;
    if (r != NULL && avro_value_read(r, &w->value) == 0)
        env = event_avro_get(&w->value);
    avro_reader_free(r);
    if (env == NULL) {
        snprintf(errbuf, errsize, "Avro datum does not decode: %s", avro_strerror());
        return NULL;
    }
    if (!json_is_object(env) ||
        event_avro_name_image(env, "before", &w->value, errbuf, errsize) != 0 ||
        event_avro_name_image(env, "after", &w->value, errbuf, errsize) != 0) {
        json_decref(env);
        return NULL;
    }
    return env;
}

int event_avro_decode_direct(event_avro_t *ea, const void *buf, size_t len, event_t *ev)
{
    const uint8_t *p = buf;
    size_t hdr = 0;
    bool unknown = false;
    event_avro_ref_t ref;
    char scratch[160];
    memset(ev, 0, sizeof(*ev));
    event_avro_writer_t *w =
        event_avro_header_writer(ea, p, len, &hdr, &unknown, &ref, scratch, sizeof(scratch));
    return w != NULL && event_avro_read(&w->plan, p + hdr, len - hdr, ev);
}
