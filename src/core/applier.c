/*
 * applier: the one apply loop. Drives a feed (a source of whole transactions:
 * `run`'s walsender stream, Kafka `apply`'s consumer) into the target
 * transaction (core/batch.h) and owns the loop's policy: how long to wait for
 * input, when to commit and settle, stop, the online verify's hold.
 *
 * Policy. A batch opens with the first change the feed hands over and ends
 * only at a boundary (no source transaction half read), when it holds
 * batch_rows rows or has been open batch_ms, on a stop, or at once when the
 * feed has nothing ready and no earlier commit is in flight: a caught-up
 * source commits each transaction at once and batches grow only with a
 * backlog. Commits are sent without waiting when the sink can; the loop reads
 * on while the target works and learns what became durable (settle) without
 * waiting: now and then while input flows (every 256 units), at most once a
 * millisecond between transactions while a batch waits to go, and whenever
 * the feed has nothing ready; only once the feed has been quiet for
 * APPLIER_QUIET_MS does it wait for the target. What is durable goes to the
 * feed's on_durable, which confirms it (a status to the walsender, applied
 * position and metrics). The cost is per poll, never per row.
 */
#include "core/applier.h"

#include <string.h>

#include "core/clock.h"

#define APPLIER_PENDING_WAIT_MS 2 /* a wait on the feed while a commit is in flight */
#define APPLIER_QUIET_MS 20       /* feed silence after which settling waits for the target */
#define APPLIER_IDLE_MS 1         /* a wait on the feed while the open batch waits for a commit */
#define APPLIER_STOP_WAIT_MS 100  /* a wait on the feed once a stop was asked for */
#define APPLIER_SETTLE_EVERY 256  /* units handled between looks while a commit is in flight */

static err_t applier_drain(void *arg, char *errbuf, size_t errsize)
{
    applier_t *a = arg;
    err_t err = applier_commit(a, 0, errbuf, errsize);
    if (err == ERR_OK && a->batch.pending)
        err = applier_settle(a, 1, errbuf, errsize);
    return err;
}

static err_t applier_hold_poll(void *arg, char *errbuf, size_t errsize)
{
    applier_t *a = arg;
    return a->feed.hold_poll(a->feed.ctx, errbuf, errsize);
}

void applier_init(applier_t *a, const applier_feed_t *feed, const sink_t *snk, int batch_rows,
                  int batch_ms, metrics_t *metrics, lsn_t applied, const hold_verifier_t *hold,
                  volatile sig_atomic_t *stop)
{
    memset(a, 0, sizeof(*a));
    a->feed = *feed;
    a->stop = stop;
    batch_init(&a->batch, snk, batch_rows, batch_ms, metrics, applied);
    hold_loop_t loop = {.drain = applier_drain,
                        .poll = feed->hold_poll != NULL ? applier_hold_poll : NULL,
                        .arg = a};
    hold_init(&a->hold, hold, &loop, stop);
    a->input_ms = clock_ms();
}

void applier_clear(applier_t *a)
{
    hold_clear(&a->hold);
}

err_t applier_begin(applier_t *a, char *errbuf, size_t errsize)
{
    return batch_begin(&a->batch, errbuf, errsize);
}

void applier_txn_end(applier_t *a, lsn_t end_lsn, int64_t commit_time)
{
    batch_txn_end(&a->batch, end_lsn, commit_time);
}

