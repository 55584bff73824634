/*
 * Unit tests for event and event_avro: envelope round trips in both formats
 * (values, NULL, unchanged TOAST, old keys, truncate), Debezium input, poison
 * input, and the schema file matching the compiled-in writer schema.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <cmocka.h>

#include "event.h"
#include "event_avro.h"

static change_column_t cols[] = {
    {.name = "id", .type_oid = 23, .typmod = -1, .is_key = true},
    {.name = "note", .type_oid = 25, .typmod = -1, .is_key = false},
    {.name = "big", .type_oid = 25, .typmod = -1, .is_key = false},
};
static change_relation_t rel = {.relid = 16384,
                                .nspname = "public",
                                .relname = "items",
                                .replident = 'd',
                                .ncols = 3,
                                .cols = cols};

static change_value_t text(const char *s)
{
    change_value_t v = {.kind = CHANGE_TEXT, .len = (uint32_t)strlen(s), .data = s};
    return v;
}

static void assert_value(const change_value_t *v, change_kind_t kind, const char *s)
{
    assert_int_equal(v->kind, kind);
    if (s != NULL) {
        assert_int_equal(v->len, strlen(s));
        assert_memory_equal(v->data, s, v->len);
    }
}

/* Encodes, decodes, returns the event (caller clears). */
static void round_trip(event_format_t fmt, const event_change_t *ch, const event_txn_t *txn,
                       event_t *ev)
{
    char err[256];
    event_codec_t *codec = event_codec_new(fmt, err, sizeof(err));
    assert_non_null(codec);
    json_t *env = event_build(ch, txn, "shop", err, sizeof(err));
    assert_non_null(env);
    if (txn->last)
        assert_int_equal(event_mark_last(env, txn->end_lsn), 0);
    char *buf;
    size_t len;
    assert_int_equal(event_encode(codec, env, &buf, &len, err, sizeof(err)), 0);
    if (fmt == EVENT_FORMAT_AVRO)
        assert_int_equal((uint8_t)buf[0], 0xC3);
    int rc = event_decode(codec, buf, len, NULL, 0, ev, err, sizeof(err));
    if (rc != 0)
        fail_msg("decode: %s", err);
    free(buf);
    json_decref(env);
    event_codec_free(codec);
}

static void check_update(event_format_t fmt)
{
    change_value_t oldv[3] = {text("1"), {.kind = CHANGE_NULL}, {.kind = CHANGE_NULL}};
    change_value_t newv[3] = {text("2"), {.kind = CHANGE_NULL}, {.kind = CHANGE_UNCHANGED}};
    change_tuple_t oldt = {3, oldv}, newt = {3, newv};
    event_change_t ch = {
        .op = EVENT_UPDATE, .rel = &rel, .old_kind = 'K', .old_tuple = &oldt, .new_tuple = &newt};
    event_txn_t txn = {.xid = 77,
                       .commit_lsn = 0x16B3748,
                       .end_lsn = 0x16B3800,
                       .commit_time = 1000000,
                       .seq = 3,
                       .last = true};
    event_t ev;
    round_trip(fmt, &ch, &txn, &ev);
    assert_int_equal(ev.op, EVENT_UPDATE);
    assert_true(ev.has_txn);
    assert_int_equal(ev.txn.xid, 77);
    assert_true(ev.txn.commit_lsn == 0x16B3748);
    assert_true(ev.txn.end_lsn == 0x16B3800);
    assert_int_equal(ev.txn.seq, 3);
    assert_true(ev.txn.last);
    assert_true(ev.txn.commit_time == 1000000);
    assert_true(event_relation_equal(ev.rel, &rel));
    assert_int_equal(ev.old_kind, 'K');
    assert_true(ev.has_old && ev.has_new);
    assert_value(&ev.old_tuple.values[0], CHANGE_TEXT, "1");
    assert_value(&ev.old_tuple.values[1], CHANGE_NULL, NULL);
    assert_value(&ev.new_tuple.values[0], CHANGE_TEXT, "2");
    assert_value(&ev.new_tuple.values[1], CHANGE_NULL, NULL);
    assert_value(&ev.new_tuple.values[2], CHANGE_UNCHANGED, NULL);
    event_clear(&ev);
}

