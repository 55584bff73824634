/*
 * Unit tests for pgoutput (and the change model it fills): byte fixtures built
 * with a local big-endian writer, decoded without a server. Truncation at every
 * offset and single-byte mutations must yield an error, never a crash.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/change.h"
#include "core/lsn.h"
#include "core/pgoutput.h"
#include "support/pgoutput_build.h"

/* ---- fixture writer ---- */

typedef struct wbuf {
    char data[16384];
    size_t len;
} wbuf_t;

static void w_be(wbuf_t *w, uint64_t v, int n)
{
    assert_true(w->len + (size_t)n <= sizeof(w->data));
    for (int i = n - 1; i >= 0; i--) {
        w->data[w->len + (size_t)i] = (char)(v & 0xff);
        v >>= 8;
    }
    w->len += (size_t)n;
}

static void w_u8(wbuf_t *w, uint8_t v)
{
    w_be(w, v, 1);
}

static void w_i16(wbuf_t *w, int v)
{
    w_be(w, (uint16_t)v, 2);
}

static void w_u32(wbuf_t *w, uint32_t v)
{
    w_be(w, v, 4);
}

static void w_u64(wbuf_t *w, uint64_t v)
{
    w_be(w, v, 8);
}

static void w_raw(wbuf_t *w, const void *p, size_t n)
{
    assert_true(w->len + n <= sizeof(w->data));
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

static void w_str(wbuf_t *w, const char *s)
{
    w_raw(w, s, strlen(s) + 1);
}

static void w_text(wbuf_t *w, const char *s)
{
    w_u8(w, 't');
    w_u32(w, (uint32_t)strlen(s));
    w_raw(w, s, strlen(s));
}

static void w_binary(wbuf_t *w, const void *p, uint32_t n)
{
    w_u8(w, 'b');
    w_u32(w, n);
    w_raw(w, p, n);
}

/* ---- fixtures: one valid message of each kind ---- */

#define T_XID 0x01020304u
#define T_RELID 16384u
#define T_FINAL_LSN UINT64_C(0x16B374D848)
#define T_END_LSN UINT64_C(0x16B374D900)
#define T_TS INT64_C(756000000000000)

static void build_begin(wbuf_t *w)
{
    w_u8(w, 'B');
    w_u64(w, T_FINAL_LSN);
    w_u64(w, (uint64_t)T_TS);
    w_u32(w, T_XID);
}

static void build_commit(wbuf_t *w)
{
    w_u8(w, 'C');
    w_u8(w, 0);
    w_u64(w, T_FINAL_LSN);
    w_u64(w, T_END_LSN);
    w_u64(w, (uint64_t)T_TS);
}

static void build_origin(wbuf_t *w)
{
    w_u8(w, 'O');
    w_u64(w, UINT64_C(0xABCDEF));
    w_str(w, "pg_16390");
}

static void build_relation_ns(wbuf_t *w, const char *nsp)
{
    w_u8(w, 'R');
    w_u32(w, T_RELID);
    w_str(w, nsp);
    w_str(w, "users");
    w_u8(w, 'd');
    w_i16(w, 3);
    w_u8(w, 1);
    w_str(w, "id");
    w_u32(w, 23);
    w_u32(w, 0xFFFFFFFFu); /* typmod -1 */
    w_u8(w, 0);
    w_str(w, "name");
    w_u32(w, 1043);
    w_u32(w, 68);
    w_u8(w, 0);
    w_str(w, "");
    w_u32(w, 17);
    w_u32(w, 0xFFFFFFFFu);
}

static void build_relation(wbuf_t *w)
{
    build_relation_ns(w, "public");
}

static void build_type(wbuf_t *w)
{
    w_u8(w, 'Y');
    w_u32(w, 90001);
    w_str(w, "public");
    w_str(w, "mood");
}

/* Four columns: NULL, unchanged TOAST, text "alice", binary {0, 1, 2}. */
static void w_tuple4(wbuf_t *w)
{
    static const unsigned char bin[] = {0, 1, 2};

    w_i16(w, 4);
    w_u8(w, 'n');
    w_u8(w, 'u');
    w_text(w, "alice");
    w_binary(w, bin, sizeof(bin));
}

static void w_tuple_key(wbuf_t *w, const char *key)
{
    w_i16(w, 1);
    w_text(w, key);
}

static void build_insert(wbuf_t *w)
{
    w_u8(w, 'I');
    w_u32(w, T_RELID);
    w_u8(w, 'N');
    w_tuple4(w);
}

static void build_update_plain(wbuf_t *w)
{
    w_u8(w, 'U');
    w_u32(w, T_RELID);
    w_u8(w, 'N');
    w_tuple4(w);
}

static void build_update_key(wbuf_t *w)
{
    w_u8(w, 'U');
    w_u32(w, T_RELID);
    w_u8(w, 'K');
    w_tuple_key(w, "41");
    w_u8(w, 'N');
    w_tuple4(w);
}

static void build_update_old(wbuf_t *w)
{
    w_u8(w, 'U');
    w_u32(w, T_RELID);
    w_u8(w, 'O');
    w_i16(w, 2);
    w_text(w, "41");
    w_text(w, "bob");
    w_u8(w, 'N');
    w_tuple4(w);
}

static void build_delete_key(wbuf_t *w)
{
    w_u8(w, 'D');
    w_u32(w, T_RELID);
    w_u8(w, 'K');
    w_tuple_key(w, "42");
}

static void build_delete_old(wbuf_t *w)
{
    w_u8(w, 'D');
    w_u32(w, T_RELID);
    w_u8(w, 'O');
    w_tuple4(w);
}

static void build_truncate(wbuf_t *w)
{
    w_u8(w, 'T');
    w_u32(w, 3);
    w_u8(w, PGOUTPUT_TRUNCATE_CASCADE | PGOUTPUT_TRUNCATE_RESTART_IDENTITY);
    w_u32(w, 16384);
    w_u32(w, 16390);
    w_u32(w, 0xFFFFFFFFu);
}

static void build_message(wbuf_t *w)
{
    w_u8(w, 'M');
    w_u8(w, 1);
    w_u64(w, T_FINAL_LSN);
    w_str(w, "syncline");
    w_u32(w, 5);
    w_raw(w, "a\0b\0c", 5);
}

static void build_xlogdata(wbuf_t *w)
{
    w_u8(w, 'w');
    w_u64(w, T_FINAL_LSN);
    w_u64(w, T_END_LSN);
    w_u64(w, (uint64_t)T_TS);
    build_begin(w);
}

static void build_keepalive(wbuf_t *w)
{
    w_u8(w, 'k');
    w_u64(w, T_END_LSN);
    w_u64(w, (uint64_t)T_TS);
    w_u8(w, 1);
}

typedef struct fixture {
    const char *name; /* the message name errors must mention */
    void (*build)(wbuf_t *w);
} fixture_t;

static const fixture_t msg_fixtures[] = {
    {"Begin", build_begin},         {"Commit", build_commit},     {"Origin", build_origin},
    {"Relation", build_relation},   {"Type", build_type},         {"Insert", build_insert},
    {"Update", build_update_plain}, {"Update", build_update_key}, {"Update", build_update_old},
    {"Delete", build_delete_key},   {"Delete", build_delete_old}, {"Truncate", build_truncate},
    {"Message", build_message},
};

#define NFIXTURES (sizeof(msg_fixtures) / sizeof(msg_fixtures[0]))

/* ---- helpers ---- */

static char errbuf[256];

static pgoutput_err_t decode(const wbuf_t *w, pgoutput_msg_t *msg)
{
    errbuf[0] = '\0';
    return pgoutput_read_msg(w->data, w->len, msg, errbuf, sizeof(errbuf));
}

/* Decodes from an exact-size heap copy so ASan/valgrind see any over-read. */
static pgoutput_err_t decode_exact(const char *p, size_t len, pgoutput_msg_t *msg)
{
    char *copy = malloc(len > 0 ? len : 1);
    pgoutput_err_t err;

    assert_non_null(copy);
    memcpy(copy, p, len);
    errbuf[0] = '\0';
    err = pgoutput_read_msg(copy, len, msg, errbuf, sizeof(errbuf));
    free(copy);
    return err;
}

static void assert_err(pgoutput_err_t got, pgoutput_err_t want, const char *needle1,
                       const char *needle2)
{
    assert_int_equal(got, want);
    if (strstr(errbuf, needle1) == NULL || (needle2 && strstr(errbuf, needle2) == NULL))
        fail_msg("errbuf \"%s\" lacks \"%s\"/\"%s\"", errbuf, needle1, needle2 ? needle2 : "");
}

static void assert_value(const change_value_t *v, change_kind_t kind, const char *data,
                         uint32_t len)
{
    assert_int_equal(v->kind, kind);
    assert_int_equal(v->len, len);
    if (data != NULL)
        assert_memory_equal(v->data, data, len);
}

/* The four values written by w_tuple4, pointing into buf. */
static void assert_tuple4(const change_tuple_t *t, const wbuf_t *w)
{
    assert_int_equal(t->ncols, 4);
    assert_int_equal(t->values[0].kind, CHANGE_NULL);
    assert_int_equal(t->values[1].kind, CHANGE_UNCHANGED);
    assert_value(&t->values[2], CHANGE_TEXT, "alice", 5);
    assert_value(&t->values[3], CHANGE_BINARY, "\0\1\2", 3);
    assert_true(t->values[2].data > w->data && t->values[2].data < w->data + w->len);
    assert_true(t->values[3].data > w->data && t->values[3].data < w->data + w->len);
}

/* ---- one test per message kind ---- */

static void test_begin(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    build_begin(&w);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.kind, PGOUTPUT_BEGIN);
    assert_true(msg.u.begin.final_lsn == T_FINAL_LSN);
    assert_true(msg.u.begin.commit_time == T_TS);
    assert_int_equal(msg.u.begin.xid, T_XID);
    assert_null(msg.relation);
    pgoutput_msg_clear(&msg);
}

