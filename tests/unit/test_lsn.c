/*
 * Unit tests for lsn: "X/X" parsing and formatting edge cases, lag
 * arithmetic and PostgreSQL timestamp conversion. No server needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/lsn.h"

/* The value lsn_parse must leave alone when it rejects its input. */
#define SENTINEL UINT64_C(0x1234567890ABCDEF)

static void assert_parses(const char *s, lsn_t expected)
{
    lsn_t out = SENTINEL;

    assert_true(lsn_parse(s, &out));
    assert_true(out == expected);
}

static void assert_rejects(const char *s)
{
    lsn_t out = SENTINEL;

    assert_false(lsn_parse(s, &out));
    assert_true(out == SENTINEL);
}

static void test_parse_valid(void **state)
{
    (void)state;
    assert_parses("0/0", 0);
    assert_parses("16/B374D848", UINT64_C(0x16B374D848));
    assert_parses("16/b374d848", UINT64_C(0x16B374D848));
    assert_parses("FFFFFFFF/FFFFFFFF", UINT64_MAX);
    assert_parses("00000001/00000002", UINT64_C(0x100000002));
    assert_parses("0/1", 1);
    assert_parses("1/0", UINT64_C(0x100000000));
}

static void test_parse_junk(void **state)
{
    (void)state;
    assert_rejects(NULL);
    assert_rejects("");
    assert_rejects("junk");
    assert_rejects("G/0");
    assert_rejects("0/G");
    assert_rejects("0x1/0");
    assert_rejects("-1/0");
    assert_rejects("+1/0");
    assert_rejects(" 0/0");
    assert_rejects("0/0 ");
    assert_rejects("0/0\n");
    assert_rejects("0 /0");
    assert_rejects("0/ 0");
    assert_rejects("1/2/3");
    assert_rejects("0/0junk");
}

static void test_parse_missing_parts(void **state)
{
    (void)state;
    assert_rejects("16B374D848");
    assert_rejects("/");
    assert_rejects("/0");
    assert_rejects("0/");
    assert_rejects("0//0");
}

static void test_parse_overflow(void **state)
{
    (void)state;
    assert_rejects("100000000/0");
    assert_rejects("0/100000000");
    assert_rejects("000000000/0"); /* nine digits, even if the value fits */
    assert_rejects("FFFFFFFFF/FFFFFFFF");
    assert_rejects("FFFFFFFF/FFFFFFFFF");
}

static void assert_formats(lsn_t lsn, const char *expected)
{
    char buf[LSN_STRLEN];

    assert_ptr_equal(lsn_format(lsn, buf, sizeof(buf)), buf);
    assert_string_equal(buf, expected);
}

static void test_format(void **state)
{
    (void)state;
    assert_formats(0, "0/0");
    assert_formats(1, "0/1");
    assert_formats(UINT64_C(0x16B374D848), "16/B374D848");
    assert_formats(UINT64_C(0x100000000), "1/0");
    assert_formats(UINT64_MAX, "FFFFFFFF/FFFFFFFF");
    assert_int_equal(strlen("FFFFFFFF/FFFFFFFF") + 1, LSN_STRLEN);
}

static void test_format_small_buffer(void **state)
{
    char buf[4] = {'x', 'x', 'x', 'x'};

    (void)state;
    lsn_format(UINT64_MAX, buf, sizeof(buf));
    assert_string_equal(buf, "FFF");
    lsn_format(UINT64_MAX, buf, 0); /* writes nothing */
    assert_string_equal(buf, "FFF");
}

static void test_round_trip(void **state)
{
    const lsn_t samples[] = {
        0,         1, UINT64_C(0xFFFFFFFF), UINT64_C(0x100000000), UINT64_C(0xDEADBEEF00C0FFEE),
        UINT64_MAX};
    char buf[LSN_STRLEN];
    lsn_t back;

    (void)state;
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        assert_true(lsn_parse(lsn_format(samples[i], buf, sizeof(buf)), &back));
        assert_true(back == samples[i]);
    }
}

static void test_diff(void **state)
{
    (void)state;
    assert_true(lsn_diff(0, 0) == 0);
    assert_true(lsn_diff(100, 40) == 60);
    assert_true(lsn_diff(40, 100) == 0);
    assert_true(lsn_diff(7, 7) == 0);
    assert_true(lsn_diff(UINT64_MAX, 0) == UINT64_MAX);
    assert_true(lsn_diff(0, UINT64_MAX) == 0);
    assert_true(lsn_diff(UINT64_C(0x100000000), UINT64_C(0xFFFFFFFF)) == 1);
}

static void test_pgtime_to_unix(void **state)
{
    (void)state;
    assert_true(lsn_pgtime_to_unix_us(0) == LSN_PG_EPOCH_OFFSET_US);
    assert_true(lsn_pgtime_to_unix_us(-LSN_PG_EPOCH_OFFSET_US) == 0);
    assert_true(lsn_pgtime_to_unix_us(1) == LSN_PG_EPOCH_OFFSET_US + 1);
    assert_true(lsn_pgtime_to_unix_us(INT64_MIN) == INT64_MIN + LSN_PG_EPOCH_OFFSET_US);
    assert_true(lsn_pgtime_to_unix_us(INT64_MAX) == INT64_MAX); /* saturates */
    assert_true(lsn_pgtime_to_unix_us(INT64_MAX - LSN_PG_EPOCH_OFFSET_US) == INT64_MAX);
}

static void test_pgtime_now(void **state)
{
    int64_t before = ((int64_t)time(NULL) - 1) * 1000000;
    int64_t now = lsn_pgtime_now();
    int64_t after = ((int64_t)time(NULL) + 1) * 1000000;
    int64_t unix_now = lsn_pgtime_to_unix_us(now);

    (void)state;
    assert_true(now > 0); /* we are past 2000-01-01 */
    assert_true(unix_now >= before && unix_now <= after);
    assert_true(lsn_pgtime_now() >= now);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_junk),
        cmocka_unit_test(test_parse_missing_parts),
        cmocka_unit_test(test_parse_overflow),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_small_buffer),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_pgtime_to_unix),
        cmocka_unit_test(test_pgtime_now),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
