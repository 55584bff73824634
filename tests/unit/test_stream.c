/*
 * Unit tests for the apply loop (stream_run) against a fake source that
 * replays walsender frames and a fake sink that records every call. They pin
 * the loop's contract: whole source transactions per target transaction,
 * confirmation of a Commit's end LSN only once the sink made it durable,
 * nothing committed or confirmed past a change that failed, transactions
 * already applied skipped, keepalives answered, DDL messages handed over at
 * their place among the rows. No server needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/stream.h"
#include "support/pgoutput_build.h"

#define MAXFRAMES 32
#define LOGSIZE 1024

/* ---- the fake source: frames replayed in order, then a stop ---------------- */

typedef struct fake_source {
    pgoutput_build_t frames[MAXFRAMES];
    int n, next;
    volatile sig_atomic_t *stop;
    lsn_t max_flush; /* newest flush position confirmed */
    int statuses;
    lsn_t durable; /* what the fake sink made durable (the confirm bound) */
    int over_confirmed;
    int pause_waits[MAXFRAMES]; /* how long the loop was ready to wait at each pause */
    int pauses;
} fake_source_t;

static int fake_read(void *ctx, int timeout_ms, char **buf, size_t *len, err_t *err, char *errbuf,
                     size_t errsize)
{
    fake_source_t *fs = ctx;
    (void)err, (void)errbuf, (void)errsize;
    if (fs->next == fs->n) {
        *fs->stop = 1; /* the stream ran dry: ask the loop to finish */
        return 0;
    }
    if (fs->frames[fs->next].len == 0) { /* a pause: nothing ready this time */
        fs->pause_waits[fs->pauses++] = timeout_ms;
        fs->next++;
        return 0;
    }
    *buf = (char *)fs->frames[fs->next].data;
    *len = fs->frames[fs->next].len;
    fs->next++;
    return 1;
}

static err_t fake_send_status(void *ctx, lsn_t write, lsn_t flush, lsn_t apply, int reply,
                              char *errbuf, size_t errsize)
{
    fake_source_t *fs = ctx;
    (void)write, (void)apply, (void)reply, (void)errbuf, (void)errsize;
    fs->statuses++;
    if (flush > fs->durable)
        fs->over_confirmed = 1;
    if (flush > fs->max_flush)
        fs->max_flush = flush;
    return ERR_OK;
}

static const source_ops_t fake_source_ops = {.read = fake_read, .send_status = fake_send_status};

static pgoutput_build_t *fake_frame(fake_source_t *fs, uint64_t wal)
{
    assert_true(fs->n < MAXFRAMES);
    pgoutput_build_t *b = &fs->frames[fs->n++];
    pgoutput_build_xlogdata(b, wal, wal);
    return b;
}

static const char *const cols[] = {"id", "v"};
static const int key[] = {1, 0};

/* One source transaction on relation 1: begin, relation, nrows inserts, commit.
 * Its commit LSN is base + 0x80 and its end LSN base + 0x88. */
static void fake_txn(fake_source_t *fs, uint64_t base, uint32_t xid, int nrows)
{
    pgoutput_build_begin(fake_frame(fs, base), base + 0x80, 1000, xid);
    pgoutput_build_relation(fake_frame(fs, base), 1, "public", "t", 'd', 2, cols, key);
    for (int i = 0; i < nrows; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%u", (unsigned)(xid * 100 + (uint32_t)i));
        const char *vals[] = {id, "x"};
        pgoutput_build_insert(fake_frame(fs, base + 0x10 + (uint64_t)i), 1, 2, vals);
    }
    pgoutput_build_commit(fake_frame(fs, base + 0x80), base + 0x80, base + 0x88, 1000);
}

static void fake_source_free(fake_source_t *fs)
{
    for (int i = 0; i < fs->n; i++)
        pgoutput_build_free(&fs->frames[i]);
}