static void test_commit(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    build_commit(&w);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.kind, PGOUTPUT_COMMIT);
    assert_int_equal(msg.u.commit.flags, 0);
    assert_true(msg.u.commit.commit_lsn == T_FINAL_LSN);
    assert_true(msg.u.commit.end_lsn == T_END_LSN);
    assert_true(msg.u.commit.commit_time == T_TS);
    pgoutput_msg_clear(&msg);
}

static void test_negative_timestamp(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    w_u8(&w, 'B');
    w_u64(&w, 0);
    w_u64(&w, UINT64_MAX); /* -1 us: 1999-12-31 23:59:59.999999 */
    w_u32(&w, 0xFFFFFFFFu);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_true(msg.u.begin.commit_time == -1);
    assert_true(msg.u.begin.xid == 0xFFFFFFFFu);
    pgoutput_msg_clear(&msg);
}

static void test_origin(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    build_origin(&w);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.kind, PGOUTPUT_ORIGIN);
    assert_true(msg.u.origin.origin_lsn == UINT64_C(0xABCDEF));
    assert_string_equal(msg.u.origin.name, "pg_16390");
    assert_ptr_equal(msg.u.origin.name, w.data + 9); /* a view, not a copy */
    pgoutput_msg_clear(&msg);
}

static void test_origin_empty_name(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    w_u8(&w, 'O');
    w_u64(&w, 1);
    w_str(&w, "");
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_string_equal(msg.u.origin.name, "");
    pgoutput_msg_clear(&msg);
}

