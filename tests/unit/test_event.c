/*
 * Unit tests for event and event_avro: envelope round trips in JSON and both
 * Avro framings (values, NULL, unchanged TOAST, old keys, truncate; typed
 * Avro values incl. NaN, infinities, bytea), writer schemas per relation
 * version and unknown ones, the envelope of earlier versions, Debezium
 * input, and poison input (Confluent framing errors included).
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

#include "event/event.h"
#include "event/event_codec.h"
#include "support/event_oracle.h"
#include "event/event_avro.h"
#include "event/event_avro_write.h"
#include "event/event_json.h"
#include "event/event_schema.h"

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

/* capture's JSON writer must write what event_oracle_build + event_oracle_encode write,
 * byte for byte. */
static void assert_json_writer_same(const change_row_t *ch, const event_truncate_t *tpos,
                                    const event_txn_t *txn, const char *expect, size_t expect_len)
{
    char err[256];
    event_txn_t t = *txn;
    t.last = false;
    event_json_t j = {0};
    assert_int_equal(event_json_write(&j, ch, tpos, &t, "shop", err, sizeof(err)), 0);
    size_t len;
    char *got = event_json_take(&j, txn->last ? txn->end_lsn : 0, &len);
    assert_non_null(got);
    if (len != expect_len || memcmp(got, expect, len) != 0)
        fail_msg("JSON writer differs:\n%s\nevent_build:\n%.*s", got, (int)expect_len, expect);
    free(got);
}

/* capture's Avro writer must write what event_oracle_build + event_oracle_encode write
 * with the same codec, byte for byte (the held form, marked last on take). */
static void assert_avro_writer_same(event_codec_t *codec, const change_row_t *ch,
                                    const event_truncate_t *tpos, const event_txn_t *txn,
                                    const char *expect, size_t expect_len)
{
    char err[256];
    event_txn_t t = *txn;
    t.last = false;
    event_avro_msg_t m = {0};
    if (event_avro_write(&m, event_codec_avro(codec), ch, tpos, &t, "shop", err, sizeof(err)) != 0)
        fail_msg("Avro writer: %s", err);
    size_t len;
    char *got = event_avro_write_take(&m, event_codec_avro(codec), txn->last ? txn->end_lsn : 0,
                                      &len, err, sizeof(err));
    if (got == NULL)
        fail_msg("Avro take: %s", err);
    assert_null(m.body.s);
    if (len != expect_len || memcmp(got, expect, len) != 0) {
        size_t i = 0;
        while (i < len && i < expect_len && got[i] == expect[i])
            i++;
        fail_msg("Avro writer differs at byte %zu of %zu (event_oracle_encode: %zu bytes)", i, len,
                 expect_len);
    }
    free(got);
}

/* Both readers of a JSON message: event_json_read must take it (fast, 1) or
 * leave it (0) as said, and agree with the jansson reader when it takes it. */
static void assert_readers_agree(const char *buf, size_t len, int fast)
{
    char err[256];
    event_t a, b;
    event_codec_t *tree = event_codec_new(EVENT_FORMAT_JSON, err, sizeof(err));
    event_codec_tree_only(tree);
    int rc = event_json_read(buf, len, &a);
    assert_int_equal(rc, fast);
    if (rc == 1) {
        if (event_decode(tree, buf, len, NULL, 0, &b, err, sizeof(err)) != 0)
            fail_msg("the fast reader took what jansson refuses (%s): %.*s", err, (int)len, buf);
        assert_true(event_equal(&a, &b));
        event_clear(&a);
        event_clear(&b);
    } else {
        assert_null(a.rel);
        assert_null(a.strings);
    }
    event_codec_free(tree);
}

/* Both readers of an Avro message whose writer schema (text, ref) is known:
 * the direct reader must take it (1) or leave it (0) as said, and agree with
 * the avro-c + jansson path when it takes it. */
static void assert_avro_readers_agree(event_format_t fmt, const char *schema,
                                      const event_avro_ref_t *ref, const char *buf, size_t len,
                                      int fast)
{
    char err[256];
    event_t a, b;
    event_codec_t *direct = event_codec_new(fmt, err, sizeof(err));
    event_codec_t *tree = event_codec_new(fmt, err, sizeof(err));
    event_codec_tree_only(tree);
    assert_int_equal(event_codec_add_schema(direct, schema, strlen(schema), ref, err, sizeof(err)),
                     0);
    assert_int_equal(event_codec_add_schema(tree, schema, strlen(schema), ref, err, sizeof(err)),
                     0);
    int rc = event_avro_decode_direct(event_codec_avro(direct), buf, len, &a);
    assert_int_equal(rc, fast);
    if (rc == 1) {
        if (event_decode(tree, buf, len, NULL, 0, &b, err, sizeof(err)) != 0)
            fail_msg("the direct Avro reader took what the generic path refuses (%s)", err);
        assert_true(event_equal(&a, &b));
        event_clear(&a);
        event_clear(&b);
    } else {
        assert_null(a.rel);
        assert_null(a.strings);
    }
    event_codec_free(direct);
    event_codec_free(tree);
}

