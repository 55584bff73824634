/*
 * Unit tests for pg_large's choice of the values to stage: text values of
 * the new tuple at the limit or above, outside the replica identity. The
 * staging itself runs against a server in tests/e2e/015-large-values.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg/pg_large.h"

/* id (key), a, b, c */
static change_column_t cols[4] = {
    {"id", 25, -1, true}, {"a", 25, -1, false}, {"b", 17, -1, false}, {"c", 25, -1, false}};
static const change_relation_t rel = {1, "public", "t", 'd', 4, cols};

static const char big[] = "0123456789"; /* "large" with a limit of 10 */

/* id large, a large, b large but binary, c small */
static change_tuple_t tuple(change_value_t *v)
{
    v[0] = (change_value_t){.kind = CHANGE_TEXT, .len = 10, .data = big};
    v[1] = (change_value_t){.kind = CHANGE_TEXT, .len = 10, .data = big};
    v[2] = (change_value_t){.kind = CHANGE_BINARY, .len = 10, .data = big};
    v[3] = (change_value_t){.kind = CHANGE_TEXT, .len = 9, .data = big};
    return (change_tuple_t){4, v};
}

static void test_only_large_text_outside_the_key(void **state)
{
    (void)state;
    change_value_t v[4];
    change_tuple_t t = tuple(v);
    change_row_t row = {.op = CHANGE_INSERT, .rel = &rel, .new_tuple = &t};
    char shape[] = "I1111";
    assert_int_equal(pg_large_mark(&row, 10, shape), 1);
    assert_string_equal(shape, "I1211");
    assert_true(pg_large_any(&row, 10));
    assert_false(pg_large_is(&row, 0, 10)); /* the key stays a parameter */
    assert_false(pg_large_is(&row, 2, 10)); /* binary */
    assert_false(pg_large_is(&row, 3, 10)); /* below the limit */
    assert_true(pg_large_is(&row, 3, 9));
}

static void test_off_unchanged_and_delete(void **state)
{
    (void)state;
    change_value_t v[4];
    change_tuple_t t = tuple(v);
    change_row_t row = {.op = CHANGE_UPDATE, .rel = &rel, .new_tuple = &t};
    char shape[] = "U1111";
    assert_int_equal(pg_large_mark(&row, 0, shape), 0); /* 0: off */
    assert_false(pg_large_any(&row, 0));
    v[1].kind = CHANGE_UNCHANGED; /* an unchanged TOAST value is not sent at all */
    char unchanged[] = "U1011";
    assert_int_equal(pg_large_mark(&row, 10, unchanged), 0);
    assert_string_equal(unchanged, "U1011");
    change_row_t del = {.op = CHANGE_DELETE, .rel = &rel, .old_kind = 'K', .old_tuple = &t};
    char dshape[] = "D0000";
    assert_int_equal(pg_large_mark(&del, 10, dshape), 0);
    assert_false(pg_large_any(&del, 10));
}

/* A tuple shorter than the relation (a column added since) has nothing there. */
static void test_short_tuple(void **state)
{
    (void)state;
    change_value_t v[4];
    change_tuple_t t = tuple(v);
    t.ncols = 1;
    change_row_t row = {.op = CHANGE_INSERT, .rel = &rel, .new_tuple = &t};
    assert_false(pg_large_any(&row, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_large_text_outside_the_key),
        cmocka_unit_test(test_off_unchanged_and_delete),
        cmocka_unit_test(test_short_tuple),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