static void test_relation(void **state)
{
    pgoutput_msg_t msg = {0};
    change_relation_t *rel;
    wbuf_t w = {0};

    (void)state;
    build_relation(&w);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.kind, PGOUTPUT_RELATION);
    rel = msg.relation;
    msg.relation = NULL; /* take ownership */
    assert_non_null(rel);
    assert_int_equal(rel->relid, T_RELID);
    assert_string_equal(rel->nspname, "public");
    assert_string_equal(rel->relname, "users");
    assert_int_equal(rel->replident, 'd');
    assert_int_equal(rel->ncols, 3);
    assert_string_equal(rel->cols[0].name, "id");
    assert_true(rel->cols[0].is_key);
    assert_int_equal(rel->cols[0].type_oid, 23);
    assert_int_equal(rel->cols[0].typmod, -1);
    assert_string_equal(rel->cols[1].name, "name");
    assert_false(rel->cols[1].is_key);
    assert_int_equal(rel->cols[1].type_oid, 1043);
    assert_int_equal(rel->cols[1].typmod, 68);
    assert_string_equal(rel->cols[2].name, ""); /* empty strings survive */
    assert_int_equal(change_relation_find_column(rel, "name"), 1);
    assert_int_equal(change_relation_find_column(rel, ""), 2);
    assert_int_equal(change_relation_find_column(rel, "missing"), -1);
    pgoutput_msg_clear(&msg);
    change_relation_free(rel);
}

static void test_relation_pg_catalog(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    build_relation_ns(&w, "");
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_string_equal(msg.relation->nspname, "pg_catalog");
    pgoutput_msg_clear(&msg); /* frees the relation not taken */
    assert_null(msg.relation);
}

static void test_relation_no_columns(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    w_u8(&w, 'R');
    w_u32(&w, 1);
    w_str(&w, "s");
    w_str(&w, "");
    w_u8(&w, 'n');
    w_i16(&w, 0);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.relation->ncols, 0);
    assert_string_equal(msg.relation->relname, "");
    assert_int_equal(msg.relation->replident, 'n');
    assert_int_equal(change_relation_find_column(msg.relation, "x"), -1);
    pgoutput_msg_clear(&msg);
}

static void test_relation_not_taken_is_freed(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0}, b = {0};

    (void)state;
    build_relation(&w);
    build_begin(&b);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK); /* replaces, no leak */
    assert_non_null(msg.relation);
    assert_int_equal(decode(&b, &msg), PGOUTPUT_OK);
    assert_null(msg.relation); /* NULL for other kinds */
    pgoutput_msg_clear(&msg);
}

static void test_relation_dup(void **state)
{
    pgoutput_msg_t msg = {0};
    change_relation_t *copy;
    wbuf_t w = {0};

    (void)state;
    build_relation(&w);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    copy = change_relation_dup(msg.relation);
    pgoutput_msg_clear(&msg);
    assert_non_null(copy);
    assert_string_equal(copy->nspname, "public");
    assert_string_equal(copy->relname, "users");
    assert_int_equal(copy->ncols, 3);
    assert_string_equal(copy->cols[1].name, "name");
    assert_int_equal(copy->cols[1].typmod, 68);
    assert_true(copy->cols[0].is_key);
    change_relation_free(copy);
    assert_null(change_relation_dup(NULL));
    change_relation_free(NULL);
    assert_int_equal(change_relation_find_column(NULL, "x"), -1);
}

static void test_type(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    build_type(&w);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.kind, PGOUTPUT_TYPE);
    assert_int_equal(msg.u.type.oid, 90001);
    assert_string_equal(msg.u.type.nspname, "public");
    assert_string_equal(msg.u.type.typname, "mood");
    pgoutput_msg_clear(&msg);
}

static void test_type_pg_catalog(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    w_u8(&w, 'Y');
    w_u32(&w, 1);
    w_str(&w, "");
    w_str(&w, "");
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_string_equal(msg.u.type.nspname, "pg_catalog");
    assert_string_equal(msg.u.type.typname, "");
    pgoutput_msg_clear(&msg);
}

static void test_insert(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    build_insert(&w);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.kind, PGOUTPUT_INSERT);
    assert_int_equal(msg.u.row.relid, T_RELID);
    assert_int_equal(msg.u.row.old_kind, 0);
    assert_tuple4(&msg.u.row.new_tuple, &w);
    pgoutput_msg_clear(&msg);
}

static void test_insert_empty_values(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    w_u8(&w, 'I');
    w_u32(&w, 7);
    w_u8(&w, 'N');
    w_i16(&w, 2);
    w_text(&w, "");
    w_binary(&w, "", 0);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_value(&msg.u.row.new_tuple.values[0], CHANGE_TEXT, NULL, 0);
    assert_value(&msg.u.row.new_tuple.values[1], CHANGE_BINARY, NULL, 0);
    assert_non_null(msg.u.row.new_tuple.values[0].data);
    pgoutput_msg_clear(&msg);
}

static void test_insert_zero_columns(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    w_u8(&w, 'I');
    w_u32(&w, 7);
    w_u8(&w, 'N');
    w_i16(&w, 0);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.u.row.new_tuple.ncols, 0);
    pgoutput_msg_clear(&msg);
}

