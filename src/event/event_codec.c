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

struct event_codec {
    event_format_t format;
    event_avro_t *avro;       /* the Avro formats only */
    event_avro_ref_t missing; /* what the last EVENT_DECODE_UNKNOWN_SCHEMA lacked */
    bool tree_only;           /* no event_json_read: tests compare the two readers */
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

/* The envelope: a value of its own, or Debezium's {"schema", "payload"} wrapper.
 * *unknown: only the Avro writer schema is missing. */
static json_t *event_codec_parse(event_codec_t *codec, const void *buf, size_t len, bool *unknown,
                                 char *errbuf, size_t errsize)
{
    *unknown = false;
    if (codec->avro != NULL && event_avro_framed(buf, len))
        return event_avro_decode(codec->avro, buf, len, unknown, &codec->missing, errbuf, errsize);
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, 0, &jerr);
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
