/*
 * Unit tests for event_dbz_type and event_dbz: Debezium's encodings of
 * PostgreSQL values (decimals as Java's BigInteger bytes, adaptive times,
 * zoned timestamps in UTC, intervals) and the shape of the messages. The
 * expected values are what the Debezium PostgreSQL connector writes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/base64.h"
#include "event/event_dbz.h"
#include "event/event_dbz_read.h"
#include "event/event_dbz_type.h"

#define NUMERIC_TYPMOD(p, s) ((((p) << 16) | (s)) + 4)

/* The JSON text of col's value from text, or the error. */
static char *value_of(uint32_t oid, int32_t typmod, const char *text)
{
    change_column_t col = {.name = "c", .type_oid = oid, .typmod = typmod};
    char errbuf[256];
    json_t *v = event_dbz_type_value(&col, text, strlen(text), errbuf, sizeof(errbuf));
    if (v == NULL)
        return strdup("ERROR");
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(v);
    return s;
}

static void assert_value(uint32_t oid, int32_t typmod, const char *text, const char *want)
{
    char *got = value_of(oid, typmod, text);
    assert_string_equal(got, want);
    free(got);
}

static void test_decimal_bytes(void **state)
{
    (void)state;
    /* new BigDecimal("1.50").unscaledValue().toByteArray() = [0x00, 0x96] */
    assert_value(1700, NUMERIC_TYPMOD(10, 2), "1.50", "\"AJY=\"");
    assert_value(1700, NUMERIC_TYPMOD(10, 2), "-1.50", "\"/2o=\""); /* [0xff, 0x6a] */
    assert_value(1700, NUMERIC_TYPMOD(10, 2), "0.00", "\"AA==\"");
    assert_value(1700, NUMERIC_TYPMOD(10, 0), "127", "\"fw==\"");
    assert_value(1700, NUMERIC_TYPMOD(10, 0), "128", "\"AIA=\"");
    assert_value(1700, NUMERIC_TYPMOD(10, 0), "-128", "\"gA==\"");
    assert_value(1700, NUMERIC_TYPMOD(10, 0), "-129", "\"/38=\"");
    /* 2^64 = 0x01 00*8 */
    assert_value(1700, NUMERIC_TYPMOD(30, 0), "18446744073709551616", "\"AQAAAAAAAAAA\"");
    assert_value(1700, -1, "12.345", "{\"scale\":3,\"value\":\"MDk=\"}");
    assert_value(1700, -1, "NaN", "ERROR");
    assert_value(790, -1, "-$1,234.56", "\"/h3A\""); /* -123456 */
}

static void test_times(void **state)
{
    (void)state;
    assert_value(1082, -1, "1970-01-02", "1");
    assert_value(1082, -1, "1969-12-31", "-1");
    assert_value(1082, -1, "2024-02-29", "19782");
    assert_value(1083, -1, "01:02:03.5", "3723500000");
    assert_value(1083, 3, "01:02:03.5", "3723500");
    assert_value(1114, -1, "1970-01-01 00:00:01.000001", "1000001");
    assert_value(1114, 3, "1970-01-01 00:00:01.123456", "1123");
    assert_value(1114, -1, "1969-12-31 23:59:59", "-1000000");
    assert_value(1114, -1, "infinity", "9223372036825200000");
    assert_value(1184, -1, "2024-01-02 03:04:05.25+02", "\"2024-01-02T01:04:05.25Z\"");
    assert_value(1184, -1, "2024-01-01 00:30:00-05:30", "\"2024-01-01T06:00:00Z\"");
    assert_value(1266, -1, "01:00:00+02", "\"23:00:00Z\"");
    assert_value(1186, -1, "1 day 02:00:00", "93600000000");
    assert_value(1186, -1, "1 mon", "2629800000000");
    assert_value(1186, -1, "-00:00:01.5", "-1500000");
    assert_value(1186, -1, "1 year -2 days", "31384800000000");
    assert_value(1082, -1, "01/02/2024", "ERROR");
}

