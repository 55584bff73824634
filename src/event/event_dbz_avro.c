/*
 * event_dbz_avro: Connect schemas and values in Avro, by the rules of
 * Confluent's AvroData (the AvroConverter's, connect.meta.data on):
 *
 * - struct -> record named by the schema's name (namespace up to its last
 *   '.'); a struct met again by name is written as a reference to it;
 * - int8/int16 -> int with "connect.type"; int32 -> int; int64 -> long;
 *   float -> float; double -> double; bytes, string, boolean as they are;
 *   array -> array; map with string keys -> map;
 * - an optional schema -> union ["null", T], or [T, "null"] when it has a
 *   default; a record field's "default" is the Connect default, else null
 *   for an optional field;
 * - every non-union schema carries connect.doc, connect.version,
 *   connect.parameters, connect.default and connect.name from its Connect
 *   schema; Decimal gets logicalType decimal with scale and precision
 *   (connect.decimal.precision, else 64); Connect's Date, Time and
 *   Timestamp their Avro logical types.
 *
 * Reading goes the other way, as AvroData.toConnectSchema does for what
 * this module or the AvroConverter writes: connect.* properties back to the
 * Connect schema, unions of null and one type to optional schemas.
 */
#include "event/event_dbz_avro.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"

#define EVENT_DBZ_AVRO_DEPTH 64
/* Connect schema nodes one writer schema may expand to (named references
 * are expanded where they are used). */
#define EVENT_DBZ_AVRO_NODES 100000

/* ---- names ---------------------------------------------------------------- */

