/*
 * hold: the hold point of an online verify, shared by the apply loops
 * (stream's `run` and Kafka `apply`): polls a verifier's request, pauses at a
 * boundary, holds exactly at its point, and keeps the key ranges each batch
 * changes. Pure: the verifier and the loop are callbacks.
 */
#ifndef SYNCLINE_HOLD_H
#define SYNCLINE_HOLD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/change.h"
#include "core/err.h"
#include "core/lsn.h"
#include "core/sink.h"
#include "core/vmark.h"

/*
 * A verifier (connectors/pg/pg_hold.c): it asks the loop to stand still
 * between two source transactions, first anywhere ("pause": until unknown),
 * then exactly before the first transaction whose commit LSN is >= until,
 * while it reads the target.
 */
typedef struct hold_verifier {
    /* The live request: *id 0 when there is none (or it expired); *until 0
     * while the verifier has not chosen its point yet. *track: record the
     * key ranges each batch changes (sink_position_t.marks) from now on. */
    err_t (*poll)(void *ctx, int64_t *id, lsn_t *until, int *track, char *errbuf, size_t errsize);
    /* The target holds every transaction committed before `at` and no later
     * one, all durable (at = 0: paused at a boundary, point not chosen yet). */
    err_t (*held)(void *ctx, int64_t id, lsn_t at, char *errbuf, size_t errsize);
    void *ctx;
} hold_verifier_t;

/* What the hold asks of its loop. */
typedef struct hold_loop {
    /* Makes everything handed to the sink durable (before holding). */
    err_t (*drain)(void *arg, char *errbuf, size_t errsize);
    /* Optional (NULL: none): called every few ms while holding (keep the
     * source connection alive); an error ends the hold and is returned. */
    err_t (*poll)(void *arg, char *errbuf, size_t errsize);
    void *arg;
} hold_loop_t;

typedef struct hold {
    const hold_verifier_t *v; /* borrowed; NULL: no verifier ever holds */
    hold_loop_t loop;
    volatile sig_atomic_t *stop; /* a stop ends a hold at once */
    lsn_t until;                 /* the live request's point: hold before next >= it; 0: none */
    int64_t polled_ms;           /* last look for a request */
    int track;                   /* a verifier asked for marks */
    vmark_set_t *marks;          /* those of the open batch */
} hold_t;

/* A hold point over v (NULL, or without poll: never holds, never marks). */
void hold_init(hold_t *h, const hold_verifier_t *v, const hold_loop_t *loop,
               volatile sig_atomic_t *stop);
void hold_clear(hold_t *h);

/*
 * A transaction boundary: every transaction whose commit LSN is below `next`
 * is handed to the batch, none at or above it (next 0: a boundary whose
 * position is unknown, which serves a pause but never a point). Looks for a
 * request at most every 100 ms; when a live request says so, first drains,
 * then stands still until the request moves past `next`, ends or expires (at
 * most 30 s: a dead verifier never stops the sync). Errors are the loop's; a
 * failing verifier only logs (and is asked again 5 s later).
 */
err_t hold_point(hold_t *h, lsn_t next, char *errbuf, size_t errsize);

/* When the hold wants to look for a request next (clock_ms); INT64_MAX: never. */
int64_t hold_due_ms(const hold_t *h);

/* The live request's point (0: none or not chosen yet). */
lsn_t hold_until(const hold_t *h);

/* Records the key ranges a row change touches (old and new NULL: the whole
 * table, a truncate) when a verifier asked for marks; -1 when out of memory. */
int hold_mark(hold_t *h, const change_relation_t *rel, const change_tuple_t *old,
              const change_tuple_t *new_tuple);

/* The batch's marks into pos (valid until hold_marked). */
void hold_marks(const hold_t *h, sink_position_t *pos);

/* The batch carrying them was handed to the sink: start a new set. */
void hold_marked(hold_t *h);

#endif