/* Encodes, decodes, returns the event (caller clears). */
static void round_trip(event_format_t fmt, const change_row_t *ch, const event_truncate_t *tpos,
                       const event_txn_t *txn, event_t *ev)
{
    char err[256];
    event_codec_t *codec = event_codec_new(fmt, err, sizeof(err));
    assert_non_null(codec);
    json_t *env = event_oracle_build(ch, tpos, txn, "shop", err, sizeof(err));
    assert_non_null(env);
    if (txn->last)
        assert_int_equal(event_oracle_mark_last(env, txn->end_lsn), 0);
    char *buf;
    size_t len;
    assert_int_equal(event_oracle_encode(codec, env, &buf, &len, err, sizeof(err)), 0);
    if (fmt == EVENT_FORMAT_AVRO) {
        assert_int_equal((uint8_t)buf[0], 0xC3);
        assert_avro_writer_same(codec, ch, tpos, txn, buf, len);
        event_avro_writer_t *w = event_oracle_writer(codec, env, err, sizeof(err));
        event_avro_ref_t ref = {.fingerprint = event_avro_writer_fingerprint(w)};
        assert_avro_readers_agree(fmt, event_avro_writer_text(w), &ref, buf, len, 1);
    }
    if (fmt == EVENT_FORMAT_JSON) {
        assert_json_writer_same(ch, tpos, txn, buf, len);
        assert_readers_agree(buf, len, 1);
    }
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
    change_row_t ch = {
        .op = CHANGE_UPDATE, .rel = &rel, .old_kind = 'K', .old_tuple = &oldt, .new_tuple = &newt};
    event_txn_t txn = {.xid = 77,
                       .commit_lsn = 0x16B3748,
                       .end_lsn = 0x16B3800,
                       .commit_time = 1000000,
                       .seq = 3,
                       .last = true};
    event_t ev;
    round_trip(fmt, &ch, NULL, &txn, &ev);
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
    change_row_t ch = {.op = CHANGE_INSERT, .rel = &rel, .new_tuple = &t};
    event_txn_t txn = {.xid = 1, .commit_lsn = 10, .seq = 0};
    event_t ev;
    round_trip(fmt, &ch, NULL, &txn, &ev);
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
    change_row_t ch = {.op = CHANGE_TRUNCATE, .rel = &rel};
    event_truncate_t tpos = {.options = 3, .n = 2, .i = 1};
    event_txn_t txn = {.xid = 1, .commit_lsn = 10, .end_lsn = 20, .seq = 1, .last = true};
    for (int f = 0; f < 2; f++) {
        event_t ev;
        round_trip(f ? EVENT_FORMAT_AVRO : EVENT_FORMAT_JSON, &ch, &tpos, &txn, &ev);
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
    change_row_t ch = {.op = CHANGE_INSERT, .rel = &rel, .new_tuple = &t};
    event_txn_t txn = {0};
    char err[256];
    assert_null(event_oracle_build(&ch, NULL, &txn, "shop", err, sizeof(err)));
    assert_non_null(strstr(err, "column \"id\""));
    event_json_t j = {0};
    err[0] = '\0';
    assert_int_equal(event_json_write(&j, &ch, NULL, &txn, "shop", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "column \"id\": binary value"));
    assert_null(j.text.s);
}

/* The JSON writer against event_oracle_build on values that need escaping, every
 * operation, and text that is not UTF-8 (refused by both, naming the column). */
static void test_json_writer(void **state)
{
    (void)state;
    static const char ctl[] = {'a', 1, 0x1f, '\b', '\f', '\t', '\r', 0x7f, '/', 'z', 0};
    const char *texts[] = {"", "plain", ctl, "\"\\\n", "日本語 €", "\xf0\x9f\x98\x80 emoji"};
    char err[256], *buf;
    size_t len;
    event_codec_t *codec = event_codec_new(EVENT_FORMAT_JSON, err, sizeof(err));
    event_codec_t *avro = event_codec_new(EVENT_FORMAT_AVRO, err, sizeof(err));
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        change_value_t v[3] = {text("7"), text(texts[i]), {.kind = CHANGE_UNCHANGED}};
        change_value_t o[3] = {text("7"), text(texts[i]), {.kind = CHANGE_NULL}};
        change_tuple_t t = {3, v}, ot = {3, o};
        change_op_t ops[] = {CHANGE_INSERT, CHANGE_UPDATE, CHANGE_DELETE};
        for (int k = 0; k < 3; k++) {
            change_row_t ch = {.op = ops[k], .rel = &rel, .new_tuple = &t};
            if (ops[k] != CHANGE_INSERT) {
                ch.old_kind = k == 1 ? 'O' : 'K';
                ch.old_tuple = &ot;
            }
            event_txn_t txn = {.xid = 4000000000u,
                               .commit_lsn = 0x1FFFFFFFFFull,
                               .end_lsn = 0x2000000000ull,
                               .commit_time = -5000,
                               .seq = (int64_t)i,
                               .last = (i % 2) == 1};
            json_t *env = event_oracle_build(&ch, NULL, &txn, "shop", err, sizeof(err));
            assert_non_null(env);
            assert_int_equal(event_oracle_encode(codec, env, &buf, &len, err, sizeof(err)), 0);
            assert_json_writer_same(&ch, NULL, &txn, buf, len);
            assert_readers_agree(buf, len, 1);
            free(buf);
            assert_int_equal(event_oracle_encode(avro, env, &buf, &len, err, sizeof(err)), 0);
            assert_avro_writer_same(avro, &ch, NULL, &txn, buf, len);
            free(buf);
            /* pretty-printed: still the fast reader's */
            buf = json_dumps(env, JSON_INDENT(2));
            assert_readers_agree(buf, strlen(buf), 1);
            free(buf);
            json_decref(env);
        }
    }
    const char *bad[] = {"\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ok\xff"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        change_value_t v[3] = {text("1"), text(bad[i]), {.kind = CHANGE_NULL}};
        change_tuple_t t = {3, v};
        change_row_t ch = {.op = CHANGE_INSERT, .rel = &rel, .new_tuple = &t};
        event_txn_t txn = {0};
        assert_null(event_oracle_build(&ch, NULL, &txn, "shop", err, sizeof(err)));
        event_json_t j = {0};
        assert_int_equal(event_json_write(&j, &ch, NULL, &txn, "shop", err, sizeof(err)), -1);
        assert_non_null(strstr(err, "column \"note\": value is not valid UTF-8"));
        event_avro_msg_t m = {0};
        err[0] = '\0';
        assert_int_equal(
            event_avro_write(&m, event_codec_avro(avro), &ch, NULL, &txn, "shop", err, sizeof(err)),
            -1);
        assert_non_null(strstr(err, "column \"note\": value is not valid UTF-8"));
    }
    /* names: the configuration's, and a relation's (checked with its writer schema) */
    change_column_t badcols[] = {{.name = "ok", .type_oid = 25}, {.name = "n\xff", .type_oid = 25}};
    change_relation_t badrel = {.nspname = "public", .relname = "t", .ncols = 2, .cols = badcols};
    change_value_t bv[2] = {text("1"), text("2")};
    change_tuple_t bt = {2, bv};
    change_row_t bch = {.op = CHANGE_INSERT, .rel = &badrel, .new_tuple = &bt};
    event_txn_t btxn = {0};
    event_avro_msg_t m = {0};
    assert_int_equal(
        event_avro_write(&m, event_codec_avro(avro), &bch, NULL, &btxn, "shop", err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "name \"n\xff\" is not valid UTF-8"));
    bch.rel = &rel;
    assert_int_equal(
        event_avro_write(&m, event_codec_avro(avro), &bch, NULL, &btxn, "sh\xc3", err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "name \"sh\xc3\" is not valid UTF-8"));
    event_codec_free(avro);
    event_codec_free(codec);
}

