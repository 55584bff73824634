/*
 * event_avro: converts the jansson envelope to and from avro-c generic values
 * guided by the schema (unions are always ["null", X]), and frames them with
 * the single-object header. One generic value is reused across messages.
 */
#include "event_avro.h"

#include <avro.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENT_AVRO_HEADER 10

/* Keep identical (modulo whitespace and docs) to schemas/envelope.avsc; the
 * unit test checks that avro-c finds them equal. */
static const char event_avro_canonical[] =
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

struct event_avro {
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;
    uint8_t header[EVENT_AVRO_HEADER];
};

const char *event_avro_schema(void)
{
    return event_avro_canonical;
}

uint64_t event_avro_fingerprint(const char *schema)
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
    for (const unsigned char *p = (const unsigned char *)schema; *p; p++)
        fp = (fp >> 8) ^ table[(fp ^ *p) & 0xff];
    return fp;
}

event_avro_t *event_avro_new(char *errbuf, size_t errsize)
{
    event_avro_t *ea = calloc(1, sizeof(*ea));
    if (ea == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    if (avro_schema_from_json_length(event_avro_canonical, sizeof(event_avro_canonical) - 1,
                                     &ea->schema) != 0 ||
        (ea->iface = avro_generic_class_from_schema(ea->schema)) == NULL ||
        avro_generic_value_new(ea->iface, &ea->value) != 0) {
        snprintf(errbuf, errsize, "avro envelope schema: %s", avro_strerror());
        event_avro_free(ea);
        return NULL;
    }
    uint64_t fp = event_avro_fingerprint(event_avro_canonical);
    ea->header[0] = 0xC3;
    ea->header[1] = 0x01;
    for (int i = 0; i < 8; i++)
        ea->header[2 + i] = (uint8_t)(fp >> (8 * i));
    return ea;
}

void event_avro_free(event_avro_t *ea)
{
    if (ea == NULL)
        return;
    if (ea->value.iface != NULL)
        avro_value_decref(&ea->value);
    if (ea->iface != NULL)
        avro_value_iface_decref(ea->iface);
    if (ea->schema != NULL)
        avro_schema_decref(ea->schema);
    free(ea);
}

/* ---- jansson -> avro ---------------------------------------------------- */

static int event_avro_set(avro_value_t *val, json_t *j);

static int event_avro_set_record(avro_value_t *val, json_t *j)
{
    size_t n;
    if (!json_is_object(j) || avro_value_get_size(val, &n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        avro_value_t field;
        const char *name;
        if (avro_value_get_by_index(val, i, &field, &name) != 0 ||
            event_avro_set(&field, json_object_get(j, name)) != 0)
            return -1;
    }
    return 0;
}

static int event_avro_set_map(avro_value_t *val, json_t *j)
{
    const char *key;
    json_t *v;
    if (!json_is_object(j))
        return -1;
    json_object_foreach(j, key, v)
    {
        avro_value_t elem;
        if (avro_value_add(val, key, &elem, NULL, NULL) != 0 || event_avro_set(&elem, v) != 0)
            return -1;
    }
    return 0;
}

static int event_avro_set_array(avro_value_t *val, json_t *j)
{
    size_t i;
    json_t *v;
    if (!json_is_array(j))
        return -1;
    json_array_foreach(j, i, v)
    {
        avro_value_t elem;
        if (avro_value_append(val, &elem, NULL) != 0 || event_avro_set(&elem, v) != 0)
            return -1;
    }
    return 0;
}

static int event_avro_set_union(avro_value_t *val, json_t *j)
{
    avro_value_t branch;
    int null = j == NULL || json_is_null(j);
    if (avro_value_set_branch(val, null ? 0 : 1, &branch) != 0)
        return -1;
    return null ? avro_value_set_null(&branch) : event_avro_set(&branch, j);
}

static int event_avro_set(avro_value_t *val, json_t *j)
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
        return event_avro_set_union(val, j);
    case AVRO_RECORD:
        return event_avro_set_record(val, j);
    case AVRO_MAP:
        return event_avro_set_map(val, j);
    case AVRO_ARRAY:
        return event_avro_set_array(val, j);
    default:
        return -1;
    }
}