static void test_update_json(void **state)
{
    (void)state;
    check_update(EVENT_FORMAT_JSON);
}

static void test_update_avro(void **state)
{
    (void)state;
    check_update(EVENT_FORMAT_AVRO);
}

/* A real string equal to the placeholder is a value, not "unchanged". */
static void check_insert_placeholder_text(event_format_t fmt)
{
    change_value_t v[3] = {text("5"), text("it's \"quoted\"\n\\ ü"), text(EVENT_UNAVAILABLE)};
    change_tuple_t t = {3, v};
    event_change_t ch = {.op = EVENT_CREATE, .rel = &rel, .new_tuple = &t};
    event_txn_t txn = {.xid = 1, .commit_lsn = 10, .seq = 0};
    event_t ev;
    round_trip(fmt, &ch, &txn, &ev);
    assert_int_equal(ev.op, EVENT_CREATE);
    assert_false(ev.txn.last);
    assert_true(ev.txn.end_lsn == 0);
    assert_false(ev.has_old);
    assert_value(&ev.new_tuple.values[1], CHANGE_TEXT, "it's \"quoted\"\n\\ ü");
    assert_value(&ev.new_tuple.values[2], CHANGE_TEXT, EVENT_UNAVAILABLE);
    event_clear(&ev);
}

static void test_insert(void **state)
{
    (void)state;
    check_insert_placeholder_text(EVENT_FORMAT_JSON);
    check_insert_placeholder_text(EVENT_FORMAT_AVRO);
}

static void test_truncate(void **state)
{
    (void)state;
    event_change_t ch = {
        .op = EVENT_TRUNCATE, .rel = &rel, .truncate_options = 3, .truncate_n = 2, .truncate_i = 1};
    event_txn_t txn = {.xid = 1, .commit_lsn = 10, .end_lsn = 20, .seq = 1, .last = true};
    for (int f = 0; f < 2; f++) {
        event_t ev;
        round_trip(f ? EVENT_FORMAT_AVRO : EVENT_FORMAT_JSON, &ch, &txn, &ev);
        assert_int_equal(ev.op, EVENT_TRUNCATE);
        assert_int_equal(ev.truncate_options, 3);
        assert_int_equal(ev.truncate_n, 2);
        assert_int_equal(ev.truncate_i, 1);
        assert_false(ev.has_old || ev.has_new);
        event_clear(&ev);
    }
}

static void test_binary_refused(void **state)
{
    (void)state;
    change_value_t v[3] = {{.kind = CHANGE_BINARY, .len = 4, .data = "\0\0\0\1"}};
    change_tuple_t t = {1, v};
    event_change_t ch = {.op = EVENT_CREATE, .rel = &rel, .new_tuple = &t};
    event_txn_t txn = {0};
    char err[256];
    assert_null(event_build(&ch, &txn, "shop", err, sizeof(err)));
    assert_non_null(strstr(err, "column \"id\""));
}

static void test_key(void **state)
{
    (void)state;
    change_value_t v[3] = {text("42"), text("x"), {.kind = CHANGE_NULL}};
    change_tuple_t t = {3, v};
    event_change_t ch = {.op = EVENT_CREATE, .rel = &rel, .new_tuple = &t};
    size_t len = 0;
    assert_null(event_key(&ch, "none", &len));
    char *k = event_key(&ch, "table", &len);
    assert_string_equal(k, "[\"public\",\"items\"]");
    free(k);
    k = event_key(&ch, "key", &len);
    assert_string_equal(k, "[\"public\",\"items\",\"42\"]");
    assert_int_equal(len, strlen(k));
    free(k);
}