/* ---- the fake sink: a log of calls, an optional failing row ---------------- */

typedef struct fake_sink {
    char log[LOGSIZE];
    int rows;     /* row calls so far */
    int fail_row; /* this row call fails (1-based), 0: none */
    int async;    /* commit_async and durable instead of commit */
    lsn_t sent;   /* async: newest commit sent, durable at the next durable() */
    fake_source_t *src;
} fake_sink_t;

static void fake_log(fake_sink_t *fk, const char *fmt, ...)
{
    va_list ap;
    size_t used = strlen(fk->log);
    va_start(ap, fmt);
    vsnprintf(fk->log + used, sizeof(fk->log) - used, fmt, ap);
    va_end(ap);
}

static err_t fake_relation(void *ctx, const change_relation_t *rel, lsn_t lsn, char *errbuf,
                           size_t errsize)
{
    (void)ctx, (void)rel, (void)lsn, (void)errbuf, (void)errsize;
    return ERR_OK;
}

static err_t fake_begin(void *ctx, char *errbuf, size_t errsize)
{
    (void)errbuf, (void)errsize;
    fake_log(ctx, "B ");
    return ERR_OK;
}

static err_t fake_row(void *ctx, const change_row_t *row, char *errbuf, size_t errsize)
{
    fake_sink_t *fk = ctx;
    fk->rows++;
    if (fk->rows == fk->fail_row) {
        snprintf(errbuf, errsize, "no such row");
        return ERR_RUNTIME;
    }
    fake_log(fk, "%c%.*s ", (char)row->op, (int)row->new_tuple->values[0].len,
             row->new_tuple->values[0].data);
    return ERR_OK;
}

static err_t fake_truncate(void *ctx, const change_relation_t *const *rels, int nrels,
                           uint8_t options, lsn_t lsn, char *errbuf, size_t errsize)
{
    (void)ctx, (void)rels, (void)nrels, (void)options, (void)lsn, (void)errbuf, (void)errsize;
    return ERR_OK;
}

static err_t fake_commit(void *ctx, const sink_position_t *pos, char *errbuf, size_t errsize)
{
    fake_sink_t *fk = ctx;
    (void)errbuf, (void)errsize;
    fake_log(fk, "C%llX ", (unsigned long long)pos->end_lsn);
    fk->src->durable = pos->end_lsn;
    return ERR_OK;
}

static err_t fake_commit_async(void *ctx, const sink_position_t *pos, char *errbuf, size_t errsize)
{
    fake_sink_t *fk = ctx;
    (void)errbuf, (void)errsize;
    fake_log(fk, "A%llX ", (unsigned long long)pos->end_lsn);
    fk->sent = pos->end_lsn;
    return ERR_OK;
}

static err_t fake_durable(void *ctx, lsn_t *lsn, char *errbuf, size_t errsize)
{
    fake_sink_t *fk = ctx;
    (void)errbuf, (void)errsize;
    fk->src->durable = fk->sent; /* everything sent is durable by the next look */
    *lsn = fk->sent;
    return ERR_OK;
}

static err_t fake_drain(void *ctx, char *errbuf, size_t errsize)
{
    (void)ctx, (void)errbuf, (void)errsize;
    return ERR_OK;
}

static void fake_rollback(void *ctx)
{
    fake_log(ctx, "R ");
}

static err_t fake_advance(void *ctx, lsn_t lsn, char *errbuf, size_t errsize)
{
    fake_sink_t *fk = ctx;
    (void)errbuf, (void)errsize;
    fake_log(fk, "P%llX ", (unsigned long long)lsn);
    fk->src->durable = lsn;
    return ERR_OK;
}

static err_t fake_txn_begin(void *ctx, const sink_txn_t *txn, char *errbuf, size_t errsize)
{
    (void)errbuf, (void)errsize;
    fake_log(ctx, "<%u@%llX ", (unsigned)txn->xid, (unsigned long long)txn->commit_lsn);
    return ERR_OK;
}

