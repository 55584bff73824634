/*
 * stream: `run`'s feed of the apply loop (core/applier.h). Reads the source
 * stream, decodes it, hands whole source transactions to the sink in commit
 * order, and confirms to the source only what the sink made durable. Holds
 * no connection of its own.
 */
#ifndef SYNCLINE_PIPELINE_H
#define SYNCLINE_PIPELINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/hold.h"
#include "core/lsn.h"
#include "core/metrics.h"
#include "core/partmap.h"
#include "core/sink.h"
#include "core/source.h"

typedef struct stream_opts {
    lsn_t applied_lsn;           /* end LSN of the newest transaction already on the target */
    int batch_rows;              /* close a target transaction after this many rows... */
    int batch_ms;                /* ...or when it has been open this long */
    int status_interval_ms;      /* standby status period */
    int progress_interval_ms;    /* idle progress writes, at most this often */
    int silence_timeout_ms;      /* a reply request unanswered this long: connection dead */
    volatile sig_atomic_t *stop; /* set by a signal handler: finish the transaction, stop */
    metrics_t *metrics;          /* optional (NULL: none): counts, latencies, lag */
    const partmap_t *parts;      /* optional: published leaves renamed to their root (PG 12) */
    const hold_verifier_t *hold; /* optional: an online verify's hold point */
} stream_opts_t;

typedef struct stream_stats {
    uint64_t txns;    /* source transactions applied */
    uint64_t rows;    /* row changes applied */
    uint64_t batches; /* target transactions committed */
    lsn_t applied_lsn;
} stream_stats_t;

/* The silence timeout (0: never) for a status period: three periods, at
 * least 5 s. A status sent after a quiet period asks the server for a reply
 * (a live walsender answers at once with a keepalive), so only a stalled or
 * dead connection leaves it unanswered that long. */
int stream_silence_timeout_ms(int status_interval_ms);

/*
 * Runs until *opts->stop is set (returns ERR_OK once everything received is
 * committed and confirmed) or an error (returned, with errbuf naming table,
 * column and LSN where they apply). *stats is filled in either case.
 */
err_t stream_run(const source_t *src, const sink_t *snk, const stream_opts_t *opts,
                 stream_stats_t *stats, char *errbuf, size_t errsize);

#endif
