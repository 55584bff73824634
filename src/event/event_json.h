/*
 * event_json: writes and reads the JSON change envelope as text, without a
 * jansson tree: the hot paths of capture and apply for the JSON format. The
 * document is the one the reference encoder (tests/support/event_oracle.c) makes (same members,
 * same order), which tests/unit/test_event.c checks; event_decode tries event_json_read first and
 * falls back to jansson for any other shape.
 */
#ifndef SYNCLINE_EVENT_JSON_H
#define SYNCLINE_EVENT_JSON_H

#include <stddef.h>

#include "event/event.h"
#include "core/sbuf.h"

/* A written envelope, not yet marked last or not. */
typedef struct event_json {
    sbuf_t text;       /* owned */
    size_t end_lsn_at; /* offset of the "end_lsn" value: null */
    size_t last_at;    /* offset of the "last" value: false */
} event_json_t;

/* Writes the envelope of row (tpos: where a truncated relation stands)
 * into *out (emptied first). 0; -1 with errbuf set (a value that is not
 * valid UTF-8, a binary value, out of memory). */
int event_json_write(event_json_t *out, const change_row_t *row, const event_truncate_t *tpos,
                     const event_txn_t *txn, const char *name, char *errbuf, size_t errsize);

/* Writes the DDL event of d (op "m", no row images, a "message" member with
 * the prefix "syncline.ddl", the content and its LSN) at its place in txn.
 * 0; -1 with errbuf naming d's LSN (content not valid UTF-8, out of memory). */
int event_json_write_ddl(event_json_t *out, const event_ddl_t *d, const event_txn_t *txn,
                         const char *name, char *errbuf, size_t errsize);

/* Hands over the message text, marked the last of its transaction in its
 * partition with end_lsn when end_lsn is not 0 (for an envelope written with
 * txn->last false). Malloc'd, the caller frees;
 * NULL when out of memory. Leaves ev empty. */
char *event_json_take(event_json_t *ev, lsn_t end_lsn, size_t *len);

/* Reads a message in the compact form this module writes into *ev (free
 * with event_clear). 1 when it did; 0 when the message has another shape (or
 * memory ran out): then *ev is empty and event_decode's jansson reader must
 * decide, which also says what is wrong with a malformed message. */
int event_json_read(const char *buf, size_t len, event_t *ev);

/* Frees what ev holds. */
void event_json_clear(event_json_t *ev);

#endif
