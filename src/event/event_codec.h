/*
 * event_codec: the transport formats of the change stream. Serializes an
 * envelope (event.h) as JSON or Avro and decodes both framings of Avro, JSON
 * and plain Debezium PostgreSQL messages back. Pure: no I/O, no rdkafka.h.
 */
#ifndef SYNCLINE_EVENT_CODEC_H
#define SYNCLINE_EVENT_CODEC_H

#include <jansson.h>
#include <stddef.h>

#include "event/event.h"
#include "event/event_avro.h"

/* Codecs keep the Avro writer schemas; one per thread. */
typedef struct event_codec event_codec_t;

/* NULL with errbuf set on allocation failure. Free with event_codec_free. */
event_codec_t *event_codec_new(event_format_t format, char *errbuf, size_t errsize);
void event_codec_free(event_codec_t *codec);

/* The Avro writer schemas of an Avro codec (for event_avro_write); NULL for JSON. */
event_avro_t *event_codec_avro(event_codec_t *codec);

/* Avro: adds a writer schema read back from the schema topic or a registry
 * (event_avro_add). 0, or -1 with errbuf. */
int event_codec_add_schema(event_codec_t *codec, const char *text, size_t len,
                           const event_avro_ref_t *ref, char *errbuf, size_t errsize);

/* Decode with the jansson reader only, never event_json_read (for tests). */
void event_codec_tree_only(event_codec_t *codec);

/* The writer schema the last EVENT_DECODE_UNKNOWN_SCHEMA was about. */
event_avro_ref_t event_codec_missing(const event_codec_t *codec);

/* How many JsonConverter schema texts the codec has parsed: each distinct
 * text once while it is among the last 64 distinct ones (for tests). */
unsigned long long event_codec_schema_parses(const event_codec_t *codec);

/*
 * Decodes a message value (and its key, which names a Debezium message's
 * identity columns) into *ev. Accepts what capture writes in the codec's
 * format (an Avro codec reads both framings) and Debezium PostgreSQL JSON
 * (with or without its schema wrapper). 0; EVENT_DECODE_POISON with errbuf
 * saying why; or EVENT_DECODE_UNKNOWN_SCHEMA when the Avro writer schema the
 * message names is not known to the codec (event_codec_missing).
 */
int event_decode(event_codec_t *codec, const void *buf, size_t len, const void *key, size_t keylen,
                 event_t *ev, char *errbuf, size_t errsize);

#endif
