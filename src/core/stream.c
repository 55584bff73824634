/*
 * stream: `run`'s feed of the apply loop (core/applier.h) between a source
 * and a sink.
 *
 * Design. Each XLogData payload is decoded in place and dispatched by one
 * switch on the message byte; whole source transactions go to the sink in
 * commit order, inside the batch the applier opened. A boundary is anywhere
 * outside Begin..Commit, so a source transaction is never split. Only after
 * the target made a batch durable (progress row included) does the confirmed
 * position move, and it moves to the Commit's end LSN (stream_applied). With
 * nothing pending, keepalive positions are confirmed too, so an idle or
 * filtered source does not pin WAL. Transactions whose commit LSN is below
 * the applied position were applied before a restart: skipped. When to wait,
 * commit and settle is the applier's; what is the walsender's (status
 * updates, the silence check, progress writes when idle) is here.
 */
#include "core/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/applier.h"
#include "core/clock.h"
#include "core/ddl.h"
#include "core/hold.h"
#include "core/log.h"
#include "core/pgoutput.h"
#include "core/relcache.h"

#define STREAM_HOLD_ASK_MS 100 /* how often to ask for the walsender's position while held */

typedef struct stream_state {
    const source_t *src;
    const sink_t *snk;
    const stream_opts_t *opts;
    stream_stats_t *stats;
    relcache_t *rels;
    pgoutput_msg_t msg;

    lsn_t received;       /* newest WAL position seen */
    lsn_t applied;        /* durable on the target and confirmable */
    lsn_t progress_saved; /* newest position written to the progress row */
    sink_txn_t txn;       /* the source transaction in hand, as its Begin describes it */
    int in_txn;           /* between Begin and Commit */
    int skipping;         /* the transaction in hand was applied before */
    applier_t ap;         /* the loop: the target transaction, the hold point */
    int64_t last_status_ms;
    int64_t last_progress_ms;
    lsn_t last_status_flush;
    lsn_t keepalive_end;  /* newest keepalive position, confirmable when idle */
    int64_t last_recv_ms; /* when the source last sent anything */
    int64_t asked_ms;     /* oldest reply request not answered yet, 0: none */
    int target_stalled;   /* the sink gave up on a stalled target */
} stream_state_t;

/* ---- metrics (optional: opts->metrics may be NULL) ---------------------- */

/* The applied position and the lag as the stream sees it: bytes received and
 * not applied, and the age of the newest applied commit (0 when caught up). */
static void stream_metrics_position(const stream_state_t *st, int64_t commit_time)
{
    if (st->opts->metrics == NULL)
        return;
    uint64_t bytes = lsn_diff(st->received, st->applied);
    double age = commit_time && bytes ? (double)(lsn_pgtime_now() - commit_time) / 1e6 : 0;
    metrics_position(st->opts->metrics, st->applied, bytes, age);
}

/* ---- end of metrics ------------------------------------------------------ */

static err_t stream_send_status(stream_state_t *st, int reply, char *errbuf, size_t errsize)
{
    err_t err = st->src->ops->send_status(st->src->ctx, st->received, st->applied, st->applied,
                                          reply, errbuf, errsize);
    st->last_status_ms = clock_ms();
    st->last_status_flush = st->applied;
    return err;
}

/* The target made durable up to st->ap.batch.durable: confirm it. */
static err_t stream_applied(void *ctx, char *errbuf, size_t errsize)
{
    stream_state_t *st = ctx;
    if (st->ap.batch.durable <= st->applied)
        return ERR_OK;
    st->applied = st->progress_saved = st->ap.batch.durable;
    st->stats->applied_lsn = st->applied;
    stream_metrics_position(st, st->ap.batch.commit_time); /* metrics */
    return stream_send_status(st, 0, errbuf, errsize);
}

/* ---- online verify hold point (core/hold.h; opts->hold may be NULL) ----- */

