/*
 * event_avro_write: writes the Avro form of the change envelope straight
 * from a change, without a jansson tree or avro-c values: the hot path of
 * capture for the Avro formats. The bytes are the ones the reference encoder
 * (tests/support/event_oracle.c) makes; tests/unit/test_event.c checks them
 * byte for byte.
 * Pure: no I/O.
 */
#ifndef SYNCLINE_EVENT_AVRO_WRITE_H
#define SYNCLINE_EVENT_AVRO_WRITE_H

#include <stddef.h>

#include "event/event.h"
#include "event/event_avro.h"
#include "event/event_schema.h"
#include "core/sbuf.h"

/* A written envelope: the datum, not yet framed, marked last or not. */
typedef struct event_avro_msg {
    sbuf_t body;                 /* owned */
    event_avro_writer_t *writer; /* owned by the event_avro_t it came from */
    size_t end_lsn_at;           /* offset of source.end_lsn's branch: null */
    size_t last_at;              /* offset of source.last: false */
} event_avro_msg_t;

/*
 * Writes the envelope of row (tpos: where a truncated relation stands)
 * into *out (emptied first) with the writer schema of its relation version
 * (found or derived in ea; publish it before framing). 0; -1 with errbuf
 * naming the column (a value that is not valid UTF-8 or does not fit its
 * Avro type, a binary value) or out of memory.
 */
int event_avro_write(event_avro_msg_t *out, event_avro_t *ea, const change_row_t *row,
                     const event_truncate_t *tpos, const event_txn_t *txn, const char *name,
                     char *errbuf, size_t errsize);

/* Writes the DDL event of d (writer schema syncline.Ddl, event_schema_ddl;
 * publish it before framing) at its place in txn. 0; -1 with errbuf naming
 * d's LSN (content not valid UTF-8, out of memory). */
int event_avro_write_ddl(event_avro_msg_t *out, event_avro_t *ea, const event_ddl_t *d,
                         const event_txn_t *txn, const char *name, char *errbuf, size_t errsize);

/*
 * Hands over the framed message, marked the last of its transaction with
 * end_lsn when end_lsn is not 0 (for a message written with txn->last
 * false). Malloc'd, the caller frees; NULL with errbuf when out of memory or
 * when the Confluent framing lacks the writer's registry id. Leaves m empty.
 */
char *event_avro_write_take(event_avro_msg_t *m, const event_avro_t *ea, lsn_t end_lsn, size_t *len,
                            char *errbuf, size_t errsize);

/* Frees what m holds. */
void event_avro_write_clear(event_avro_msg_t *m);

#endif
