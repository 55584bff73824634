/*
 * Unit tests for event_json_env: the spans of a JsonConverter envelope's
 * schema and payload, and every text it must leave to the whole-text parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "event/event_json_env.h"

static void assert_spans(const char *doc, const char *schema, const char *payload)
{
    event_json_span_t s = {0}, p = {0};
    if (!event_json_env_find(doc, strlen(doc), &s, &p))
        fail_msg("not found in [%s]", doc);
    if (s.len != strlen(schema) || memcmp(s.p, schema, s.len) != 0)
        fail_msg("schema [%.*s], want [%s]", (int)s.len, s.p, schema);
    if (p.len != strlen(payload) || memcmp(p.p, payload, p.len) != 0)
        fail_msg("payload [%.*s], want [%s]", (int)p.len, p.p, payload);
}

static void assert_none(const char *doc, size_t len)
{
    event_json_span_t s, p;
    if (event_json_env_find(doc, len, &s, &p))
        fail_msg("found in [%.*s]", (int)len, doc);
}

static void test_found(void **state)
{
    (void)state;
    assert_spans("{\"schema\":{},\"payload\":{}}", "{}", "{}");
    assert_spans(" \n{ \"payload\" : {\"a\": [1, {\"b\": 2}]} ,\r\n\t\"schema\":{\"x\":\"}\"} }\n ",
                 "{\"x\":\"}\"}", "{\"a\": [1, {\"b\": 2}]}");
    /* brackets, quotes and backslashes inside strings do not count */
    assert_spans(
        "{\"schema\": {\"s\": \"\\\"{[\\\\\"}, \"payload\": {\"t\": \"]}\\\\\", \"u\": 1}}",
        "{\"s\": \"\\\"{[\\\\\"}", "{\"t\": \"]}\\\\\", \"u\": 1}");
    /* three backslashes: an escaped backslash, then an escaped quote */
    assert_spans("{\"schema\": {\"k\": \"x\\\\\\\"}y\"}, \"payload\": {}}",
                 "{\"k\": \"x\\\\\\\"}y\"}", "{}");
    /* a member of the payload named like an envelope member is the payload's */
    assert_spans("{\"schema\": {\"payload\": {}}, \"payload\": {\"schema\": {\"c\": 1}}}",
                 "{\"payload\": {}}", "{\"schema\": {\"c\": 1}}");
}

static void test_left_to_the_parser(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "",
        "   ",
        "[]",
        "{}",
        "{\"schema\": {}}",
        "{\"payload\": {}}",
        "{\"schema\": {}, \"payload\": {}, \"extra\": 1}",
        "{\"schema\": {}, \"schema\": {}}",
        "{\"payload\": {}, \"payload\": {}}",
        "{\"schema\": null, \"payload\": {}}",
        "{\"schema\": {}, \"payload\": null}",
        "{\"schema\": {}, \"payload\": [1]}",
        "{\"schema\": {}, \"payload\": \"{}\"}",
        "{\"sch\\u0065ma\": {}, \"payload\": {}}",
        "{\"Schema\": {}, \"payload\": {}}",
        "{\"schema\" {}, \"payload\": {}}",
        "{\"schema\": {} \"payload\": {}}",
        "{\"schema\": {}, \"payload\": {}",
        "{\"schema\": {}, \"payload\": {}} x",
        "{\"schema\": {}, \"payload\": {}}}",
        "{\"schema\": {\"a\": \"}, \"payload\": {}}",
        "{\"schema\": {\"a\": 1}, \"payload\": {\"b\": \"unterminated}}",
        "{\"schema\": {}, \"payload\": {\"b\": [}}",
        "{\"schema\": {}, \"payload\": {\"b\": \"x\\",
        "{\"before\": null, \"after\": {\"id\": 1}, \"op\": \"c\"}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        assert_none(docs[i], strlen(docs[i]));
    /* the length bounds the scan: a whole envelope cut short is not one */
    static const char whole[] = "{\"schema\": {}, \"payload\": {\"a\": 1}}";
    for (size_t n = 0; n < strlen(whole); n++)
        assert_none(whole, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_found),
        cmocka_unit_test(test_left_to_the_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