/* While holding, the source still hears from us. */
static err_t stream_hold_poll(void *ctx, char *errbuf, size_t errsize)
{
    stream_state_t *st = ctx;
    if (clock_ms() - st->last_status_ms < st->opts->status_interval_ms)
        return ERR_OK;
    return stream_send_status(st, 0, errbuf, errsize);
}

/* ---- end of hold point --------------------------------------------------- */

static err_t stream_handle_begin(stream_state_t *st, char *errbuf, size_t errsize)
{
    const pgoutput_begin_t *b = &st->msg.u.begin;
    if (b->final_lsn >= st->applied) {
        err_t err = hold_point(&st->ap.hold, b->final_lsn, errbuf, errsize);
        if (err != ERR_OK)
            return err;
    }
    st->in_txn = 1;
    st->txn =
        (sink_txn_t){.xid = b->xid, .commit_lsn = b->final_lsn, .commit_time = b->commit_time};
    st->skipping = b->final_lsn < st->applied;
    if (st->skipping)
        return ERR_OK;
    err_t err = applier_begin(&st->ap, errbuf, errsize);
    if (err != ERR_OK || st->snk->ops->txn_begin == NULL)
        return err;
    return st->snk->ops->txn_begin(st->snk->ctx, &st->txn, errbuf, errsize);
}

static err_t stream_handle_commit(stream_state_t *st, char *errbuf, size_t errsize)
{
    const pgoutput_commit_t *c = &st->msg.u.commit;
    st->in_txn = 0;
    if (c->end_lsn > st->received)
        st->received = c->end_lsn;
    if (st->skipping) {
        st->skipping = 0;
        return ERR_OK;
    }
    st->txn.commit_lsn = c->commit_lsn;
    st->txn.end_lsn = c->end_lsn;
    st->txn.commit_time = c->commit_time;
    if (st->snk->ops->txn_end != NULL) {
        err_t err = st->snk->ops->txn_end(st->snk->ctx, &st->txn, errbuf, errsize);
        if (err != ERR_OK)
            return err;
    }
    applier_txn_end(&st->ap, c->end_lsn, c->commit_time); /* the loop commits when due */
    st->stats->txns++;
    if (st->opts->metrics != NULL) /* metrics */
        metrics_transaction(st->opts->metrics);
    return ERR_OK;
}

/* A published leaf takes its root's name, as publish_via_partition_root does
 * from PostgreSQL 13 on: its rows go where the root's would. -1: no memory. */
static int stream_rename_leaf(const partmap_t *parts, change_relation_t *rel)
{
    const char *rschema, *rname;
    if (!partmap_root(parts, rel->nspname, rel->relname, &rschema, &rname, NULL))
        return 0;
    char *s = strdup(rschema), *n = strdup(rname);
    if (s == NULL || n == NULL) {
        free(s);
        free(n);
        return -1;
    }
    free(rel->nspname);
    free(rel->relname);
    rel->nspname = s;
    rel->relname = n;
    return 0;
}

static err_t stream_handle_relation(stream_state_t *st, char *errbuf, size_t errsize)
{
    change_relation_t *rel = st->msg.relation, *old = NULL;
    st->msg.relation = NULL;
    uint32_t relid = rel->relid;
    if (stream_rename_leaf(st->opts->parts, rel) != 0) {
        change_relation_free(rel);
        snprintf(errbuf, errsize, "out of memory renaming relation %u", relid);
        return ERR_RUNTIME;
    }
    if (relcache_replace(st->rels, rel, &old) != 0) {
        snprintf(errbuf, errsize, "out of memory caching relation %u", relid);
        return ERR_RUNTIME;
    }
    /* the sink may still hold rows of the old description: free it after */
    err_t err = st->snk->ops->relation(st->snk->ctx, relcache_get(st->rels, relid),
                                       st->txn.commit_lsn, errbuf, errsize);
    change_relation_free(old);
    return err;
}