static void test_update_plain(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    build_update_plain(&w);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.kind, PGOUTPUT_UPDATE);
    assert_int_equal(msg.u.row.old_kind, 0);
    assert_int_equal(msg.u.row.old_tuple.ncols, 0);
    assert_tuple4(&msg.u.row.new_tuple, &w);
    pgoutput_msg_clear(&msg);
}

static void test_update_old_key(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    build_update_key(&w);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.u.row.relid, T_RELID);
    assert_int_equal(msg.u.row.old_kind, 'K');
    assert_int_equal(msg.u.row.old_tuple.ncols, 1);
    assert_value(&msg.u.row.old_tuple.values[0], CHANGE_TEXT, "41", 2);
    assert_tuple4(&msg.u.row.new_tuple, &w);
    pgoutput_msg_clear(&msg);
}

static void test_update_old_row(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    build_update_old(&w);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.u.row.old_kind, 'O');
    assert_int_equal(msg.u.row.old_tuple.ncols, 2);
    assert_value(&msg.u.row.old_tuple.values[0], CHANGE_TEXT, "41", 2);
    assert_value(&msg.u.row.old_tuple.values[1], CHANGE_TEXT, "bob", 3);
    assert_tuple4(&msg.u.row.new_tuple, &w);
    pgoutput_msg_clear(&msg);
}

static void test_delete_key(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    build_delete_key(&w);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.kind, PGOUTPUT_DELETE);
    assert_int_equal(msg.u.row.old_kind, 'K');
    assert_value(&msg.u.row.old_tuple.values[0], CHANGE_TEXT, "42", 2);
    assert_int_equal(msg.u.row.new_tuple.ncols, 0);
    pgoutput_msg_clear(&msg);
}

static void test_delete_old_row(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    build_delete_old(&w);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.u.row.old_kind, 'O');
    assert_tuple4(&msg.u.row.old_tuple, &w);
    pgoutput_msg_clear(&msg);
}

static void test_truncate(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    build_truncate(&w);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.kind, PGOUTPUT_TRUNCATE);
    assert_int_equal(msg.u.truncate.options,
                     PGOUTPUT_TRUNCATE_CASCADE | PGOUTPUT_TRUNCATE_RESTART_IDENTITY);
    assert_int_equal(msg.u.truncate.nrelids, 3);
    assert_int_equal(msg.u.truncate.relids[0], 16384);
    assert_int_equal(msg.u.truncate.relids[1], 16390);
    assert_true(msg.u.truncate.relids[2] == 0xFFFFFFFFu);
    pgoutput_msg_clear(&msg);
}

static void test_truncate_many(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    w_u8(&w, 'T');
    w_u32(&w, 1000);
    w_u8(&w, 0);
    for (uint32_t i = 0; i < 1000; i++)
        w_u32(&w, i);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.u.truncate.nrelids, 1000);
    assert_int_equal(msg.u.truncate.relids[999], 999);
    assert_true(msg.relids_cap >= 1000);
    pgoutput_msg_clear(&msg);
}

static void test_message(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    build_message(&w);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.kind, PGOUTPUT_MESSAGE);
    assert_int_equal(msg.u.message.flags, 1);
    assert_true(msg.u.message.lsn == T_FINAL_LSN);
    assert_string_equal(msg.u.message.prefix, "syncline");
    assert_int_equal(msg.u.message.len, 5);
    assert_memory_equal(msg.u.message.content, "a\0b\0c", 5);
    pgoutput_msg_clear(&msg);
}

static void test_message_empty(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    w_u8(&w, 'M');
    w_u8(&w, 0);
    w_u64(&w, 0);
    w_str(&w, "");
    w_u32(&w, 0);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.u.message.flags, 0);
    assert_string_equal(msg.u.message.prefix, "");
    assert_int_equal(msg.u.message.len, 0);
    pgoutput_msg_clear(&msg);
}

/* ---- rejected input ---- */

static void test_unsupported_bytes(void **state)
{
    const char bytes[] = "SEcAbPKrp";
    pgoutput_msg_t msg = {0};

    (void)state;
    for (size_t i = 0; i < strlen(bytes); i++) {
        char buf[32] = {0}, quoted[4] = {'\'', bytes[i], '\'', '\0'};

        buf[0] = bytes[i];
        errbuf[0] = '\0';
        assert_int_equal(pgoutput_read_msg(buf, sizeof(buf), &msg, errbuf, sizeof(errbuf)),
                         PGOUTPUT_UNSUPPORTED);
        if (strstr(errbuf, quoted) == NULL)
            fail_msg("errbuf \"%s\" does not name %s", errbuf, quoted);
    }
    pgoutput_msg_clear(&msg);
}

static void test_unknown_kind(void **state)
{
    const unsigned char bytes[] = {0, 'Z', 'w', 'k', 'N', 0x80, 0xff};
    pgoutput_msg_t msg = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(bytes); i++) {
        char buf[16] = {0};

        buf[0] = (char)bytes[i];
        assert_err(decode_exact(buf, sizeof(buf), &msg), PGOUTPUT_MALFORMED, "message type",
                   "unknown");
    }
    assert_err(decode_exact("", 0, &msg), PGOUTPUT_TRUNCATED, "message type", NULL);
    pgoutput_msg_clear(&msg);
}