static err_t fake_txn_end(void *ctx, const sink_txn_t *txn, char *errbuf, size_t errsize)
{
    (void)errbuf, (void)errsize;
    fake_log(ctx, "%u@%llX-%llX> ", (unsigned)txn->xid, (unsigned long long)txn->commit_lsn,
             (unsigned long long)txn->end_lsn);
    return ERR_OK;
}

static err_t fake_ddl(void *ctx, const sink_ddl_t *ddl, char *errbuf, size_t errsize)
{
    (void)errbuf, (void)errsize;
    fake_log(ctx, "M%llx@%x:%.*s ", (unsigned long long)ddl->lsn, (unsigned)ddl->xid, (int)ddl->len,
             ddl->json);
    return ERR_OK;
}

static const sink_ops_t fake_sink_ops = {
    .ddl = fake_ddl,
    .relation = fake_relation,
    .begin = fake_begin,
    .row = fake_row,
    .truncate = fake_truncate,
    .commit = fake_commit,
    .durable = fake_durable,
    .drain = fake_drain,
    .rollback = fake_rollback,
    .advance = fake_advance,
};

static const sink_ops_t fake_sink_async_ops = {
    .relation = fake_relation,
    .begin = fake_begin,
    .txn_begin = fake_txn_begin,
    .txn_end = fake_txn_end,
    .row = fake_row,
    .truncate = fake_truncate,
    .commit = fake_commit,
    .commit_async = fake_commit_async,
    .durable = fake_durable,
    .drain = fake_drain,
    .rollback = fake_rollback,
    .advance = fake_advance,
};

/* ---- running the loop -------------------------------------------------------- */

typedef struct fixture {
    fake_source_t src;
    fake_sink_t snk;
    volatile sig_atomic_t stop;
    stream_opts_t opts;
    stream_stats_t stats;
    char errbuf[256];
} fixture_t;

static void fixture_init(fixture_t *f, int batch_rows)
{
    memset(f, 0, sizeof(*f));
    f->src.stop = &f->stop;
    f->snk.src = &f->src;
    f->opts = (stream_opts_t){.batch_rows = batch_rows,
                              .batch_ms = 60000,
                              .status_interval_ms = 10000,
                              .progress_interval_ms = 0,
                              .stop = &f->stop};
}

static err_t fixture_run(fixture_t *f)
{
    source_t src = {.ops = &fake_source_ops, .ctx = &f->src};
    sink_t snk = {.ops = f->snk.async ? &fake_sink_async_ops : &fake_sink_ops, .ctx = &f->snk};
    err_t err = stream_run(&src, &snk, &f->opts, &f->stats, f->errbuf, sizeof(f->errbuf));
    fake_source_free(&f->src);
    return err;
}

/* ---- tests ---------------------------------------------------------------------- */

/* A batch that is full still ends only at a Commit: three rows of one source
 * transaction stay in one target transaction; each commit carries the end LSN. */
static void test_whole_transactions(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, 1);
    fake_txn(&f.src, 0x1000, 1, 3);
    fake_txn(&f.src, 0x2000, 2, 1);
    assert_int_equal(fixture_run(&f), ERR_OK);
    assert_string_equal(f.snk.log, "B I100 I101 I102 C1088 B I200 C2088 ");
    assert_int_equal(f.stats.txns, 2);
    assert_int_equal(f.stats.batches, 2);
    assert_int_equal(f.src.max_flush, 0x2088);
    assert_false(f.src.over_confirmed);
}

/* Below the row limit, several source transactions share one target transaction. */
static void test_transactions_batched(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, 1000);
    fake_txn(&f.src, 0x1000, 1, 2);
    fake_txn(&f.src, 0x2000, 2, 2);
    assert_int_equal(fixture_run(&f), ERR_OK);
    assert_string_equal(f.snk.log, "B I100 I101 I200 I201 C2088 ");
    assert_int_equal(f.stats.batches, 1);
    assert_int_equal(f.src.max_flush, 0x2088);
    assert_false(f.src.over_confirmed);
}

