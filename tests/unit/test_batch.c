/*
 * Unit tests for batch, the target transaction both apply loops (stream's
 * `run`, Kafka `apply`) commit through, against a fake sink that records
 * every call: the position committed never goes back, offsets travel with
 * it, an asynchronous commit is durable only once the sink says so, several
 * commits may be in flight, a rollback leaves nothing open. No server needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/batch.h"

typedef struct fake_sink {
    char log[512];
    int async_ok;   /* offer commit_async */
    lsn_t sent;     /* newest commit sent */
    lsn_t durable;  /* what durable() reports */
    int noffsets;   /* offsets of the last commit */
    int64_t offset; /* the first of them */
} fake_sink_t;

/* Appends "<c><lsn in hex> " (just "<c> " for lsn 0) to the call log. */
static void fake_log(fake_sink_t *fk, char c, lsn_t lsn)
{
    size_t used = strlen(fk->log);
    if (lsn != 0)
        snprintf(fk->log + used, sizeof(fk->log) - used, "%c%llX ", c, (unsigned long long)lsn);
    else
        snprintf(fk->log + used, sizeof(fk->log) - used, "%c ", c);
}

static err_t fake_begin(void *ctx, char *errbuf, size_t errsize)
{
    (void)errbuf, (void)errsize;
    fake_log(ctx, 'B', 0);
    return ERR_OK;
}

static void fake_note(fake_sink_t *fk, const sink_position_t *pos, char c)
{
    fake_log(fk, c, pos->end_lsn);
    fk->sent = pos->end_lsn;
    fk->noffsets = pos->noffsets;
    fk->offset = pos->noffsets > 0 ? pos->offsets[0].next_offset : -1;
}

static err_t fake_commit(void *ctx, const sink_position_t *pos, char *errbuf, size_t errsize)
{
    fake_sink_t *fk = ctx;
    (void)errbuf, (void)errsize;
    fake_note(fk, pos, 'C');
    fk->durable = pos->end_lsn;
    return ERR_OK;
}

static err_t fake_commit_async(void *ctx, const sink_position_t *pos, char *errbuf, size_t errsize)
{
    (void)errbuf, (void)errsize;
    fake_note(ctx, pos, 'A');
    return ERR_OK;
}

static err_t fake_durable(void *ctx, lsn_t *lsn, char *errbuf, size_t errsize)
{
    fake_sink_t *fk = ctx;
    (void)errbuf, (void)errsize;
    *lsn = fk->durable;
    return ERR_OK;
}

static err_t fake_drain(void *ctx, char *errbuf, size_t errsize)
{
    fake_sink_t *fk = ctx;
    (void)errbuf, (void)errsize;
    fake_log(fk, 'W', 0);
    fk->durable = fk->sent;
    return ERR_OK;
}

static void fake_rollback(void *ctx)
{
    fake_log(ctx, 'R', 0);
}

static const sink_ops_t fake_ops = {.begin = fake_begin,
                                    .commit = fake_commit,
                                    .durable = fake_durable,
                                    .drain = fake_drain,
                                    .rollback = fake_rollback};
static const sink_ops_t fake_async_ops = {.begin = fake_begin,
                                          .commit = fake_commit,
                                          .commit_async = fake_commit_async,
                                          .durable = fake_durable,
                                          .drain = fake_drain,
                                          .rollback = fake_rollback};

typedef struct fixture {
    fake_sink_t fk;
    sink_t snk;
    batch_t b;
    char errbuf[128];
} fixture_t;

static void fixture_init(fixture_t *f, int async, int max_rows, lsn_t applied)
{
    memset(f, 0, sizeof(*f));
    f->snk = (sink_t){.ops = async ? &fake_async_ops : &fake_ops, .ctx = &f->fk};
    batch_init(&f->b, &f->snk, max_rows, 60000, NULL, applied);
}

/* one source transaction of rows rows ending at end */
static void fixture_txn(fixture_t *f, int rows, lsn_t end)
{
    assert_int_equal(batch_begin(&f->b, f->errbuf, sizeof(f->errbuf)), ERR_OK);
    f->b.rows += (uint64_t)rows;
    batch_txn_end(&f->b, end, 7);
}

/* Begin opens one target transaction however often it is asked; the batch is
 * due at max_rows; a synchronous commit is durable at once. */
