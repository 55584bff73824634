/*
 * event_dbz_avro: Kafka Connect data in Avro, as Confluent's AvroConverter
 * (AvroData) makes it: a Connect schema (the JsonConverter's JSON form) to
 * its Avro schema, a Connect value to Avro binary under it, and Avro binary
 * read with its writer schema back to a Connect schema and value. Pure.
 */
#ifndef SYNCLINE_EVENT_DBZ_AVRO_H
#define SYNCLINE_EVENT_DBZ_AVRO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sbuf.h"

/* The Confluent wire format's header: magic byte 0 and a 4-byte schema id. */
#define EVENT_DBZ_AVRO_HEADER 5

/* The Avro schema of Connect schema connect (a new reference), or NULL with
 * errbuf saying why (a field name Avro refuses, a type it has no form for). */
json_t *event_dbz_avro_schema(const json_t *connect, char *errbuf, size_t errsize);

/* Appends the Confluent header with id and the Avro binary of Connect value
 * v (the JsonConverter's JSON form: bytes as base64) under Connect schema
 * connect to out. 0; -1 with errbuf naming the field. */
int event_dbz_avro_write(const json_t *connect, const json_t *v, int32_t id, sbuf_t *out,
                         char *errbuf, size_t errsize);

/* The schema id of a message in the Confluent wire format; -1 when buf is not one. */
int32_t event_dbz_avro_id(const void *buf, size_t len);

/*
 * Reads the Avro binary after the header of a message in the Confluent wire
 * format with its writer schema avro, into the JsonConverter's document
 * {"schema": <Connect schema>, "payload": <value>} as text (malloc'd, its
 * length in *outlen). NULL with errbuf saying why.
 */
char *event_dbz_avro_read(const json_t *avro, const void *buf, size_t len, size_t *outlen,
                          char *errbuf, size_t errsize);

/* The same with the work that depends on the schema alone done once: a
 * reader of writer schema avro (referenced, not copied). NULL with errbuf
 * when Connect has no form for it. Free with event_dbz_avro_reader_free. */
typedef struct event_dbz_avro_reader event_dbz_avro_reader_t;
event_dbz_avro_reader_t *event_dbz_avro_reader_new(const json_t *avro, char *errbuf,
                                                   size_t errsize);
/* The same for a writer schema that references other schemas (Confluent's
 * schema references): refs, an array of the referenced schemas (each parsed
 * JSON, referenced, not copied), defines the named types avro uses without
 * defining them. */
event_dbz_avro_reader_t *event_dbz_avro_reader_new_refs(const json_t *avro, const json_t *refs,
                                                        char *errbuf, size_t errsize);
void event_dbz_avro_reader_free(event_dbz_avro_reader_t *rd);
char *event_dbz_avro_reader_read(event_dbz_avro_reader_t *rd, const void *buf, size_t len,
                                 size_t *outlen, char *errbuf, size_t errsize);

#endif
