/*
 * Unit tests for pg_identity: which GENERATED ALWAYS identity columns an
 * UPDATE's shape keeps (only those the row changes) and when a statement needs
 * the BY DEFAULT switch. The switch itself is covered against a server by
 * tests/e2e/027-identity-always.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg/pg_identity.h"

/* id (key, ALWAYS), serial (ALWAYS), n */
static change_column_t cols[3] = {
    {"id", 20, -1, true}, {"serial", 20, -1, false}, {"n", 23, -1, false}};
static const change_relation_t rel = {1, "public", "t", 'd', 3, cols};
static const char always[] = "110";

static change_tuple_t tuple(change_value_t *v, const char *id, const char *serial)
{
    v[0] = (change_value_t){.kind = CHANGE_TEXT, .len = (uint32_t)strlen(id), .data = id};
    v[1] = (change_value_t){.kind = CHANGE_TEXT, .len = (uint32_t)strlen(serial), .data = serial};
    v[2] = (change_value_t){.kind = CHANGE_TEXT, .len = 1, .data = "7"};
    return (change_tuple_t){3, v};
}

static void test_shape_no_old_key(void **state)
{
    (void)state;
    change_value_t nv[3];
    change_tuple_t nt = tuple(nv, "1", "5");
    char shape[] = "U111";
    pg_identity_shape(always, &rel, NULL, &nt, shape);
    /* the key did not change (no old key sent); serial may have */
    assert_string_equal(shape, "U011");
    assert_true(pg_identity_sets(always, &rel, shape + 1, '1', 1));
}

static void test_shape_old_tuple(void **state)
{
    (void)state;
    change_value_t ov[3], nv[3];
    change_tuple_t ot = tuple(ov, "1", "5"), nt = tuple(nv, "2", "5");
    char shape[] = "u111";
    pg_identity_shape(always, &rel, &ot, &nt, shape);
    assert_string_equal(shape, "u101"); /* the key changed, serial is identical */
    assert_true(pg_identity_sets(always, &rel, shape + 1, '1', 1));
    nt = tuple(nv, "1", "5");
    char same[] = "u111";
    pg_identity_shape(always, &rel, &ot, &nt, same);
    assert_string_equal(same, "u001");
    assert_false(pg_identity_sets(always, &rel, same + 1, '1', 1));
}

static void test_insert_and_no_identity(void **state)
{
    (void)state;
    change_value_t nv[3];
    change_tuple_t nt = tuple(nv, "1", "5");
    char shape[] = "I111";
    pg_identity_shape(always, &rel, NULL, &nt, shape);
    assert_string_equal(shape, "I111"); /* INSERT ... OVERRIDING SYSTEM VALUE takes them */
    char upd[] = "U111";
    pg_identity_shape(NULL, &rel, NULL, &nt, upd);
    assert_string_equal(upd, "U111");
    assert_false(pg_identity_sets(NULL, &rel, upd + 1, '1', 1));
}

static void test_sets_collapsed(void **state)
{
    (void)state;
    const char key_only[] = {1, 0, 1}, serial[] = {1, 1, 1};
    /* a collapsed UPDATE never sets its key */
    assert_false(pg_identity_sets(always, &rel, key_only, 1, 0));
    assert_true(pg_identity_sets(always, &rel, serial, 1, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape_no_old_key),
        cmocka_unit_test(test_shape_old_tuple),
        cmocka_unit_test(test_insert_and_no_identity),
        cmocka_unit_test(test_sets_collapsed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