static void test_debezium(void **state)
{
    (void)state;
    static const char msg[] =
        "{\"schema\": {}, \"payload\": {\"before\": null, \"after\": {\"id\": 7, \"note\": "
        "\"hi\", \"flag\": true, \"doc\": {\"a\": 1}, \"gone\": null}, \"source\": "
        "{\"connector\": \"postgresql\", \"schema\": \"public\", \"table\": \"items\", "
        "\"txId\": 5, \"lsn\": 1234}, \"op\": \"c\", \"ts_ms\": 1}}";
    static const char key[] = "{\"schema\": {}, \"payload\": {\"id\": 7}}";
    char err[256];
    event_codec_t *codec = event_codec_new(EVENT_FORMAT_JSON, err, sizeof(err));
    event_t ev;
    assert_int_equal(event_decode(codec, msg, strlen(msg), key, strlen(key), &ev, err, sizeof(err)),
                     0);
    assert_false(ev.has_txn);
    assert_true(ev.txn.last);
    assert_int_equal(ev.rel->ncols, 5);
    assert_string_equal(ev.rel->cols[0].name, "id");
    assert_true(ev.rel->cols[0].is_key);
    assert_false(ev.rel->cols[1].is_key);
    assert_value(&ev.new_tuple.values[0], CHANGE_TEXT, "7");
    assert_value(&ev.new_tuple.values[2], CHANGE_TEXT, "true");
    assert_value(&ev.new_tuple.values[3], CHANGE_TEXT, "{\"a\":1}");
    assert_value(&ev.new_tuple.values[4], CHANGE_NULL, NULL);
    event_clear(&ev);

    static const char upd[] = "{\"before\": null, \"after\": {\"id\": 7, \"note\": "
                              "\"__debezium_unavailable_value\"}, \"source\": {\"schema\": "
                              "\"public\", \"table\": \"items\"}, \"op\": \"u\"}";
    assert_int_equal(event_decode(codec, upd, strlen(upd), NULL, 0, &ev, err, sizeof(err)), 0);
    assert_int_equal(ev.old_kind, 0);
    assert_value(&ev.new_tuple.values[1], CHANGE_UNCHANGED, NULL);
    event_clear(&ev);
    event_codec_free(codec);
}

static void assert_poison(event_format_t fmt, const char *msg, size_t len, const char *why)
{
    char err[256];
    event_codec_t *codec = event_codec_new(fmt, err, sizeof(err));
    event_t ev;
    err[0] = '\0';
    assert_int_equal(event_decode(codec, msg, len, NULL, 0, &ev, err, sizeof(err)), -1);
    if (strstr(err, why) == NULL)
        fail_msg("expected [%s] in [%s]", why, err);
    event_codec_free(codec);
}

static void test_poison(void **state)
{
    (void)state;
    assert_poison(EVENT_FORMAT_JSON, "garbage", 7, "not JSON");
    assert_poison(EVENT_FORMAT_JSON, "", 0, "empty message");
    assert_poison(EVENT_FORMAT_JSON, "[1]", 3, "not a JSON object");
    assert_poison(EVENT_FORMAT_JSON, "{\"op\": \"x\"}", 11, "\"op\"");
    assert_poison(EVENT_FORMAT_JSON, "{\"op\": \"c\", \"source\": {}}", 25, "source.schema");
    assert_poison(EVENT_FORMAT_AVRO, "\xC3\x01\1\2\3\4\5\6\7\x08xx", 12, "fingerprint");
    assert_poison(EVENT_FORMAT_AVRO, "garbage", 7, "nor Avro");
    /* a valid header with a truncated datum */
    char err[256];
    event_codec_t *codec = event_codec_new(EVENT_FORMAT_AVRO, err, sizeof(err));
    uint64_t fp = event_codec_fingerprint(codec);
    char buf[12] = {(char)0xC3, 1};
    for (int i = 0; i < 8; i++)
        buf[2 + i] = (char)(fp >> (8 * i));
    buf[10] = 2;
    buf[11] = 'c';
    event_codec_free(codec);
    assert_poison(EVENT_FORMAT_AVRO, buf, sizeof(buf), "does not decode");
    /* fuzz_event_avro: a negative string length made avro-c allocate (size_t)-51 bytes */
    buf[10] = 0x67; /* zigzag -52 */
    assert_poison(EVENT_FORMAT_AVRO, buf, sizeof(buf), "does not fit");
}