static bool event_dbz_avro_valid_name(const char *s)
{
    if (s == NULL || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (s++; *s != '\0'; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

/* A dotted full name whose every part Avro accepts. */
static bool event_dbz_avro_valid_full(const char *s)
{
    char part[512];
    while (s != NULL) {
        const char *dot = strchr(s, '.');
        size_t n = dot != NULL ? (size_t)(dot - s) : strlen(s);
        if (n >= sizeof(part))
            return false;
        memcpy(part, s, n);
        part[n] = '\0';
        if (!event_dbz_avro_valid_name(part))
            return false;
        s = dot != NULL ? dot + 1 : NULL;
    }
    return true;
}

/* ---- Connect schema -> Avro schema ---------------------------------------- */

typedef struct event_dbz_avro_ctx {
    json_t *defined; /* full names of the records written so far */
    char *errbuf;
    size_t errsize;
    int depth;
} event_dbz_avro_ctx_t;

static json_t *event_dbz_avro_of(const json_t *cs, event_dbz_avro_ctx_t *c);

static const char *event_dbz_avro_str(const json_t *cs, const char *key)
{
    return json_string_value(json_object_get(cs, key));
}

static bool event_dbz_avro_optional(const json_t *cs)
{
    return json_is_true(json_object_get(cs, "optional"));
}

static bool event_dbz_avro_has_default(const json_t *cs)
{
    const json_t *d = json_object_get(cs, "default");
    return d != NULL && !json_is_null(d);
}

static json_t *event_dbz_avro_record(const json_t *cs, const char *name, event_dbz_avro_ctx_t *c)
{
    const char *full = name != NULL ? name : "io.confluent.connect.avro.ConnectDefault";
    if (!event_dbz_avro_valid_full(full)) {
        snprintf(c->errbuf, c->errsize, "record name %s is not a valid Avro name", full);
        return NULL;
    }
    if (name != NULL && json_object_get(c->defined, name) != NULL)
        return json_string(name); /* a reference to the record written before */
    if (name != NULL)
        json_object_set_new(c->defined, name, json_true());
    const char *dot = strrchr(full, '.');
    json_t *rec =
        json_pack("{s:s, s:s#, s:s#}", "type", "record", "name", dot != NULL ? dot + 1 : full,
                  strlen(dot != NULL ? dot + 1 : full), "namespace", dot != NULL ? full : "",
                  dot != NULL ? (size_t)(dot - full) : 0);
    json_t *fields = json_array();
    const json_t *fs;
    size_t i;
    json_array_foreach(json_object_get(cs, "fields"), i, fs)
    {
        const char *fname = event_dbz_avro_str(fs, "field");
        if (!event_dbz_avro_valid_name(fname)) {
            snprintf(c->errbuf, c->errsize, "field %s of %s is not a valid Avro name",
                     fname != NULL ? fname : "(none)", full);
            json_decref(fields);
            json_decref(rec);
            return NULL;
        }
        json_t *t = event_dbz_avro_of(fs, c);
        if (t == NULL) {
            json_decref(fields);
            json_decref(rec);
            return NULL;
        }
        json_t *f = json_pack("{s:s, s:o}", "name", fname, "type", t);
        if (event_dbz_avro_has_default(fs))
            json_object_set(f, "default", json_object_get(fs, "default"));
        else if (event_dbz_avro_optional(fs))
            json_object_set_new(f, "default", json_null());
        json_array_append_new(fields, f);
    }
    json_object_set_new(rec, "fields", fields);
    return rec;
}

/* Decimal's Avro properties; 0, or -1 when its parameters are malformed. */
static int event_dbz_avro_decimal(json_t *base, const json_t *params)
{
    const char *scale = json_string_value(json_object_get(params, "scale"));
    const char *prec = json_string_value(json_object_get(params, "connect.decimal.precision"));
    if (scale == NULL)
        return -1;
    json_object_set_new(base, "scale", json_integer(atoi(scale)));
    json_object_set_new(base, "precision", json_integer(prec != NULL ? atoi(prec) : 64));
    return 0;
}

/* The connect.* properties and logical type of a non-union schema. */
static void event_dbz_avro_meta(json_t *base, const json_t *cs, const char *connect_type)
{
    const char *name = event_dbz_avro_str(cs, "name");
    const json_t *params = json_object_get(cs, "parameters");
    if (event_dbz_avro_str(cs, "doc") != NULL)
        json_object_set(base, "connect.doc", json_object_get(cs, "doc"));
    if (json_is_integer(json_object_get(cs, "version")))
        json_object_set(base, "connect.version", json_object_get(cs, "version"));
    if (json_object_size(params) > 0)
        json_object_set(base, "connect.parameters", (json_t *)params);
    if (event_dbz_avro_has_default(cs))
        json_object_set(base, "connect.default", json_object_get(cs, "default"));
    if (name != NULL)
        json_object_set_new(base, "connect.name", json_string(name));
    if (connect_type != NULL)
        json_object_set_new(base, "connect.type", json_string(connect_type));
    if (name == NULL)
        return;
    if (strcmp(name, "org.apache.kafka.connect.data.Decimal") == 0)
        json_object_set_new(base, "logicalType", json_string("decimal"));
    else if (strcmp(name, "org.apache.kafka.connect.data.Date") == 0)
        json_object_set_new(base, "logicalType", json_string("date"));
    else if (strcmp(name, "org.apache.kafka.connect.data.Time") == 0)
        json_object_set_new(base, "logicalType", json_string("time-millis"));
    else if (strcmp(name, "org.apache.kafka.connect.data.Timestamp") == 0)
        json_object_set_new(base, "logicalType", json_string("timestamp-millis"));
}

/* A map whose keys are strings, not optional: an Avro map. */
static bool event_dbz_avro_string_keys(const json_t *cs)
{
    const json_t *k = json_object_get(cs, "keys");
    const char *t = event_dbz_avro_str(k, "type");
    return t != NULL && strcmp(t, "string") == 0 && !event_dbz_avro_optional(k);
}

static json_t *event_dbz_avro_prim(const char *type)
{
    return json_pack("{s:s}", "type", type);
}

/* The Avro schema of cs, not optional. */
static json_t *event_dbz_avro_base(const json_t *cs, event_dbz_avro_ctx_t *c)
{
    const char *type = event_dbz_avro_str(cs, "type");
    const char *name = event_dbz_avro_str(cs, "name");
    const char *connect_type = NULL;
    json_t *base = NULL;
    if (type == NULL) {
        snprintf(c->errbuf, c->errsize, "a Connect schema without a type");
        return NULL;
    }
    if (strcmp(type, "struct") == 0)
        return event_dbz_avro_record(cs, name, c); /* AvroData adds no connect.* to those here */
    if (strcmp(type, "int8") == 0 || strcmp(type, "int16") == 0) {
        connect_type = type;
        base = event_dbz_avro_prim("int");
    } else if (strcmp(type, "int32") == 0) {
        base = event_dbz_avro_prim("int");
    } else if (strcmp(type, "int64") == 0) {
        base = event_dbz_avro_prim("long");
    } else if (strcmp(type, "float") == 0 || strcmp(type, "double") == 0 ||
               strcmp(type, "boolean") == 0 || strcmp(type, "string") == 0) {
        base = event_dbz_avro_prim(type);
    } else if (strcmp(type, "bytes") == 0) {
        base = event_dbz_avro_prim("bytes");
        if (name != NULL && strcmp(name, "org.apache.kafka.connect.data.Decimal") == 0 &&
            event_dbz_avro_decimal(base, json_object_get(cs, "parameters")) != 0) {
            snprintf(c->errbuf, c->errsize, "a Decimal schema without a scale parameter");
            json_decref(base);
            return NULL;
        }
    } else if (strcmp(type, "array") == 0) {
        json_t *items = event_dbz_avro_of(json_object_get(cs, "items"), c);
        base = items != NULL ? json_pack("{s:s, s:o}", "type", "array", "items", items) : NULL;
        if (base == NULL)
            return NULL;
    } else if (strcmp(type, "map") == 0 && event_dbz_avro_string_keys(cs)) {
        json_t *values = event_dbz_avro_of(json_object_get(cs, "values"), c);
        base = values != NULL ? json_pack("{s:s, s:o}", "type", "map", "values", values) : NULL;
        if (base == NULL)
            return NULL;
    } else {
        snprintf(c->errbuf, c->errsize, "Connect type %s has no Avro form here", type);
        return NULL;
    }
    event_dbz_avro_meta(base, cs, connect_type);
    return base;
}

/* A record with connect.* properties: AvroData adds them to records too. */
static json_t *event_dbz_avro_of(const json_t *cs, event_dbz_avro_ctx_t *c)
{
    if (!json_is_object(cs) || ++c->depth > EVENT_DBZ_AVRO_DEPTH) {
        snprintf(c->errbuf, c->errsize, "a Connect schema that is not an object, or too deep");
        return NULL;
    }
    json_t *base = event_dbz_avro_base(cs, c);
    if (base != NULL && json_is_object(base) &&
        strcmp(json_string_value(json_object_get(base, "type")), "record") == 0)
        event_dbz_avro_meta(base, cs, NULL);
    c->depth--;
    if (base == NULL || !event_dbz_avro_optional(cs))
        return base;
    return event_dbz_avro_has_default(cs) ? json_pack("[o, s]", base, "null")
                                          : json_pack("[s, o]", "null", base);
}

json_t *event_dbz_avro_schema(const json_t *connect, char *errbuf, size_t errsize)
{
    event_dbz_avro_ctx_t c = {.defined = json_object(), .errbuf = errbuf, .errsize = errsize};
    json_t *s = c.defined != NULL ? event_dbz_avro_of(connect, &c) : NULL;
    if (c.defined == NULL)
        snprintf(errbuf, errsize, "out of memory");
    json_decref(c.defined);
    return s;
}

/* ---- Connect value -> Avro binary ----------------------------------------- */

static void event_dbz_avro_long(sbuf_t *out, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    char b[10];
    size_t n = 0;
    while (z >= 0x80) {
        b[n++] = (char)((z & 0x7f) | 0x80);
        z >>= 7;
    }
    b[n++] = (char)z;
    sbuf_addn(out, b, n);
}

static void event_dbz_avro_le(sbuf_t *out, uint64_t bits, int n)
{
    char b[8];
    for (int i = 0; i < n; i++)
        b[i] = (char)((bits >> (8 * i)) & 0xff);
    sbuf_addn(out, b, (size_t)n);
}

static void event_dbz_avro_blob(sbuf_t *out, const char *data, size_t n)
{
    event_dbz_avro_long(out, (int64_t)n);
    sbuf_addn(out, data, n);
}

static int event_dbz_avro_put(const json_t *cs, const json_t *v, const char *field, sbuf_t *out,
                              char *errbuf, size_t errsize, int depth);

static int event_dbz_avro_wrong(const char *field, const char *type, char *errbuf, size_t errsize)
{
    snprintf(errbuf, errsize, "field %s: the value does not fit its Connect type %s",
             field != NULL ? field : "(top)", type != NULL ? type : "(none)");
    return -1;
}

static int event_dbz_avro_put_struct(const json_t *cs, const json_t *v, sbuf_t *out, char *errbuf,
                                     size_t errsize, int depth)
{
    const json_t *fs;
    size_t i;
    json_array_foreach(json_object_get(cs, "fields"), i, fs)
    {
        const char *f = event_dbz_avro_str(fs, "field");
        if (event_dbz_avro_put(fs, f != NULL ? json_object_get(v, f) : NULL, f, out, errbuf,
                               errsize, depth + 1) != 0)
            return -1;
    }
    return 0;
}

static int event_dbz_avro_put_bytes(const json_t *v, const char *field, sbuf_t *out, char *errbuf,
                                    size_t errsize)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    unsigned char *raw = s != NULL ? malloc(base64_decoded_max(len) + 1) : NULL;
    long n = raw != NULL ? base64_decode(s, len, raw) : -1;
    if (n < 0) {
        free(raw);
        snprintf(errbuf, errsize, "field %s: bytes that are not base64", field ? field : "(top)");
        return -1;
    }
    event_dbz_avro_blob(out, (const char *)raw, (size_t)n);
    free(raw);
    return 0;
}

static int event_dbz_avro_put_items(const json_t *cs, const json_t *v, const char *field,
                                    sbuf_t *out, char *errbuf, size_t errsize, int depth)
{
    bool map = json_is_object(v);
    size_t n = map ? json_object_size(v) : json_array_size(v);
    if (n > 0)
        event_dbz_avro_long(out, (int64_t)n);
    if (map) {
        const char *k;
        const json_t *e;
        json_object_foreach((json_t *)v, k, e)
        {
            event_dbz_avro_blob(out, k, strlen(k));
            if (event_dbz_avro_put(json_object_get(cs, "values"), e, field, out, errbuf, errsize,
                                   depth + 1) != 0)
                return -1;
        }
    } else {
        const json_t *e;
        size_t i;
        json_array_foreach(v, i, e)
        {
            if (event_dbz_avro_put(json_object_get(cs, "items"), e, field, out, errbuf, errsize,
                                   depth + 1) != 0)
                return -1;
        }
    }
    event_dbz_avro_long(out, 0);
    return 0;
}

/* The value v (not null) of non-optional type type. */
static int event_dbz_avro_put_base(const json_t *cs, const json_t *v, const char *field,
                                   sbuf_t *out, char *errbuf, size_t errsize, int depth)
{
    const char *type = event_dbz_avro_str(cs, "type");
    if (type == NULL)
        return event_dbz_avro_wrong(field, type, errbuf, errsize);
    if (strcmp(type, "struct") == 0 && json_is_object(v))
        return event_dbz_avro_put_struct(cs, v, out, errbuf, errsize, depth);
    if (strncmp(type, "int", 3) == 0 && json_is_integer(v)) {
        event_dbz_avro_long(out, (int64_t)json_integer_value(v));
        return 0;
    }
    if ((strcmp(type, "float") == 0 || strcmp(type, "double") == 0) && json_is_number(v)) {
        double d = json_number_value(v);
        if (type[0] == 'f') {
            float f = (float)d;
            uint32_t bits;
            memcpy(&bits, &f, sizeof(bits));
            event_dbz_avro_le(out, bits, 4);
        } else {
            uint64_t bits;
            memcpy(&bits, &d, sizeof(bits));
            event_dbz_avro_le(out, bits, 8);
        }
        return 0;
    }
    if (strcmp(type, "boolean") == 0 && json_is_boolean(v)) {
        sbuf_addc(out, json_is_true(v) ? 1 : 0);
        return 0;
    }
    if (strcmp(type, "string") == 0 && json_is_string(v)) {
        event_dbz_avro_blob(out, json_string_value(v), json_string_length(v));
        return 0;
    }
    if (strcmp(type, "bytes") == 0 && json_is_string(v))
        return event_dbz_avro_put_bytes(v, field, out, errbuf, errsize);
    if ((strcmp(type, "array") == 0 && json_is_array(v)) ||
        (strcmp(type, "map") == 0 && json_is_object(v)))
        return event_dbz_avro_put_items(cs, v, field, out, errbuf, errsize, depth);
    return event_dbz_avro_wrong(field, type, errbuf, errsize);
}

static int event_dbz_avro_put(const json_t *cs, const json_t *v, const char *field, sbuf_t *out,
                              char *errbuf, size_t errsize, int depth)
{
    bool isnull = v == NULL || json_is_null(v);
    if (depth > EVENT_DBZ_AVRO_DEPTH) {
        snprintf(errbuf, errsize, "a value nested too deep");
        return -1;
    }
    if (!event_dbz_avro_optional(cs)) {
        if (isnull) {
            snprintf(errbuf, errsize, "field %s: null in a field that is not optional",
                     field != NULL ? field : "(top)");
            return -1;
        }
        return event_dbz_avro_put_base(cs, v, field, out, errbuf, errsize, depth);
    }
    bool null_last = event_dbz_avro_has_default(cs); /* [T, "null"] */
    event_dbz_avro_long(out, isnull == null_last ? 1 : 0);
    return isnull ? 0 : event_dbz_avro_put_base(cs, v, field, out, errbuf, errsize, depth);
}

int event_dbz_avro_write(const json_t *connect, const json_t *v, int32_t id, sbuf_t *out,
                         char *errbuf, size_t errsize)
{
    char hdr[EVENT_DBZ_AVRO_HEADER] = {0, (char)((uint32_t)id >> 24), (char)((uint32_t)id >> 16),
                                       (char)((uint32_t)id >> 8), (char)id};
    sbuf_addn(out, hdr, sizeof(hdr));
    if (event_dbz_avro_put(connect, v, NULL, out, errbuf, errsize, 0) != 0)
        return -1;
    if (out->oom) {
        snprintf(errbuf, errsize, "out of memory");
        return -1;
    }
    return 0;
}

int32_t event_dbz_avro_id(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    if (p == NULL || len < EVENT_DBZ_AVRO_HEADER || p[0] != 0)
        return -1;
    uint32_t id = ((uint32_t)p[1] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 8) | p[4];
    return id > INT32_MAX ? -1 : (int32_t)id;
}

/* ---- Avro schema -> Connect schema ---------------------------------------- */

typedef struct event_dbz_avro_rd {
    json_t *names; /* full and short name -> named schema (borrowed) */
    const unsigned char *p, *end;
    char *errbuf;
    size_t errsize;
    int depth;
    long nodes; /* Connect schema nodes made so far */
} event_dbz_avro_rd_t;

static const char *const event_dbz_avro_prims[] = {"null",   "boolean", "int",    "long", "float",
                                                   "double", "bytes",   "string", NULL};

static bool event_dbz_avro_is_prim(const char *s)
{
    for (int i = 0; event_dbz_avro_prims[i] != NULL; i++)
        if (strcmp(s, event_dbz_avro_prims[i]) == 0)
            return true;
    return false;
}

/* Registers the named types of schema s (enclosing namespace ns). */
static void event_dbz_avro_collect(event_dbz_avro_rd_t *r, const json_t *s, const char *ns,
                                   int depth)
{
    size_t i;
    const json_t *e;
    if (depth > EVENT_DBZ_AVRO_DEPTH)
        return;
    if (json_is_array(s)) {
        json_array_foreach(s, i, e) event_dbz_avro_collect(r, e, ns, depth + 1);
        return;
    }
    if (!json_is_object(s))
        return;
    const char *type = event_dbz_avro_str(s, "type");
    const char *name = event_dbz_avro_str(s, "name");
    if (type != NULL && name != NULL &&
        (strcmp(type, "record") == 0 || strcmp(type, "enum") == 0 || strcmp(type, "fixed") == 0)) {
        const char *own = event_dbz_avro_str(s, "namespace");
        char full[1024];
        if (strchr(name, '.') != NULL)
            snprintf(full, sizeof(full), "%s", name);
        else if ((own != NULL ? own : ns) != NULL && (own != NULL ? own : ns)[0] != '\0')
            snprintf(full, sizeof(full), "%s.%s", own != NULL ? own : ns, name);
        else
            snprintf(full, sizeof(full), "%s", name);
        json_object_set(r->names, full, (json_t *)s);
        const char *dot = strrchr(full, '.');
        if (json_object_get(r->names, dot != NULL ? dot + 1 : full) == NULL)
            json_object_set(r->names, dot != NULL ? dot + 1 : full, (json_t *)s);
        char inner[1024];
        snprintf(inner, sizeof(inner), "%.*s", dot != NULL ? (int)(dot - full) : 0, full);
        json_array_foreach(json_object_get(s, "fields"), i, e)
            event_dbz_avro_collect(r, json_object_get(e, "type"), inner, depth + 1);
        return;
    }
    event_dbz_avro_collect(r, json_object_get(s, "items"), ns, depth + 1);
    event_dbz_avro_collect(r, json_object_get(s, "values"), ns, depth + 1);
    if (type == NULL)
        event_dbz_avro_collect(r, json_object_get(s, "type"), ns, depth + 1);
}

/* s with a named reference resolved; NULL when it names nothing known. */
static const json_t *event_dbz_avro_resolve(event_dbz_avro_rd_t *r, const json_t *s)
{
    const char *n = json_string_value(s);
    if (n == NULL || event_dbz_avro_is_prim(n))
        return s;
    const json_t *d = json_object_get(r->names, n);
    if (d == NULL)
        snprintf(r->errbuf, r->errsize, "the writer schema names an unknown type %s", n);
    return d;
}

/* The Avro type name of s (a string or {"type": ...}). */
static const char *event_dbz_avro_type(const json_t *s)
{
    if (json_is_string(s))
        return json_string_value(s);
    const json_t *t = json_object_get(s, "type");
    return json_is_string(t) ? json_string_value(t) : NULL;
}

/* The branch of a [null, T] union that is not null (*null_at: its index). */
static const json_t *event_dbz_avro_nullable(const json_t *u, int *null_at)
{
    if (json_array_size(u) != 2)
        return NULL;
    for (int i = 0; i < 2; i++) {
        const char *t = event_dbz_avro_type(json_array_get(u, (size_t)i));
        if (t != NULL && strcmp(t, "null") == 0) {
            *null_at = i;
            return json_array_get(u, (size_t)(1 - i));
        }
    }
    return NULL;
}

static json_t *event_dbz_avro_connect(event_dbz_avro_rd_t *r, const json_t *s);

static json_t *event_dbz_avro_connect_record(event_dbz_avro_rd_t *r, const json_t *s,
                                             const char *fullname)
{
    json_t *fields = json_array();
    const json_t *f;
    size_t i;
    json_array_foreach(json_object_get(s, "fields"), i, f)
    {
        json_t *fs = event_dbz_avro_connect(r, json_object_get(f, "type"));
        if (fs == NULL) {
            json_decref(fields);
            return NULL;
        }
        json_object_set(fs, "field", json_object_get(f, "name"));
        json_array_append_new(fields, fs);
    }
    return json_pack("{s:s, s:o, s:b, s:s}", "type", "struct", "fields", fields, "optional", 0,
                     "name", fullname);
}

/* Connect's name, version and parameters from the connect.* properties. */
static void event_dbz_avro_connect_meta(json_t *cs, const json_t *s)
{
    const char *lt = event_dbz_avro_str(s, "logicalType");
    if (event_dbz_avro_str(s, "connect.name") != NULL)
        json_object_set(cs, "name", json_object_get(s, "connect.name"));
    if (json_is_integer(json_object_get(s, "connect.version")))
        json_object_set(cs, "version", json_object_get(s, "connect.version"));
    if (json_is_object(json_object_get(s, "connect.parameters")))
        json_object_set(cs, "parameters", json_object_get(s, "connect.parameters"));
    if (event_dbz_avro_str(s, "connect.doc") != NULL)
        json_object_set(cs, "doc", json_object_get(s, "connect.doc"));
    if (lt != NULL && strcmp(lt, "decimal") == 0 && json_object_get(cs, "name") == NULL) {
        char scale[24];
        snprintf(scale, sizeof(scale), "%lld",
                 (long long)json_integer_value(json_object_get(s, "scale")));
        json_object_set_new(cs, "name", json_string("org.apache.kafka.connect.data.Decimal"));
        json_object_set_new(cs, "parameters", json_pack("{s:s}", "scale", scale));
    }
}

static json_t *event_dbz_avro_connect_named(event_dbz_avro_rd_t *r, const json_t *s,
                                            const char *type)
{
    static const struct {
        const char *avro, *connect;
    } map[] = {{"boolean", "boolean"}, {"int", "int32"},     {"long", "int64"},
               {"float", "float"},     {"double", "double"}, {"bytes", "bytes"},
               {"string", "string"},   {"enum", "string"},   {"fixed", "bytes"}};
    json_t *cs = NULL;
    if (strcmp(type, "record") == 0) {
        const char *ns = event_dbz_avro_str(s, "namespace"), *name = event_dbz_avro_str(s, "name");
        char full[1024];
        snprintf(full, sizeof(full), "%s%s%s", ns != NULL && strchr(name, '.') == NULL ? ns : "",
                 ns != NULL && ns[0] != '\0' && strchr(name, '.') == NULL ? "." : "", name);
        cs = event_dbz_avro_connect_record(r, s, full);
    } else if (strcmp(type, "array") == 0) {
        json_t *items = event_dbz_avro_connect(r, json_object_get(s, "items"));
        cs = items ? json_pack("{s:s, s:o, s:b}", "type", "array", "items", items, "optional", 0)
                   : NULL;
    } else if (strcmp(type, "map") == 0) {
        json_t *values = event_dbz_avro_connect(r, json_object_get(s, "values"));
        cs = values ? json_pack("{s:s, s:{s:s, s:b}, s:o, s:b}", "type", "map", "keys", "type",
                                "string", "optional", 0, "values", values, "optional", 0)
                    : NULL;
    } else {
        for (size_t i = 0; cs == NULL && i < sizeof(map) / sizeof(map[0]); i++)
            if (strcmp(type, map[i].avro) == 0)
                cs = json_pack("{s:s, s:b}", "type", map[i].connect, "optional", 0);
        const char *ct = json_is_object(s) ? event_dbz_avro_str(s, "connect.type") : NULL;
        if (cs != NULL && ct != NULL && strcmp(type, "int") == 0)
            json_object_set_new(cs, "type", json_string(ct));
        if (cs == NULL)
            snprintf(r->errbuf, r->errsize, "Avro type %s has no Connect form", type);
    }
    if (cs != NULL && json_is_object(s))
        event_dbz_avro_connect_meta(cs, s);
    return cs;
}

static json_t *event_dbz_avro_connect(event_dbz_avro_rd_t *r, const json_t *s)
{
    if (++r->depth > EVENT_DBZ_AVRO_DEPTH || ++r->nodes > EVENT_DBZ_AVRO_NODES) {
        snprintf(r->errbuf, r->errsize, "the writer schema is nested too deep or too large");
        r->depth--;
        return NULL;
    }
    json_t *cs = NULL;
    int null_at;
    s = event_dbz_avro_resolve(r, s);
    if (s != NULL && json_is_array(s)) {
        const json_t *t = event_dbz_avro_nullable(s, &null_at);
        cs = t != NULL ? event_dbz_avro_connect(r, t) : NULL;
        if (cs != NULL)
            json_object_set_new(cs, "optional", json_true());
        else if (t == NULL)
            snprintf(r->errbuf, r->errsize, "a union other than [null, T] in the writer schema");
    } else if (s != NULL) {
        const char *type = event_dbz_avro_type(s);
        if (type != NULL && json_is_object(s) && json_is_object(json_object_get(s, "type")))
            cs = event_dbz_avro_connect(r, json_object_get(s, "type"));
        else if (type != NULL && strcmp(type, "null") != 0)
            cs = event_dbz_avro_connect_named(r, s, type);
        else
            snprintf(r->errbuf, r->errsize, "a writer schema type Connect cannot read");
    }
    r->depth--;
    return cs;
}

/* ---- Avro binary -> Connect value ----------------------------------------- */

static int event_dbz_avro_get_long(event_dbz_avro_rd_t *r, int64_t *v)
{
    uint64_t z = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            break;
        unsigned char b = *r->p++;
        z |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
            return 0;
        }
    }
    snprintf(r->errbuf, r->errsize, "truncated or malformed Avro integer");
    return -1;
}

