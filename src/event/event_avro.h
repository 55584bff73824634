/*
 * event_avro: the Avro form of the change envelope. Keeps the writer schemas
 * (derived per relation version by event_schema, or read back from the
 * schema topic or a Schema Registry), converts envelopes to and from Avro
 * binary, and frames them: single-object encoding (0xC3 0x01, the writer
 * schema's CRC-64-AVRO fingerprint, little endian) or the Confluent wire
 * format (0x00, the registry's 4-byte big-endian schema id). Pure: no I/O.
 */
#ifndef SYNCLINE_EVENT_AVRO_H
#define SYNCLINE_EVENT_AVRO_H

#include <avro.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/change.h"

struct event; /* event.h */

typedef struct event_avro event_avro_t;
typedef struct event_avro_writer event_avro_writer_t;

/* How messages are framed when written (both are read). */
typedef enum event_avro_framing {
    EVENT_AVRO_SINGLE_OBJECT,
    EVENT_AVRO_CONFLUENT,
} event_avro_framing_t;

/* A writer schema a message names and the codec does not know. */
typedef struct event_avro_ref {
    bool by_id;           /* Confluent: id; single-object: fingerprint */
    uint64_t fingerprint; /* CRC-64-AVRO of the canonical form */
    int32_t id;           /* Schema Registry id */
} event_avro_ref_t;

/* NULL with errbuf on allocation failure. Free with event_avro_free. */
event_avro_t *event_avro_new(event_avro_framing_t framing, char *errbuf, size_t errsize);
void event_avro_free(event_avro_t *ea);

/*
 * The writer schema of an envelope (as the reference encoder, tests/support/event_oracle.c, builds
 * it): the one of its relation version, derived on first use and kept by ea. NULL with errbuf when
 * the envelope lacks source.schema/table or syncline.columns.
 */
event_avro_writer_t *event_avro_writer(event_avro_t *ea, json_t *env, char *errbuf, size_t errsize);

/*
 * Adds a writer schema read back, for decoding: from the schema topic
 * (ref->by_id false: its canonical form must have ref->fingerprint) or from
 * a registry (ref->by_id: it gets ref->id). Returns the writer (owned by
 * ea; an already known one when the fingerprint or id is), or NULL with
 * errbuf when the text is no schema avro-c accepts.
 */
event_avro_writer_t *event_avro_add(event_avro_t *ea, const char *text, size_t len,
                                    const event_avro_ref_t *ref, char *errbuf, size_t errsize);

/* The writer schema of relation version rel (event_avro_writer's, found or
 * derived without an envelope). NULL with errbuf when out of memory. */
event_avro_writer_t *event_avro_writer_rel(event_avro_t *ea, const change_relation_t *rel,
                                           char *errbuf, size_t errsize);

/* The writer schema of DDL events (event_schema_ddl), made on first use and
 * kept by ea. NULL with errbuf when out of memory. */
event_avro_writer_t *event_avro_writer_ddl(event_avro_t *ea, char *errbuf, size_t errsize);

/* Room for either framing's header. */
#define EVENT_AVRO_HEADER_MAX 10

/* The length of the framing header ea writes (either framing's). */
size_t event_avro_header_len(const event_avro_t *ea);

/* The framing header of a message written with w into out, its length in
 * *len. 0, or -1 with errbuf (Confluent: w has no registry id yet). */
int event_avro_frame(const event_avro_t *ea, const event_avro_writer_t *w,
                     char out[EVENT_AVRO_HEADER_MAX], size_t *len, char *errbuf, size_t errsize);

/* The schema's JSON text as published (with defaults and docs). */
const char *event_avro_writer_text(const event_avro_writer_t *w);
/* The full name of its top record, "syncline.public.items.Envelope". */
const char *event_avro_writer_name(const event_avro_writer_t *w);
/* CRC-64-AVRO of its Parsing Canonical Form. */
uint64_t event_avro_writer_fingerprint(const event_avro_writer_t *w);
/* Its Schema Registry id, -1 when none. */
int64_t event_avro_writer_id(const event_avro_writer_t *w);
/* Whether the caller published it (to the schema topic or a registry). */
bool event_avro_writer_published(const event_avro_writer_t *w);
/* Marks it published, with its registry id (-1: none). */
void event_avro_writer_set_published(event_avro_writer_t *w, int64_t id);

/* True when buf starts like a framed Avro message (either framing). */
bool event_avro_framed(const void *buf, size_t len);

/*
 * Framed Avro bytes -> envelope (new reference) whose before/after map
 * column names (syncline.columns) to PostgreSQL text forms. NULL with
 * errbuf when undecodable; then *missing->... is set and *unknown true when
 * the reason is only that the writer schema is not known (add it, retry).
 */
json_t *event_avro_decode(event_avro_t *ea, const void *buf, size_t len, bool *unknown,
                          event_avro_ref_t *missing, char *errbuf, size_t errsize);

/*
 * Framed Avro bytes of a known writer schema with syncline's own layout,
 * read directly into *ev (event_avro_read; free with event_clear). 1 when
 * it did; 0 when the message is for event_avro_decode (unknown schema,
 * another layout, or anything that reader would refuse or read otherwise).
 */
int event_avro_decode_direct(event_avro_t *ea, const void *buf, size_t len, struct event *ev);

/* The writer's avro-c value, reset, to fill and write (the reference encoder
 * in tests/support). Owned by the writer. */
avro_value_t *event_avro_writer_value(event_avro_writer_t *w);

#endif
