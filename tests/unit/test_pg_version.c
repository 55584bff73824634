/*
 * Unit tests for pg_version: the SQL each PostgreSQL major 12-18 gets for
 * slot creation and START_REPLICATION options, and the feature cut-offs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pg/pg_version.h"

static void test_proto_per_major(void **state)
{
    (void)state;
    assert_int_equal(pg_version_proto(120022), 1);
    assert_int_equal(pg_version_proto(130023), 1);
    assert_int_equal(pg_version_proto(140023), 2);
    assert_int_equal(pg_version_proto(150010), 3);
    assert_int_equal(pg_version_proto(160014), 4);
    assert_int_equal(pg_version_proto(180004), 4);
}

static void test_feature_cutoffs(void **state)
{
    (void)state;
    assert_false(pg_version_has_partition_root(120022));
    assert_true(pg_version_has_partition_root(130000));
    assert_false(pg_version_has_wal_status(120022));
    assert_true(pg_version_has_wal_status(130000));
    assert_false(pg_version_has_binary(130023));
    assert_true(pg_version_has_binary(140000));
    assert_false(pg_version_has_schema_publication(140023));
    assert_true(pg_version_has_schema_publication(150000));
    assert_false(pg_version_has_xid8(120022));
    assert_true(pg_version_has_xid8(130000));
}

static void test_create_slot_sql(void **state)
{
    char buf[128];
    (void)state;
    assert_int_equal(pg_version_create_slot_sql(140023, "\"s\"", 1, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "CREATE_REPLICATION_SLOT \"s\" LOGICAL pgoutput EXPORT_SNAPSHOT");
    assert_int_equal(pg_version_create_slot_sql(120022, "\"s\"", 0, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "CREATE_REPLICATION_SLOT \"s\" LOGICAL pgoutput NOEXPORT_SNAPSHOT");
    assert_int_equal(pg_version_create_slot_sql(150000, "\"s\"", 1, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "CREATE_REPLICATION_SLOT \"s\" LOGICAL pgoutput (SNAPSHOT 'export')");
    assert_int_equal(pg_version_create_slot_sql(180004, "\"s\"", 0, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "CREATE_REPLICATION_SLOT \"s\" LOGICAL pgoutput (SNAPSHOT 'nothing')");
    assert_int_equal(pg_version_create_slot_sql(180004, "\"s\"", 0, buf, 20), -1);
}

static void test_start_options(void **state)
{
    char buf[128];
    (void)state;
    assert_int_equal(pg_version_start_options(120022, "'\"p\"'", 0, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "proto_version '1', publication_names '\"p\"'");
    assert_int_equal(pg_version_start_options(120022, "'\"p\"'", 1, buf, sizeof(buf)), -2);
    assert_int_equal(pg_version_start_options(130023, "'\"p\"'", 1, buf, sizeof(buf)), -2);
    assert_int_equal(pg_version_start_options(140023, "'\"p\"'", 1, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "proto_version '2', publication_names '\"p\"', binary 'true'");
    assert_int_equal(pg_version_start_options(170000, "'\"p\"'", 0, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "proto_version '4', publication_names '\"p\"', binary 'false'");
    assert_int_equal(pg_version_start_options(170000, "'\"p\"'", 0, buf, 10), -1);
}

static void test_major(void **state)
{
    char buf[8];
    (void)state;
    assert_string_equal(pg_version_major(120022, buf, sizeof(buf)), "12");
    assert_string_equal(pg_version_major(180004, buf, sizeof(buf)), "18");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_per_major), cmocka_unit_test(test_feature_cutoffs),
        cmocka_unit_test(test_create_slot_sql), cmocka_unit_test(test_start_options),
        cmocka_unit_test(test_major),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