static int event_dbz_avro_get_blob(event_dbz_avro_rd_t *r, const unsigned char **data, size_t *n)
{
    int64_t len;
    if (event_dbz_avro_get_long(r, &len) != 0)
        return -1;
    if (len < 0 || (uint64_t)len > (uint64_t)(r->end - r->p)) {
        snprintf(r->errbuf, r->errsize, "Avro bytes or string longer than the message");
        return -1;
    }
    *data = r->p;
    *n = (size_t)len;
    r->p += len;
    return 0;
}

static json_t *event_dbz_avro_get(event_dbz_avro_rd_t *r, const json_t *s);

static json_t *event_dbz_avro_get_fixed(event_dbz_avro_rd_t *r, int n)
{
    uint64_t bits = 0;
    if (r->end - r->p < n) {
        snprintf(r->errbuf, r->errsize, "truncated Avro float or double");
        return NULL;
    }
    for (int i = 0; i < n; i++)
        bits |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    if (n == 4) {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, sizeof(f));
        return isfinite(f) ? json_real(f) : json_null();
    }
    double d;
    memcpy(&d, &bits, sizeof(d));
    return isfinite(d) ? json_real(d) : json_null();
}

static json_t *event_dbz_avro_get_bytes(const unsigned char *data, size_t n)
{
    sbuf_t b = {0};
    base64_encode(&b, data, n);
    json_t *v = json_stringn(b.s != NULL ? b.s : "", b.len);
    sbuf_clear(&b);
    return v;
}

