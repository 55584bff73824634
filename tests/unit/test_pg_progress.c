/*
 * Unit tests for pg_progress's fence bookkeeping: what the session read of a
 * topic's stored offsets (pg_progress_saw) is what each partition's row must
 * hold, a partition no longer stored has no row, and a topic never read is not
 * fenced. The statements themselves run in tests/e2e/030-progress-fence.sh and
 * 124-kafka-offset-fence.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg/pg_progress.h"

static int64_t seen(const pg_progress_stmts_t *ps, const char *topic, int32_t partition)
{
    for (int i = 0; i < ps->nseen; i++) {
        if (ps->seen[i].partition == partition && strcmp(ps->seen[i].topic, topic) == 0)
            return ps->seen[i].next_offset;
    }
    return -2; /* not known at all */
}

static void test_saw(void **state)
{
    (void)state;
    pg_progress_stmts_t ps = {0};
    char topic[] = "orders";
    sink_offset_t first[] = {{topic, 0, 10}, {topic, 1, 20}};
    assert_int_equal(pg_progress_saw(&ps, "orders", first, 2), 0);
    assert_int_equal(ps.ntopics_read, 1);
    assert_string_equal(ps.topics_read[0], "orders");
    assert_int_equal(seen(&ps, "orders", 0), 10);
    assert_int_equal(seen(&ps, "orders", 1), 20);
    assert_int_equal(seen(&ps, "other", 0), -2);

    /* read again: partition 1 is no longer stored, partition 2 is new */
    sink_offset_t second[] = {{topic, 0, 15}, {topic, 2, 7}};
    assert_int_equal(pg_progress_saw(&ps, "orders", second, 2), 0);
    assert_int_equal(ps.ntopics_read, 1);
    assert_int_equal(seen(&ps, "orders", 0), 15);
    assert_int_equal(seen(&ps, "orders", 1), -1);
    assert_int_equal(seen(&ps, "orders", 2), 7);

    /* another topic read with nothing stored: read, no partitions */
    assert_int_equal(pg_progress_saw(&ps, "other", NULL, 0), 0);
    assert_int_equal(ps.ntopics_read, 2);
    assert_int_equal(seen(&ps, "other", 0), -2);
    assert_int_equal(seen(&ps, "orders", 0), 15);

    pg_progress_stmts_clear(&ps);
    assert_int_equal(ps.ntopics_read, 0);
    assert_int_equal(ps.nseen, 0);
    assert_null(ps.seen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_saw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
