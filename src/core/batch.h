/*
 * batch: the target transaction of the apply loop (core/applier.c, for
 * `run` and Kafka `apply`). Opens it, tells when it is due, commits it with the
 * position it covers (asynchronously when the sink can) and learns what the
 * target made durable. Reads no source and confirms nothing itself.
 */
#ifndef SYNCLINE_BATCH_H
#define SYNCLINE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/lsn.h"
#include "core/metrics.h"
#include "core/sink.h"

typedef struct batch {
    const sink_t *snk;  /* borrowed */
    metrics_t *metrics; /* optional: batch sizes and commit latency */
    int max_rows;       /* due after this many rows... */
    int max_ms;         /* ...or when open this long */

    int open;           /* a target transaction is open */
    uint64_t rows;      /* row changes in the open batch */
    uint64_t txns;      /* source transactions in the open batch */
    int64_t started_ms; /* when it opened */
    lsn_t end_lsn;      /* end LSN of the newest source transaction handed over */
    int64_t commit_time;

    lsn_t sent;    /* end LSN of the newest batch committed or sent for commit */
    lsn_t durable; /* end LSN of the newest batch the target made durable */
    int pending;   /* a COMMIT was sent and is not known durable yet */
    uint64_t pending_rows;
    double pending_started; /* metrics: when it was sent */
    uint64_t commits;       /* target transactions committed or sent */
} batch_t;

/* A closed batch on snk; applied is what the target holds already. */
void batch_init(batch_t *b, const sink_t *snk, int max_rows, int max_ms, metrics_t *metrics,
                lsn_t applied);

/* Opens the target transaction unless one is open. */
err_t batch_begin(batch_t *b, char *errbuf, size_t errsize);

/* A source transaction ending at end_lsn was handed over whole. */
void batch_txn_end(batch_t *b, lsn_t end_lsn, int64_t commit_time);

/* Open and holding max_rows rows or open max_ms. */
int batch_full(const batch_t *b);

/*
 * Commits the open batch with the position it covers: pos (NULL: nothing
 * more) brings what the loop adds (consumer offsets, verify marks); its
 * end_lsn (the newest end LSN handed over, never below the last one sent)
 * and commit_time are set here. With wait 0 and a sink that can, it returns
 * once the COMMIT is sent (batch_settle learns when it is durable);
 * otherwise once it is durable.
 */
err_t batch_commit(batch_t *b, sink_position_t *pos, int wait, char *errbuf, size_t errsize);

/* Learns without waiting (wait 0) or after waiting for everything sent how
 * far the target committed: b->durable. *moved is set when it moved. */
err_t batch_settle(batch_t *b, int wait, int *moved, char *errbuf, size_t errsize);

/* Abandons the open batch, if any. */
void batch_rollback(batch_t *b);

#endif