static json_t *event_dbz_avro_get_items(event_dbz_avro_rd_t *r, const json_t *s, bool map)
{
    json_t *out = map ? json_object() : json_array();
    for (;;) {
        int64_t count, size;
        if (event_dbz_avro_get_long(r, &count) != 0)
            break;
        if (count == 0)
            return out;
        if (count < 0 && event_dbz_avro_get_long(r, &size) != 0)
            break;
        if (count == INT64_MIN || (count < 0 ? -count : count) > r->end - r->p) {
            snprintf(r->errbuf, r->errsize, "an Avro block count larger than the message");
            break; /* every item here takes a byte at least; this bounds the loop */
        }
        for (int64_t i = 0; i < (count < 0 ? -count : count); i++) {
            const unsigned char *k = NULL;
            size_t kn = 0;
            char key[512];
            if (map && event_dbz_avro_get_blob(r, &k, &kn) != 0)
                goto fail;
            json_t *e = event_dbz_avro_get(r, json_object_get(s, map ? "values" : "items"));
            if (e == NULL)
                goto fail;
            if (map) {
                snprintf(key, sizeof(key), "%.*s", (int)kn, (const char *)k);
                json_object_set_new(out, key, e);
            } else {
                json_array_append_new(out, e);
            }
        }
    }
fail:
    json_decref(out);
    return NULL;
}

