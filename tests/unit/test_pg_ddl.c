/*
 * Unit tests for pg_ddl: the event trigger SQL that docs/ddl.md gives a DBA
 * is the SQL run installs, and DDL following is asked for only where wanted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"
#include "pg/pg_ddl.h"

/* The whole file at the repository path rel, NUL-terminated (caller frees). */
static char *read_repo_file(const char *rel)
{
    const char *suffix = "tests/unit/test_pg_ddl.c";
    size_t root = strlen(__FILE__) - strlen(suffix);
    char path[4096];
    snprintf(path, sizeof(path), "%.*s%s", (int)root, __FILE__, rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_docs_have_the_install_sql(void **state)
{
    (void)state;
    char *doc = read_repo_file("docs/ddl.md");
    assert_non_null(strstr(doc, pg_ddl_install_sql));
    free(doc);
}

static config_t *load(const char *json)
{
    config_err_t err;
    char eb[256];
    config_t *cfg = config_load_string(json, &err, eb, sizeof(eb));
    if (cfg == NULL)
        fail_msg("%s", eb);
    return cfg;
}

static void test_wanted_and_versions(void **state)
{
    char eb[256];
    (void)state;
    config_t *dflt = load("{\"name\": \"n\", \"source\": {\"conninfo\": \"x\"}}");
    assert_true(config_ddl_followed(dflt));
    assert_int_equal(pg_ddl_check_version(dflt, 130000, eb, sizeof(eb)), ERR_OK);
    config_free(dflt);

    config_t *ign = load("{\"name\": \"n\", \"source\": {\"conninfo\": \"x\"}, \"ddl\": \"ignore\","
                         "\"tables\": [{\"source\": \"a\"}]}");
    assert_false(config_ddl_followed(ign));
    config_free(ign);

    config_t *one = load("{\"name\": \"n\", \"source\": {\"conninfo\": \"x\"}, \"ddl\": \"ignore\","
                         "\"tables\": [{\"source\": \"a\", \"ddl\": \"stop\"}]}");
    assert_true(config_ddl_followed(one));
    assert_int_equal(pg_ddl_check_version(one, 130000, eb, sizeof(eb)), ERR_CONFIG);
    assert_non_null(strstr(eb, "tables[].ddl"));
    assert_int_equal(pg_ddl_check_version(one, 140000, eb, sizeof(eb)), ERR_OK);
    config_free(one);

    assert_false(pg_ddl_supported(130010));
    assert_true(pg_ddl_supported(140000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_have_the_install_sql),
        cmocka_unit_test(test_wanted_and_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
