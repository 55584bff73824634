/*
 * Unit tests for the one apply loop (core/applier.c) with a fake feed that
 * replays a script of units and a fake sink that commits asynchronously
 * (pending until the test's target answers or the loop drains). They pin the
 * loop's policy: a source transaction is never split, a stop mid-transaction
 * rolls back and settles, a commit in flight does not block reading, an idle
 * boundary commits at once, positions go with the commit that covers them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/applier.h"

#define MAXPOLLS 64

typedef struct fake {
    char log[512];
    const char *script; /* one unit a poll: B begin, r row, C commit, . nothing, a target
                         * answers, S stop, E error; dry: stop */
    int next;
    volatile sig_atomic_t stop;
    applier_t ap;
    int in_txn;
    lsn_t txn_end;       /* end LSN of the newest transaction handed over */
    int64_t offset;      /* next offset: units handled */
    sink_offset_t off;   /* the position handed to the sink */
    lsn_t sent, durable; /* the fake target */
    int waits[MAXPOLLS]; /* wait_ms of each poll */
    int polls;
} fake_t;

static void fake_log(fake_t *f, const char *fmt, ...)
{
    size_t used = strlen(f->log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->log + used, sizeof(f->log) - used, fmt, ap);
    va_end(ap);
}

/* ---- the fake sink: asynchronous commits, durable when the target answers ---- */

static err_t sink_begin(void *ctx, char *errbuf, size_t errsize)
{
    (void)errbuf, (void)errsize;
    fake_log(ctx, "o ");
    return ERR_OK;
}

static err_t sink_commit_async(void *ctx, const sink_position_t *pos, char *errbuf, size_t errsize)
{
    fake_t *f = ctx;
    (void)errbuf, (void)errsize;
    assert_int_equal(pos->noffsets, 1);
    fake_log(f, "A%llX/%lld ", (unsigned long long)pos->end_lsn,
             (long long)pos->offsets[0].next_offset);
    f->sent = pos->end_lsn;
    return ERR_OK;
}

static err_t sink_commit(void *ctx, const sink_position_t *pos, char *errbuf, size_t errsize)
{
    fake_t *f = ctx;
    err_t err = sink_commit_async(ctx, pos, errbuf, errsize);
    f->durable = f->sent;
    return err;
}

static err_t sink_durable(void *ctx, lsn_t *lsn, char *errbuf, size_t errsize)
{
    fake_t *f = ctx;
    (void)errbuf, (void)errsize;
    *lsn = f->durable;
    return ERR_OK;
}

static err_t sink_drain(void *ctx, char *errbuf, size_t errsize)
{
    fake_t *f = ctx;
    (void)errbuf, (void)errsize;
    fake_log(f, "W ");
    f->durable = f->sent;
    return ERR_OK;
}

static void sink_rollback(void *ctx)
{
    fake_log(ctx, "R ");
}

static const sink_ops_t sink_ops = {.begin = sink_begin,
                                    .commit = sink_commit,
                                    .commit_async = sink_commit_async,
                                    .durable = sink_durable,
                                    .drain = sink_drain,
                                    .rollback = sink_rollback};

/* ---- the fake feed: the script, one unit a poll ------------------------------ */

static int feed_poll(void *ctx, int wait_ms, err_t *err, char *errbuf, size_t errsize)
{
    fake_t *f = ctx;
    assert_true(f->polls < MAXPOLLS);
    f->waits[f->polls++] = wait_ms;
    char c = f->script[f->next];
    if (c == '\0') { /* ran dry: ask the loop to finish */
        f->stop = 1;
        return 0;
    }
    f->next++;
    switch (c) {
    case 'B':
        f->in_txn = 1;
        *err = applier_begin(&f->ap, errbuf, errsize);
        break;
    case 'r':
        assert_true(f->in_txn && f->ap.batch.open);
        f->ap.batch.rows++;
        fake_log(f, "r ");
        break;
    case 'C':
        f->in_txn = 0;
        f->txn_end += 0x100;
        applier_txn_end(&f->ap, f->txn_end, 0);
        fake_log(f, "C ");
        break;
    case 'a':
        f->durable = f->sent;
        return 0;
    case 'S':
        f->stop = 1;
        return 0;
    case 'E':
        snprintf(errbuf, errsize, "feed failed");
        *err = ERR_RUNTIME;
        return -1;
    default:
        return 0;
    }
    f->offset++;
    return *err == ERR_OK ? 1 : -1;
}

