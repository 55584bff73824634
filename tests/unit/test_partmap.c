/*
 * Unit tests for partmap: leaves found with their root and tree size, roots
 * found by name, unknown names and a NULL map answer "not a leaf".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/partmap.h"

static void test_leaves_and_roots(void **state)
{
    const char *rs = NULL, *rn = NULL;
    int n = 0;
    (void)state;
    partmap_t *pm = partmap_new();
    assert_non_null(pm);
    for (int i = 0; i < 20; i++) { /* past the first growth */
        char leaf[16];
        snprintf(leaf, sizeof(leaf), "m_%d", i);
        assert_int_equal(partmap_add(pm, "public", leaf, "public", "m", 20), 0);
    }
    assert_int_equal(partmap_add(pm, "other", "x_1", "Odd Schema", "x", 1), 0);
    assert_int_equal(partmap_count(pm), 21);
    assert_true(partmap_root(pm, "public", "m_17", &rs, &rn, &n));
    assert_string_equal(rs, "public");
    assert_string_equal(rn, "m");
    assert_int_equal(n, 20);
    assert_true(partmap_root(pm, "other", "x_1", &rs, &rn, NULL));
    assert_string_equal(rs, "Odd Schema");
    assert_false(partmap_root(pm, "public", "m", &rs, &rn, NULL));
    assert_false(partmap_root(pm, "other", "m_1", &rs, &rn, NULL));
    assert_int_equal(partmap_tree_size(pm, "public", "m"), 20);
    assert_int_equal(partmap_tree_size(pm, "Odd Schema", "x"), 1);
    assert_int_equal(partmap_tree_size(pm, "public", "m_1"), 0);
    partmap_free(pm);
}

static void test_null_map(void **state)
{
    const char *rs = NULL, *rn = NULL;
    (void)state;
    assert_false(partmap_root(NULL, "public", "t", &rs, &rn, NULL));
    assert_int_equal(partmap_tree_size(NULL, "public", "t"), 0);
    assert_int_equal(partmap_count(NULL), 0);
    partmap_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaves_and_roots),
        cmocka_unit_test(test_null_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
