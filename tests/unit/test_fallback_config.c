/*
 * Unit tests for fallback_config: the fallback direction swaps the roles,
 * derives its names, inverts the synced tables and refuses mapped ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/fallback_config.h"
#include "core/route.h"

static config_t *load(const char *json)
{
    config_err_t cerr;
    char eb[256];
    unsetenv("SYNCLINE_SOURCE");
    unsetenv("SYNCLINE_TARGET");
    config_t *cfg = config_load_string(json, &cerr, eb, sizeof(eb));
    assert_non_null(cfg);
    return cfg;
}

#define BASE                                                                                       \
    "\"name\": \"shop\", \"source\": {\"conninfo\": \"host=old\"}, "                               \
    "\"target\": {\"conninfo\": \"host=new\"}"

static void swaps_roles_and_inverts_tables(void **state)
{
    (void)state;
    config_t *fwd = load("{" BASE ", \"tables\": [{\"source\": \"public.a\", \"target\": "
                         "\"app.b\"}, {\"source\": \"s.*\", \"target\": \"d.*\"}]}");
    fallback_config_pair_t pairs[] = {{"public", "a", "app", "b"}, {"s", "t", "d", "t"}};
    err_t err;
    char eb[256];
    config_t *rev = fallback_config_new(fwd, pairs, 2, &err, eb, sizeof(eb));
    assert_non_null(rev);
    assert_string_equal(rev->name, "shop_fallback");
    assert_string_equal(rev->slot, "syncline_shop_fallback");
    assert_string_equal(rev->publication, "syncline_shop_fallback");
    assert_string_equal(rev->source_conninfo, "host=new");
    assert_string_equal(rev->target_conninfo, "host=old");
    assert_string_equal(rev->apply_origin, "syncline_fallback_shop");
    assert_true(rev->origin_none);
    assert_int_equal(rev->ddl, CONFIG_DDL_IGNORE);
    assert_int_equal(rev->batch_rows, fwd->batch_rows);
    const char *ts, *tn;
    assert_int_equal(route_target(rev, "app", "b", &ts, &tn), ROUTE_SYNC);
    assert_string_equal(ts, "public");
    assert_string_equal(tn, "a");
    assert_int_equal(route_target(rev, "d", "t", &ts, &tn), ROUTE_SYNC);
    assert_string_equal(ts, "s");
    assert_int_equal(route_target(rev, "public", "a", &ts, &tn), ROUTE_UNLISTED);
    config_free(rev);
    config_free(fwd);
}

static void refuses_mapped_tables(void **state)
{
    (void)state;
    config_t *fwd = load("{" BASE ", \"tables\": [{\"source\": \"public.a\", \"exclude\": "
                         "[\"secret\"]}]}");
    fallback_config_pair_t pairs[] = {{"public", "a", "public", "a"}};
    err_t err;
    char eb[256];
    assert_null(fallback_config_new(fwd, pairs, 1, &err, eb, sizeof(eb)));
    assert_int_equal(err, ERR_CONFIG);
    assert_non_null(strstr(eb, "public.a"));
    config_free(fwd);
}

static void takes_the_fallback_block(void **state)
{
    (void)state;
    config_t *fwd = load("{" BASE ", \"tables\": [{\"source\": \"public.a\", \"exclude\": "
                         "[\"secret\"], \"columns\": {\"email\": \"lower(mail)\"}, "
                         "\"fallback\": {\"columns\": {\"mail\": \"email\", \"secret\": "
                         "\"NULL\"}, \"exclude\": [\"email\"], \"keep\": [\"pin\"]}}]}");
    fallback_config_pair_t pairs[] = {{"public", "a", "public", "a"}};
    err_t err;
    char eb[256];
    config_t *rev = fallback_config_new(fwd, pairs, 1, &err, eb, sizeof(eb));
    assert_non_null(rev);
    const config_table_t *t = config_find_table(rev, "public", "a");
    assert_non_null(t);
    assert_int_equal(t->ncolumns, 2);
    assert_string_equal(t->columns[0].target_column, "mail");
    assert_string_equal(t->columns[0].expression, "email");
    assert_string_equal(t->columns[1].target_column, "secret");
    assert_int_equal(t->nexclude, 1);
    assert_string_equal(t->exclude[0], "email");
    assert_int_equal(t->nkeep, 1);
    assert_string_equal(t->keep[0], "pin");
    assert_null(t->where);
    config_free(rev);
    config_free(fwd);
}

static void refuses_long_names(void **state)
{
    (void)state;
    config_t *fwd = load("{\"name\": \"shop\", \"target\": {\"conninfo\": \"host=new\"}, "
                         "\"source\": {\"conninfo\": \"host=old\", \"slot\": "
                         "\"s23456789012345678901234567890123456789012345678901234567\"}}");
    err_t err;
    char eb[256];
    assert_null(fallback_config_new(fwd, NULL, 0, &err, eb, sizeof(eb)));
    assert_int_equal(err, ERR_CONFIG);
    assert_non_null(strstr(eb, "longer than 63"));
    config_free(fwd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(swaps_roles_and_inverts_tables),
        cmocka_unit_test(refuses_mapped_tables),
        cmocka_unit_test(takes_the_fallback_block),
        cmocka_unit_test(refuses_long_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
