/*
 * event_schema: per-relation Avro writer schemas of the change envelope.
 *
 * Design. A relation version (its name and its columns' names and types)
 * determines its schema, so capture derives it from the envelope it is about
 * to write and never keeps schema state of its own beyond a cache; a
 * Relation message that changes a column gives a new schema, hence a new
 * fingerprint (and a new registry version). The Value record's fields
 * follow the columns' order, and the real names travel in syncline.columns,
 * so readers map field i to column i and never depend on mangled names.
 * Value fields default to null so that adding or dropping a column stays
 * BACKWARD compatible for a Schema Registry; types mapped from int2 to int8
 * widen (int -> long) compatibly too.
 *
 * The Parsing Canonical Form is computed from any schema text (not only
 * ours) because the schema topic and the registry hand back full schemas
 * (defaults, docs) while the single-object fingerprint covers the canonical
 * form only.
 */
#include "event/event_schema.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sbuf.h"

/* The source record and the envelope's ts_ms, the same text in the row
 * envelope and in the DDL event's schema (their fingerprints depend on it). */
#define EVENT_SCHEMA_SOURCE_TS                                                                     \
    "{\"name\":\"source\",\"type\":{\"type\":\"record\",\"name\":\"syncline.Source\",\"fields\":[" \
    "{\"name\":\"version\",\"type\":\"string\"},{\"name\":\"connector\",\"type\":\"string\"},"     \
    "{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"schema\",\"type\":\"string\"},"           \
    "{\"name\":\"table\",\"type\":\"string\"},{\"name\":\"txId\",\"type\":\"long\"},"              \
    "{\"name\":\"lsn\",\"type\":\"long\"},{\"name\":\"ts_ms\",\"type\":\"long\"},"                 \
    "{\"name\":\"commit_lsn\",\"type\":\"string\"},"                                               \
    "{\"name\":\"end_lsn\",\"type\":[\"null\",\"string\"],\"default\":null},"                      \
    "{\"name\":\"xid\",\"type\":\"long\"},{\"name\":\"seq\",\"type\":\"long\"},"                   \
    "{\"name\":\"last\",\"type\":\"boolean\"}]}},"                                                 \
    "{\"name\":\"ts_ms\",\"type\":\"long\"},"

/* Everything but before/after (which event_schema_derive fills in); the
 * nested records have full names, so they do not depend on the relation. */
static const char event_schema_template[] =
    "{\"type\":\"record\",\"name\":\"Envelope\",\"namespace\":\"\",\"fields\":["
    "{\"name\":\"op\",\"type\":\"string\"},"
    "{\"name\":\"before\",\"type\":\"null\",\"default\":null},"
    "{\"name\":\"after\",\"type\":\"null\",\"default\":null}," EVENT_SCHEMA_SOURCE_TS
    "{\"name\":\"syncline\",\"type\":{\"type\":\"record\",\"name\":\"syncline.Meta\",\"fields\":["
    "{\"name\":\"relid\",\"type\":\"long\"},{\"name\":\"replident\",\"type\":\"string\"},"
    "{\"name\":\"old\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"unchanged\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
    "{\"name\":\"columns\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\","
    "\"name\":\"syncline.Column\",\"fields\":[{\"name\":\"name\",\"type\":\"string\"},"
    "{\"name\":\"type\",\"type\":\"long\"},{\"name\":\"typmod\",\"type\":\"int\"},"
    "{\"name\":\"key\",\"type\":\"boolean\"}]}}},"
    "{\"name\":\"truncate\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"syncline.Truncate\","
    "\"fields\":[{\"name\":\"options\",\"type\":\"int\"},{\"name\":\"n\",\"type\":\"int\"},"
    "{\"name\":\"i\",\"type\":\"int\"}]}],\"default\":null}]}}]}";

/* The writer schema of every DDL event (op "m"): one for all relations,
 * since the message carries no row image. source is the same syncline.Source
 * as the envelope's (schema and table empty). */
