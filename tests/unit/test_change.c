/*
 * Unit tests for change: a relation naming a column twice is found (apply
 * refuses such a message, fuzz finding 4 in fuzz/README.md).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/change.h"

static void test_relation_duplicate(void **state)
{
    (void)state;
    change_column_t cols[4] = {{.name = "id"}, {.name = "f4"}, {.name = "note"}, {.name = "f4"}};
    change_relation_t rel = {.nspname = "public", .relname = "items", .ncols = 4, .cols = cols};
    assert_string_equal(change_relation_duplicate(&rel), "f4");
    rel.ncols = 3;
    assert_null(change_relation_duplicate(&rel));
    rel.ncols = 0;
    assert_null(change_relation_duplicate(&rel));
    assert_null(change_relation_duplicate(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relation_duplicate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
