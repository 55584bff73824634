/*
 * applier: the one apply loop. Drives a feed (a source of whole transactions:
 * `run`'s walsender stream, Kafka `apply`'s consumer) into the target
 * transaction (core/batch.h) and owns the loop's policy: how long to wait for
 * input, when to commit and settle, stop, the online verify's hold.
 */
#ifndef SYNCLINE_APPLIER_H
#define SYNCLINE_APPLIER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"
#include "core/err.h"
#include "core/hold.h"
#include "core/lsn.h"
#include "core/sink.h"

/*
 * What a source implements to be applied. The feed hands rows to the sink
 * itself, inside the batch (applier_begin, a->batch.rows, applier_txn_end);
 * the loop decides when the batch ends, and it ends only where at_boundary
 * says no source transaction is half read. Optional hooks may be NULL.
 */
typedef struct applier_feed {
    /* Waits up to wait_ms for one unit of input (a frame, a message) and
     * handles it: 1 handled, 0 nothing ready, -1 error (*err, errbuf set). */
    int (*poll)(void *ctx, int wait_ms, err_t *err, char *errbuf, size_t errsize);
    /* No source transaction is half read. */
    int (*at_boundary)(void *ctx);
    /* When the feed wants to be polled again at the latest (clock_ms: a
     * status or progress write due); what the loop waits for comes on top. */
    int64_t (*due_ms)(void *ctx);
    /* Optional: what every transaction handed over so far lies below, for a
     * hold between transactions (0: unknown; a pause, never a point). */
    lsn_t (*boundary_lsn)(void *ctx);
    /* Optional: what a commit covers beyond the LSNs the batch carries
     * (consumer offsets) into pos; valid until committed. */
    err_t (*position)(void *ctx, sink_position_t *pos, char *errbuf, size_t errsize);
    /* Optional: the position was handed to the sink with its batch. */
    void (*committed)(void *ctx);
    /* The target made more durable (a->batch.durable moved): confirm it. */
    err_t (*on_durable)(void *ctx, char *errbuf, size_t errsize);
    /* Optional: once a poll after the loop's own work (not while a commit
     * in flight is being settled): status updates, silence, gap checks. */
    err_t (*on_tick)(void *ctx, int got, char *errbuf, size_t errsize);
    /* Optional: called every few ms while an online verify holds. */
    err_t (*hold_poll)(void *ctx, char *errbuf, size_t errsize);
    /*
     * On purpose, how a stop mid-transaction ends. 0 (Kafka): roll the half
     * transaction back; it is read again from the stored offsets, and the
     * rest may not even be in the partition yet. 1 (the walsender): read on
     * to its Commit; the walsender sends the rest at once, so a stop does not
     * throw away a large transaction nearly read.
     */
    int finish_txn_on_stop;
    void *ctx;
} applier_feed_t;

typedef struct applier {
    applier_feed_t feed;
    batch_t batch; /* the target transaction; the feed counts rows into it */
    hold_t hold;   /* an online verify's hold point and the batch's marks */
    volatile sig_atomic_t *stop;
    int64_t input_ms;   /* when the feed last handled input */
    int64_t settled_ms; /* last look at the target between source transactions */
    unsigned polls;     /* units handled while a commit was in flight */
} applier_t;

/* A loop over feed into snk; applied is what the target holds already;
 * hold (NULL: none) is an online verify's. Call applier_clear after. */
void applier_init(applier_t *a, const applier_feed_t *feed, const sink_t *snk, int batch_rows,
                  int batch_ms, metrics_t *metrics, lsn_t applied, const hold_verifier_t *hold,
                  volatile sig_atomic_t *stop);
void applier_clear(applier_t *a);

/*
 * Runs until *stop is set (returns ERR_OK once everything handed over is
 * durable and its position confirmed through on_durable) or an error
 * (returned; the open batch rolled back).
 */
err_t applier_run(applier_t *a, char *errbuf, size_t errsize);

/* Opens the target transaction unless one is open (a feed, before rows). */
err_t applier_begin(applier_t *a, char *errbuf, size_t errsize);

/* A source transaction ending at end_lsn was handed over whole. */
void applier_txn_end(applier_t *a, lsn_t end_lsn, int64_t commit_time);

/* Commits the open batch with the feed's position (wait 0: returns once
 * sent when the sink can; 1: once durable). For a feed that must commit
 * outside the loop (a revoke): only at a boundary. */
err_t applier_commit(applier_t *a, int wait, char *errbuf, size_t errsize);

/* Learns how far the target committed (wait: waits for all of it); on_durable
 * when it moved. */
err_t applier_settle(applier_t *a, int wait, char *errbuf, size_t errsize);

#endif