const char event_schema_ddl[] =
    "{\"type\":\"record\",\"name\":\"Ddl\",\"namespace\":\"syncline\","
    "\"doc\":\"A DDL command of the syncline Kafka stream, at its place among the rows of its "
    "source transaction (schemas/README.md).\",\"fields\":["
    "{\"name\":\"op\",\"type\":\"string\",\"doc\":\"m\"},"
    "{\"name\":\"before\",\"type\":\"null\",\"default\":null},"
    "{\"name\":\"after\",\"type\":\"null\",\"default\":null}," EVENT_SCHEMA_SOURCE_TS
    "{\"name\":\"message\",\"type\":{\"type\":\"record\",\"name\":\"syncline.Message\","
    "\"fields\":[{\"name\":\"prefix\",\"type\":\"string\",\"doc\":\"syncline.ddl\"},"
    "{\"name\":\"content\",\"type\":\"string\","
    "\"doc\":\"the event trigger's message: its signature (64 hex digits), then its JSON body\"},"
    "{\"name\":\"lsn\",\"type\":\"string\",\"doc\":\"the message's own LSN\"}]}}]}";

/* ---- types and names ----------------------------------------------------- */

event_schema_type_t event_schema_type_of(uint32_t type_oid)
{
    switch (type_oid) {
    case 16: /* bool */
        return EVENT_SCHEMA_BOOLEAN;
    case 17: /* bytea */
        return EVENT_SCHEMA_BYTES;
    case 20: /* int8 */
        return EVENT_SCHEMA_LONG;
    case 21: /* int2 */
    case 23: /* int4 */
        return EVENT_SCHEMA_INT;
    case 700: /* float4 */
        return EVENT_SCHEMA_FLOAT;
    case 701: /* float8 */
        return EVENT_SCHEMA_DOUBLE;
    default:
        return EVENT_SCHEMA_STRING;
    }
}

const char *event_schema_type_name(event_schema_type_t type)
{
    static const char *const names[] = {"string", "boolean", "int",  "long",
                                        "float",  "double",  "bytes"};
    return names[type];
}

static uint32_t event_schema_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static bool event_schema_name_char(unsigned char c, bool first)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (!first && c >= '0' && c <= '9');
}

static bool event_schema_valid_name(const char *name)
{
    if (!event_schema_name_char((unsigned char)name[0], true))
        return false;
    for (const unsigned char *p = (const unsigned char *)name + 1; *p; p++) {
        if (!event_schema_name_char(*p, false))
            return false;
    }
    return strlen(name) < EVENT_SCHEMA_NAMELEN - 16;
}

void event_schema_mangle(const char *name, char *out, size_t size)
{
    if (event_schema_valid_name(name)) {
        snprintf(out, size, "%s", name);
        return;
    }
    size_t n = 0, room = size > 16 ? size - 16 : 0; /* leaves room for "_xxxxxxxx" */
    if (name[0] >= '0' && name[0] <= '9' && n < room)
        out[n++] = '_';
    for (const unsigned char *p = (const unsigned char *)name; *p && n < room; p++) {
        if ((*p & 0xC0) == 0x80)
            continue; /* a UTF-8 continuation byte: its character is already one '_' */
        out[n++] = event_schema_name_char(*p, false) ? (char)*p : '_';
    }
    snprintf(out + n, size - n, "_%08x", event_schema_hash(name));
}

/* ---- deriving ------------------------------------------------------------- */

static bool event_schema_used(json_t *fields, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
            return true;
    }
    return false;
}

/* The Avro name of column i, unique within fields. */
static void event_schema_field_name(json_t *fields, const char *col, int i, char *out, size_t size)
{
    event_schema_mangle(col, out, size);
    if (!event_schema_used(fields, out))
        return;
    size_t n = strlen(out);
    snprintf(out + n, size - n, "_%08x", event_schema_hash(col));
    while (event_schema_used(fields, out) && (n = strlen(out)) + 12 < size)
        snprintf(out + n, size - n, "_%d", i);
}

static json_t *event_schema_value(const char *ns, const char *nsp, const char *rel,
                                  const event_schema_column_t *cols, int ncols)
{
    json_t *fields = json_array();
    for (int i = 0; fields != NULL && i < ncols; i++) {
        char name[EVENT_SCHEMA_NAMELEN];
        event_schema_field_name(fields, cols[i].name, i, name, sizeof(name));
        const char *type = event_schema_type_name(event_schema_type_of(cols[i].type_oid));
        json_t *f = json_pack("{s:s, s:[s,s], s:n}", "name", name, "type", "null", type, "default");
        if (f != NULL && strcmp(name, cols[i].name) != 0)
            json_object_set_new(f, "doc", json_sprintf("column \"%s\"", cols[i].name));
        if (f == NULL || json_array_append_new(fields, f) != 0) {
            json_decref(fields);
            fields = NULL;
        }
    }
    if (fields == NULL)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:o, s:o}", "type", "record", "name", "Value", "namespace",
                     ns, "doc", json_sprintf("row image of \"%s\".\"%s\"", nsp, rel), "fields",
                     fields);
}