static json_t *event_dbz_avro_get_named(event_dbz_avro_rd_t *r, const json_t *s, const char *type)
{
    const unsigned char *data;
    size_t n;
    int64_t v;
    if (strcmp(type, "null") == 0)
        return json_null();
    if (strcmp(type, "boolean") == 0) {
        if (r->p >= r->end) {
            snprintf(r->errbuf, r->errsize, "truncated Avro boolean");
            return NULL;
        }
        return json_boolean(*r->p++ != 0);
    }
    if (strcmp(type, "int") == 0 || strcmp(type, "long") == 0)
        return event_dbz_avro_get_long(r, &v) == 0 ? json_integer((json_int_t)v) : NULL;
    if (strcmp(type, "float") == 0 || strcmp(type, "double") == 0)
        return event_dbz_avro_get_fixed(r, type[0] == 'f' ? 4 : 8);
    if (strcmp(type, "bytes") == 0)
        return event_dbz_avro_get_blob(r, &data, &n) == 0 ? event_dbz_avro_get_bytes(data, n)
                                                          : NULL;
    if (strcmp(type, "string") == 0) {
        if (event_dbz_avro_get_blob(r, &data, &n) != 0)
            return NULL;
        json_t *str = json_stringn((const char *)data, n);
        if (str == NULL)
            snprintf(r->errbuf, r->errsize, "an Avro string that is not UTF-8");
        return str;
    }
    if (strcmp(type, "record") == 0) {
        json_t *o = json_object();
        const json_t *f;
        size_t i;
        json_array_foreach(json_object_get(s, "fields"), i, f)
        {
            json_t *e = event_dbz_avro_get(r, json_object_get(f, "type"));
            const char *fname = event_dbz_avro_str(f, "name");
            if (e == NULL || fname == NULL) {
                json_decref(e);
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, fname, e);
        }
        return o;
    }
    if (strcmp(type, "enum") == 0) {
        json_t *sym = event_dbz_avro_get_long(r, &v) == 0 && v >= 0
                          ? json_array_get(json_object_get(s, "symbols"), (size_t)v)
                          : NULL;
        if (sym == NULL)
            snprintf(r->errbuf, r->errsize, "an Avro enum index out of range");
        return sym != NULL ? json_incref(sym) : NULL;
    }
    if (strcmp(type, "fixed") == 0) {
        json_int_t size = json_integer_value(json_object_get(s, "size"));
        if (size < 0 || size > r->end - r->p) {
            snprintf(r->errbuf, r->errsize, "truncated Avro fixed");
            return NULL;
        }
        r->p += size;
        return event_dbz_avro_get_bytes(r->p - size, (size_t)size);
    }
    if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0)
        return event_dbz_avro_get_items(r, s, type[1] == 'a');
    snprintf(r->errbuf, r->errsize, "Avro type %s cannot be read", type);
    return NULL;
}