/* Caught up: when the source has nothing more ready, the open batch commits
 * at once instead of waiting for batch_ms (here a minute). */
static void test_idle_source_commits_at_once(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, 1000);
    fake_txn(&f.src, 0x1000, 1, 1);
    f.src.n++; /* a pause */
    fake_txn(&f.src, 0x2000, 2, 1);
    assert_int_equal(fixture_run(&f), ERR_OK);
    assert_string_equal(f.snk.log, "B I100 C1088 B I200 C2088 ");
    assert_int_equal(f.stats.batches, 2);
    assert_false(f.src.over_confirmed);
}

/* A change that fails: the open target transaction is rolled back, nothing of
 * the failing source transaction commits, and the source is never told more
 * than what committed before it. */
static void test_failed_change_commits_nothing(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, 1);
    f.snk.fail_row = 3; /* the second row of the second transaction */
    fake_txn(&f.src, 0x1000, 1, 1);
    fake_txn(&f.src, 0x2000, 2, 2);
    fake_txn(&f.src, 0x3000, 3, 1);
    assert_int_equal(fixture_run(&f), ERR_RUNTIME);
    assert_string_equal(f.errbuf, "no such row");
    assert_string_equal(f.snk.log, "B I100 C1088 B I200 R ");
    assert_int_equal(f.stats.applied_lsn, 0x1088);
    assert_true(f.src.max_flush <= 0x1088);
    assert_false(f.src.over_confirmed);
}

/* The same within one batch: the earlier transaction of the batch is rolled
 * back with the failing one, and nothing is confirmed. */
static void test_failed_change_in_shared_batch(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, 1000);
    f.snk.fail_row = 2;
    fake_txn(&f.src, 0x1000, 1, 1);
    fake_txn(&f.src, 0x2000, 2, 1);
    assert_int_equal(fixture_run(&f), ERR_RUNTIME);
    assert_string_equal(f.snk.log, "B I100 R ");
    assert_int_equal(f.stats.applied_lsn, 0);
    assert_int_equal(f.src.max_flush, 0);
}

/* After a restart, transactions whose commit LSN is below the applied position
 * were applied before: skipped, not applied twice. */
static void test_applied_transactions_skipped(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, 1);
    f.opts.applied_lsn = 0x1088;
    f.src.durable = 0x1088;
    fake_txn(&f.src, 0x1000, 1, 2);
    fake_txn(&f.src, 0x2000, 2, 1);
    assert_int_equal(fixture_run(&f), ERR_OK);
    assert_string_equal(f.snk.log, "B I200 C2088 ");
    assert_int_equal(f.stats.txns, 1);
    assert_false(f.src.over_confirmed);
}

/* Caught up with a commit in flight: between source transactions the loop
 * learns at once that the target answered, and a source with nothing already
 * ready ends the batch without waiting for more (each pause is looked at
 * with a zero timeout): a steady stream is applied transaction by
 * transaction, without a millisecond's wait per batch. */
static void test_caught_up_commits_without_waiting(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, 1000);
    f.snk.async = 1;
    fake_txn(&f.src, 0x1000, 1, 1);
    f.src.n++; /* a pause */
    fake_txn(&f.src, 0x2000, 2, 1);
    f.src.n++;
    fake_txn(&f.src, 0x3000, 3, 1);
    assert_int_equal(fixture_run(&f), ERR_OK);
    assert_string_equal(f.snk.log, "B <1@1080 I100 1@1080-1088> A1088 B <2@2080 I200 2@2080-2088> "
                                   "A2088 B <3@3080 I300 3@3080-3088> A3088 ");
    assert_int_equal(f.src.pauses, 2);
    assert_int_equal(f.src.pause_waits[0], 0);
    assert_int_equal(f.src.pause_waits[1], 0); /* the commit of 1 was in flight before it */
    assert_int_equal(f.src.max_flush, 0x3088);
    assert_false(f.src.over_confirmed);
}