json_t *event_schema_derive(const char *nsp, const char *rel, const event_schema_column_t *cols,
                            int ncols)
{
    char mn[EVENT_SCHEMA_NAMELEN], mr[EVENT_SCHEMA_NAMELEN];
    char ns[2 * EVENT_SCHEMA_NAMELEN + 16], ref[sizeof(ns) + 8];
    event_schema_mangle(nsp, mn, sizeof(mn));
    event_schema_mangle(rel, mr, sizeof(mr));
    snprintf(ns, sizeof(ns), "%s.%s.%s", EVENT_SCHEMA_PREFIX, mn, mr);
    snprintf(ref, sizeof(ref), "%s.Value", ns);
    json_t *env = json_loads(event_schema_template, 0, NULL);
    json_t *value = event_schema_value(ns, nsp, rel, cols, ncols);
    json_t *fields = json_object_get(env, "fields");
    if (env == NULL || value == NULL ||
        json_object_set_new(env, "namespace", json_string(ns)) != 0 ||
        json_object_set_new(json_array_get(fields, 1), "type", json_pack("[s,o]", "null", value)) !=
            0 ||
        json_object_set_new(json_array_get(fields, 2), "type", json_pack("[s,s]", "null", ref)) !=
            0) {
        json_decref(env);
        return NULL;
    }
    return env;
}

/* ---- Parsing Canonical Form ------------------------------------------------ */

static bool event_schema_primitive(const char *s)
{
    static const char *const prim[] = {"null",  "boolean", "int",   "long",
                                       "float", "double",  "bytes", "string"};
    for (size_t i = 0; i < sizeof(prim) / sizeof(prim[0]); i++) {
        if (strcmp(s, prim[i]) == 0)
            return true;
    }
    return false;
}

static void event_schema_add_string(sbuf_t *b, const char *s)
{
    json_t *j = json_string(s);
    char *text = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    if (text == NULL)
        b->oom = 1;
    else
        sbuf_add(b, text);
    free(text);
    json_decref(j);
}

/* The full name of a name in namespace ns, into out. */
static void event_schema_fullname(const char *name, const char *ns, char *out, size_t size)
{
    if (strchr(name, '.') != NULL || ns == NULL || ns[0] == '\0')
        snprintf(out, size, "%s", name);
    else
        snprintf(out, size, "%s.%s", ns, name);
}

static int event_schema_canon(sbuf_t *b, json_t *s, const char *ns);

static int event_schema_canon_fields(sbuf_t *b, json_t *fields, const char *ns)
{
    size_t i;
    json_t *f;
    if (!json_is_array(fields))
        return -1;
    sbuf_add(b, ",\"fields\":[");
    json_array_foreach(fields, i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        if (name == NULL)
            return -1;
        sbuf_add(b, i ? ",{\"name\":" : "{\"name\":");
        event_schema_add_string(b, name);
        sbuf_add(b, ",\"type\":");
        if (event_schema_canon(b, json_object_get(f, "type"), ns) != 0)
            return -1;
        sbuf_add(b, "}");
    }
    sbuf_add(b, "]");
    return 0;
}

/* record, error, enum and fixed: {"name":full,"type":...,<what defines it>}. */
static int event_schema_canon_named(sbuf_t *b, json_t *s, const char *type, const char *ns)
{
    const char *name = json_string_value(json_object_get(s, "name"));
    const char *own = json_string_value(json_object_get(s, "namespace"));
    char full[1024], inner[1024];
    if (name == NULL)
        return -1;
    if (own != NULL && strchr(name, '.') == NULL)
        ns = own;
    event_schema_fullname(name, ns, full, sizeof(full));
    const char *dot = strrchr(full, '.');
    snprintf(inner, sizeof(inner), "%.*s", dot ? (int)(dot - full) : 0, full);
    sbuf_add(b, "{\"name\":");
    event_schema_add_string(b, full);
    sbuf_addf(b, ",\"type\":\"%s\"", type);
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0) {
        if (event_schema_canon_fields(b, json_object_get(s, "fields"), inner) != 0)
            return -1;
    } else if (strcmp(type, "enum") == 0) {
        json_t *sym = json_object_get(s, "symbols");
        char *text = json_is_array(sym) ? json_dumps(sym, JSON_COMPACT) : NULL;
        if (text == NULL)
            return -1;
        sbuf_addf(b, ",\"symbols\":%s", text);
        free(text);
    } else {
        json_t *size = json_object_get(s, "size");
        if (!json_is_integer(size))
            return -1;
        sbuf_addf(b, ",\"size\":%lld", (long long)json_integer_value(size));
    }
    sbuf_add(b, "}");
    return 0;
}

