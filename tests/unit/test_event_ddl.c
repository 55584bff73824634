/*
 * Unit tests for the DDL event of the syncline envelope (op "m"): written as
 * JSON and in both Avro framings, read back by every reader with the
 * message's content, its LSN and its transaction intact; marked last; a
 * logical message of another prefix and a malformed one are poison.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event/event.h"
#include "event/event_avro.h"
#include "event/event_avro_write.h"
#include "event/event_codec.h"
#include "event/event_json.h"
#include "event/event_schema.h"

/* A signed message as the event trigger writes it: quotes, a newline and
 * non-ASCII text in the statement on purpose. */
static const char content[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    "{\"tag\": \"ALTER TABLE\", \"query\": \"ALTER TABLE t\\n ADD COLUMN \\\"Größe\\\" text\", "
    "\"ordinal\": 1, \"search_path\": \"public\", \"xid\": \"771\", \"objects\": []}";

static const event_ddl_t ddl = {.content = content, .len = sizeof(content) - 1, .lsn = 0x16B3748};

static event_txn_t txn_of(void)
{
    event_txn_t t = {
        .xid = 771, .commit_lsn = 0x16B3800, .commit_time = 7654321000000, .seq = 3, .last = false};
    return t;
}

static void assert_ddl_event(const event_t *ev, bool last)
{
    assert_int_equal(ev->op, EVENT_MESSAGE);
    assert_null(ev->rel);
    assert_true(ev->has_txn);
    assert_int_equal(ev->txn.xid, 771);
    assert_true(ev->txn.commit_lsn == 0x16B3800);
    assert_int_equal(ev->txn.seq, 3);
    assert_true(ev->txn.commit_time == 7654321000000);
    assert_int_equal(ev->txn.last, last);
    assert_true(ev->txn.end_lsn == (last ? 0x16B3900ull : 0));
    assert_true(ev->ddl.lsn == 0x16B3748);
    assert_int_equal(ev->ddl.len, sizeof(content) - 1);
    assert_memory_equal(ev->ddl.content, content, ev->ddl.len);
}

static void test_json_round_trip(void **state)
{
    (void)state;
    char err[256];
    event_txn_t t = txn_of();
    for (int last = 0; last <= 1; last++) {
        event_json_t out = {0};
        assert_int_equal(event_json_write_ddl(&out, &ddl, &t, "shop", err, sizeof(err)), 0);
        size_t len;
        char *msg = event_json_take(&out, last ? 0x16B3900 : 0, &len);
        assert_non_null(msg);
        assert_non_null(strstr(msg, "\"op\":\"m\""));
        for (int tree = 0; tree <= 1; tree++) {
            event_codec_t *codec = event_codec_new(EVENT_FORMAT_JSON, err, sizeof(err));
            if (tree)
                event_codec_tree_only(codec);
            event_t ev;
            if (event_decode(codec, msg, len, NULL, 0, &ev, err, sizeof(err)) != 0)
                fail_msg("decode: %s", err);
            assert_ddl_event(&ev, last);
            event_clear(&ev);
            event_codec_free(codec);
        }
        free(msg);
    }
}

static void avro_round_trip(event_format_t fmt)
{
    char err[256];
    event_txn_t t = txn_of();
    event_codec_t *enc = event_codec_new(fmt, err, sizeof(err));
    assert_non_null(enc);
    for (int last = 0; last <= 1; last++) {
        event_avro_msg_t out = {0};
        assert_int_equal(
            event_avro_write_ddl(&out, event_codec_avro(enc), &ddl, &t, "shop", err, sizeof(err)),
            0);
        event_avro_writer_t *w = out.writer;
        assert_string_equal(event_avro_writer_name(w), "syncline.Ddl");
        event_avro_writer_set_published(w, 7);
        size_t len;
        char *msg = event_avro_write_take(&out, event_codec_avro(enc), last ? 0x16B3900 : 0, &len,
                                          err, sizeof(err));
        assert_non_null(msg);
        /* apply learns the schema as it learns a relation's: by fingerprint or id */
        event_codec_t *dec = event_codec_new(EVENT_FORMAT_AVRO, err, sizeof(err));
        event_t ev;
        assert_int_equal(event_decode(dec, msg, len, NULL, 0, &ev, err, sizeof(err)),
                         EVENT_DECODE_UNKNOWN_SCHEMA);
        event_avro_ref_t ref = event_codec_missing(dec);
        assert_int_equal(ref.by_id, fmt == EVENT_FORMAT_AVRO_CONFLUENT);
        const char *schema = event_avro_writer_text(w);
        assert_int_equal(
            event_codec_add_schema(dec, schema, strlen(schema), &ref, err, sizeof(err)), 0);
        if (event_decode(dec, msg, len, NULL, 0, &ev, err, sizeof(err)) != 0)
            fail_msg("decode: %s", err);
        assert_ddl_event(&ev, last);
        event_clear(&ev);
        event_codec_free(dec);
        free(msg);
    }
    event_codec_free(enc);
}

static void test_avro_single_object(void **state)
{
    (void)state;
    avro_round_trip(EVENT_FORMAT_AVRO);
}

static void test_avro_confluent(void **state)
{
    (void)state;
    avro_round_trip(EVENT_FORMAT_AVRO_CONFLUENT);
}

/* The published schema is one avro-c takes, with the envelope's Source. */
static void test_schema(void **state)
{
    (void)state;
    char err[256];
    char *canon =
        event_schema_canonical(event_schema_ddl, strlen(event_schema_ddl), err, sizeof(err));
    assert_non_null(canon);
    assert_non_null(strstr(canon, "\"name\":\"syncline.Source\""));
    assert_non_null(strstr(canon, "\"name\":\"syncline.Message\""));
    free(canon);
}

static void assert_poison(const char *msg, const char *why)
{
    char err[256];
    event_codec_t *codec = event_codec_new(EVENT_FORMAT_JSON, err, sizeof(err));
    event_t ev;
    assert_int_equal(event_decode(codec, msg, strlen(msg), NULL, 0, &ev, err, sizeof(err)),
                     EVENT_DECODE_POISON);
    if (strstr(err, why) == NULL)
        fail_msg("error [%s] lacks [%s]", err, why);
    event_codec_free(codec);
}

static void test_poison(void **state)
{
    (void)state;
    const char *src = "\"source\":{\"commit_lsn\":\"0/10\",\"seq\":0,\"last\":true,\"xid\":5,"
                      "\"ts_ms\":0}";
    char buf[512];
    /* Debezium's logical message of another prefix: not syncline's DDL */
    snprintf(buf, sizeof(buf),
             "{\"op\":\"m\",%s,\"message\":{\"prefix\":\"app\",\"content\":\"x\",\"lsn\":\"0/8\"}}",
             src);
    assert_poison(buf, "not syncline's DDL");
    snprintf(buf, sizeof(buf),
             "{\"op\":\"m\",%s,\"message\":{\"prefix\":\"syncline.ddl\",\"content\":\"x\"}}", src);
    assert_poison(buf, "message.lsn");
    assert_poison("{\"op\":\"m\",\"message\":{\"prefix\":\"syncline.ddl\",\"content\":\"x\","
                  "\"lsn\":\"0/8\"}}",
                  "source.commit_lsn");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_round_trip), cmocka_unit_test(test_avro_single_object),
        cmocka_unit_test(test_avro_confluent),  cmocka_unit_test(test_schema),
        cmocka_unit_test(test_poison),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
