/*
 * source: the interface the apply loop reads a change stream through. A
 * connector (connectors/pg/pg_source.c) implements it over the replication
 * protocol; the core never sees libpq.
 */
#ifndef SYNCLINE_SOURCE_H
#define SYNCLINE_SOURCE_H

#include <stddef.h>

#include "core/err.h"
#include "core/lsn.h"

typedef struct source_ops {
    /*
     * Waits up to timeout_ms (0 = do not wait) for the next CopyData payload.
     * Returns 1 with *buf and *len set, 0 when nothing arrived in time, -1 on
     * error with *err and errbuf set. The payload is the caller's to write in
     * until the next call, and (*buf)[len] is a NUL byte, as PQgetCopyData
     * leaves it: the decoder ends text values with a NUL in place.
     */
    int (*read)(void *ctx, int timeout_ms, char **buf, size_t *len, err_t *err, char *errbuf,
                size_t errsize);
    /* Sends a standby status update: received, durable and applied positions. */
    err_t (*send_status)(void *ctx, lsn_t write, lsn_t flush, lsn_t apply, int reply_requested,
                         char *errbuf, size_t errsize);
} source_ops_t;

typedef struct source {
    const source_ops_t *ops;
    void *ctx; /* owned by whoever built the source */
} source_t;

#endif