static void test_scalars(void **state)
{
    (void)state;
    assert_value(16, -1, "t", "true");
    assert_value(20, -1, "-9223372036854775808", "-9223372036854775808");
    assert_value(701, -1, "1.5", "1.5");
    assert_value(701, -1, "NaN", "ERROR");
    assert_value(17, -1, "\\x0001ff", "\"AAH/\"");
    assert_value(2950, -1, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                 "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"");
    assert_value(25, -1, "caf\xc3\xa9", "\"caf\xc3\xa9\"");
}

static void test_base64_roundtrip(void **state)
{
    (void)state;
    const char *in = "any carnal pleas";
    for (size_t n = 0; n <= strlen(in); n++) {
        sbuf_t b = {0};
        unsigned char out[32];
        base64_encode(&b, (const unsigned char *)in, n);
        assert_int_equal(base64_decode(b.s != NULL ? b.s : "", b.len, out), (long)n);
        assert_memory_equal(out, in, n);
        sbuf_clear(&b);
    }
    assert_int_equal(base64_decode("A===", 4, (unsigned char[8]){0}), -1);
}

/* A two-column relation keyed on id, and a change of it. */
static change_column_t cols[] = {{.name = "id", .type_oid = 23, .typmod = -1, .is_key = true},
                                 {.name = "v", .type_oid = 25, .typmod = -1}};
static change_relation_t rel = {
    .relid = 1, .nspname = "public", .relname = "t", .replident = 'd', .ncols = 2, .cols = cols};

static void test_messages(void **state)
{
    (void)state;
    event_dbz_t *dz = event_dbz_new("pfx", "db");
    change_value_t oldv[] = {{.kind = CHANGE_TEXT, .len = 1, .data = "1"},
                             {.kind = CHANGE_NULL, .len = 0, .data = NULL}};
    change_value_t newv[] = {{.kind = CHANGE_TEXT, .len = 1, .data = "2"},
                             {.kind = CHANGE_UNCHANGED, .len = 0, .data = NULL}};
    change_tuple_t oldt = {2, oldv}, newt = {2, newv};
    change_row_t ch = {
        .op = CHANGE_UPDATE, .rel = &rel, .old_kind = 'K', .old_tuple = &oldt, .new_tuple = &newt};
    event_txn_t txn = {.xid = 7, .commit_lsn = 100};
    event_dbz_block_t blk = {.total_order = 1, .data_collection_order = 1};
    char *out, errbuf[256], topic[64];
    size_t len;

    event_dbz_topic(dz, "my schema", "t", topic, sizeof(topic));
    assert_string_equal(topic, "pfx.my_schema.t");
    assert_true(event_dbz_key_changed(dz, &ch));
    assert_int_equal(event_dbz_key(dz, &rel, &oldt, &out, &len, errbuf, sizeof(errbuf)), 0);
    json_t *k = json_loadb(out, len, 0, NULL);
    assert_non_null(k);
    assert_string_equal(json_string_value(json_object_get(json_object_get(k, "schema"), "name")),
                        "pfx.public.t.Key");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(k, "payload"), "id")), 1);
    json_decref(k);
    free(out);

    event_dbz_txn_id(&txn, &blk);
    assert_string_equal(blk.id, "7:100");
    assert_int_equal(
        event_dbz_value(dz, &ch, EVENT_CREATE, &txn, &blk, 5, &out, &len, errbuf, sizeof(errbuf)),
        0);
    json_t *v = json_loadb(out, len, 0, NULL);
    json_t *p = json_object_get(v, "payload");
    assert_string_equal(json_string_value(json_object_get(p, "op")), "c");
    assert_true(json_is_null(json_object_get(p, "before")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "after"), "v")),
                        "__debezium_unavailable_value");
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "transaction"), "id")),
                        "7:100");
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "schema"), "name")),
                        "pfx.public.t.Envelope");
    json_decref(v);
    free(out);

    event_dbz_count_t counts[] = {{"public.t", 2}};
    out = event_dbz_txn_value(dz, &blk, true, 9, counts, 1, &len, errbuf, sizeof(errbuf));
    v = json_loadb(out, len, 0, NULL);
    p = json_object_get(v, "payload");
    assert_string_equal(json_string_value(json_object_get(p, "status")), "END");
    assert_int_equal(json_integer_value(json_object_get(p, "event_count")), 2);
    assert_int_equal(json_integer_value(json_object_get(p, "ts_ms")), 9);
    json_decref(v);
    free(out);
    event_dbz_free(dz);
}

/* Encoded by event_dbz_type then read back by event_dbz_read: want. */
static void assert_roundtrip(uint32_t oid, int32_t typmod, const char *text, const char *want)
{
    change_column_t col = {.name = "c", .type_oid = oid, .typmod = typmod};
    char errbuf[256], *out = NULL;
    json_t *v = event_dbz_type_value(&col, text, strlen(text), errbuf, sizeof(errbuf));
    json_t *fs = event_dbz_type_schema(&col, true);
    assert_non_null(v);
    event_dbz_read_result_t r = event_dbz_read_text(fs, v, &out, errbuf, sizeof(errbuf));
    if (r == EVENT_DBZ_READ_AS_IS)
        out = json_is_string(v) ? strdup(json_string_value(v))
                                : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    else
        assert_int_equal(r, EVENT_DBZ_READ_TEXT);
    assert_string_equal(out, want);
    free(out);
    json_decref(v);
    json_decref(fs);
}

static void test_read_back(void **state)
{
    (void)state;
    assert_roundtrip(1700, NUMERIC_TYPMOD(12, 3), "-99999.999", "-99999.999");
    assert_roundtrip(1700, NUMERIC_TYPMOD(12, 3), "0.001", "0.001");
    assert_roundtrip(1700, NUMERIC_TYPMOD(30, 0), "18446744073709551616", "18446744073709551616");
    assert_roundtrip(1700, -1, "-0.000001", "-0.000001");
    assert_roundtrip(1700, -1, "3.14159", "3.14159");
    assert_roundtrip(1082, -1, "2024-02-29", "2024-02-29");
    assert_roundtrip(1082, -1, "0044-03-15 BC", "0044-03-15 BC");
    assert_roundtrip(1114, -1, "1969-12-31 23:59:59.999999", "1969-12-31 23:59:59.999999");
    assert_roundtrip(1114, 3, "2024-01-02 03:04:05.123", "2024-01-02 03:04:05.123000");
    assert_roundtrip(1083, -1, "23:59:59.999999", "23:59:59.999999");
    assert_roundtrip(1186, -1, "1 day 02:03:04.5", "93784500000 microseconds");
    assert_roundtrip(17, -1, "\\x00ff10", "\\x00ff10");
    assert_roundtrip(1184, -1, "2024-01-02 03:04:05.5+02", "2024-01-02T01:04:05.5Z");
    assert_roundtrip(23, -1, "42", "42");

    change_column_t col = {.name = "c", .type_oid = 17, .typmod = -1};
    json_t *fs = event_dbz_type_schema(&col, true), *v = event_dbz_type_unavailable(&col);
    char errbuf[64], *out;
    assert_int_equal(event_dbz_read_text(fs, v, &out, errbuf, sizeof(errbuf)),
                     EVENT_DBZ_READ_UNAVAILABLE);
    json_decref(fs);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal_bytes), cmocka_unit_test(test_times),
        cmocka_unit_test(test_scalars),       cmocka_unit_test(test_base64_roundtrip),
        cmocka_unit_test(test_messages),      cmocka_unit_test(test_read_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
