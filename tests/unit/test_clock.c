/*
 * Unit tests for clock: both readings never go backwards, advance across a
 * real sleep and agree with each other. No server needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "core/clock.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ; /* interrupted: sleep the rest */
}

static void test_ms_non_decreasing(void **state)
{
    int64_t prev = clock_ms();

    (void)state;
    assert_true(prev >= 0);
    for (int i = 0; i < 100000; i++) {
        int64_t now = clock_ms();
        assert_true(now >= prev);
        prev = now;
    }
}

static void test_seconds_non_decreasing(void **state)
{
    double prev = clock_seconds();

    (void)state;
    assert_true(prev >= 0.0);
    for (int i = 0; i < 100000; i++) {
        double now = clock_seconds();
        assert_true(now >= prev);
        prev = now;
    }
}

static void test_advances_over_sleep(void **state)
{
    int64_t ms0 = clock_ms();
    double s0 = clock_seconds();

    (void)state;
    sleep_ms(20);
    /* nanosleep waits at least 20 ms of CLOCK_MONOTONIC; 19 leaves room for
     * truncation and rounding, so only a clock that stood still fails. */
    assert_true(clock_ms() - ms0 >= 19);
    assert_true(clock_seconds() - s0 >= 0.019);
}

static void test_units_agree(void **state)
{
    int64_t ms0 = clock_ms();
    double s = clock_seconds();
    int64_t ms1 = clock_ms();

    (void)state;
    /* The same clock: seconds * 1000 lies between two millisecond readings
     * (one millisecond of slack for the double's rounding). */
    assert_true((int64_t)(s * 1000.0) >= ms0 - 1);
    assert_true((int64_t)(s * 1000.0) <= ms1 + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ms_non_decreasing),
        cmocka_unit_test(test_seconds_non_decreasing),
        cmocka_unit_test(test_advances_over_sleep),
        cmocka_unit_test(test_units_agree),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
