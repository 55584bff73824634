/*
 * Unit tests for hold: the online verify's hold point shared by `run` and
 * Kafka `apply`, driven by a scripted verifier (pause, then a point C: held
 * only at a position >= C, drained first; a position 0 never reaches a
 * point), the loop's poll while holding, a failing verifier, a stop, and the
 * marks kept only once a verifier asks for them. No server or broker needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/hold.h"

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
    int polls;
    int fail_poll;  /* the verifier's table cannot be read */
    int loop_fails; /* the loop's poll fails */
    int release_on; /* >0: the request goes away after this many loop polls */
} fake_t;

static err_t fake_poll(void *ctx, int64_t *id, lsn_t *until, int *track, char *eb, size_t n)
{
    fake_t *f = ctx;
    if (f->fail_poll) {
        snprintf(eb, n, "no table");
        return ERR_RUNTIME;
    }
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
    if (f->release_on > 0)
        return ERR_OK; /* stays until the loop polled often enough */
    if (at == 0)
        f->until = POINT; /* the source snapshot is taken: its point */
    else
        f->id = 0; /* the target snapshot is open: released */
    return ERR_OK;
}

static err_t fake_drain(void *arg, char *eb, size_t n)
{
    (void)eb;
    (void)n;
    ((fake_t *)arg)->drains++;
    return ERR_OK;
}

static err_t fake_loop_poll(void *arg, char *eb, size_t n)
{
    fake_t *f = arg;
    f->polls++;
    if (f->loop_fails) {
        snprintf(eb, n, "source gone");
        return ERR_CONNECT;
    }
    if (f->release_on > 0 && f->polls >= f->release_on)
        f->id = 0;
    return ERR_OK;
}

static void fake_hold(hold_t *h, fake_t *f, const hold_verifier_t *v, int with_poll,
                      volatile sig_atomic_t *stop)
{
    hold_loop_t loop = {.drain = fake_drain, .poll = with_poll ? fake_loop_poll : NULL, .arg = f};
    hold_init(h, v, &loop, stop);
}