/* Shapes the fast reader leaves to jansson: other member orders, extra
 * members, duplicate image keys, numbers that are not plain integers,
 * escapes jansson refuses, trailing bytes, Debezium messages. */
static void test_json_reader_leaves(void **state)
{
    (void)state;
    const char *head = "{\"before\":null,\"after\":{\"id\":\"1\"%s},\"source\":{\"version\":\"x\","
                       "\"connector\":\"postgresql\",\"name\":\"n\",\"schema\":\"public\","
                       "\"table\":\"t\",\"txId\":1,\"lsn\":16,\"ts_ms\":%s,\"commit_lsn\":\"%s\","
                       "\"end_lsn\":null,\"xid\":1,\"seq\":0,\"last\":false},\"op\":\"c\","
                       "\"ts_ms\":0,\"syncline\":{\"relid\":5,\"replident\":\"d\",\"old\":null,"
                       "\"unchanged\":[],\"columns\":[{\"name\":\"id\",\"type\":23,\"typmod\":-1,"
                       "\"key\":true}],\"truncate\":%s}}%s";
    struct {
        const char *extra, *ts, *lsn, *trunc, *tail;
        int fast;
    } cases[] = {
        {"", "0", "0/10", "null", "", 1},
        {"", "0", "0/10", "null", " \n", 1},
        {",\"id\":\"2\"", "0", "0/10", "null", "", 0}, /* duplicate key: jansson keeps the last */
        {",\"other\":\"2\"", "0", "0/10", "null", "", 0}, /* not a column */
        {"", "1.5", "0/10", "null", "", 0},
        {"", "01", "0/10", "null", "", 0},
        {"", "99999999999999999999", "0/10", "null", "", 0},
        {"", "0", "nope", "null", "", 0},
        {"", "0", "0/10", "{\"options\":0,\"n\":1,\"i\":1}", "", 0},
        {"", "0", "0/10", "{\"options\":0,\"n\":2,\"i\":1}", "", 1},
        {"", "0", "0/10", "null", "x", 0},
        {",\"x\":\"\\u0000\"", "0", "0/10", "null", "", 0},
        {",\"x\":\"\\ud800\"", "0", "0/10", "null", "", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char doc[2048];
        snprintf(doc, sizeof(doc), head, cases[i].extra, cases[i].ts, cases[i].lsn, cases[i].trunc,
                 cases[i].tail);
        assert_readers_agree(doc, strlen(doc), cases[i].fast);
    }
    const char *debezium =
        "{\"before\":null,\"after\":{\"id\":1},\"source\":{\"schema\":\"public\","
        "\"table\":\"t\"},\"op\":\"c\",\"ts_ms\":0}";
    assert_readers_agree(debezium, strlen(debezium), 0);
    const char *surrogates =
        "{\"before\":null,\"after\":{\"id\":\"\\ud83d\\ude00\\u00e9\\n\"},"
        "\"source\":{\"version\":\"x\",\"connector\":\"postgresql\",\"name\":\"n\","
        "\"schema\":\"public\",\"table\":\"t\",\"txId\":1,\"lsn\":16,\"ts_ms\":-3,"
        "\"commit_lsn\":\"0/10\",\"end_lsn\":\"0/20\",\"xid\":1,\"seq\":0,"
        "\"last\":true},\"op\":\"c\",\"ts_ms\":0,\"syncline\":{\"relid\":5,"
        "\"replident\":\"d\",\"old\":null,\"unchanged\":[\"id\"],\"columns\":"
        "[{\"name\":\"id\",\"type\":23,\"typmod\":-1,\"key\":true}],"
        "\"truncate\":null}}";
    assert_readers_agree(surrogates, strlen(surrogates), 1);
}

static void test_key(void **state)
{
    (void)state;
    change_value_t v[3] = {text("42"), text("x"), {.kind = CHANGE_NULL}};
    change_tuple_t t = {3, v};
    change_row_t ch = {.op = CHANGE_INSERT, .rel = &rel, .new_tuple = &t};
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

static event_avro_writer_t *writer_of(event_codec_t *codec, const change_row_t *ch)
{
    char err[256];
    event_txn_t txn = {.xid = 1, .commit_lsn = 10};
    json_t *env = event_oracle_build(ch, NULL, &txn, "shop", err, sizeof(err));
    assert_non_null(env);
    event_avro_writer_t *w = event_oracle_writer(codec, env, err, sizeof(err));
    if (w == NULL)
        fail_msg("writer: %s", err);
    json_decref(env);
    return w;
}

static void assert_decode(event_codec_t *codec, const char *msg, size_t len, int rc,
                          const char *why)
{
    char err[256];
    event_t ev;
    err[0] = '\0';
    assert_int_equal(event_decode(codec, msg, len, NULL, 0, &ev, err, sizeof(err)), rc);
    if (strstr(err, why) == NULL)
        fail_msg("expected [%s] in [%s]", why, err);
}

static void assert_poison(event_format_t fmt, const char *msg, size_t len, const char *why)
{
    char err[256];
    event_codec_t *codec = event_codec_new(fmt, err, sizeof(err));
    assert_decode(codec, msg, len, EVENT_DECODE_POISON, why);
    event_codec_free(codec);
}

/* A JsonConverter message with a date column d: d_schema is the row
 * struct's field schema of d, sep whitespace inside the schema's text. */
static char *dbz_dated(const char *d_schema, const char *sep, int days)
{
    static const char fmt[] =
        "{\"schema\":{%s\"type\":\"struct\",\"fields\":[{\"type\":\"struct\",\"field\":"
        "\"after\",\"fields\":[{\"type\":\"int32\",\"field\":\"id\"},%s]}]},"
        "\"payload\":{\"before\":null,\"after\":{\"id\":1,\"d\":%d},\"source\":"
        "{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"c\"}}";
    char *out = malloc(1024);
    snprintf(out, 1024, fmt, sep, d_schema, days);
    return out;
}

/* The decoded text of column d of msg (malloc'd), or the decode error. */
static char *dbz_d(event_codec_t *codec, const char *msg)
{
    char err[256];
    event_t ev;
    static const char key[] = "{\"schema\": {}, \"payload\": {\"id\": 1}}";
    if (event_decode(codec, msg, strlen(msg), key, strlen(key), &ev, err, sizeof(err)) != 0)
        return strdup(err);
    assert_true(ev.rel->cols[0].is_key);
    assert_false(ev.rel->cols[1].is_key);
    const change_value_t *v = &ev.new_tuple.values[1];
    char *out = strndup(v->data, v->len);
    event_clear(&ev);
    return out;
}

/* Each distinct JsonConverter schema text is parsed once, and a message is
 * read by its own schema text, never by another message's. */
static void test_debezium_schema_once(void **state)
{
    (void)state;
    static const char date[] = "{\"type\":\"int32\",\"name\":\"io.debezium.time.Date\","
                               "\"field\":\"d\"}";
    static const char plain[] = "{\"type\":\"int32\",\"field\":\"d\"}";
    char err[256];
    event_codec_t *codec = event_codec_new(EVENT_FORMAT_JSON, err, sizeof(err));
    char *a = dbz_dated(date, "", 19782), *b = dbz_dated(date, "", 0);
    char *c = dbz_dated(plain, "", 19782), *d = dbz_dated(date, " ", 19782);
    struct {
        const char *msg, *want;
        unsigned long long parses;
    } steps[] = {{a, "2024-02-29", 1}, {b, "1970-01-01", 1}, {c, "19782", 2},
                 {a, "2024-02-29", 2}, {d, "2024-02-29", 3}, {c, "19782", 3}};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        char *got = dbz_d(codec, steps[i].msg);
        if (strcmp(got, steps[i].want) != 0)
            fail_msg("step %zu: d is [%s], want [%s]", i, got, steps[i].want);
        free(got);
        assert_int_equal(event_codec_schema_parses(codec), steps[i].parses);
    }
    /* a valid envelope whose payload is not JSON is refused in the parser's words */
    static const char bad[] = "{\"schema\": {}, \"payload\": {\"op\": c}}";
    assert_decode(codec, bad, strlen(bad), EVENT_DECODE_POISON, "not JSON");
    /* a schema that is not JSON: the same */
    static const char bad2[] = "{\"schema\": {\"a\": x}, \"payload\": {\"op\": \"c\"}}";
    assert_decode(codec, bad2, strlen(bad2), EVENT_DECODE_POISON, "not JSON");
    /* more distinct schema texts than the codec keeps: still each read by its own */
    for (int i = 0; i < 70; i++) {
        char sep[80];
        snprintf(sep, sizeof(sep), "%*s", i + 2, "");
        char *m = dbz_dated(i % 2 ? plain : date, sep, 19782), *got = dbz_d(codec, m);
        assert_string_equal(got, i % 2 ? "19782" : "2024-02-29");
        free(got);
        free(m);
    }
    free(a);
    free(b);
    free(c);
    free(d);
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
    assert_poison(EVENT_FORMAT_AVRO, "garbage", 7, "nor framed Avro");
    assert_poison(EVENT_FORMAT_AVRO, "\xC3\x01\1\2", 4, "nor the Confluent wire format");
    /* a known writer schema (the relation's) with a truncated datum */
    char err[256];
    event_codec_t *codec = event_codec_new(EVENT_FORMAT_AVRO, err, sizeof(err));
    uint64_t fp = event_avro_writer_fingerprint(
        writer_of(codec, &(change_row_t){.op = CHANGE_TRUNCATE, .rel = &rel}));
    char buf[12] = {(char)0xC3, 1};
    for (int i = 0; i < 8; i++)
        buf[2 + i] = (char)(fp >> (8 * i));
    buf[10] = 2;
    buf[11] = 'c';
    assert_decode(codec, buf, sizeof(buf), EVENT_DECODE_POISON, "does not decode");
    /* fuzz_event_avro: a negative string length made avro-c allocate (size_t)-51 bytes */
    buf[10] = 0x67; /* zigzag -52 */
    assert_decode(codec, buf, sizeof(buf), EVENT_DECODE_POISON, "does not fit");
    event_codec_free(codec);
}

/* The Confluent wire format: 0x00, a 4-byte big-endian schema id, the datum. */
static void test_poison_confluent(void **state)
{
    (void)state;
    char err[256];
    event_codec_t *codec = event_codec_new(EVENT_FORMAT_AVRO_CONFLUENT, err, sizeof(err));
    assert_decode(codec, "\0\0\0", 3, EVENT_DECODE_POISON, "less than its header");
    assert_decode(codec, "\0", 1, EVENT_DECODE_POISON, "less than its header");
    assert_decode(codec, "\0\0\0\1\2\2c", 7, EVENT_DECODE_UNKNOWN_SCHEMA, "schema id 258");
    event_avro_ref_t ref = event_codec_missing(codec);
    assert_true(ref.by_id);
    assert_int_equal(ref.id, 258);
    event_avro_writer_t *w = writer_of(codec, &(change_row_t){.op = CHANGE_TRUNCATE, .rel = &rel});
    event_avro_writer_set_published(w, 258);
    assert_decode(codec, "\0\0\0\1\2\2c", 7, EVENT_DECODE_POISON, "does not decode");
    assert_decode(codec, "\0\0\0\1\2\x67", 6, EVENT_DECODE_POISON, "does not fit");
    /* not registered yet: the encoder refuses rather than write id -1 */
    change_column_t c2[] = {{.name = "only", .type_oid = 23, .typmod = -1, .is_key = true}};
    change_relation_t r2 = {.relid = 2, .nspname = "s", .relname = "u", .ncols = 1, .cols = c2};
    event_txn_t txn = {.commit_lsn = 1};
    json_t *env = event_oracle_build(&(change_row_t){.op = CHANGE_TRUNCATE, .rel = &r2}, NULL, &txn,
                                     "shop", err, sizeof(err));
    char *out;
    size_t len;
    assert_int_equal(event_oracle_encode(codec, env, &out, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no Schema Registry id"));
    json_decref(env);
    event_codec_free(codec);
}

/* A v0 envelope, then a map block count of 2^33 in 8 bytes. */
static void test_poison_avro_count(void **state)
{
    (void)state;
    char err[256];
    event_codec_t *codec = event_codec_new(EVENT_FORMAT_AVRO, err, sizeof(err));
    uint64_t fp = event_schema_fingerprint(event_oracle_v0_schema);
    event_avro_ref_t ref = {.fingerprint = fp};
    assert_int_equal(event_codec_add_schema(codec, event_oracle_v0_schema,
                                            strlen(event_oracle_v0_schema), &ref, err, sizeof(err)),
                     0);
    char buf[18] = {(char)0xC3, 1,          [10] = 2,   'c',        2,
                    (char)0x80, (char)0x80, (char)0x80, (char)0x80, 0x40};
    for (int i = 0; i < 8; i++)
        buf[2 + i] = (char)(fp >> (8 * i));
    assert_decode(codec, buf, sizeof(buf), EVENT_DECODE_POISON, "does not fit");
    event_codec_free(codec);
}

/* fuzz_event_avro: ts_ms * 1000 overflowed int64 (UBSan: signed integer overflow). */
static void test_poison_ts_ms(void **state)
{
    (void)state;
    change_value_t newv[3] = {text("1"), {.kind = CHANGE_NULL}, {.kind = CHANGE_NULL}};
    change_tuple_t newt = {3, newv};
    change_row_t ch = {.op = CHANGE_INSERT, .rel = &rel, .new_tuple = &newt};
    event_txn_t txn = {.xid = 1, .commit_lsn = 0x100, .commit_time = 1};
    char err[256], *msg;
    size_t len;
    static const json_int_t bad[] = {INT64_MAX / 100, INT64_MIN / 100};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int fmt = EVENT_FORMAT_JSON; fmt <= EVENT_FORMAT_AVRO; fmt++) {
            event_codec_t *codec = event_codec_new((event_format_t)fmt, err, sizeof(err));
            json_t *env = event_oracle_build(&ch, NULL, &txn, "shop", err, sizeof(err));
            assert_non_null(env);
            json_object_set_new(json_object_get(env, "source"), "ts_ms", json_integer(bad[i]));
            assert_int_equal(event_oracle_encode(codec, env, &msg, &len, err, sizeof(err)), 0);
            event_t ev;
            assert_int_equal(event_decode(codec, msg, len, NULL, 0, &ev, err, sizeof(err)), -1);
            assert_non_null(strstr(err, "ts_ms is out of range"));
            free(msg);
            json_decref(env);
            event_codec_free(codec);
        }
    }
}

/* ---- typed Avro values ---------------------------------------------------- */

static change_column_t tcols[] = {
    {.name = "id", .type_oid = 20, .typmod = -1, .is_key = true},
    {.name = "b", .type_oid = 16, .typmod = -1},
    {.name = "s", .type_oid = 21, .typmod = -1},
    {.name = "i", .type_oid = 23, .typmod = -1},
    {.name = "f4", .type_oid = 700, .typmod = -1},
    {.name = "f8", .type_oid = 701, .typmod = -1},
    {.name = "raw", .type_oid = 17, .typmod = -1},
    {.name = "n", .type_oid = 1700, .typmod = 655366},
    {.name = "Größe \"x\"", .type_oid = 25, .typmod = -1},
    {.name = "j", .type_oid = 3802, .typmod = -1},
};
#define NT (int)(sizeof(tcols) / sizeof(tcols[0]))
static change_relation_t trel = {.relid = 16390,
                                 .nspname = "my schema",
                                 .relname = "typed",
                                 .replident = 'f',
                                 .ncols = NT,
                                 .cols = tcols};

/* Encodes row values with fmt (Confluent: registered as id 42), decodes them
 * back with a codec that first learns the schema it lacks; each decoded
 * value's text must be expect[i] (NULL: SQL NULL, "u": unchanged). */
static void typed_round_trip(event_format_t fmt, const char *const *vals, const char *const *expect)
{
    change_value_t v[NT];
    for (int c = 0; c < NT; c++) {
        if (vals[c] == NULL)
            v[c] = (change_value_t){.kind = CHANGE_NULL};
        else if (strcmp(vals[c], "u") == 0)
            v[c] = (change_value_t){.kind = CHANGE_UNCHANGED};
        else
            v[c] = text(vals[c]);
    }
    change_tuple_t t = {NT, v};
    change_row_t ch = {
        .op = CHANGE_UPDATE, .rel = &trel, .old_kind = 'O', .old_tuple = &t, .new_tuple = &t};
    event_txn_t txn = {.xid = 9, .commit_lsn = 0x100, .seq = 0};
    char err[256], *buf;
    size_t len;
    event_codec_t *enc = event_codec_new(fmt, err, sizeof(err));
    json_t *env = event_oracle_build(&ch, NULL, &txn, "shop", err, sizeof(err));
    assert_non_null(env);
    event_avro_writer_t *w = event_oracle_writer(enc, env, err, sizeof(err));
    assert_non_null(w);
    assert_string_equal(event_avro_writer_name(w), "syncline.my_schema_cc4df00a.typed.Envelope");
    event_avro_writer_set_published(w, 42);
    if (event_oracle_encode(enc, env, &buf, &len, err, sizeof(err)) != 0)
        fail_msg("encode: %s", err);
    assert_int_equal((uint8_t)buf[0], fmt == EVENT_FORMAT_AVRO ? 0xC3 : 0x00);
    if (fmt == EVENT_FORMAT_AVRO_CONFLUENT)
        assert_memory_equal(buf, "\0\0\0\0\x2a", 5);
    assert_avro_writer_same(enc, &ch, NULL, &txn, buf, len);
    txn.last = true;
    txn.end_lsn = 0x1234567890ull;
    char *last;
    size_t last_len;
    assert_int_equal(event_oracle_mark_last(env, txn.end_lsn), 0);
    assert_int_equal(event_oracle_encode(enc, env, &last, &last_len, err, sizeof(err)), 0);
    assert_avro_writer_same(enc, &ch, NULL, &txn, last, last_len);
    event_avro_ref_t wref = {.by_id = fmt == EVENT_FORMAT_AVRO_CONFLUENT,
                             .id = 42,
                             .fingerprint = event_avro_writer_fingerprint(w)};
    assert_avro_readers_agree(fmt, event_avro_writer_text(w), &wref, buf, len, 1);
    assert_avro_readers_agree(fmt, event_avro_writer_text(w), &wref, last, last_len, 1);
    free(last);
    /* a reader that does not know the schema yet */
    event_codec_t *dec = event_codec_new(EVENT_FORMAT_AVRO, err, sizeof(err));
    event_t ev;
    assert_int_equal(event_decode(dec, buf, len, NULL, 0, &ev, err, sizeof(err)),
                     EVENT_DECODE_UNKNOWN_SCHEMA);
    event_avro_ref_t ref = event_codec_missing(dec);
    assert_int_equal(ref.by_id, fmt == EVENT_FORMAT_AVRO_CONFLUENT);
    if (ref.by_id)
        assert_int_equal(ref.id, 42);
    else
        assert_true(ref.fingerprint == event_avro_writer_fingerprint(w));
    const char *schema = event_avro_writer_text(w);
    assert_int_equal(event_codec_add_schema(dec, schema, strlen(schema), &ref, err, sizeof(err)),
                     0);
    if (event_decode(dec, buf, len, NULL, 0, &ev, err, sizeof(err)) != 0)
        fail_msg("decode: %s", err);
    assert_true(event_relation_equal(ev.rel, &trel));
    assert_true(ev.has_old && ev.has_new);
    for (int c = 0; c < NT; c++) {
        const change_value_t *nv = &ev.new_tuple.values[c];
        if (expect[c] == NULL) {
            assert_int_equal(nv->kind, CHANGE_NULL);
        } else if (strcmp(expect[c], "u") == 0) {
            assert_int_equal(nv->kind, CHANGE_UNCHANGED);
        } else {
            if (nv->kind != CHANGE_TEXT || nv->len != strlen(expect[c]) ||
                memcmp(nv->data, expect[c], nv->len) != 0)
                fail_msg("column %s: got [%.*s] (kind %c), want [%s]", tcols[c].name, (int)nv->len,
                         nv->data ? nv->data : "", nv->kind, expect[c]);
            assert_int_equal(ev.old_tuple.values[c].kind, CHANGE_TEXT);
        }
    }
    event_clear(&ev);
    json_decref(env);
    free(buf);
    event_codec_free(enc);
    event_codec_free(dec);
}

static void test_typed_values(void **state)
{
    (void)state;
    static const char *const rows[][NT] = {
        {"1", "t", "-32768", "2147483647", "0.1", "0.1", "\\x00ff10", "4.00", "it's \"q\" ü",
         "{\"a\": 1}"},
        {"-9223372036854775808", "f", "32767", "-2147483648", "NaN", "Infinity", "\\x", "NaN",
         EVENT_UNAVAILABLE, "[]"},
        {"9223372036854775807", NULL, NULL, NULL, "-Infinity", "-Infinity", NULL, NULL, NULL, NULL},
        {"2", "t", "0", "0", "-0", "-0", "\\xdeadbeef", "1e400", "", "null"},
        {"3", "f", "1", "-1", "1e-45", "5e-324", "\\x41", "-0.5", "x", "1"},
        {"4", "t", "7", "8", "3.4028235e+38", "1.7976931348623157e+308", "\\x00", "0", "y", "2"},
        {"5", "t", "7", "8", "100", "123456789012345.6", "\\x01", "0", "y", "2"},
        {"6", "t", "7", "8", "1e+06", "1e+15", "\\x01", "0", "y", "2"},
        {"7", "t", "7", "8", "0.0001", "1e-05", "\\x01", "0", "y", "2"},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        typed_round_trip(EVENT_FORMAT_AVRO, rows[r], rows[r]);
        typed_round_trip(EVENT_FORMAT_AVRO_CONFLUENT, rows[r], rows[r]);
    }
    /* unchanged TOAST values (text and bytea) are null in the datum and come back unchanged */
    static const char *const toast[NT] = {"8", "t", "1", "2", "3", "4", "u", "5", "u", "u"};
    typed_round_trip(EVENT_FORMAT_AVRO, toast, toast);
    typed_round_trip(EVENT_FORMAT_AVRO_CONFLUENT, toast, toast);
}

/* A value that does not fit its column's Avro type stops the encoder, naming it. */
static void test_typed_misfit(void **state)
{
    (void)state;
    static const char *const bad[][2] = {{"i", "12x"},   {"s", "99999999999"}, {"b", "yes"},
                                         {"raw", "abc"}, {"raw", "\\x0"},      {"f8", "1.5e"},
                                         {"id", ""}};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        change_value_t v[NT];
        for (int c = 0; c < NT; c++)
            v[c] = strcmp(tcols[c].name, bad[k][0]) == 0 ? text(bad[k][1])
                                                         : (change_value_t){.kind = CHANGE_NULL};
        change_tuple_t t = {NT, v};
        change_row_t ch = {.op = CHANGE_INSERT, .rel = &trel, .new_tuple = &t};
        event_txn_t txn = {.commit_lsn = 1};
        char err[256], *buf = NULL, want[128];
        size_t len;
        event_codec_t *codec = event_codec_new(EVENT_FORMAT_AVRO, err, sizeof(err));
        json_t *env = event_oracle_build(&ch, NULL, &txn, "shop", err, sizeof(err));
        assert_int_equal(event_oracle_encode(codec, env, &buf, &len, err, sizeof(err)), -1);
        snprintf(want, sizeof(want), "table my schema.typed column \"%s\"", bad[k][0]);
        if (strstr(err, want) == NULL)
            fail_msg("expected [%s] in [%s]", want, err);
        char direct[256];
        event_avro_msg_t m = {0};
        assert_int_equal(event_avro_write(&m, event_codec_avro(codec), &ch, NULL, &txn, "shop",
                                          direct, sizeof(direct)),
                         -1);
        assert_string_equal(direct, err);
        assert_null(m.body.s);
        json_decref(env);
        event_codec_free(codec);
    }
}