static int event_schema_canon_object(sbuf_t *b, json_t *s, const char *ns)
{
    json_t *t = json_object_get(s, "type");
    const char *type = json_string_value(t);
    if (type == NULL)
        return t != NULL ? event_schema_canon(b, t, ns) : -1;
    if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0) {
        bool array = type[0] == 'a';
        sbuf_addf(b, "{\"type\":\"%s\",\"%s\":", type, array ? "items" : "values");
        if (event_schema_canon(b, json_object_get(s, array ? "items" : "values"), ns) != 0)
            return -1;
        sbuf_add(b, "}");
        return 0;
    }
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0 || strcmp(type, "enum") == 0 ||
        strcmp(type, "fixed") == 0)
        return event_schema_canon_named(b, s, type, ns);
    return event_schema_canon(b, t, ns); /* {"type": "int", ...} is "int" */
}

static int event_schema_canon(sbuf_t *b, json_t *s, const char *ns)
{
    if (json_is_string(s)) {
        char full[1024];
        const char *name = json_string_value(s);
        if (event_schema_primitive(name))
            snprintf(full, sizeof(full), "%s", name);
        else
            event_schema_fullname(name, ns, full, sizeof(full));
        event_schema_add_string(b, full);
        return 0;
    }
    if (json_is_array(s)) {
        size_t i;
        json_t *branch;
        sbuf_add(b, "[");
        json_array_foreach(s, i, branch)
        {
            if (i)
                sbuf_add(b, ",");
            if (event_schema_canon(b, branch, ns) != 0)
                return -1;
        }
        sbuf_add(b, "]");
        return 0;
    }
    return json_is_object(s) ? event_schema_canon_object(b, s, ns) : -1;
}

char *event_schema_canonical(const char *text, size_t len, char *errbuf, size_t errsize)
{
    json_error_t jerr;
    json_t *s = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (s == NULL) {
        snprintf(errbuf, errsize, "Avro schema is not JSON: %s", jerr.text);
        return NULL;
    }
    sbuf_t b = {0};
    int rc = event_schema_canon(&b, s, "");
    json_decref(s);
    if (rc != 0) {
        sbuf_clear(&b);
        snprintf(errbuf, errsize, "not an Avro schema (a named type, field or type is malformed)");
        return NULL;
    }
    char *out = sbuf_take(&b);
    if (out == NULL)
        snprintf(errbuf, errsize, "out of memory");
    return out;
}

uint64_t event_schema_fingerprint(const char *canonical)
{
    const uint64_t empty = UINT64_C(0xc15d213aa4d7a795);
    uint64_t table[256];
    for (int i = 0; i < 256; i++) {
        uint64_t fp = (uint64_t)i;
        for (int j = 0; j < 8; j++)
            fp = (fp >> 1) ^ (empty & -(fp & 1));
        table[i] = fp;
    }
    uint64_t fp = empty;
    for (const unsigned char *p = (const unsigned char *)canonical; *p; p++)
        fp = (fp >> 8) ^ table[(fp ^ *p) & 0xff];
    return fp;
}

int event_schema_parse_number(event_schema_type_t type, const char *s, event_schema_number_t *out)
{
    char *end;
    errno = 0;
    switch (type) {
    case EVENT_SCHEMA_INT:
    case EVENT_SCHEMA_LONG:
        out->l = strtoll(s, &end, 10);
        if (errno != 0 || (type == EVENT_SCHEMA_INT && (out->l < INT32_MIN || out->l > INT32_MAX)))
            return -1;
        break;
    case EVENT_SCHEMA_FLOAT:
        out->f = strtof(s, &end);
        break;
    case EVENT_SCHEMA_DOUBLE:
        out->d = strtod(s, &end);
        break;
    default:
        return -1;
    }
    return end == s || *end != '\0' ? -1 : 0;
}