static const change_relation_t *stream_relation(stream_state_t *st, uint32_t relid, char *errbuf,
                                                size_t errsize)
{
    const change_relation_t *rel = relcache_get(st->rels, relid);
    if (rel == NULL) {
        char l[LSN_STRLEN];
        snprintf(errbuf, errsize, "change for relation %u before its Relation message (lsn=%s)",
                 relid, lsn_format(st->txn.commit_lsn, l, sizeof(l)));
    }
    return rel;
}

static err_t stream_handle_row(stream_state_t *st, change_op_t op, char *errbuf, size_t errsize)
{
    const pgoutput_row_t *r = &st->msg.u.row;
    if (st->skipping)
        return ERR_OK;
    change_row_t row = {.op = op, .old_kind = r->old_kind, .lsn = st->txn.commit_lsn};
    row.rel = stream_relation(st, r->relid, errbuf, errsize);
    if (row.rel == NULL)
        return ERR_RUNTIME;
    if (r->old_kind != 0)
        row.old_tuple = &r->old_tuple;
    if (op != CHANGE_DELETE)
        row.new_tuple = &r->new_tuple;
    if (hold_mark(&st->ap.hold, row.rel, row.old_tuple, row.new_tuple) != 0) {
        snprintf(errbuf, errsize, "out of memory marking changed key ranges");
        return ERR_RUNTIME;
    }
    st->ap.batch.rows++;
    st->stats->rows++;
    if (st->opts->metrics != NULL) /* metrics */
        metrics_change(st->opts->metrics, row.rel->nspname, row.rel->relname, (char)op);
    return st->snk->ops->row(st->snk->ctx, &row, errbuf, errsize);
}

static int stream_same_name(const change_relation_t *a, const change_relation_t *b)
{
    return strcmp(a->nspname, b->nspname) == 0 && strcmp(a->relname, b->relname) == 0;
}

/*
 * Leaves renamed to their root (PG 12) become one truncate of the root, when
 * the truncate holds every leaf (the root was truncated). A truncate of only
 * some partitions cannot be applied to the target's root: an error, not a
 * silent skip (from 13 on PostgreSQL itself does not publish it).
 */
static err_t stream_truncate_roots(stream_state_t *st, const change_relation_t **rels, int *n,
                                   char *errbuf, size_t errsize)
{
    int out = 0;
    for (int i = 0; i < *n; i++) {
        int size = partmap_tree_size(st->opts->parts, rels[i]->nspname, rels[i]->relname);
        int seen = 0, count = 0;
        for (int j = 0; size > 0 && j < *n; j++) {
            seen |= j < i && stream_same_name(rels[j], rels[i]);
            count += stream_same_name(rels[j], rels[i]);
        }
        if (seen)
            continue;
        if (size > 0 && count != size) {
            char l[LSN_STRLEN];
            snprintf(errbuf, errsize,
                     "TRUNCATE of %d of the %d partitions of %s.%s (lsn=%s): the source "
                     "(PostgreSQL 12) publishes partitions, and the truncation of some of them "
                     "cannot be applied to the target's table; truncate them on the target "
                     "by hand and drop and re-create the sync, or truncate the whole table",
                     count, size, rels[i]->nspname, rels[i]->relname,
                     lsn_format(st->txn.commit_lsn, l, sizeof(l)));
            return ERR_RUNTIME;
        }
        rels[out++] = rels[i];
    }
    *n = out;
    return ERR_OK;
}

static err_t stream_handle_truncate(stream_state_t *st, char *errbuf, size_t errsize)
{
    const pgoutput_truncate_t *t = &st->msg.u.truncate;
    const change_relation_t *rels[t->nrelids > 0 ? t->nrelids : 1];
    int n = t->nrelids;
    if (st->skipping)
        return ERR_OK;
    for (int i = 0; i < t->nrelids; i++) {
        rels[i] = stream_relation(st, t->relids[i], errbuf, errsize);
        if (rels[i] == NULL)
            return ERR_RUNTIME;
    }
    if (partmap_count(st->opts->parts) > 0 &&
        stream_truncate_roots(st, rels, &n, errbuf, errsize) != ERR_OK)
        return ERR_RUNTIME;
    for (int i = 0; i < n; i++) {
        if (hold_mark(&st->ap.hold, rels[i], NULL, NULL) != 0) {
            snprintf(errbuf, errsize, "out of memory marking changed key ranges");
            return ERR_RUNTIME;
        }
    }
    st->ap.batch.rows++;
    return st->snk->ops->truncate(st->snk->ctx, rels, n, t->options, st->txn.commit_lsn, errbuf,
                                  errsize);
}

