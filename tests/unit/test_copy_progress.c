/*
 * Unit tests for copy_progress: ETA, percent, sizes, durations and the
 * bar/log line formats. No server needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/copy_progress.h"

static void test_eta(void **state)
{
    (void)state;
    assert_true(copy_progress_eta(0, 100, 5.0) < 0.0);   /* no rate yet */
    assert_true(copy_progress_eta(100, 100, 5.0) < 0.0); /* estimate reached */
    assert_true(copy_progress_eta(150, 100, 5.0) < 0.0); /* estimate passed */
    double eta = copy_progress_eta(25, 100, 10.0);       /* 2.5/s, 75 left */
    assert_true(eta > 29.9 && eta < 30.1);
}

static void test_percent(void **state)
{
    (void)state;
    assert_int_equal(copy_progress_percent(0, 0), 100);
    assert_int_equal(copy_progress_percent(0, 10), 0);
    assert_int_equal(copy_progress_percent(5, 10), 50);
    assert_int_equal(copy_progress_percent(10, 10), 99); /* done only when the tables are */
    assert_int_equal(copy_progress_percent(20, 10), 99);
}

static void test_size_duration(void **state)
{
    (void)state;
    char b[32];
    copy_progress_size(17, b, sizeof(b));
    assert_string_equal(b, "17 B");
    copy_progress_size(1536, b, sizeof(b));
    assert_string_equal(b, "1.5 kB");
    copy_progress_size(UINT64_C(3) << 30, b, sizeof(b));
    assert_string_equal(b, "3.0 GB");
    copy_progress_duration(-1.0, b, sizeof(b));
    assert_string_equal(b, "?");
    copy_progress_duration(27.4, b, sizeof(b));
    assert_string_equal(b, "0:27");
    copy_progress_duration(3723.0, b, sizeof(b));
    assert_string_equal(b, "1:02:03");
}

static void test_bar(void **state)
{
    (void)state;
    char b[256];
    copy_progress_t p = {.rows = 42,
                         .bytes = 50u << 20,
                         .est_bytes = 100u << 20,
                         .tables_done = 1,
                         .tables_total = 3,
                         .seconds = 10.0};
    copy_progress_bar(&p, 10, b, sizeof(b));
    assert_string_equal(b, "[#####.....]  50%  50.0 MB/100.0 MB  5.0 MB/s  ETA 0:10  tables 1/3  "
                           "rows 42");
    p.tables_done = 3;
    copy_progress_bar(&p, 4, b, sizeof(b));
    assert_true(strncmp(b, "[####] 100%", 11) == 0);
    copy_progress_bar(&p, 500, b, 16); /* truncated, still terminated */
    assert_int_equal(strlen(b), 15);
}

static void test_lines(void **state)
{
    (void)state;
    char b[256];
    copy_progress_table_t t = {
        .name = "public.a", .rows = 7, .bytes = 1u << 20, .est_bytes = 4u << 20, .seconds = 2.0};
    copy_progress_table_line(&t, b, sizeof(b));
    assert_string_equal(b, "  public.a  7 rows  1.0 MB/4.0 MB  0.5 MB/s  ETA 0:06");
    copy_progress_t p = {.rows = 7,
                         .bytes = 1u << 20,
                         .est_bytes = 4u << 20,
                         .tables_done = 0,
                         .tables_total = 2,
                         .seconds = 2.0};
    copy_progress_log_line(&p, b, sizeof(b));
    assert_string_equal(b, "copy progress tables=0/2 rows=7 mb=1.0 total_mb=4.0 pct=25 "
                           "rate_mb_s=0.5 eta_s=6");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eta),           cmocka_unit_test(test_percent),
        cmocka_unit_test(test_size_duration), cmocka_unit_test(test_bar),
        cmocka_unit_test(test_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