/* A header and the first fields of an envelope, then a map block count of 2^33 in 8 bytes. */
static void test_poison_avro_count(void **state)
{
    (void)state;
    char err[256];
    event_codec_t *codec = event_codec_new(EVENT_FORMAT_AVRO, err, sizeof(err));
    uint64_t fp = event_codec_fingerprint(codec);
    char buf[18] = {(char)0xC3, 1,          [10] = 2,   'c',        2,
                    (char)0x80, (char)0x80, (char)0x80, (char)0x80, 0x40};
    for (int i = 0; i < 8; i++)
        buf[2 + i] = (char)(fp >> (8 * i));
    event_codec_free(codec);
    assert_poison(EVENT_FORMAT_AVRO, buf, sizeof(buf), "does not fit");
}

/* fuzz_event_avro: ts_ms * 1000 overflowed int64 (UBSan: signed integer overflow). */
static void test_poison_ts_ms(void **state)
{
    (void)state;
    change_value_t newv[3] = {text("1"), {.kind = CHANGE_NULL}, {.kind = CHANGE_NULL}};
    change_tuple_t newt = {3, newv};
    event_change_t ch = {.op = EVENT_CREATE, .rel = &rel, .new_tuple = &newt};
    event_txn_t txn = {.xid = 1, .commit_lsn = 0x100, .commit_time = 1};
    char err[256], *msg;
    size_t len;
    static const json_int_t bad[] = {INT64_MAX / 100, INT64_MIN / 100};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int fmt = EVENT_FORMAT_JSON; fmt <= EVENT_FORMAT_AVRO; fmt++) {
            event_codec_t *codec = event_codec_new((event_format_t)fmt, err, sizeof(err));
            json_t *env = event_build(&ch, &txn, "shop", err, sizeof(err));
            assert_non_null(env);
            json_object_set_new(json_object_get(env, "source"), "ts_ms", json_integer(bad[i]));
            assert_int_equal(event_encode(codec, env, &msg, &len, err, sizeof(err)), 0);
            event_t ev;
            assert_int_equal(event_decode(codec, msg, len, NULL, 0, &ev, err, sizeof(err)), -1);
            assert_non_null(strstr(err, "ts_ms is out of range"));
            free(msg);
            json_decref(env);
            event_codec_free(codec);
        }
    }
}

/* schemas/envelope.avsc (documented, pretty) must be the schema the code writes. */
static void test_schema_file(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof(path), "%s", __FILE__);
    char *slash = strstr(path, "tests/unit/");
    assert_non_null(slash);
    snprintf(slash, sizeof(path) - (size_t)(slash - path), "schemas/envelope.avsc");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[16384];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    avro_schema_t file_schema, code_schema;
    assert_int_equal(avro_schema_from_json_length(text, n, &file_schema), 0);
    assert_int_equal(avro_schema_from_json_length(event_avro_schema(), strlen(event_avro_schema()),
                                                  &code_schema),
                     0);
    assert_true(avro_schema_equal(file_schema, code_schema));
    avro_schema_decref(file_schema);
    avro_schema_decref(code_schema);
    /* CRC-64-AVRO reference values from the Avro specification's test suite */
    assert_true(event_avro_fingerprint("\"null\"") == UINT64_C(0x63dd24e7cc258f8a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_json),
        cmocka_unit_test(test_update_avro),
        cmocka_unit_test(test_insert),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_binary_refused),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_debezium),
        cmocka_unit_test(test_poison),
        cmocka_unit_test(test_poison_avro_count),
        cmocka_unit_test(test_poison_ts_ms),
        cmocka_unit_test(test_schema_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