/* What the direct Avro reader leaves to the generic path: a boolean byte
 * other than 0 and 1, trailing bytes, a truncated datum, a long varint in
 * eleven bytes; and a writer schema of another layout (the v0 envelope). */
static void test_avro_direct_leaves(void **state)
{
    (void)state;
    char err[256];
    event_codec_t *codec = event_codec_new(EVENT_FORMAT_AVRO, err, sizeof(err));
    change_value_t v[3] = {text("5"), text("note"), {.kind = CHANGE_NULL}};
    change_tuple_t t = {3, v};
    change_row_t ch = {.op = CHANGE_INSERT, .rel = &rel, .new_tuple = &t};
    event_txn_t txn = {.xid = 3, .commit_lsn = 0x40};
    event_avro_msg_t m = {0};
    assert_int_equal(
        event_avro_write(&m, event_codec_avro(codec), &ch, NULL, &txn, "shop", err, sizeof(err)),
        0);
    size_t last_at = m.last_at, len;
    event_avro_writer_t *w = m.writer;
    event_avro_ref_t ref = {.fingerprint = event_avro_writer_fingerprint(w)};
    const char *schema = event_avro_writer_text(w);
    char *buf = event_avro_write_take(&m, event_codec_avro(codec), 0, &len, err, sizeof(err));
    assert_non_null(buf);
    char *odd = malloc(len + 12);
    assert_avro_readers_agree(EVENT_FORMAT_AVRO, schema, &ref, buf, len, 1);
    memcpy(odd, buf, len);
    odd[last_at] = 2;
    assert_avro_readers_agree(EVENT_FORMAT_AVRO, schema, &ref, odd, len, 0);
    memcpy(odd, buf, len);
    odd[len] = 0;
    assert_avro_readers_agree(EVENT_FORMAT_AVRO, schema, &ref, odd, len + 1, 0);
    assert_avro_readers_agree(EVENT_FORMAT_AVRO, schema, &ref, buf, len - 1, 0);
    /* source.xid (the varint before seq) in eleven bytes */
    size_t xid_at = last_at - 2; /* seq 0 is one byte, xid 3 is one byte */
    memcpy(odd, buf, xid_at);
    memset(odd + xid_at, 0x80, 10);
    odd[xid_at + 10] = 0;
    memcpy(odd + xid_at + 11, buf + xid_at + 1, len - xid_at - 1);
    assert_avro_readers_agree(EVENT_FORMAT_AVRO, schema, &ref, odd, len + 10, 0);
    free(odd);
    free(buf);
    /* the v0 envelope's schema has no plan */
    event_avro_ref_t v0 = {.fingerprint = event_schema_fingerprint(event_oracle_v0_schema)};
    char head[11] = {(char)0xC3, 1, [10] = 0};
    for (int i = 0; i < 8; i++)
        head[2 + i] = (char)(v0.fingerprint >> (8 * i));
    assert_avro_readers_agree(EVENT_FORMAT_AVRO, event_oracle_v0_schema, &v0, head, sizeof(head),
                              0);
    event_codec_free(codec);
}

