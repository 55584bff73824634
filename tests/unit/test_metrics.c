/*
 * test_metrics: the metrics registry and its text exposition (no server).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/metrics.h"

static void assert_has(const char *text, const char *line)
{
    if (strstr(text, line) == NULL)
        fail_msg("missing [%s] in:\n%s", line, text);
}

static void test_counters_and_labels(void **state)
{
    (void)state;
    metrics_t *m = metrics_new();
    assert_non_null(m);
    metrics_change(m, "public", "items", 'I');
    metrics_change(m, "public", "items", 'I');
    metrics_change(m, "public", "items", 'D');
    metrics_change(m, "we\"ird", "a\\b", 'U');
    metrics_transaction(m);
    metrics_copy_rows(m, 1000);
    metrics_error(m, "connect");
    char *text = metrics_render(m);
    assert_non_null(text);
    assert_has(text, "syncline_changes_total{table=\"public.items\",op=\"insert\"} 2\n");
    assert_has(text, "syncline_changes_total{table=\"public.items\",op=\"delete\"} 1\n");
    assert_has(text, "syncline_changes_total{table=\"we\\\"ird.a\\\\b\",op=\"update\"} 1\n");
    assert_has(text, "syncline_transactions_total 1\n");
    assert_has(text, "syncline_copy_rows_total 1000\n");
    assert_has(text, "syncline_errors_total{kind=\"connect\"} 1\n");
    assert_has(text, "# TYPE syncline_changes_total counter\n");
    free(text);
    metrics_free(m);
}

static void test_histograms_and_gauges(void **state)
{
    (void)state;
    metrics_t *m = metrics_new();
    metrics_batch(m, 5, 0.002);
    metrics_batch(m, 20000, 2.0);
    metrics_position(m, 0x10000, 42, 1.5);
    char *text = metrics_render(m);
    assert_has(text, "syncline_batch_rows_bucket{le=\"1\"} 0\n");
    assert_has(text, "syncline_batch_rows_bucket{le=\"10\"} 1\n");
    assert_has(text, "syncline_batch_rows_bucket{le=\"100000\"} 2\n");
    assert_has(text, "syncline_batch_rows_bucket{le=\"+Inf\"} 2\n");
    assert_has(text, "syncline_batch_rows_count 2\n");
    assert_has(text, "syncline_apply_seconds_bucket{le=\"0.005\"} 1\n");
    assert_has(text, "syncline_apply_seconds_bucket{le=\"5\"} 2\n");
    assert_has(text, "syncline_batches_total 2\n");
    assert_has(text, "syncline_applied_lsn 65536\n");
    assert_has(text, "syncline_lag_bytes 42\n");
    assert_has(text, "syncline_lag_seconds 1.5\n");
    free(text);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_and_labels),
        cmocka_unit_test(test_histograms_and_gauges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