/* Asynchronous commits: the position moves only once durable() reports it.
 * This sink also hears each source transaction's boundaries. */
static void test_async_commit_confirms_durable_only(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, 1);
    f.snk.async = 1;
    fake_txn(&f.src, 0x1000, 1, 1);
    fake_txn(&f.src, 0x2000, 2, 1);
    assert_int_equal(fixture_run(&f), ERR_OK);
    assert_string_equal(f.snk.log,
                        "B <1@1080 I100 1@1080-1088> A1088 B <2@2080 I200 2@2080-2088> A2088 ");
    assert_int_equal(f.stats.applied_lsn, 0x2088);
    assert_int_equal(f.src.max_flush, 0x2088);
    assert_false(f.src.over_confirmed);
}

/* A keepalive asking for a reply gets one; with nothing pending its position
 * is recorded as progress first, so the slot never passes the progress row. */
static void test_keepalive_answered(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, 1);
    fake_txn(&f.src, 0x1000, 1, 1);
    pgoutput_build_keepalive(&f.src.frames[f.src.n++], 0x5000, 1);
    assert_int_equal(fixture_run(&f), ERR_OK);
    assert_string_equal(f.snk.log, "B I100 C1088 P5000 ");
    assert_int_equal(f.src.max_flush, 0x5000);
    assert_true(f.src.statuses >= 2);
    assert_false(f.src.over_confirmed);
}

/* A transaction with a row, a DDL message, another message and a row: the DDL
 * goes to the sink between the rows; other prefixes and non-transactional
 * messages are not DDL; a transaction applied before is skipped with its DDL. */
static void test_ddl_message_in_place(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, 100);
    f.opts.applied_lsn = 0x1088;
    f.src.durable = 0x1088;
    fake_source_t *fs = &f.src;
    const char *one[] = {"1", "x"}, *two[] = {"2", "y"};
    for (uint64_t base = 0x1000; base <= 0x2000; base += 0x1000) {
        pgoutput_build_begin(fake_frame(fs, base), base + 0x80, 1000, (uint32_t)base);
        pgoutput_build_relation(fake_frame(fs, base), 1, "public", "t", 'd', 2, cols, key);
        pgoutput_build_insert(fake_frame(fs, base + 0x10), 1, 2, one);
        pgoutput_build_message(fake_frame(fs, base + 0x20), 1, base + 0x20, "syncline.ddl", "{}");
        pgoutput_build_message(fake_frame(fs, base + 0x28), 1, base + 0x28, "other", "{}");
        pgoutput_build_message(fake_frame(fs, base + 0x2c), 0, base + 0x2c, "syncline.ddl", "{}");
        pgoutput_build_insert(fake_frame(fs, base + 0x30), 1, 2, two);
        pgoutput_build_commit(fake_frame(fs, base + 0x80), base + 0x80, base + 0x88, 1000);
    }
    assert_int_equal(fixture_run(&f), ERR_OK);
    /* the DDL carries its transaction's xid (from Begin), which pg_ddl checks */
    assert_string_equal(f.snk.log, "B I1 M2020@2000:{} I2 C2088 ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ddl_message_in_place),
        cmocka_unit_test(test_whole_transactions),
        cmocka_unit_test(test_transactions_batched),
        cmocka_unit_test(test_idle_source_commits_at_once),
        cmocka_unit_test(test_failed_change_commits_nothing),
        cmocka_unit_test(test_failed_change_in_shared_batch),
        cmocka_unit_test(test_applied_transactions_skipped),
        cmocka_unit_test(test_async_commit_confirms_durable_only),
        cmocka_unit_test(test_caught_up_commits_without_waiting),
        cmocka_unit_test(test_keepalive_answered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
