/*
 * Unit tests for kafka_hold: apply's hold point for an online verify driven
 * by a scripted verifier (pause, then a point C: held only at a position >=
 * C, drained first; a position 0 never reaches a point), and the marks kept
 * only once a verifier asks for them. No server or broker needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kafka/kafka_hold.h"

#define POINT ((lsn_t)0x5000)

/* A verifier: a request (id 1) that, once told "paused", sets its point;
 * once told "held at the point", goes away. */
typedef struct fake {
    int64_t id;
    lsn_t until;
    int track;
    int helds;
    lsn_t last_held;
    int drains;
} fake_t;

static err_t fake_poll(void *ctx, int64_t *id, lsn_t *until, int *track, char *eb, size_t n)
{
    fake_t *f = ctx;
    (void)eb;
    (void)n;
    *id = f->id;
    *until = f->until;
    *track = f->track;
    return ERR_OK;
}

static err_t fake_held(void *ctx, int64_t id, lsn_t at, char *eb, size_t n)
{
    fake_t *f = ctx;
    (void)eb;
    (void)n;
    assert_int_equal(id, f->id);
    f->helds++;
    f->last_held = at;
    if (at == 0)
        f->until = POINT; /* the source snapshot is taken: its point */
    else
        f->id = 0; /* the target snapshot is open: released */
    return ERR_OK;
}

static err_t fake_drain(void *arg)
{
    ((fake_t *)arg)->drains++;
    return ERR_OK;
}

static void test_no_verifier(void **state)
{
    (void)state;
    volatile sig_atomic_t stop = 0;
    fake_t f = {0};
    kafka_hold_t *kh = kafka_hold_new(NULL, &stop);
    assert_non_null(kh);
    char eb[64];
    assert_int_equal(kafka_hold_point(kh, POINT, fake_drain, &f, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(f.drains, 0);
    sink_position_t pos = {0};
    kafka_hold_marks(kh, &pos);
    assert_int_equal(pos.nmarks, 0);
    kafka_hold_free(kh);
}

static void test_pause_then_point(void **state)
{
    (void)state;
    volatile sig_atomic_t stop = 0;
    fake_t f = {.id = 1};
    stream_hold_t h = {.poll = fake_poll, .held = fake_held, .ctx = &f};
    kafka_hold_t *kh = kafka_hold_new(&h, &stop);
    char eb[64];
    /* idle, position unknown: pauses (drained first), learns the point, goes on */
    assert_int_equal(kafka_hold_point(kh, 0, fake_drain, &f, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(f.drains, 1);
    assert_int_equal(f.helds, 1);
    assert_int_equal(f.last_held, 0);
    /* unknown positions and transactions before the point go through */
    assert_int_equal(kafka_hold_point(kh, 0, fake_drain, &f, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(kafka_hold_point(kh, POINT - 1, fake_drain, &f, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(f.drains, 1);
    assert_int_equal(f.helds, 1);
    /* the first position at the point: drained, held at it, released */
    assert_int_equal(kafka_hold_point(kh, POINT, fake_drain, &f, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(f.drains, 2);
    assert_int_equal(f.helds, 2);
    assert_int_equal(f.last_held, POINT);
    /* gone: nothing more */
    assert_int_equal(kafka_hold_point(kh, POINT + 10, fake_drain, &f, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(f.helds, 2);
    kafka_hold_free(kh);
}

static void test_marks_once_asked(void **state)
{
    (void)state;
    volatile sig_atomic_t stop = 0;
    fake_t f = {.id = 0};
    stream_hold_t h = {.poll = fake_poll, .held = fake_held, .ctx = &f};
    kafka_hold_t *kh = kafka_hold_new(&h, &stop);
    change_relation_t rel = {.nspname = "public", .relname = "t", .replident = 'd'};
    char eb[64];
    sink_position_t pos = {0};
    assert_int_equal(kafka_hold_mark(kh, &rel, NULL, NULL), 0);
    kafka_hold_marks(kh, &pos);
    assert_int_equal(pos.nmarks, 0); /* nobody asked */
    f.track = 1;
    assert_int_equal(kafka_hold_point(kh, 0, fake_drain, &f, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(kafka_hold_mark(kh, &rel, NULL, NULL), 0); /* a truncate: whole table */
    kafka_hold_marks(kh, &pos);
    assert_int_equal(pos.nmarks, 1);
    assert_int_equal(pos.marks[0].bucket, -1);
    kafka_hold_marked(kh);
    pos = (sink_position_t){0};
    kafka_hold_marks(kh, &pos);
    assert_int_equal(pos.nmarks, 0);
    kafka_hold_free(kh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_verifier),
        cmocka_unit_test(test_pause_then_point),
        cmocka_unit_test(test_marks_once_asked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