static json_t *event_dbz_avro_get(event_dbz_avro_rd_t *r, const json_t *s)
{
    json_t *v = NULL;
    int64_t branch;
    if (++r->depth > EVENT_DBZ_AVRO_DEPTH) {
        snprintf(r->errbuf, r->errsize, "the writer schema is nested too deep");
        return NULL;
    }
    s = event_dbz_avro_resolve(r, s);
    if (s != NULL && json_is_array(s)) {
        if (event_dbz_avro_get_long(r, &branch) == 0) {
            const json_t *b = branch >= 0 ? json_array_get(s, (size_t)branch) : NULL;
            if (b != NULL)
                v = event_dbz_avro_get(r, b);
            else
                snprintf(r->errbuf, r->errsize, "an Avro union branch out of range");
        }
    } else if (s != NULL && json_is_object(s) && json_is_object(json_object_get(s, "type"))) {
        v = event_dbz_avro_get(r, json_object_get(s, "type"));
    } else if (s != NULL) {
        const char *type = event_dbz_avro_type(s);
        if (type != NULL)
            v = event_dbz_avro_get_named(r, s, type);
        else
            snprintf(r->errbuf, r->errsize, "a writer schema without a type");
    }
    r->depth--;
    return v;
}

struct event_dbz_avro_reader {
    json_t *avro;      /* the writer schema (a reference) */
    json_t *refs;      /* the schemas it references (a reference, or NULL) */
    json_t *names;     /* its named types and theirs */
    char *schema_text; /* the Connect schema it reads to, as JSON text */
};

