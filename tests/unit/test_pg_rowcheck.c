/*
 * Unit tests for pg_rowcheck: the checked statement's text (hard, soft, with
 * the pre-statement existence test) and the mapping of a server error back
 * to its explanation. The statements' behaviour on a server is covered by
 * tests/e2e/021-missing-row-atomic.sh and 022-replica-trigger-skip.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg/pg_rowcheck.h"

static void test_wrap_hard(void **state)
{
    (void)state;
    char *sql = pg_rowcheck_wrap("DELETE FROM \"s\".\"t\" WHERE \"id\" = $1", 4, NULL, 0);
    assert_non_null(sql);
    assert_string_equal(sql, "WITH syncline_rows AS (DELETE FROM \"s\".\"t\" WHERE \"id\" = $1 "
                             "RETURNING 1) SELECT (CASE WHEN count(*) >= 4 THEN '0' ELSE "
                             "'" PG_ROWCHECK_MISSING "' END)::int FROM syncline_rows");
    free(sql);
}

static void test_wrap_soft_exists(void **state)
{
    (void)state;
    char *sql = pg_rowcheck_wrap("UPDATE t SET v = $1 WHERE id = $2", 0, "EXISTS (SELECT 1)", 1);
    assert_non_null(sql);
    assert_non_null(strstr(sql, "count(*) >= 1 OR EXISTS (SELECT 1) THEN '0' ELSE '1' END"));
    assert_null(strstr(sql, PG_ROWCHECK_MISSING));
    free(sql);
}

static void test_wrap_fenced(void **state)
{
    (void)state;
    char *sql = pg_rowcheck_wrap_fenced("UPDATE p SET v = $2 WHERE n = $1 AND v = $3", "$3::int");
    assert_non_null(sql);
    assert_string_equal(sql, "WITH syncline_rows AS (UPDATE p SET v = $2 WHERE n = $1 AND v = $3 "
                             "RETURNING 1) SELECT (CASE WHEN count(*) >= 1 THEN '0' WHEN "
                             "$3::int IS NULL THEN '" PG_ROWCHECK_MISSING "' ELSE "
                             "'" PG_ROWCHECK_MOVED "' END)::int FROM syncline_rows");
    free(sql);
}

static void test_reason(void **state)
{
    (void)state;
    const char *missing = pg_rowcheck_reason(
        "ERROR:  invalid input syntax for type integer: \"" PG_ROWCHECK_MISSING "\"\n");
    assert_non_null(missing);
    assert_non_null(strstr(missing, "no such row"));
    const char *partial = pg_rowcheck_reason(
        "ERREUR:  syntaxe en entrée invalide pour le type integer : « " PG_ROWCHECK_PARTIAL " »");
    assert_non_null(partial);
    assert_non_null(strstr(partial, "REPLICA IDENTITY FULL"));
    const char *moved = pg_rowcheck_reason(
        "ERROR:  invalid input syntax for type integer: \"" PG_ROWCHECK_MOVED "\"\n");
    assert_non_null(moved);
    assert_non_null(strstr(moved, "stored position moved"));
    assert_null(strstr(moved, "no such row"));
    assert_null(pg_rowcheck_reason("ERROR:  division by zero"));
    assert_null(pg_rowcheck_reason(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrap_hard),
        cmocka_unit_test(test_wrap_soft_exists),
        cmocka_unit_test(test_wrap_fenced),
        cmocka_unit_test(test_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