int event_avro_encode(event_avro_t *ea, json_t *env, char **out, size_t *len, char *errbuf,
                      size_t errsize)
{
    size_t size = 0;
    avro_value_reset(&ea->value);
    if (event_avro_set(&ea->value, env) != 0 || avro_value_sizeof(&ea->value, &size) != 0) {
        snprintf(errbuf, errsize, "envelope does not fit the Avro schema: %s", avro_strerror());
        return -1;
    }
    *out = malloc(EVENT_AVRO_HEADER + size);
    if (*out == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return -1;
    }
    memcpy(*out, ea->header, EVENT_AVRO_HEADER);
    avro_writer_t w = avro_writer_memory(*out + EVENT_AVRO_HEADER, (int64_t)size);
    int rc = w != NULL ? avro_value_write(w, &ea->value) : -1;
    avro_writer_free(w);
    if (rc != 0) {
        snprintf(errbuf, errsize, "avro write: %s", avro_strerror());
        free(*out);
        *out = NULL;
        return -1;
    }
    *len = EVENT_AVRO_HEADER + size;
    return 0;
}

/* ---- avro -> jansson ---------------------------------------------------- */

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
        return avro_value_get_current_branch(val, &branch) == 0 ? event_avro_get(&branch) : NULL;
    case AVRO_RECORD:
    case AVRO_MAP:
    case AVRO_ARRAY:
        return event_avro_get_compound(val, type);
    default:
        return NULL;
    }
}

/*
 * Checks that the datum at [*p, end) fits the schema before avro-c reads it:
 * avro-c allocates whatever a string length or block count says (a negative
 * or huge one from a poison message means a huge malloc), so every length and
 * count must fit in the bytes that are left. Every item of the envelope's
 * arrays and maps takes at least one byte, so count <= bytes left holds for
 * valid data. Depth is bounded by the schema, not the input.
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
        return event_avro_check_string(p, end);
    case AVRO_INT32:
    case AVRO_INT64:
        return event_avro_varint(p, end, &v);
    case AVRO_BOOLEAN:
        return *p < end ? (*p)++, 0 : -1;
    case AVRO_NULL:
        return 0;
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

json_t *event_avro_decode(event_avro_t *ea, const void *buf, size_t len, char *errbuf,
                          size_t errsize)
{
    const uint8_t *p = buf;
    if (len < EVENT_AVRO_HEADER || p[0] != 0xC3 || p[1] != 0x01) {
        snprintf(errbuf, errsize, "not Avro single-object encoding (no 0xC3 0x01 header)");
        return NULL;
    }
    if (memcmp(p + 2, ea->header + 2, 8) != 0) {
        uint64_t fp = 0;
        for (int k = 7; k >= 0; k--)
            fp = (fp << 8) | p[2 + k];
        snprintf(errbuf, errsize,
                 "Avro writer schema fingerprint %016llx is not the envelope this version reads",
                 (unsigned long long)fp);
        return NULL;
    }
    const uint8_t *datum = p + EVENT_AVRO_HEADER;
    if (event_avro_check(&datum, p + len, ea->schema) != 0 || datum != p + len) {
        snprintf(errbuf, errsize,
                 "Avro datum does not decode: a length, count or union branch does not fit");
        return NULL;
    }
    avro_value_reset(&ea->value);
    avro_reader_t r =
        avro_reader_memory((const char *)p + EVENT_AVRO_HEADER, (int64_t)(len - EVENT_AVRO_HEADER));
    json_t *env = NULL;
    if (r != NULL && avro_value_read(r, &ea->value) == 0)
        env = event_avro_get(&ea->value);
    avro_reader_free(r);
    if (env == NULL)
        snprintf(errbuf, errsize, "Avro datum does not decode: %s", avro_strerror());
    return env;
}