/* A logical message: the event trigger's DDL (core/ddl.h) goes to the sink at
 * its place among the rows; other messages carry nothing to apply. */
static err_t stream_handle_message(stream_state_t *st, char *errbuf, size_t errsize)
{
    const pgoutput_message_t *m = &st->msg.u.message;
    if (st->skipping || !st->in_txn || !(m->flags & 1) ||
        strcmp(m->prefix, DDL_MESSAGE_PREFIX) != 0)
        return ERR_OK;
    if (st->snk->ops->ddl == NULL) { /* a sink that cannot carry it: say so (the tag only:
                                      * statement text may hold secrets) */
        char l[LSN_STRLEN], eb[64];
        ddl_event_t ev = {0};
        const char *sig, *body;
        size_t blen;
        int ok = ddl_message_split(m->content, m->len, &sig, &body, &blen) == 0 &&
                 ddl_event_parse(body, blen, &ev, eb, sizeof(eb)) == 0;
        log_warn("ddl at lsn=%s (%s) not followed by this sink: apply it on the target by hand",
                 lsn_format(m->lsn, l, sizeof(l)), ok ? ev.tag : "unreadable");
        ddl_event_clear(&ev);
        return ERR_OK;
    }
    sink_ddl_t d = {.json = m->content,
                    .len = m->len,
                    .lsn = m->lsn,
                    .txn_lsn = st->txn.commit_lsn,
                    .xid = st->txn.xid};
    st->ap.batch.rows++;
    return st->snk->ops->ddl(st->snk->ctx, &d, errbuf, errsize);
}

static err_t stream_dispatch(stream_state_t *st, char *errbuf, size_t errsize)
{
    switch (st->msg.kind) {
    case PGOUTPUT_BEGIN:
        return stream_handle_begin(st, errbuf, errsize);
    case PGOUTPUT_COMMIT:
        return stream_handle_commit(st, errbuf, errsize);
    case PGOUTPUT_RELATION:
        return stream_handle_relation(st, errbuf, errsize);
    case PGOUTPUT_INSERT:
        return stream_handle_row(st, CHANGE_INSERT, errbuf, errsize);
    case PGOUTPUT_UPDATE:
        return stream_handle_row(st, CHANGE_UPDATE, errbuf, errsize);
    case PGOUTPUT_DELETE:
        return stream_handle_row(st, CHANGE_DELETE, errbuf, errsize);
    case PGOUTPUT_TRUNCATE:
        return stream_handle_truncate(st, errbuf, errsize);
    case PGOUTPUT_TYPE:
        if (st->snk->ops->type == NULL)
            return ERR_OK;
        return st->snk->ops->type(st->snk->ctx, st->msg.u.type.oid, st->msg.u.type.nspname,
                                  st->msg.u.type.typname, errbuf, errsize);
    case PGOUTPUT_MESSAGE:
        return stream_handle_message(st, errbuf, errsize);
    case PGOUTPUT_ORIGIN:
        return ERR_OK; /* types travel as text; origins carry no rows */
    }
    snprintf(errbuf, errsize, "unexpected pgoutput message '%c'", (char)st->msg.kind);
    return ERR_RUNTIME;
}

