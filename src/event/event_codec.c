/*
 * event_codec: turns envelopes into message bytes and back, in one of the
 * transport formats (JSON, Avro single-object, Avro Confluent). Keeps the Avro
 * writer schemas. Pure: no I/O, no rdkafka.h.
 */
#include "event/event_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event_avro.h"
#include "event/event_json.h"
#include "event/event_json_env.h"

#define EVENT_CODEC_SCHEMAS 64 /* JsonConverter schema texts kept parsed */

/* A JsonConverter schema text and its tree, parsed once. */
typedef struct event_codec_schema {
    char *text; /* owned */
    size_t len;
    json_t *tree; /* one reference, owned */
} event_codec_schema_t;

struct event_codec {
    event_format_t format;
    event_avro_t *avro;       /* the Avro formats only */
    event_avro_ref_t missing; /* what the last EVENT_DECODE_UNKNOWN_SCHEMA lacked */
    bool tree_only;           /* no event_json_read: tests compare the two readers */
    /* the schema texts of JsonConverter envelopes, the newest replacing the
     * oldest once all are in use */
    event_codec_schema_t schemas[EVENT_CODEC_SCHEMAS];
    int next_schema;
    unsigned long long schema_parses; /* how many schema texts were parsed */
};

event_codec_t *event_codec_new(event_format_t format, char *errbuf, size_t errsize)
{
    event_codec_t *codec = calloc(1, sizeof(*codec));
    if (codec == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    codec->format = format;
    if (format != EVENT_FORMAT_JSON) {
        codec->avro = event_avro_new(
            format == EVENT_FORMAT_AVRO_CONFLUENT ? EVENT_AVRO_CONFLUENT : EVENT_AVRO_SINGLE_OBJECT,
            errbuf, errsize);
        if (codec->avro == NULL) {
            free(codec);
            return NULL;
        }
    }
    return codec;
}

void event_codec_free(event_codec_t *codec)
{
    if (codec == NULL)
        return;
    for (int i = 0; i < EVENT_CODEC_SCHEMAS; i++) {
        free(codec->schemas[i].text);
        json_decref(codec->schemas[i].tree);
    }
    event_avro_free(codec->avro);
    free(codec);
}

event_avro_t *event_codec_avro(event_codec_t *codec)
{
    return codec->avro;
}

int event_codec_add_schema(event_codec_t *codec, const char *text, size_t len,
                           const event_avro_ref_t *ref, char *errbuf, size_t errsize)
{
    if (codec->avro == NULL) {
        snprintf(errbuf, errsize, "the JSON format has no writer schema");
        return -1;
    }
    return event_avro_add(codec->avro, text, len, ref, errbuf, errsize) != NULL ? 0 : -1;
}

void event_codec_tree_only(event_codec_t *codec)
{
    codec->tree_only = true;
}

event_avro_ref_t event_codec_missing(const event_codec_t *codec)
{
    return codec->missing;
}

unsigned long long event_codec_schema_parses(const event_codec_t *codec)
{
    return codec->schema_parses;
}

/* The tree of the schema text s (borrowed: the codec keeps it), parsed when
 * the codec has not seen these exact bytes before; NULL when they are not a
 * JSON object or memory ran out. */
static json_t *event_codec_schema(event_codec_t *codec, event_json_span_t s)
{
    for (int i = 0; i < EVENT_CODEC_SCHEMAS; i++) {
        const event_codec_schema_t *c = &codec->schemas[i];
        if (c->tree != NULL && c->len == s.len && memcmp(c->text, s.p, s.len) == 0)
            return c->tree;
    }
    codec->schema_parses++;
    json_t *tree = json_loadb(s.p, s.len, 0, NULL);
    char *text = tree != NULL ? malloc(s.len) : NULL;
    if (text == NULL) {
        json_decref(tree);
        return NULL;
    }
    memcpy(text, s.p, s.len);
    event_codec_schema_t *c = &codec->schemas[codec->next_schema];
    codec->next_schema = (codec->next_schema + 1) % EVENT_CODEC_SCHEMAS;
    free(c->text);
    json_decref(c->tree);
    *c = (event_codec_schema_t){.text = text, .len = s.len, .tree = tree};
    return tree;
}

/* A JsonConverter envelope read by its spans: the schema from the codec's
 * parsed texts, the payload parsed, the schema kept in it as "_schema" (as
 * event_codec_parse does); NULL for anything else, which is then parsed
 * whole (and refused there with the parser's words when it is not JSON). */
static json_t *event_codec_parse_wrapped(event_codec_t *codec, const char *buf, size_t len)
{
    event_json_span_t s, p;
    if (!event_json_env_find(buf, len, &s, &p))
        return NULL;
    json_t *schema = event_codec_schema(codec, s);
    json_t *payload = schema != NULL ? json_loadb(p.p, p.len, 0, NULL) : NULL;
    if (payload != NULL && json_object_set(payload, "_schema", schema) != 0) {
        json_decref(payload);
        payload = NULL;
    }
    return payload;
}

/* The envelope: a value of its own, or Debezium's {"schema", "payload"} wrapper.
 * *unknown: only the Avro writer schema is missing. */
static json_t *event_codec_parse(event_codec_t *codec, const void *buf, size_t len, bool *unknown,
                                 char *errbuf, size_t errsize)
{
    *unknown = false;
    if (codec->avro != NULL && event_avro_framed(buf, len))
        return event_avro_decode(codec->avro, buf, len, unknown, &codec->missing, errbuf, errsize);
    json_t *root = event_codec_parse_wrapped(codec, buf, len);
    if (root != NULL)
        return root;
    json_error_t jerr;
    root = json_loadb(buf, len, 0, &jerr);
    if (root == NULL) {
        snprintf(errbuf, errsize, "not JSON%s: %s (line %d column %d)",
                 codec->avro != NULL ? " nor framed Avro" : "", jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    json_t *payload = json_object_get(root, "payload");
    json_t *schema = json_object_get(root, "schema");
    if (json_is_object(payload) && schema != NULL) {
        /* kept for event_from_tree: Debezium's encodings are read by the field schemas */
        if (json_is_object(schema))
            json_object_set(payload, "_schema", schema);
        json_incref(payload);
        json_decref(root);
        root = payload;
    }
    return root;
}

int event_decode(event_codec_t *codec, const void *buf, size_t len, const void *key, size_t keylen,
                 event_t *ev, char *errbuf, size_t errsize)
{
    memset(ev, 0, sizeof(*ev));
    if (buf == NULL || len == 0) {
        snprintf(errbuf, errsize, "empty message (tombstone)");
        return EVENT_DECODE_POISON;
    }
    if (!codec->tree_only) {
        bool avro = codec->avro != NULL && event_avro_framed(buf, len);
        if (avro ? event_avro_decode_direct(codec->avro, buf, len, ev)
                 : event_json_read(buf, len, ev))
            return 0;
    }
    bool unknown;
    json_t *env = event_codec_parse(codec, buf, len, &unknown, errbuf, errsize);
    if (env == NULL)
        return unknown ? EVENT_DECODE_UNKNOWN_SCHEMA : EVENT_DECODE_POISON;
    return event_from_tree(ev, env, key, keylen, errbuf, errsize);
}