event_dbz_avro_reader_t *event_dbz_avro_reader_new(const json_t *avro, char *errbuf, size_t errsize)
{
    return event_dbz_avro_reader_new_refs(avro, NULL, errbuf, errsize);
}

event_dbz_avro_reader_t *event_dbz_avro_reader_new_refs(const json_t *avro, const json_t *refs,
                                                        char *errbuf, size_t errsize)
{
    size_t i;
    const json_t *ref;
    event_dbz_avro_reader_t *rd = calloc(1, sizeof(*rd));
    event_dbz_avro_rd_t r = {.names = json_object(), .errbuf = errbuf, .errsize = errsize};
    if (rd == NULL || r.names == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        free(rd);
        json_decref(r.names);
        return NULL;
    }
    json_array_foreach(refs, i, ref) event_dbz_avro_collect(&r, ref, NULL, 0);
    event_dbz_avro_collect(&r, avro, NULL, 0);
    json_t *schema = event_dbz_avro_connect(&r, avro);
    rd->avro = json_incref((json_t *)avro);
    rd->refs = json_incref((json_t *)refs);
    rd->names = r.names;
    rd->schema_text = schema != NULL ? json_dumps(schema, JSON_COMPACT) : NULL;
    if (schema != NULL && rd->schema_text == NULL)
        snprintf(errbuf, errsize, "out of memory");
    json_decref(schema);
    if (rd->schema_text == NULL) {
        event_dbz_avro_reader_free(rd);
        return NULL;
    }
    return rd;
}