/* A relation change is a new writer schema; a reader that knows both reads both. */
static void test_relation_versions(void **state)
{
    (void)state;
    char err[256];
    event_codec_t *codec = event_codec_new(EVENT_FORMAT_AVRO, err, sizeof(err));
    change_row_t ch = {.op = CHANGE_TRUNCATE, .rel = &rel};
    event_avro_writer_t *w1 = writer_of(codec, &ch);
    assert_ptr_equal(writer_of(codec, &ch), w1); /* kept */
    change_column_t c2[4] = {
        cols[0], cols[1], cols[2], {.name = "added", .type_oid = 20, .typmod = -1}};
    change_relation_t rel2 = rel;
    rel2.cols = c2;
    rel2.ncols = 4;
    change_row_t ch2 = ch;
    ch2.rel = &rel2;
    event_avro_writer_t *w2 = writer_of(codec, &ch2);
    assert_ptr_not_equal(w1, w2);
    assert_true(event_avro_writer_fingerprint(w1) != event_avro_writer_fingerprint(w2));
    assert_string_equal(event_avro_writer_name(w1), event_avro_writer_name(w2));
    /* a typmod change maps to the same Avro types: same schema */
    c2[3].typmod = 7;
    assert_ptr_equal(writer_of(codec, &ch2), w2);
    /* so does int4 -> int2; int4 -> int8 does not */
    c2[0].type_oid = 21;
    assert_ptr_equal(writer_of(codec, &ch2), w2);
    c2[0].type_oid = 20;
    assert_ptr_not_equal(writer_of(codec, &ch2), w2);
    /* both versions decode */
    change_value_t v1[3] = {text("1"), text("a"), {.kind = CHANGE_NULL}};
    change_value_t v2[4] = {text("2"), text("b"), {.kind = CHANGE_NULL}, text("77")};
    change_tuple_t t1 = {3, v1}, t2 = {4, v2};
    change_row_t i1 = {.op = CHANGE_INSERT, .rel = &rel, .new_tuple = &t1};
    change_row_t i2 = {.op = CHANGE_INSERT, .rel = &rel2, .new_tuple = &t2};
    event_t ev;
    round_trip(EVENT_FORMAT_AVRO, &i1, NULL, &(event_txn_t){.commit_lsn = 1}, &ev);
    assert_int_equal(ev.rel->ncols, 3);
    event_clear(&ev);
    round_trip(EVENT_FORMAT_AVRO, &i2, NULL, &(event_txn_t){.commit_lsn = 2}, &ev);
    assert_int_equal(ev.rel->ncols, 4);
    assert_value(&ev.new_tuple.values[3], CHANGE_TEXT, "77");
    event_clear(&ev);
    event_codec_free(codec);
}

