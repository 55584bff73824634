/*
 * event_avro: the Avro form of the change envelope (schemas/envelope.avsc) in
 * Avro single-object encoding: 0xC3 0x01, the writer schema's CRC-64-AVRO
 * fingerprint (little endian), then the Avro binary datum. Pure: no I/O.
 */
#ifndef SYNCLINE_EVENT_AVRO_H
#define SYNCLINE_EVENT_AVRO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct event_avro event_avro_t;

/* NULL with errbuf set when avro-c rejects the schema. Free with event_avro_free. */
event_avro_t *event_avro_new(char *errbuf, size_t errsize);
void event_avro_free(event_avro_t *ea);

/* The envelope schema in Parsing Canonical Form (what the fingerprint covers). */
const char *event_avro_schema(void);

/* CRC-64-AVRO (Rabin) fingerprint of a schema text. */
uint64_t event_avro_fingerprint(const char *schema);

/* Envelope (as event_build makes it) -> single-object bytes; *out malloc'd. 0 or -1. */
int event_avro_encode(event_avro_t *ea, json_t *env, char **out, size_t *len, char *errbuf,
                      size_t errsize);

/* Single-object bytes -> envelope (new reference), or NULL with errbuf. */
json_t *event_avro_decode(event_avro_t *ea, const void *buf, size_t len, char *errbuf,
                          size_t errsize);

#endif