void event_dbz_avro_reader_free(event_dbz_avro_reader_t *rd)
{
    if (rd == NULL)
        return;
    json_decref(rd->avro);
    json_decref(rd->refs);
    json_decref(rd->names);
    free(rd->schema_text);
    free(rd);
}

char *event_dbz_avro_reader_read(event_dbz_avro_reader_t *rd, const void *buf, size_t len,
                                 size_t *outlen, char *errbuf, size_t errsize)
{
    event_dbz_avro_rd_t r = {.names = rd->names, .errbuf = errbuf, .errsize = errsize};
    if (len < EVENT_DBZ_AVRO_HEADER || event_dbz_avro_id(buf, len) < 0) {
        snprintf(errbuf, errsize, "not in the Confluent wire format (magic byte 0, schema id)");
        return NULL;
    }
    r.p = (const unsigned char *)buf + EVENT_DBZ_AVRO_HEADER;
    r.end = (const unsigned char *)buf + len;
    json_t *payload = event_dbz_avro_get(&r, rd->avro);
    char *p = NULL;
    if (payload != NULL && r.p != r.end)
        snprintf(errbuf, errsize, "%zu bytes left over after the Avro value",
                 (size_t)(r.end - r.p));
    else if (payload != NULL && (p = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
        snprintf(errbuf, errsize, "out of memory");
    json_decref(payload);
    if (p == NULL)
        return NULL;
    sbuf_t b = {0};
    sbuf_add(&b, "{\"schema\":");
    sbuf_add(&b, rd->schema_text);
    sbuf_add(&b, ",\"payload\":");
    sbuf_add(&b, p);
    sbuf_addc(&b, '}');
    free(p);
    *outlen = b.len;
    char *out = sbuf_take(&b);
    if (out == NULL)
        snprintf(errbuf, errsize, "out of memory");
    return out;
}

char *event_dbz_avro_read(const json_t *avro, const void *buf, size_t len, size_t *outlen,
                          char *errbuf, size_t errsize)
{
    event_dbz_avro_reader_t *rd = event_dbz_avro_reader_new(avro, errbuf, errsize);
    char *out =
        rd != NULL ? event_dbz_avro_reader_read(rd, buf, len, outlen, errbuf, errsize) : NULL;
    event_dbz_avro_reader_free(rd);
    return out;
}