static void test_bad_value_kind(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    w_u8(&w, 'I');
    w_u32(&w, 1);
    w_u8(&w, 'N');
    w_i16(&w, 2);
    w_u8(&w, 'n');
    w_u8(&w, 'x');
    assert_err(decode(&w, &msg), PGOUTPUT_MALFORMED, "Insert", "column 1 kind");
    pgoutput_msg_clear(&msg);
}

static void test_bad_tuple_tags(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t ins = {0}, upd = {0}, upd2 = {0}, del = {0};

    (void)state;
    w_u8(&ins, 'I');
    w_u32(&ins, 1);
    w_u8(&ins, 'K');
    w_tuple_key(&ins, "1");
    assert_err(decode(&ins, &msg), PGOUTPUT_MALFORMED, "Insert", "tuple tag");
    w_u8(&upd, 'U');
    w_u32(&upd, 1);
    w_u8(&upd, 'X');
    assert_err(decode(&upd, &msg), PGOUTPUT_MALFORMED, "Update", "tuple tag");
    w_u8(&upd2, 'U'); /* old key followed by a second old tuple instead of 'N' */
    w_u32(&upd2, 1);
    w_u8(&upd2, 'K');
    w_tuple_key(&upd2, "1");
    w_u8(&upd2, 'O');
    w_tuple_key(&upd2, "1");
    assert_err(decode(&upd2, &msg), PGOUTPUT_MALFORMED, "Update", "expected 'N'");
    w_u8(&del, 'D');
    w_u32(&del, 1);
    w_u8(&del, 'N');
    w_tuple_key(&del, "1");
    assert_err(decode(&del, &msg), PGOUTPUT_MALFORMED, "Delete", "tuple tag");
    pgoutput_msg_clear(&msg);
}

static void w_insert_head(wbuf_t *w, int ncols)
{
    w_u8(w, 'I');
    w_u32(w, 1);
    w_u8(w, 'N');
    w_i16(w, ncols);
}