static void test_sync_commit(void **state)
{
    fixture_t f;
    int moved;
    (void)state;
    fixture_init(&f, 0, 3, 0x10);
    fixture_txn(&f, 2, 0x20);
    assert_false(batch_full(&f.b));
    fixture_txn(&f, 1, 0x30);
    assert_true(batch_full(&f.b));
    assert_int_equal(batch_commit(&f.b, NULL, 0, f.errbuf, sizeof(f.errbuf)), ERR_OK);
    assert_string_equal(f.fk.log, "B C30 ");
    assert_false(f.b.open);
    assert_false(f.b.pending);
    assert_int_equal(f.b.durable, 0x30);
    assert_int_equal(batch_settle(&f.b, 1, &moved, f.errbuf, sizeof(f.errbuf)), ERR_OK);
    assert_false(moved); /* nothing in flight: the sink is not even asked */
    assert_string_equal(f.fk.log, "B C30 ");
}

/* Asynchronous: durable only once the sink reports it; two commits in
 * flight, the first reported alone moves durable but keeps pending. */
static void test_async_in_flight(void **state)
{
    fixture_t f;
    int moved;
    (void)state;
    fixture_init(&f, 1, 100, 0x10);
    fixture_txn(&f, 1, 0x20);
    assert_int_equal(batch_commit(&f.b, NULL, 0, f.errbuf, sizeof(f.errbuf)), ERR_OK);
    fixture_txn(&f, 1, 0x30);
    assert_int_equal(batch_commit(&f.b, NULL, 0, f.errbuf, sizeof(f.errbuf)), ERR_OK);
    assert_string_equal(f.fk.log, "B A20 B A30 ");
    assert_true(f.b.pending);
    assert_int_equal(f.b.durable, 0x10);
    f.fk.durable = 0x20;
    assert_int_equal(batch_settle(&f.b, 0, &moved, f.errbuf, sizeof(f.errbuf)), ERR_OK);
    assert_true(moved);
    assert_int_equal(f.b.durable, 0x20);
    assert_true(f.b.pending);
    assert_int_equal(batch_settle(&f.b, 1, &moved, f.errbuf, sizeof(f.errbuf)), ERR_OK);
    assert_true(moved);
    assert_int_equal(f.b.durable, 0x30);
    assert_false(f.b.pending);
    assert_int_equal(f.b.commits, 2);
}

/* wait asks for a commit that is durable when it returns, even with
 * commit_async; the offsets travel with the position (Kafka apply). */
static void test_wait_and_offsets(void **state)
{
    fixture_t f;
    (void)state;
    fixture_init(&f, 1, 100, 0);
    fixture_txn(&f, 1, 0x40);
    sink_offset_t offs[2] = {{"t", 0, 12}, {"t", 1, 5}};
    sink_position_t pos = {.offsets = offs, .noffsets = 2};
    assert_int_equal(batch_commit(&f.b, &pos, 1, f.errbuf, sizeof(f.errbuf)), ERR_OK);
    assert_string_equal(f.fk.log, "B C40 ");
    assert_int_equal(f.fk.noffsets, 2);
    assert_int_equal(f.fk.offset, 12);
    assert_false(f.b.pending);
    assert_int_equal(f.b.durable, 0x40);
}

/* A batch with no source transaction in it (Kafka: only a dead-lettered
 * message or a heartbeat, whose offsets must be stored) commits at the last
 * position sent, never below it. */
static void test_position_never_goes_back(void **state)
{
    fixture_t f;
    (void)state;
    fixture_init(&f, 0, 100, 0x50);
    assert_int_equal(batch_begin(&f.b, f.errbuf, sizeof(f.errbuf)), ERR_OK);
    assert_int_equal(batch_commit(&f.b, NULL, 0, f.errbuf, sizeof(f.errbuf)), ERR_OK);
    fixture_txn(&f, 1, 0x60);
    batch_txn_end(&f.b, 0x58, 9); /* an older one after it (other partition) */
    assert_int_equal(batch_commit(&f.b, NULL, 0, f.errbuf, sizeof(f.errbuf)), ERR_OK);
    assert_string_equal(f.fk.log, "B C50 B C60 ");
    assert_int_equal(f.b.commit_time, 7);
}

/* Rollback abandons the open batch only; a closed one asks nothing. */
static void test_rollback(void **state)
{
    fixture_t f;
    (void)state;
    fixture_init(&f, 0, 100, 0);
    batch_rollback(&f.b);
    fixture_txn(&f, 1, 0x20);
    batch_rollback(&f.b);
    assert_false(f.b.open);
    assert_int_equal(batch_commit(&f.b, NULL, 0, f.errbuf, sizeof(f.errbuf)), ERR_OK);
    assert_string_equal(f.fk.log, "B R ");
    assert_int_equal(f.b.commits, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_commit),      cmocka_unit_test(test_async_in_flight),
        cmocka_unit_test(test_wait_and_offsets), cmocka_unit_test(test_position_never_goes_back),
        cmocka_unit_test(test_rollback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