static int feed_at_boundary(void *ctx)
{
    const fake_t *f = ctx;
    return !f->in_txn;
}

static int64_t feed_due_ms(void *ctx)
{
    (void)ctx;
    return INT64_MAX / 2;
}

static err_t feed_position(void *ctx, sink_position_t *pos, char *errbuf, size_t errsize)
{
    fake_t *f = ctx;
    (void)errbuf, (void)errsize;
    assert_false(f->in_txn); /* commits only at a boundary */
    f->off = (sink_offset_t){"t", 0, f->offset};
    pos->offsets = &f->off;
    pos->noffsets = 1;
    return ERR_OK;
}

static err_t feed_on_durable(void *ctx, char *errbuf, size_t errsize)
{
    fake_t *f = ctx;
    (void)errbuf, (void)errsize;
    fake_log(f, "D%llX ", (unsigned long long)f->ap.batch.durable);
    return ERR_OK;
}

/* Runs script through a loop committing after batch_rows rows; returns the log. */
static const char *run(fake_t *f, const char *script, int batch_rows, int finish, err_t want)
{
    static sink_t snk;
    memset(f, 0, sizeof(*f));
    f->script = script;
    snk = (sink_t){.ops = &sink_ops, .ctx = f};
    applier_feed_t feed = {.poll = feed_poll,
                           .at_boundary = feed_at_boundary,
                           .due_ms = feed_due_ms,
                           .position = feed_position,
                           .on_durable = feed_on_durable,
                           .finish_txn_on_stop = finish,
                           .ctx = f};
    char errbuf[128] = "";
    applier_init(&f->ap, &feed, &snk, batch_rows, 600000, NULL, 0, NULL, &f->stop);
    assert_int_equal(applier_run(&f->ap, errbuf, sizeof(errbuf)), want);
    applier_clear(&f->ap);
    return f->log;
}

/* A full batch ends at the Commit, not at the row that filled it. */
static void test_never_split(void **state)
{
    fake_t f;
    (void)state;
    assert_string_equal(run(&f, "BrrrC", 2, 0, ERR_OK), "o r r r C A100/5 W D100 ");
}

/* Once sent, the next transaction is read while the target commits; an
 * answer is learned without waiting, and the next batch goes after it. */
static void test_reads_while_commit_in_flight(void **state)
{
    fake_t f;
    (void)state;
    assert_string_equal(run(&f, "BrrCBrC", 2, 0, ERR_OK), "o r r C A100/4 o r C A200/7 W D200 ");
    assert_true(f.waits[4] <= 2); /* reading on with a commit in flight: a short wait */
    assert_string_equal(run(&f, "BrC.aBrC", 100, 0, ERR_OK),
                        "o r C A100/3 D100 o r C A200/6 W D200 ");
}

/* Nothing ready at a boundary, nothing in flight: commit at once, without
 * waiting for the batch to fill or age. */
static void test_idle_boundary_commits(void **state)
{
    fake_t f;
    (void)state;
    assert_string_equal(run(&f, "BrC.BrC", 100, 0, ERR_OK), "o r C A100/3 o r C A200/6 W D200 ");
    assert_int_equal(f.waits[3], 0); /* a look without waiting */
}

/* A stop mid-transaction rolls it back (its offsets never committed) and
 * waits for the commit in flight; a walsender feed reads on to the Commit. */
static void test_stop_mid_transaction(void **state)
{
    fake_t f;
    (void)state;
    assert_string_equal(run(&f, "BrC.BrS", 100, 0, ERR_OK), "o r C A100/3 o r R W D100 ");
    assert_string_equal(run(&f, "BrSrC", 100, 1, ERR_OK), "o r r C A100/4 W D100 ");
}

/* An error rolls back the open batch and is returned. */
static void test_error_rolls_back(void **state)
{
    fake_t f;
    (void)state;
    assert_string_equal(run(&f, "BrE", 100, 0, ERR_RUNTIME), "o r R ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_never_split),
        cmocka_unit_test(test_reads_while_commit_in_flight),
        cmocka_unit_test(test_idle_boundary_commits),
        cmocka_unit_test(test_stop_mid_transaction),
        cmocka_unit_test(test_error_rolls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
