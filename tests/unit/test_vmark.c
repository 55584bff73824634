/*
 * Unit tests for vmark: which bucket a key falls in (single integer primary
 * key only; everything else is the whole table), de-duplication across many
 * rows and tables, and reset. No server needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/vmark.h"

/* A relation (schema.name) of ncols columns; key: which are in the identity. */
static change_relation_t *rel_new(const char *name, uint32_t key_oid, const char *key, char ident)
{
    change_relation_t *rel = calloc(1, sizeof(*rel));
    assert_non_null(rel);
    rel->nspname = strdup("public");
    rel->relname = strdup(name);
    rel->replident = ident;
    rel->ncols = (int)strlen(key);
    rel->cols = calloc((size_t)rel->ncols, sizeof(*rel->cols));
    for (int c = 0; c < rel->ncols; c++) {
        rel->cols[c].name = strdup(c == 0 ? "id" : "v");
        rel->cols[c].type_oid = c == 0 ? key_oid : 25;
        rel->cols[c].is_key = key[c] == 'k';
    }
    return rel;
}

/* A tuple whose first column is text v (NULL: a null) and the rest null. */
static change_tuple_t *tuple(change_value_t *vals, int ncols, const char *v)
{
    static change_tuple_t t;
    for (int c = 0; c < ncols; c++)
        vals[c] = (change_value_t){.kind = CHANGE_NULL};
    if (v != NULL)
        vals[0] = (change_value_t){.kind = CHANGE_TEXT, .len = (uint32_t)strlen(v), .data = v};
    t = (change_tuple_t){.ncols = ncols, .values = vals};
    return &t;
}

static void test_bucket(void **state)
{
    (void)state;
    change_value_t v[2];
    change_relation_t *r = rel_new("a", 23, "k-", 'd');
    assert_int_equal(vmark_bucket(r, tuple(v, 2, "0")), 0);
    assert_int_equal(vmark_bucket(r, tuple(v, 2, "63")), 0);
    assert_int_equal(vmark_bucket(r, tuple(v, 2, "64")), 1);
    assert_int_equal(vmark_bucket(r, tuple(v, 2, "-1")), -1); /* bucket -1: the whole table */
    assert_int_equal(vmark_bucket(r, tuple(v, 2, "-65")), -2);
    assert_int_equal(vmark_bucket(r, tuple(v, 2, "9223372036854775807")),
                     9223372036854775807LL / VMARK_WIDTH);
    assert_int_equal(vmark_bucket(r, tuple(v, 2, "x1")), -1);
    assert_int_equal(vmark_bucket(r, tuple(v, 2, NULL)), -1);
    assert_int_equal(vmark_bucket(r, NULL), -1);
    change_relation_free(r);
    r = rel_new("b", 25, "k-", 'd'); /* a text key */
    assert_int_equal(vmark_bucket(r, tuple(v, 2, "5")), -1);
    change_relation_free(r);
    r = rel_new("c", 20, "kk", 'd'); /* a composite key */
    assert_int_equal(vmark_bucket(r, tuple(v, 2, "5")), -1);
    change_relation_free(r);
    r = rel_new("d", 20, "k-", 'i'); /* identity through another index */
    assert_int_equal(vmark_bucket(r, tuple(v, 2, "5")), -1);
    change_relation_free(r);
}

static void test_set(void **state)
{
    (void)state;
    change_value_t v[2], w[2];
    change_relation_t *a = rel_new("a", 20, "k-", 'd'), *b = rel_new("b", 21, "k-", 'f');
    vmark_set_t *vs = vmark_set_new();
    assert_non_null(vs);
    char key[32];
    for (int i = 0; i < 100000; i++) { /* every bucket of keys 0..99999 */
        snprintf(key, sizeof(key), "%d", i);
        assert_int_equal(vmark_set_add_row(vs, a, NULL, tuple(v, 2, key)), 0);
    }
    /* a key change: both buckets; b (FULL): the whole table */
    change_tuple_t old = *tuple(w, 2, "500000");
    assert_int_equal(vmark_set_add_row(vs, a, &old, tuple(v, 2, "7")), 0);
    assert_int_equal(vmark_set_add_row(vs, b, NULL, tuple(v, 2, "1")), 0);
    assert_int_equal(vmark_set_add_table(vs, b), 0);
    int n = 0;
    const sink_mark_t *m = vmark_set_marks(vs, &n);
    assert_int_equal(n, (99999 / VMARK_WIDTH + 1) + 1 + 1);
    int seen_b = 0, seen_far = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(m[i].table, "b") == 0) {
            seen_b++;
            assert_int_equal(m[i].bucket, -1);
        }
        seen_far += strcmp(m[i].table, "a") == 0 && m[i].bucket == 500000 / VMARK_WIDTH;
        assert_string_equal(m[i].schema, "public");
    }
    assert_int_equal(seen_b, 1);
    assert_int_equal(seen_far, 1);
    vmark_set_reset(vs);
    vmark_set_marks(vs, &n);
    assert_int_equal(n, 0);
    assert_int_equal(vmark_set_add_row(vs, a, NULL, tuple(v, 2, "3")), 0);
    m = vmark_set_marks(vs, &n);
    assert_int_equal(n, 1);
    assert_int_equal(m[0].bucket, 0);
    vmark_set_free(vs);
    change_relation_free(a);
    change_relation_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
