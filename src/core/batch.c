/*
 * batch: the target transaction of the apply loop (core/applier.c, for
 * `run` and Kafka `apply`). Opens it, tells when it is due, commits it with the
 * position it covers (asynchronously when the sink can) and learns what the
 * target made durable. Reads no source and confirms nothing itself.
 *
 * A batch ends only where its loop says every source transaction in it is
 * whole; the batch only counts. Several commits may be in flight: durable
 * moves as the target answers them, pending clears with the newest.
 */
#include "core/batch.h"

#include <string.h>

#include "core/clock.h"

void batch_init(batch_t *b, const sink_t *snk, int max_rows, int max_ms, metrics_t *metrics,
                lsn_t applied)
{
    memset(b, 0, sizeof(*b));
    b->snk = snk;
    b->metrics = metrics;
    b->max_rows = max_rows;
    b->max_ms = max_ms;
    b->sent = b->durable = applied;
}

err_t batch_begin(batch_t *b, char *errbuf, size_t errsize)
{
    if (b->open)
        return ERR_OK;
    err_t err = b->snk->ops->begin(b->snk->ctx, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    b->open = 1;
    b->rows = 0;
    b->txns = 0;
    b->started_ms = clock_ms();
    return ERR_OK;
}

void batch_txn_end(batch_t *b, lsn_t end_lsn, int64_t commit_time)
{
    b->txns++;
    if (end_lsn > b->end_lsn) {
        b->end_lsn = end_lsn;
        b->commit_time = commit_time;
    }
}

int batch_full(const batch_t *b)
{
    return b->open && (b->rows >= (uint64_t)b->max_rows || clock_ms() - b->started_ms >= b->max_ms);
}

/* The batch sent last is durable: count it. */
static void batch_done(batch_t *b)
{
    b->pending = 0;
    if (b->metrics != NULL) /* metrics */
        metrics_batch(b->metrics, b->pending_rows, clock_seconds() - b->pending_started);
}

err_t batch_commit(batch_t *b, sink_position_t *pos, int wait, char *errbuf, size_t errsize)
{
    sink_position_t none = {0};
    if (!b->open)
        return ERR_OK;
    if (pos == NULL)
        pos = &none;
    lsn_t end = b->end_lsn > b->sent ? b->end_lsn : b->sent;
    pos->end_lsn = end;
    pos->commit_time = b->commit_time;
    int async = !wait && b->snk->ops->commit_async != NULL;
    double started = clock_seconds(); /* metrics */
    err_t err = async ? b->snk->ops->commit_async(b->snk->ctx, pos, errbuf, errsize)
                      : b->snk->ops->commit(b->snk->ctx, pos, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    b->open = 0;
    b->sent = end;
    b->commits++;
    if (!b->pending) { /* metrics: from the oldest commit in flight */
        b->pending_rows = 0;
        b->pending_started = started;
    }
    b->pending = 1;
    b->pending_rows += b->rows;
    if (async)
        return ERR_OK;
    b->durable = end; /* commit returns once durable */
    batch_done(b);
    return ERR_OK;
}

err_t batch_settle(batch_t *b, int wait, int *moved, char *errbuf, size_t errsize)
{
    lsn_t durable = 0;
    *moved = 0;
    if (!b->pending)
        return ERR_OK;
    err_t err = wait ? b->snk->ops->drain(b->snk->ctx, errbuf, errsize) : ERR_OK;
    if (err == ERR_OK)
        err = b->snk->ops->durable(b->snk->ctx, &durable, errbuf, errsize);
    if (err != ERR_OK || durable <= b->durable)
        return err;
    b->durable = durable;
    *moved = 1;
    if (durable >= b->sent)
        batch_done(b);
    return ERR_OK;
}

void batch_rollback(batch_t *b)
{
    if (b->open)
        b->snk->ops->rollback(b->snk->ctx);
    b->open = 0;
}
