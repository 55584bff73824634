/*
 * Unit tests for schema_registry without a registry: URLs (credentials
 * split off, never in messages or the logged URL; only http/https, no
 * query), and an unreachable registry: retried, then ERR_CONNECT naming
 * method, URL path and subject, not the password.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kafka/schema_registry.h"

#define CANARY "Canary-Pw-4242"

static void test_url(void **state)
{
    (void)state;
    char err[512];
    err_t rc;
    schema_registry_opts_t o = {0};
    schema_registry_t *sr =
        schema_registry_new("https://user:" CANARY "%40x@registry.example:8081/apis/ccompat/v7/",
                            &o, &rc, err, sizeof(err));
    assert_non_null(sr);
    assert_int_equal(rc, ERR_OK);
    assert_string_equal(schema_registry_url(sr), "https://registry.example:8081/apis/ccompat/v7");
    schema_registry_free(sr);
    sr = schema_registry_new("http://127.0.0.1:8081", &o, &rc, err, sizeof(err));
    assert_string_equal(schema_registry_url(sr), "http://127.0.0.1:8081");
    schema_registry_free(sr);
    static const char *const bad[] = {"ftp://u:" CANARY "@h/", "https://u:" CANARY "@h/?t=1",
                                      "not a url " CANARY, "http://u:" CANARY "@[::1/x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_null(schema_registry_new(bad[i], &o, &rc, err, sizeof(err)));
        assert_int_equal(rc, ERR_CONFIG);
        assert_non_null(strstr(err, "kafka.schema_registry"));
        if (strstr(err, "Canary") != NULL)
            fail_msg("password in [%s]", err);
    }
}

static void test_unreachable(void **state)
{
    (void)state;
    char err[1024];
    err_t rc;
    schema_registry_opts_t o = {.attempts = 2, .backoff_ms = 10, .timeout_ms = 2000};
    schema_registry_t *sr = schema_registry_new("http://syncline:" CANARY "@127.0.0.1:1/base/", &o,
                                                &rc, err, sizeof(err));
    assert_non_null(sr);
    int32_t id = -1;
    assert_int_equal(schema_registry_register(sr, "t-x.Envelope", "\"int\"", &id, err, sizeof(err)),
                     ERR_CONNECT);
    assert_int_equal(id, -1);
    if (strstr(err, "POST http://127.0.0.1:1/base/subjects/t-x.Envelope/versions "
                    "(subject t-x.Envelope)") == NULL ||
        strstr(err, "gave up retrying") == NULL || strstr(err, "Canary") != NULL)
        fail_msg("unexpected [%s]", err);
    char *schema = NULL;
    assert_int_equal(schema_registry_schema(sr, 7, &schema, err, sizeof(err)), ERR_CONNECT);
    assert_null(schema);
    assert_non_null(strstr(err, "GET http://127.0.0.1:1/base/schemas/ids/7 (schema id 7)"));
    assert_int_equal(schema_registry_check(sr, err, sizeof(err)), ERR_CONNECT);
    assert_null(strstr(err, "Canary"));
    schema_registry_free(sr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