static void test_no_verifier(void **state)
{
    (void)state;
    volatile sig_atomic_t stop = 0;
    fake_t f = {0};
    hold_t h;
    fake_hold(&h, &f, NULL, 1, &stop);
    char eb[64];
    assert_int_equal(hold_point(&h, POINT, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(f.drains, 0);
    assert_true(hold_due_ms(&h) == INT64_MAX);
    sink_position_t pos = {0};
    hold_marks(&h, &pos);
    assert_int_equal(pos.nmarks, 0);
    /* a verifier without poll is none */
    hold_verifier_t v = {0};
    fake_hold(&h, &f, &v, 1, &stop);
    assert_int_equal(hold_point(&h, POINT, eb, sizeof(eb)), ERR_OK);
    assert_true(hold_due_ms(&h) == INT64_MAX);
    hold_clear(&h);
}

static void test_pause_then_point(void **state)
{
    (void)state;
    volatile sig_atomic_t stop = 0;
    fake_t f = {.id = 1};
    hold_verifier_t v = {.poll = fake_poll, .held = fake_held, .ctx = &f};
    hold_t h;
    fake_hold(&h, &f, &v, 0, &stop);
    char eb[64];
    /* idle, position unknown: pauses (drained first), learns the point, goes on */
    assert_int_equal(hold_point(&h, 0, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(f.drains, 1);
    assert_int_equal(f.helds, 1);
    assert_int_equal(f.last_held, 0);
    assert_int_equal(hold_until(&h), POINT);
    /* unknown positions and transactions before the point go through */
    assert_int_equal(hold_point(&h, 0, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(hold_point(&h, POINT - 1, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(f.drains, 1);
    assert_int_equal(f.helds, 1);
    /* the first position at the point: drained, held at it, released */
    assert_int_equal(hold_point(&h, POINT, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(f.drains, 2);
    assert_int_equal(f.helds, 2);
    assert_int_equal(f.last_held, POINT);
    assert_int_equal(hold_until(&h), 0);
    /* gone: nothing more */
    assert_int_equal(hold_point(&h, POINT + 10, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(f.helds, 2);
    hold_clear(&h);
}

/* While it holds, the loop is polled; the hold lasts until the request goes. */
static void test_poll_while_held(void **state)
{
    (void)state;
    volatile sig_atomic_t stop = 0;
    fake_t f = {.id = 1, .until = POINT, .release_on = 3};
    hold_verifier_t v = {.poll = fake_poll, .held = fake_held, .ctx = &f};
    hold_t h;
    fake_hold(&h, &f, &v, 1, &stop);
    char eb[64];
    assert_int_equal(hold_point(&h, POINT, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(f.drains, 1);
    assert_int_equal(f.polls, 3);
    assert_int_equal(f.helds, 1); /* told once, not on every look */
    hold_clear(&h);
}

/* The loop's poll failing ends the hold with its error. */
static void test_loop_error(void **state)
{
    (void)state;
    volatile sig_atomic_t stop = 0;
    fake_t f = {.id = 1, .until = POINT, .loop_fails = 1};
    hold_verifier_t v = {.poll = fake_poll, .held = fake_held, .ctx = &f};
    hold_t h;
    fake_hold(&h, &f, &v, 1, &stop);
    char eb[64] = "";
    assert_int_equal(hold_point(&h, POINT, eb, sizeof(eb)), ERR_CONNECT);
    assert_string_equal(eb, "source gone");
    hold_clear(&h);
}

/* A verifier that cannot be read only logs, and is asked again 5 s later. */
static void test_verifier_error(void **state)
{
    (void)state;
    volatile sig_atomic_t stop = 0;
    fake_t f = {.id = 1, .fail_poll = 1};
    hold_verifier_t v = {.poll = fake_poll, .held = fake_held, .ctx = &f};
    hold_t h;
    fake_hold(&h, &f, &v, 1, &stop);
    char eb[64];
    int64_t now = clock_ms();
    assert_int_equal(hold_point(&h, POINT, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(f.drains, 0);
    assert_true(hold_due_ms(&h) >= now + 5000);
    f.fail_poll = 0;
    assert_int_equal(hold_point(&h, POINT, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(f.helds, 0); /* not looked at again yet */
    hold_clear(&h);
}

/* A stop never waits for a verifier. */
static void test_stop(void **state)
{
    (void)state;
    volatile sig_atomic_t stop = 1;
    fake_t f = {.id = 1, .until = POINT, .release_on = 1000000};
    hold_verifier_t v = {.poll = fake_poll, .held = fake_held, .ctx = &f};
    hold_t h;
    fake_hold(&h, &f, &v, 1, &stop);
    char eb[64];
    assert_int_equal(hold_point(&h, POINT, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(f.drains, 0);
    assert_int_equal(f.helds, 0);
    hold_clear(&h);
}

static void test_marks_once_asked(void **state)
{
    (void)state;
    volatile sig_atomic_t stop = 0;
    fake_t f = {.id = 0};
    hold_verifier_t v = {.poll = fake_poll, .held = fake_held, .ctx = &f};
    hold_t h;
    fake_hold(&h, &f, &v, 0, &stop);
    change_relation_t rel = {.nspname = "public", .relname = "t", .replident = 'd'};
    char eb[64];
    sink_position_t pos = {0};
    assert_int_equal(hold_mark(&h, &rel, NULL, NULL), 0);
    hold_marks(&h, &pos);
    assert_int_equal(pos.nmarks, 0); /* nobody asked */
    f.track = 1;
    assert_int_equal(hold_point(&h, 0, eb, sizeof(eb)), ERR_OK);
    assert_int_equal(hold_mark(&h, &rel, NULL, NULL), 0); /* a truncate: whole table */
    hold_marks(&h, &pos);
    assert_int_equal(pos.nmarks, 1);
    assert_int_equal(pos.marks[0].bucket, -1);
    hold_marked(&h);
    pos = (sink_position_t){0};
    hold_marks(&h, &pos);
    assert_int_equal(pos.nmarks, 0);
    hold_clear(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_verifier),      cmocka_unit_test(test_pause_then_point),
        cmocka_unit_test(test_poll_while_held),  cmocka_unit_test(test_loop_error),
        cmocka_unit_test(test_verifier_error),   cmocka_unit_test(test_stop),
        cmocka_unit_test(test_marks_once_asked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
