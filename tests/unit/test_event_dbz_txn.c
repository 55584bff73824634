/*
 * Unit tests for event_dbz_txn: Debezium's BEGIN/END messages and the
 * transaction block of change events, with and without the JsonConverter's
 * schema wrapper; the transaction is known by its xid, since the PostgreSQL
 * connector's ids carry each event's own LSN.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "event/event_codec.h"
#include "event/event_dbz_txn.h"

static void test_end_with_schema(void **state)
{
    (void)state;
    const char *v =
        "{\"schema\": {\"type\": \"struct\"}, \"payload\": {\"status\": \"END\", \"id\": "
        "\"745:26674920\", \"event_count\": 4, \"data_collections\": "
        "[{\"data_collection\": \"public.a\", \"event_count\": 4}], \"ts_ms\": 1}}";
    event_dbz_txn_meta_t m;
    char why[256];
    assert_int_equal(event_dbz_txn_meta_read(v, strlen(v), &m, why, sizeof(why)), 0);
    assert_true(m.end);
    assert_string_equal(m.id, "745");
    assert_int_equal(m.event_count, 4);
    assert_int_equal(m.lsn, 26674920);
}

static void test_begin_plain_and_bad(void **state)
{
    (void)state;
    const char *v = "{\"status\": \"BEGIN\", \"id\": \"745:26673992\", \"event_count\": null}";
    event_dbz_txn_meta_t m;
    char why[256];
    assert_int_equal(event_dbz_txn_meta_read(v, strlen(v), &m, why, sizeof(why)), 0);
    assert_false(m.end);
    assert_string_equal(m.id, "745");
    const char *bad = "{\"status\": \"END\", \"id\": \"1:2\"}";
    assert_int_equal(event_dbz_txn_meta_read(bad, strlen(bad), &m, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "event_count"));
    assert_int_equal(event_dbz_txn_meta_read("nope", 4, &m, why, sizeof(why)), -1);
    assert_int_equal(event_dbz_txn_meta_read(NULL, 0, &m, why, sizeof(why)), -1);
}

static int decode_block(const char *txn, char *id, int64_t *order)
{
    char v[1024], why[256];
    snprintf(v, sizeof(v),
             "{\"schema\": {\"type\": \"struct\", \"fields\": []}, \"payload\": {\"before\": null, "
             "\"after\": {\"id\": 1}, \"source\": {\"schema\": \"public\", \"table\": \"a\"}, "
             "\"transaction\": %s, \"op\": \"c\", \"ts_ms\": 1}}",
             txn);
    const char *k = "{\"id\": 1}";
    event_codec_t *c = event_codec_new(EVENT_FORMAT_JSON, why, sizeof(why));
    event_t ev;
    assert_int_equal(event_decode(c, v, strlen(v), k, strlen(k), &ev, why, sizeof(why)), 0);
    int rc = event_dbz_txn_block(&ev, id, EVENT_DBZ_TXN_IDLEN, order, why, sizeof(why));
    event_clear(&ev);
    event_codec_free(c);
    return rc;
}

static void test_change_block(void **state)
{
    (void)state;
    char id[EVENT_DBZ_TXN_IDLEN];
    int64_t order = 0;
    assert_int_equal(
        decode_block("{\"id\": \"745:26674184\", \"total_order\": 2, \"data_collection_order\": 1}",
                     id, &order),
        1);
    assert_string_equal(id, "745");
    assert_int_equal(order, 2);
    assert_int_equal(decode_block("null", id, &order), 0);
    assert_int_equal(decode_block("{\"id\": \"7\"}", id, &order), -1);
}

/* The position of a change with this source block and total_order 3. */
static int decode_pos(const char *source, event_dbz_pos_t *pos)
{
    char v[1024], why[256];
    snprintf(v, sizeof(v),
             "{\"before\": null, \"after\": {\"id\": 1}, \"source\": %s, \"transaction\": "
             "{\"id\": \"9:1\", \"total_order\": 3}, \"op\": \"c\", \"ts_ms\": 1}",
             source);
    event_codec_t *c = event_codec_new(EVENT_FORMAT_JSON, why, sizeof(why));
    event_t ev;
    assert_int_equal(event_decode(c, v, strlen(v), NULL, 0, &ev, why, sizeof(why)), 0);
    int rc = event_dbz_txn_pos(&ev, 3, pos);
    event_clear(&ev);
    event_codec_free(c);
    return rc;
}

/* Debezium's: "sequence" [last commit, lsn]; the transaction is applied
 * when the commit before it is below the newest applied commit. */