static void test_tuple_ncols_limits(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t neg = {0}, big = {0}, max = {0}, short_ = {0};

    (void)state;
    w_insert_head(&neg, -1);
    assert_err(decode(&neg, &msg), PGOUTPUT_MALFORMED, "Insert", "ncols");
    w_insert_head(&big, 1665);
    for (int i = 0; i < 1665; i++)
        w_u8(&big, 'n');
    assert_err(decode(&big, &msg), PGOUTPUT_MALFORMED, "Insert", "ncols");
    w_insert_head(&max, 1664);
    for (int i = 0; i < 1664; i++)
        w_u8(&max, 'u');
    assert_int_equal(decode(&max, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.u.row.new_tuple.ncols, 1664);
    assert_int_equal(msg.u.row.new_tuple.values[1663].kind, CHANGE_UNCHANGED);
    w_insert_head(&short_, 1000); /* claims more columns than bytes remain */
    w_u8(&short_, 'n');
    assert_err(decode(&short_, &msg), PGOUTPUT_TRUNCATED, "Insert", NULL);
    pgoutput_msg_clear(&msg);
}

static void test_value_lengths(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t neg = {0}, huge = {0};

    (void)state;
    w_insert_head(&neg, 1);
    w_u8(&neg, 't');
    w_u32(&neg, 0xFFFFFFFFu);
    assert_err(decode(&neg, &msg), PGOUTPUT_MALFORMED, "column 0 length", "negative");
    w_insert_head(&huge, 1);
    w_u8(&huge, 'b');
    w_u32(&huge, 0x7FFFFFFFu);
    w_raw(&huge, "abc", 3);
    assert_err(decode(&huge, &msg), PGOUTPUT_TRUNCATED, "Insert", "column 0 data");
    pgoutput_msg_clear(&msg);
}

static void w_relation_head(wbuf_t *w, char replident, int ncols)
{
    w_u8(w, 'R');
    w_u32(w, 1);
    w_str(w, "public");
    w_str(w, "t");
    w_u8(w, (uint8_t)replident);
    w_i16(w, ncols);
}

static void test_relation_rejects(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t neg = {0}, big = {0}, ident = {0}, noterm = {0};

    (void)state;
    w_relation_head(&neg, 'd', -5);
    assert_err(decode(&neg, &msg), PGOUTPUT_MALFORMED, "Relation", "ncols");
    w_relation_head(&big, 'f', 1665);
    assert_err(decode(&big, &msg), PGOUTPUT_MALFORMED, "Relation", "ncols");
    w_relation_head(&ident, 'x', 0);
    assert_err(decode(&ident, &msg), PGOUTPUT_MALFORMED, "Relation", "replident");
    w_u8(&noterm, 'R');
    w_u32(&noterm, 1);
    w_raw(&noterm, "public", 6); /* no NUL anywhere after this */
    assert_err(decode_exact(noterm.data, noterm.len, &msg), PGOUTPUT_TRUNCATED, "Relation",
               "nspname");
    assert_null(msg.relation);
    pgoutput_msg_clear(&msg);
}

static void test_relation_partial_columns_freed(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    w_relation_head(&w, 'i', 2);
    w_u8(&w, 1);
    w_str(&w, "id");
    w_u32(&w, 23);
    w_u32(&w, 0);
    w_u8(&w, 0);
    w_str(&w, "a_long_second_column_name");
    w_u32(&w, 23); /* typmod missing */
    assert_err(decode(&w, &msg), PGOUTPUT_TRUNCATED, "Relation", "column 1 typmod");
    assert_null(msg.relation);
    pgoutput_msg_clear(&msg);
}

static void test_truncate_counts(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t neg = {0}, huge = {0}, zero = {0};

    (void)state;
    w_u8(&neg, 'T');
    w_u32(&neg, 0xFFFFFFFFu);
    w_u8(&neg, 0);
    assert_err(decode(&neg, &msg), PGOUTPUT_MALFORMED, "Truncate", "nrels");
    w_u8(&huge, 'T');
    w_u32(&huge, 0x7FFFFFFFu);
    w_u8(&huge, 0);
    w_u32(&huge, 1);
    assert_err(decode(&huge, &msg), PGOUTPUT_TRUNCATED, "Truncate", "relids");
    assert_int_equal(msg.relids_cap, 0); /* nothing allocated for a lie */
    w_u8(&zero, 'T');
    w_u32(&zero, 0);
    w_u8(&zero, 0);
    assert_int_equal(decode(&zero, &msg), PGOUTPUT_OK);
    assert_int_equal(msg.u.truncate.nrelids, 0);
    pgoutput_msg_clear(&msg);
}

static void test_message_content_length(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    w_u8(&w, 'M');
    w_u8(&w, 1);
    w_u64(&w, 0);
    w_str(&w, "p");
    w_u32(&w, 0xFFFFFFFFu);
    w_raw(&w, "xy", 2);
    assert_err(decode(&w, &msg), PGOUTPUT_TRUNCATED, "Message", "content");
    pgoutput_msg_clear(&msg);
}

static void test_trailing_bytes(void **state)
{
    pgoutput_msg_t msg = {0};

    (void)state;
    for (size_t i = 0; i < NFIXTURES; i++) {
        wbuf_t w = {0};

        msg_fixtures[i].build(&w);
        w_u8(&w, 0);
        assert_err(decode(&w, &msg), PGOUTPUT_MALFORMED, msg_fixtures[i].name, "trailing");
        assert_null(msg.relation);
    }
    pgoutput_msg_clear(&msg);
}

/* Every proper prefix of a valid message is truncated, decoded from an exact copy. */
static void test_truncation_every_offset(void **state)
{
    pgoutput_msg_t msg = {0};

    (void)state;
    for (size_t i = 0; i < NFIXTURES; i++) {
        wbuf_t w = {0};

        msg_fixtures[i].build(&w);
        assert_int_equal(decode_exact(w.data, w.len, &msg), PGOUTPUT_OK);
        for (size_t cut = 0; cut < w.len; cut++) {
            assert_int_equal(decode_exact(w.data, cut, &msg), PGOUTPUT_TRUNCATED);
            assert_true(strlen(errbuf) > 0);
            if (cut > 0 && strstr(errbuf, msg_fixtures[i].name) == NULL)
                fail_msg("cut %zu: \"%s\" lacks \"%s\"", cut, errbuf, msg_fixtures[i].name);
            assert_null(msg.relation);
        }
    }
    pgoutput_msg_clear(&msg);
}

/* Single-byte mutations of every fixture: any verdict, but no crash or leak. */
static void test_mutations_do_not_crash(void **state)
{
    const unsigned char subst[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 'N', 'K', 'O', 'n', 'u', 't', 'b'};
    pgoutput_msg_t msg = {0};

    (void)state;
    for (size_t i = 0; i < NFIXTURES; i++) {
        wbuf_t w = {0};

        msg_fixtures[i].build(&w);
        for (size_t pos = 0; pos < w.len; pos++) {
            for (size_t s = 0; s < sizeof(subst); s++) {
                wbuf_t m = w;

                m.data[pos] = (char)subst[s];
                (void)decode_exact(m.data, m.len, &msg);
            }
        }
    }
    pgoutput_msg_clear(&msg);
}

static void test_errbuf_optional_and_small(void **state)
{
    pgoutput_msg_t msg = {0};
    char tiny[8];
    wbuf_t w = {0};

    (void)state;
    build_insert(&w);
    assert_int_equal(pgoutput_read_msg(w.data, 3, &msg, NULL, 0), PGOUTPUT_TRUNCATED);
    memset(tiny, 'x', sizeof(tiny));
    assert_int_equal(pgoutput_read_msg(w.data, 3, &msg, tiny, sizeof(tiny)), PGOUTPUT_TRUNCATED);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    pgoutput_msg_clear(&msg);
}

/* ---- scratch reuse ---- */

static void test_scratch_reuse(void **state)
{
    pgoutput_msg_t msg = {0};
    change_value_t *first_buf;
    int first_cap;
    wbuf_t w = {0}, small = {0};

    (void)state;
    build_update_old(&w);
    build_delete_key(&small);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    first_buf = msg.values_buf;
    first_cap = msg.values_cap;
    assert_non_null(first_buf);
    assert_true(first_cap >= 6);
    assert_int_equal(decode(&small, &msg), PGOUTPUT_OK);
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_ptr_equal(msg.values_buf, first_buf); /* no regrowth, no new allocation */
    assert_int_equal(msg.values_cap, first_cap);
    assert_tuple4(&msg.u.row.new_tuple, &w);
    pgoutput_msg_clear(&msg);
    assert_null(msg.values_buf);
    assert_int_equal(msg.values_cap, 0);
    pgoutput_msg_clear(&msg); /* idempotent */
    pgoutput_msg_clear(NULL);
}

/* Both tuples of an Update share values_buf; growth during the new tuple must not
 * leave old_tuple pointing at freed memory. */
static void test_scratch_growth_across_tuples(void **state)
{
    pgoutput_msg_t msg = {0};
    wbuf_t w = {0};

    (void)state;
    w_u8(&w, 'U');
    w_u32(&w, 1);
    w_u8(&w, 'O');
    w_i16(&w, 10);
    for (int i = 0; i < 10; i++)
        w_text(&w, "old");
    w_u8(&w, 'N');
    w_i16(&w, 1664);
    for (int i = 0; i < 1664; i++)
        w_u8(&w, 'n');
    assert_int_equal(decode(&w, &msg), PGOUTPUT_OK);
    assert_true(msg.values_cap >= 1674);
    assert_int_equal(msg.u.row.old_tuple.ncols, 10);
    assert_value(&msg.u.row.old_tuple.values[9], CHANGE_TEXT, "old", 3);
    assert_int_equal(msg.u.row.new_tuple.ncols, 1664);
    assert_int_equal(msg.u.row.new_tuple.values[1663].kind, CHANGE_NULL);
    pgoutput_msg_clear(&msg);
}

/* ---- CopyData frames ---- */

static pgoutput_err_t frame_exact(const char *p, size_t len, pgoutput_frame_t *f, char **copy)
{
    *copy = malloc(len > 0 ? len : 1);
    assert_non_null(*copy);
    memcpy(*copy, p, len);
    errbuf[0] = '\0';
    return pgoutput_read_frame(*copy, len, f, errbuf, sizeof(errbuf));
}

static void test_frame_xlogdata(void **state)
{
    pgoutput_msg_t msg = {0};
    pgoutput_frame_t f;
    wbuf_t w = {0};
    char *copy;

    (void)state;
    build_xlogdata(&w);
    assert_int_equal(frame_exact(w.data, w.len, &f, &copy), PGOUTPUT_OK);
    assert_int_equal(f.kind, PGOUTPUT_FRAME_XLOGDATA);
    assert_true(f.wal_start == T_FINAL_LSN);
    assert_true(f.wal_end == T_END_LSN);
    assert_true(f.send_time == T_TS);
    assert_int_equal(f.reply_requested, 0);
    assert_ptr_equal(f.payload, copy + 25);
    assert_int_equal(f.payload_len, w.len - 25);
    assert_int_equal(pgoutput_read_msg(f.payload, f.payload_len, &msg, errbuf, sizeof(errbuf)),
                     PGOUTPUT_OK);
    assert_int_equal(msg.kind, PGOUTPUT_BEGIN);
    assert_int_equal(msg.u.begin.xid, T_XID);
    free(copy);
    pgoutput_msg_clear(&msg);
}

static void test_frame_xlogdata_empty_payload(void **state)
{
    pgoutput_frame_t f;
    wbuf_t w = {0};
    char *copy;

    (void)state;
    build_xlogdata(&w);
    assert_int_equal(frame_exact(w.data, 25, &f, &copy), PGOUTPUT_OK);
    assert_int_equal(f.payload_len, 0);
    free(copy);
}

static void test_frame_keepalive(void **state)
{
    pgoutput_frame_t f;
    wbuf_t w = {0};
    char *copy;

    (void)state;
    build_keepalive(&w);
    assert_int_equal(frame_exact(w.data, w.len, &f, &copy), PGOUTPUT_OK);
    free(copy);
    assert_int_equal(f.kind, PGOUTPUT_FRAME_KEEPALIVE);
    assert_true(f.wal_end == T_END_LSN);
    assert_true(f.send_time == T_TS);
    assert_int_equal(f.reply_requested, 1);
    assert_null(f.payload);
    assert_int_equal(f.payload_len, 0);
    w.data[w.len - 1] = 0;
    assert_int_equal(frame_exact(w.data, w.len, &f, &copy), PGOUTPUT_OK);
    free(copy);
    assert_int_equal(f.reply_requested, 0);
}

static void test_frame_rejects(void **state)
{
    pgoutput_frame_t f;
    wbuf_t w = {0};
    char *copy;

    (void)state;
    assert_int_equal(frame_exact("", 0, &f, &copy), PGOUTPUT_TRUNCATED);
    free(copy);
    assert_int_equal(frame_exact("r", 1, &f, &copy), PGOUTPUT_MALFORMED);
    free(copy);
    assert_err(frame_exact("B", 1, &f, &copy), PGOUTPUT_MALFORMED, "frame kind", "0x42");
    free(copy);
    build_keepalive(&w);
    w_u8(&w, 0);
    assert_err(frame_exact(w.data, w.len, &f, &copy), PGOUTPUT_MALFORMED, "keepalive", "trailing");
    free(copy);
}

static void test_frame_truncation_every_offset(void **state)
{
    void (*builders[])(wbuf_t *) = {build_xlogdata, build_keepalive};
    const char *names[] = {"XLogData", "keepalive"};
    pgoutput_frame_t f;
    char *copy;

    (void)state;
    for (size_t b = 0; b < 2; b++) {
        wbuf_t w = {0};
        size_t header;

        builders[b](&w);
        header = b == 0 ? 25 : w.len; /* XLogData's payload may be empty */
        for (size_t cut = 0; cut < header; cut++) {
            assert_int_equal(frame_exact(w.data, cut, &f, &copy), PGOUTPUT_TRUNCATED);
            free(copy);
            if (cut > 0 && strstr(errbuf, names[b]) == NULL)
                fail_msg("cut %zu: \"%s\" lacks \"%s\"", cut, errbuf, names[b]);
        }
    }
}

/* ---- standby status ---- */

static uint64_t r_be(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static void test_status_round_trip(void **state)
{
    unsigned char *buf = malloc(PGOUTPUT_STATUS_LEN); /* exact size: ASan checks writes */

    (void)state;
    assert_non_null(buf);
    pgoutput_write_status((char *)buf, UINT64_C(0x16B374D848), UINT64_C(0x1000000FF), UINT64_MAX,
                          INT64_C(-2), 1);
    assert_int_equal(buf[0], 'r');
    assert_true(r_be(buf + 1, 8) == UINT64_C(0x16B374D848));
    assert_true(r_be(buf + 9, 8) == UINT64_C(0x1000000FF));
    assert_true(r_be(buf + 17, 8) == UINT64_MAX);
    assert_true((int64_t)r_be(buf + 25, 8) == -2);
    assert_int_equal(buf[33], 1);
    pgoutput_write_status((char *)buf, 0, 0, 0, T_TS, 7);
    assert_true(r_be(buf + 1, 24) == 0);
    assert_true((int64_t)r_be(buf + 25, 8) == T_TS);
    assert_int_equal(buf[33], 1); /* normalised to 0/1 */
    pgoutput_write_status((char *)buf, 1, 2, 3, 4, 0);
    assert_int_equal(buf[33], 0);
    free(buf);
}

/* Text values end with a NUL in place (over the next kind byte or tag, and
 * over the NUL after the buffer for the last one); nothing else changes. */
static void test_terminate_in_place(void **state)
{
    (void)state;
    pgoutput_build_t b = {0};
    const char *old_v[3] = {"1", "ab", NULL}, *new_v[3] = {"2", "", "xyz"};
    pgoutput_build_update(&b, 16384, 'O', 3, old_v, new_v);
    char *buf = malloc(b.len + 1); /* exact size and the NUL, as PQgetCopyData */
    assert_non_null(buf);
    memcpy(buf, b.data, b.len);
    buf[b.len] = '\0';
    pgoutput_msg_t msg = {0};
    assert_int_equal(pgoutput_read_msg(buf, b.len, &msg, errbuf, sizeof(errbuf)), PGOUTPUT_OK);
    assert_false(msg.u.row.old_tuple.values[1].nul);
    pgoutput_msg_terminate(&msg, buf, b.len);
    const change_tuple_t *t[2] = {&msg.u.row.old_tuple, &msg.u.row.new_tuple};
    const char *const *want[2] = {old_v, new_v};
    for (int k = 0; k < 2; k++) {
        for (int c = 0; c < 3; c++) {
            const change_value_t *v = &t[k]->values[c];
            if (want[k][c] == NULL) {
                assert_int_equal(v->kind, CHANGE_NULL);
                assert_false(v->nul);
                continue;
            }
            assert_true(v->nul);
            assert_int_equal(v->len, strlen(want[k][c]));
            assert_string_equal(v->data, want[k][c]); /* a C string now */
        }
    }
    /* a message without rows is left alone */
    pgoutput_build_t c = {0};
    pgoutput_build_message(&c, 1, 0x100, "p", "content");
    char *mbuf = malloc(c.len + 1);
    assert_non_null(mbuf);
    memcpy(mbuf, c.data, c.len + 1);
    assert_int_equal(pgoutput_read_msg(mbuf, c.len, &msg, errbuf, sizeof(errbuf)), PGOUTPUT_OK);
    pgoutput_msg_terminate(&msg, mbuf, c.len);
    assert_memory_equal(mbuf, c.data, c.len + 1);
    free(mbuf);
    pgoutput_build_free(&c);
    pgoutput_msg_clear(&msg);
    free(buf);
    pgoutput_build_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_begin),
        cmocka_unit_test(test_commit),
        cmocka_unit_test(test_negative_timestamp),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_origin_empty_name),
        cmocka_unit_test(test_relation),
        cmocka_unit_test(test_relation_pg_catalog),
        cmocka_unit_test(test_relation_no_columns),
        cmocka_unit_test(test_relation_not_taken_is_freed),
        cmocka_unit_test(test_relation_dup),
        cmocka_unit_test(test_type),
        cmocka_unit_test(test_type_pg_catalog),
        cmocka_unit_test(test_insert),
        cmocka_unit_test(test_insert_empty_values),
        cmocka_unit_test(test_insert_zero_columns),
        cmocka_unit_test(test_update_plain),
        cmocka_unit_test(test_update_old_key),
        cmocka_unit_test(test_update_old_row),
        cmocka_unit_test(test_delete_key),
        cmocka_unit_test(test_delete_old_row),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_truncate_many),
        cmocka_unit_test(test_message),
        cmocka_unit_test(test_message_empty),
        cmocka_unit_test(test_unsupported_bytes),
        cmocka_unit_test(test_unknown_kind),
        cmocka_unit_test(test_bad_value_kind),
        cmocka_unit_test(test_bad_tuple_tags),
        cmocka_unit_test(test_tuple_ncols_limits),
        cmocka_unit_test(test_value_lengths),
        cmocka_unit_test(test_relation_rejects),
        cmocka_unit_test(test_relation_partial_columns_freed),
        cmocka_unit_test(test_truncate_counts),
        cmocka_unit_test(test_message_content_length),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_truncation_every_offset),
        cmocka_unit_test(test_mutations_do_not_crash),
        cmocka_unit_test(test_errbuf_optional_and_small),
        cmocka_unit_test(test_scratch_reuse),
        cmocka_unit_test(test_scratch_growth_across_tuples),
        cmocka_unit_test(test_frame_xlogdata),
        cmocka_unit_test(test_frame_xlogdata_empty_payload),
        cmocka_unit_test(test_frame_keepalive),
        cmocka_unit_test(test_frame_rejects),
        cmocka_unit_test(test_frame_truncation_every_offset),
        cmocka_unit_test(test_status_round_trip),
        cmocka_unit_test(test_terminate_in_place),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