/* Nothing pending: the keepalive position is as good as applied. */
static err_t stream_idle_advance(stream_state_t *st, lsn_t wal_end, char *errbuf, size_t errsize)
{
    if (st->in_txn || st->ap.batch.open || st->ap.batch.pending || wal_end <= st->applied)
        return ERR_OK;
    /* confirm only what the progress row says, so that a target behind the
     * slot always means a target that lost data */
    int64_t now = clock_ms();
    if (now - st->last_progress_ms < st->opts->progress_interval_ms)
        return ERR_OK;
    st->last_progress_ms = now;
    err_t err = st->snk->ops->advance(st->snk->ctx, wal_end, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    st->applied = st->progress_saved = wal_end;
    st->stats->applied_lsn = wal_end;
    stream_metrics_position(st, 0); /* metrics */
    return ERR_OK;
}

static err_t stream_handle_frame(stream_state_t *st, char *buf, size_t len, char *errbuf,
                                 size_t errsize)
{
    pgoutput_frame_t f;
    if (pgoutput_read_frame(buf, len, &f, errbuf, errsize) != PGOUTPUT_OK)
        return ERR_RUNTIME;
    if (f.wal_end > st->received && !st->in_txn)
        st->received = f.wal_end;
    if (f.kind == PGOUTPUT_FRAME_KEEPALIVE) {
        if (f.wal_end > st->keepalive_end)
            st->keepalive_end = f.wal_end;
        err_t err = stream_idle_advance(st, f.wal_end, errbuf, errsize);
        if (err == ERR_OK && (f.reply_requested || st->applied != st->last_status_flush))
            err = stream_send_status(st, 0, errbuf, errsize);
        return err;
    }
    if (pgoutput_read_msg(f.payload, f.payload_len, &st->msg, errbuf, errsize) != PGOUTPUT_OK)
        return ERR_RUNTIME;
    /* the payload runs to the end of buf, whose buf[len] is a NUL (source.h) */
    pgoutput_msg_terminate(&st->msg, buf + (f.payload - buf), f.payload_len);
    return stream_dispatch(st, errbuf, errsize);
}

/* When the walsender wants to hear from us (a status), or the keepalive
 * position wants to be written as progress (nothing open). */
static int64_t stream_due_ms(void *ctx)
{
    const stream_state_t *st = ctx;
    int64_t due = st->last_status_ms + st->opts->status_interval_ms;
    if (st->keepalive_end > st->applied && !st->in_txn && !st->ap.batch.open) {
        int64_t progress_due = st->last_progress_ms + st->opts->progress_interval_ms;
        if (progress_due < due)
            due = progress_due;
    }
    return due;
}

static int stream_at_boundary(void *ctx)
{
    const stream_state_t *st = ctx;
    return !st->in_txn;
}

/* Idle or between transactions: everything before keepalive_end is in. */
static lsn_t stream_boundary_lsn(void *ctx)
{
    const stream_state_t *st = ctx;
    return st->keepalive_end;
}

/* A replication connection that went quiet although a reply was asked for
 * is dead or stalled (a hung peer or a black hole that TCP does not notice):
 * give it up, the caller reconnects. */
static err_t stream_check_silence(const stream_state_t *st, int64_t now, char *errbuf,
                                  size_t errsize)
{
    int limit = st->opts->silence_timeout_ms;
    if (limit <= 0 || st->asked_ms == 0 || now - st->asked_ms < limit)
        return ERR_OK;
    snprintf(errbuf, errsize,
             "source: no reply on the replication connection for %lld ms (limit %d ms): "
             "connection presumed dead",
             (long long)(now - st->asked_ms), limit);
    return ERR_CONNECT;
}

/* Once a poll, after the loop committed what was due and held where asked:
 * the walsender hears how far we are, and a silent one is given up. */
static err_t stream_tick(void *ctx, int got, char *errbuf, size_t errsize)
{
    stream_state_t *st = ctx;
    int64_t now = clock_ms();
    (void)got;
    err_t err = stream_check_silence(st, now, errbuf, errsize);
    /* a verifier's point past what the walsender last said: ask for its
     * position (it answers with a keepalive), not one status period later */
    if (err == ERR_OK && !st->in_txn && hold_until(&st->ap.hold) > st->keepalive_end &&
        now - st->last_status_ms >= STREAM_HOLD_ASK_MS)
        err = stream_send_status(st, 1, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    lsn_t before = st->applied;
    err = stream_idle_advance(st, st->keepalive_end, errbuf, errsize);
    /* quiet for a status period: ask for a reply, which proves the link alive */
    int ask =
        st->opts->silence_timeout_ms > 0 && now - st->last_recv_ms >= st->opts->status_interval_ms;
    if (err == ERR_OK &&
        (st->applied != before || now - st->last_status_ms >= st->opts->status_interval_ms)) {
        err = stream_send_status(st, ask, errbuf, errsize);
        if (ask && st->asked_ms == 0)
            st->asked_ms = now;
    }
    return err;
}

/* The sink is waiting for the target (a long statement, a slow commit): the
 * source still hears from us, so the walsender's timeout does not fire. */
static void stream_on_wait(void *arg, int stalled)
{
    stream_state_t *st = arg;
    char eb[256];
    if (stalled)
        st->target_stalled = 1;
    else if (clock_ms() - st->last_status_ms >= st->opts->status_interval_ms)
        (void)stream_send_status(st, 0, eb, sizeof(eb)); /* a failure shows on the next read */
}

/* Reads one payload (waiting up to wait_ms) and handles it. */
static int stream_poll(void *ctx, int wait_ms, err_t *err, char *errbuf, size_t errsize)
{
    stream_state_t *st = ctx;
    char *buf;
    size_t len;
    int r = st->src->ops->read(st->src->ctx, wait_ms, &buf, &len, err, errbuf, errsize);
    if (r <= 0)
        return r;
    st->last_recv_ms = clock_ms();
    st->asked_ms = 0;
    *err = stream_handle_frame(st, buf, len, errbuf, errsize);
    return *err == ERR_OK ? 1 : -1;
}

int stream_silence_timeout_ms(int status_interval_ms)
{
    return status_interval_ms < 5000 / 3 ? 5000 : 3 * status_interval_ms;
}

err_t stream_run(const source_t *src, const sink_t *snk, const stream_opts_t *opts,
                 stream_stats_t *stats, char *errbuf, size_t errsize)
{
    stream_state_t st = {.src = src, .snk = snk, .opts = opts, .stats = stats};
    memset(stats, 0, sizeof(*stats));
    st.applied = st.received = st.progress_saved = opts->applied_lsn;
    stats->applied_lsn = opts->applied_lsn;
    st.rels = relcache_new();
    if (st.rels == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    st.last_status_ms = st.last_progress_ms = st.last_recv_ms = clock_ms();
    applier_feed_t feed = {.poll = stream_poll,
                           .at_boundary = stream_at_boundary,
                           .due_ms = stream_due_ms,
                           .boundary_lsn = stream_boundary_lsn,
                           .on_durable = stream_applied,
                           .on_tick = stream_tick,
                           .hold_poll = stream_hold_poll,
                           .finish_txn_on_stop = 1,
                           .ctx = &st};
    applier_init(&st.ap, &feed, snk, opts->batch_rows, opts->batch_ms, opts->metrics,
                 opts->applied_lsn, opts->hold, opts->stop);
    if (snk->ops->on_wait != NULL)
        snk->ops->on_wait(snk->ctx, stream_on_wait, &st);
    err_t err = applier_run(&st.ap, errbuf, errsize);
    if (snk->ops->on_wait != NULL)
        snk->ops->on_wait(snk->ctx, NULL, NULL);
    stats->batches = st.ap.batch.commits;
    if (err != ERR_OK && opts->metrics != NULL) /* metrics: a stall is a connect error */
        metrics_error(opts->metrics, st.target_stalled ? "target_stall" : err_name(err));
    if (err == ERR_OK) {
        char eb[256];
        stream_send_status(&st, 0, eb, sizeof(eb)); /* last word: what is durable */
    }
    pgoutput_msg_clear(&st.msg);
    relcache_free(st.rels);
    applier_clear(&st.ap);
    return err;
}