static void test_position_debezium(void **state)
{
    (void)state;
    event_dbz_pos_t a, b;
    const char *s1 = "{\"schema\": \"public\", \"table\": \"a\", \"version\": \"3.6.1.Final\", "
                     "\"sequence\": \"[\\\"26371336\\\",\\\"26371424\\\"]\", \"lsn\": 26371424}";
    assert_int_equal(decode_pos(s1, &a), 1);
    assert_true(a.has_prev);
    assert_false(a.lsn_is_commit);
    assert_int_equal(a.prev_commit, 26371336);
    assert_int_equal(a.lsn, 26371424);
    assert_int_equal(a.order, 3);
    assert_false(event_dbz_pos_applied(&a, 26371336)); /* its predecessor is the newest applied */
    assert_true(event_dbz_pos_applied(&a, 26371720));  /* a later commit is applied */
    assert_false(event_dbz_pos_applied(&a, 0));
    b = a;
    assert_int_equal(event_dbz_pos_cmp(&a, &b), 0); /* a copy: not after the greatest seen */
    b.order = 4;
    assert_true(event_dbz_pos_cmp(&a, &b) < 0);
    b.lsn = 26371400; /* a later change of the same transaction sorts by lsn before order */
    assert_true(event_dbz_pos_cmp(&a, &b) > 0);
    b.prev_commit = 26371720; /* the next transaction */
    assert_true(event_dbz_pos_cmp(&a, &b) < 0);
    /* the connector's first events name no last commit: never taken as applied */
    const char *s2 = "{\"schema\": \"public\", \"table\": \"a\", \"sequence\": "
                     "\"[null,\\\"26371040\\\"]\", \"lsn\": 26371040}";
    assert_int_equal(decode_pos(s2, &b), 1);
    assert_false(b.has_prev);
    assert_false(event_dbz_pos_applied(&b, 99999999));
    assert_true(event_dbz_pos_cmp(&b, &a) < 0);
    /* no lsn: no position */
    assert_int_equal(decode_pos("{\"schema\": \"public\", \"table\": \"a\"}", &b), 0);
}

/* syncline's capture writes the commit LSN as lsn and no last commit. */
static void test_position_syncline(void **state)
{
    (void)state;
    event_dbz_pos_t a;
    const char *s = "{\"schema\": \"public\", \"table\": \"a\", \"version\": \"syncline-0.9\", "
                    "\"sequence\": \"[null,\\\"500\\\"]\", \"lsn\": 500}";
    assert_int_equal(decode_pos(s, &a), 1);
    assert_false(a.has_prev);
    assert_true(a.lsn_is_commit);
    assert_true(event_dbz_pos_applied(&a, 500));
    assert_false(event_dbz_pos_applied(&a, 499));
}

/* The last commit a change names by "sequence" seq (raw text, escaped into
 * the JSON string here): 1 with *prev set, 0 when unknown. */
static int prev_of(const char *seq, uint64_t *prev)
{
    char src[512], esc[256];
    size_t n = 0;
    for (const char *c = seq; *c != '\0' && n + 3 < sizeof(esc); c++) {
        const char *e = *c == '"'    ? "\\\""
                        : *c == '\\' ? "\\\\"
                        : *c == '\n' ? "\\n"
                        : *c == '\t' ? "\\t"
                        : *c == '\r' ? "\\r"
                                     : NULL;
        if (e != NULL) {
            memcpy(esc + n, e, 2);
            n += 2;
        } else {
            esc[n++] = *c;
        }
    }
    esc[n] = '\0';
    snprintf(src, sizeof(src),
             "{\"schema\": \"public\", \"table\": \"a\", \"sequence\": \"%s\", \"lsn\": 7}", esc);
    event_dbz_pos_t pos;
    assert_int_equal(decode_pos(src, &pos), 1);
    *prev = pos.prev_commit;
    return pos.has_prev;
}

/* "sequence": both forms Debezium writes, whitespace JSON allows. */
static void test_sequence_forms(void **state)
{
    (void)state;
    uint64_t prev;
    assert_int_equal(prev_of("[\"24023128\",\"24023128\"]", &prev), 1);
    assert_int_equal(prev, 24023128);
    assert_int_equal(prev_of("[null,\"24023128\"]", &prev), 0);
    assert_int_equal(prev, 0);
    assert_int_equal(prev_of(" \t\n[ \"26371336\" , \"26371424\" ]", &prev), 1);
    assert_int_equal(prev, 26371336);
    assert_int_equal(prev_of("[\r\nnull , \"1\"]", &prev), 0);
    assert_int_equal(prev_of("[\"18446744073709551615\",\"1\"]", &prev), 1); /* 2^64 - 1 */
    assert_true(prev == UINT64_MAX);
    assert_int_equal(prev_of("[\"0\",\"5\"]", &prev), 0); /* no commit before */
}

/* Anything else: the last commit is unknown. */
static void test_sequence_malformed(void **state)
{
    (void)state;
    uint64_t prev = 1;
    const char *bad[] = {
        "",                                 /* empty */
        "\"24023128\",\"24023128\"",        /* no bracket */
        "{\"a\": \"24023128\"}",            /* not an array */
        "[\"24023128,\"24023128\"]",        /* a comma inside the quotes */
        "[\"24023128",                      /* unterminated quote, string ends */
        "[\"2402x128\",\"24023128\"]",      /* non-digit */
        "[\"-24023128\",\"24023128\"]",     /* a sign */
        "[\" 24023128\",\"24023128\"]",     /* a space in the quotes */
        "[\"\",\"24023128\"]",              /* no digits */
        "[24023128,\"24023128\"]",          /* a number, not a string */
        "[nul,\"24023128\"]",               /* not null */
        "[]",                               /* no element */
        "[\"18446744073709551616\",\"1\"]", /* 2^64: past 64 bits */
        "[\"99999999999999999999999\",\"1\"]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        prev = 1;
        if (prev_of(bad[i], &prev) != 0 || prev != 0)
            fail_msg("sequence %s: prev_commit %llu taken", bad[i], (unsigned long long)prev);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_end_with_schema),    cmocka_unit_test(test_begin_plain_and_bad),
        cmocka_unit_test(test_change_block),       cmocka_unit_test(test_position_debezium),
        cmocka_unit_test(test_position_syncline),  cmocka_unit_test(test_sequence_forms),
        cmocka_unit_test(test_sequence_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