/* The schema topic names a schema by the fingerprint of its canonical form. */
static void test_add_schema(void **state)
{
    (void)state;
    char err[256];
    event_codec_t *codec = event_codec_new(EVENT_FORMAT_AVRO, err, sizeof(err));
    event_avro_ref_t ref = {.fingerprint = 1};
    assert_int_equal(event_codec_add_schema(codec, event_oracle_v0_schema,
                                            strlen(event_oracle_v0_schema), &ref, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "has fingerprint"));
    assert_int_equal(event_codec_add_schema(codec, "{", 1, &ref, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not JSON"));
    static const char notavro[] = "{\"type\": \"record\", \"name\": \"x\", \"fields\": 1}";
    assert_int_equal(
        event_codec_add_schema(codec, notavro, strlen(notavro), &ref, err, sizeof(err)), -1);
    event_codec_free(codec);
    codec = event_codec_new(EVENT_FORMAT_JSON, err, sizeof(err));
    assert_int_equal(event_codec_add_schema(codec, event_oracle_v0_schema,
                                            strlen(event_oracle_v0_schema), &ref, err, sizeof(err)),
                     -1);
    event_codec_free(codec);
}

/* Topics written by syncline 0.1 (the fixed envelope, images as maps of
 * strings) still apply once its schema is known from the schema topic. */
static void test_v0_envelope(void **state)
{
    (void)state;
    char err[256], *buf;
    size_t len;
    event_avro_ref_t ref = {.fingerprint = event_schema_fingerprint(event_oracle_v0_schema)};
    event_avro_t *ea = event_avro_new(EVENT_AVRO_SINGLE_OBJECT, err, sizeof(err));
    event_avro_writer_t *w = event_avro_add(ea, event_oracle_v0_schema,
                                            strlen(event_oracle_v0_schema), &ref, err, sizeof(err));
    assert_non_null(w);
    change_value_t oldv[3] = {text("1"), {.kind = CHANGE_NULL}, {.kind = CHANGE_NULL}};
    change_value_t newv[3] = {text("2"), text("x"), {.kind = CHANGE_UNCHANGED}};
    change_tuple_t oldt = {3, oldv}, newt = {3, newv};
    change_row_t ch = {
        .op = CHANGE_UPDATE, .rel = &rel, .old_kind = 'K', .old_tuple = &oldt, .new_tuple = &newt};
    event_txn_t txn = {.xid = 5, .commit_lsn = 0x20, .end_lsn = 0x30, .last = true};
    json_t *env = event_oracle_build(&ch, NULL, &txn, "shop", err, sizeof(err));
    assert_int_equal(event_oracle_mark_last(env, 0x30), 0);
    assert_int_equal(event_oracle_avro_encode(ea, w, env, &buf, &len, err, sizeof(err)), 0);
    event_codec_t *codec = event_codec_new(EVENT_FORMAT_AVRO, err, sizeof(err));
    assert_int_equal(event_codec_add_schema(codec, event_oracle_v0_schema,
                                            strlen(event_oracle_v0_schema), &ref, err, sizeof(err)),
                     0);
    event_t ev;
    if (event_decode(codec, buf, len, NULL, 0, &ev, err, sizeof(err)) != 0)
        fail_msg("decode: %s", err);
    assert_true(event_relation_equal(ev.rel, &rel));
    assert_value(&ev.old_tuple.values[0], CHANGE_TEXT, "1");
    assert_value(&ev.new_tuple.values[0], CHANGE_TEXT, "2");
    assert_value(&ev.new_tuple.values[1], CHANGE_TEXT, "x");
    assert_value(&ev.new_tuple.values[2], CHANGE_UNCHANGED, NULL);
    assert_true(ev.txn.last && ev.txn.end_lsn == 0x30);
    event_clear(&ev);
    free(buf);
    json_decref(env);
    event_codec_free(codec);
    event_avro_free(ea);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_json),
        cmocka_unit_test(test_update_avro),
        cmocka_unit_test(test_insert),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_binary_refused),
        cmocka_unit_test(test_json_writer),
        cmocka_unit_test(test_json_reader_leaves),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_debezium),
        cmocka_unit_test(test_debezium_schema_once),
        cmocka_unit_test(test_poison),
        cmocka_unit_test(test_poison_avro_count),
        cmocka_unit_test(test_poison_ts_ms),
        cmocka_unit_test(test_poison_confluent),
        cmocka_unit_test(test_typed_values),
        cmocka_unit_test(test_typed_misfit),
        cmocka_unit_test(test_avro_direct_leaves),
        cmocka_unit_test(test_relation_versions),
        cmocka_unit_test(test_add_schema),
        cmocka_unit_test(test_v0_envelope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