err_t applier_commit(applier_t *a, int wait, char *errbuf, size_t errsize)
{
    if (!a->batch.open)
        return ERR_OK;
    sink_position_t pos = {0};
    err_t err =
        a->feed.position != NULL ? a->feed.position(a->feed.ctx, &pos, errbuf, errsize) : ERR_OK;
    if (err != ERR_OK)
        return err;
    hold_marks(&a->hold, &pos);
    err = batch_commit(&a->batch, &pos, wait, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    hold_marked(&a->hold);
    if (a->feed.committed != NULL)
        a->feed.committed(a->feed.ctx);
    return a->batch.pending ? ERR_OK : a->feed.on_durable(a->feed.ctx, errbuf, errsize);
}

err_t applier_settle(applier_t *a, int wait, char *errbuf, size_t errsize)
{
    int moved;
    a->polls = 0;
    err_t err = batch_settle(&a->batch, wait, &moved, errbuf, errsize);
    return err != ERR_OK || !moved ? err : a->feed.on_durable(a->feed.ctx, errbuf, errsize);
}

/* How long the next poll may wait: until the feed wants to be polled, the
 * batch is due, or the hold wants to look for a request. */
static int applier_wait_ms(const applier_t *a, int boundary)
{
    int64_t now = clock_ms();
    int64_t due = a->feed.due_ms(a->feed.ctx);
    if (a->batch.open && boundary) {
        /* batch only while behind: a feed with nothing more ready ends it.
         * With the target idle, only what is already here counts as ready
         * (a look without waiting); with a commit in flight the batch grows
         * meanwhile, and a short wait lets the loop look at the target again. */
        int64_t batch_due = a->batch.started_ms + a->batch.max_ms;
        int64_t idle_due = a->batch.pending ? now + APPLIER_IDLE_MS : now;
        if (idle_due < batch_due)
            batch_due = idle_due;
        if (batch_due < due)
            due = batch_due;
    }
    if (boundary && hold_due_ms(&a->hold) < due)
        due = hold_due_ms(&a->hold); /* a verifier's request, seen at once */
    if (*a->stop)
        due = now + APPLIER_STOP_WAIT_MS;
    return due <= now ? 0 : (int)(due - now);
}

/* A stop: commit at a boundary, else drop the half transaction (read again
 * next time); then wait until everything sent is durable. */
static err_t applier_stop(applier_t *a, int boundary, char *errbuf, size_t errsize)
{
    err_t err = ERR_OK;
    if (!boundary)
        batch_rollback(&a->batch);
    else
        err = applier_commit(a, 0, errbuf, errsize);
    return err == ERR_OK ? applier_settle(a, 1, errbuf, errsize) : err;
}

/* After a poll: commit what is due, look at the target, hold, tick. */
static err_t applier_after(applier_t *a, int r, char *errbuf, size_t errsize)
{
    err_t err = ERR_OK;
    int boundary = a->feed.at_boundary(a->feed.ctx);
    /* the feed has nothing ready: commit the batch at once unless the
     * previous commit is still in flight (then the batch grows meanwhile,
     * so batches grow with the backlog) */
    if (r == 0 && a->batch.open && boundary && !a->batch.pending)
        err = applier_commit(a, 0, errbuf, errsize);
    /* between source transactions with a commit in flight: learn without
     * waiting (at most once a millisecond) whether the target has answered,
     * so that the open batch goes as soon as it may */
    if (err == ERR_OK && r > 0 && a->batch.open && boundary && a->batch.pending &&
        a->input_ms != a->settled_ms) {
        a->settled_ms = a->input_ms;
        err = applier_settle(a, 0, errbuf, errsize);
    }
    if (err == ERR_OK && boundary && (batch_full(&a->batch) || *a->stop))
        err = applier_commit(a, 0, errbuf, errsize);
    if (err == ERR_OK && boundary) /* between transactions: everything before it is in */
        err = hold_point(&a->hold, a->feed.boundary_lsn ? a->feed.boundary_lsn(a->feed.ctx) : 0,
                         errbuf, errsize);
    if (err == ERR_OK && a->feed.on_tick != NULL)
        err = a->feed.on_tick(a->feed.ctx, r > 0, errbuf, errsize);
    return err;
}

static err_t applier_loop(applier_t *a, char *errbuf, size_t errsize)
{
    for (;;) {
        int boundary = a->feed.at_boundary(a->feed.ctx);
        if (*a->stop && (boundary || !a->feed.finish_txn_on_stop))
            return applier_stop(a, boundary, errbuf, errsize);
        /* a commit in flight: keep reading while input flows, settle when it
         * stops (a short wait first: the feed may only be a moment behind,
         * and settling waits for everything the target has queued) */
        int idle_pending = a->batch.pending && !a->batch.open;
        int wait_ms = applier_wait_ms(a, boundary);
        if (idle_pending && wait_ms > APPLIER_PENDING_WAIT_MS)
            wait_ms = APPLIER_PENDING_WAIT_MS;
        err_t err = ERR_OK;
        int r = a->feed.poll(a->feed.ctx, wait_ms, &err, errbuf, errsize);
        if (r > 0)
            a->input_ms = clock_ms();
        if (r == 0 && idle_pending) {
            /* look without waiting while the feed may resume any moment;
             * wait for the target once it has been quiet for a while */
            int quiet = clock_ms() - a->input_ms >= APPLIER_QUIET_MS;
            err = applier_settle(a, quiet, errbuf, errsize);
            if (err != ERR_OK)
                return err;
            continue;
        }
        if (r < 0)
            return err;
        /* now and then, learn without waiting what the target has committed */
        if (a->batch.pending && (r == 0 || ++a->polls % APPLIER_SETTLE_EVERY == 0))
            err = applier_settle(a, 0, errbuf, errsize);
        if (err == ERR_OK)
            err = applier_after(a, r, errbuf, errsize);
        if (err != ERR_OK)
            return err;
    }
}

err_t applier_run(applier_t *a, char *errbuf, size_t errsize)
{
    err_t err = applier_loop(a, errbuf, errsize);
    if (err != ERR_OK)
        batch_rollback(&a->batch);
    return err;
}
