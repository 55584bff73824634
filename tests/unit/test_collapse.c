/*
 * Unit tests for collapse: the merge rules, what flushes the buffer, order
 * where it matters, the memory bound and the hash, against a fake inner sink
 * that records every call and applies rows to a model table. Every test runs
 * twice: with an inner sink that takes rows one by one, and with one that
 * takes sets of rows (the `rows` op), whose contract the fake checks. No
 * server needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/collapse.h"

#define NELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define MAXCOLS 4

/* ---- relations and tuples built by hand ----------------------------------- */

/* relid 1 and 2: (id key, v, w), collapsible; 3: same columns, not collapsible;
 * 4: (a key, b key, v), collapsible; 5: (v, w) without replica identity, collapsible;
 * 6: (v, w) with REPLICA IDENTITY FULL, collapsible (its inserts only). */
enum { REL1, REL2, REL3, REL4, REL5, REL6, NRELS };

static change_relation_t *rel_new(uint32_t relid, const char *cols, const char *keys)
{
    change_relation_t *rel = calloc(1, sizeof(*rel));
    assert_non_null(rel);
    rel->relid = relid;
    rel->nspname = strdup("public");
    rel->relname = strdup("t");
    rel->replident = 'd';
    rel->ncols = (int)strlen(cols);
    rel->cols = calloc((size_t)rel->ncols, sizeof(*rel->cols));
    assert_non_null(rel->cols);
    for (int i = 0; i < rel->ncols; i++) {
        char name[2] = {cols[i], '\0'};
        rel->cols[i].name = strdup(name);
        rel->cols[i].type_oid = 25;
        rel->cols[i].typmod = -1;
        rel->cols[i].is_key = keys[i] == 'k';
    }
    return rel;
}

/* A tuple whose values live in its own heap block, like a decoder's message
 * buffer: tup_free scribbles over it, so a decorator that kept a pointer
 * instead of a copy reads garbage (or, under ASan, freed memory). */
typedef struct tup {
    change_tuple_t t;
    change_value_t v[MAXCOLS];
    char buf[256];
} tup_t;

/* spec: values separated by '|', each a kind letter then the text:
 * "t1|tabc|u|n" = text 1, text abc, unchanged TOAST, NULL. */
static tup_t *tup_new(const char *spec)
{
    tup_t *tp = calloc(1, sizeof(*tp));
    assert_non_null(tp);
    char *p = tp->buf;
    tp->t.values = tp->v;
    while (*spec != '\0') {
        assert_true(tp->t.ncols < MAXCOLS);
        const char *end = strchr(spec, '|');
        size_t n = end ? (size_t)(end - spec) : strlen(spec);
        assert_true(n >= 1);
        change_value_t *v = &tp->v[tp->t.ncols++];
        v->kind = (change_kind_t)spec[0];
        v->len = (uint32_t)(n - 1);
        assert_true(p + v->len + 1 < tp->buf + sizeof(tp->buf));
        memcpy(p, spec + 1, v->len);
        v->data = v->len > 0 || v->kind == CHANGE_TEXT ? p : NULL;
        p += v->len;
        if (v->kind == CHANGE_TEXT) { /* ended in place, as the stream's decoder does */
            *p++ = '\0';
            v->nul = true;
        }
        spec += end ? n + 1 : n;
    }
    return tp;
}

static void tup_free(tup_t *tp)
{
    if (tp == NULL)
        return;
    memset(tp, 0x5a, sizeof(*tp));
    free(tp);
}

/* ---- the fake inner sink -------------------------------------------------- */

/* One row of the model target table. */
typedef struct mrow {
    uint32_t relid;
    char key[64];
    change_kind_t kind[MAXCOLS];
    char val[MAXCOLS][32];
} mrow_t;

typedef struct fake {
    char **calls; /* one line per call, in order */
    int ncalls, cap;
    int collapsible[8];   /* by relid */
    int collapsible_null; /* report no collapsible op at all */
    int fail_row_at;      /* fail the Nth row written (1-based), 0 = never */
    int nrows;
    int nsets; /* rows() calls */
    /* the model: rows applied, and violations a real target would reject */
    int model;
    mrow_t *mrows;
    int nmrows, mcap;
    int violations;
    char first_violation[256];
} fake_t;

static void fake_record(fake_t *f, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (f->ncalls == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->calls = realloc(f->calls, (size_t)f->cap * sizeof(*f->calls));
        assert_non_null(f->calls);
    }
    f->calls[f->ncalls] = strdup(line);
    assert_non_null(f->calls[f->ncalls]);
    f->ncalls++;
}

static void fake_clear_calls(fake_t *f)
{
    for (int i = 0; i < f->ncalls; i++)
        free(f->calls[i]);
    f->ncalls = 0;
}

static void fake_free(fake_t *f)
{
    fake_clear_calls(f);
    free(f->calls);
    free(f->mrows);
}

/* Key columns' text of t, comma separated ("1" or "1,2"). */
static void key_text(const change_relation_t *rel, const change_tuple_t *t, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < rel->ncols && i < t->ncols; i++) {
        if (!rel->cols[i].is_key)
            continue;
        const change_value_t *v = &t->values[i];
        n += (size_t)snprintf(buf + n, size - n, "%s%c%.*s", n ? "," : "", (char)v->kind,
                              (int)v->len, v->data ? v->data : "");
        assert_true(n < size);
    }
}

/* "t1|ta|u" from a tuple, the spec syntax of tup_new. */
static void tuple_text(const change_tuple_t *t, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->ncols; i++) {
        const change_value_t *v = &t->values[i];
        if (v->len > 64) /* a large value: its size */
            n += (size_t)snprintf(buf + n, size - n, "%s%c<%u bytes>", i ? "|" : "", (char)v->kind,
                                  v->len);
        else
            n += (size_t)snprintf(buf + n, size - n, "%s%c%.*s", i ? "|" : "", (char)v->kind,
                                  (int)v->len, v->data ? v->data : "");
        assert_true(n < size);
    }
}

static void model_violation(fake_t *f, const char *what, uint32_t relid, const char *key)
{
    if (f->violations++ == 0)
        snprintf(f->first_violation, sizeof(f->first_violation), "%s rel=%u key=%s", what, relid,
                 key);
}

static mrow_t *model_find(fake_t *f, uint32_t relid, const char *key)
{
    for (int i = 0; i < f->nmrows; i++) {
        if (f->mrows[i].relid == relid && strcmp(f->mrows[i].key, key) == 0)
            return &f->mrows[i];
    }
    return NULL;
}

static void model_remove(fake_t *f, mrow_t *m)
{
    *m = f->mrows[--f->nmrows];
}

/* Writes t's values over m; 'u' keeps m's value, as the target's UPDATE does. */
static void model_set(fake_t *f, mrow_t *m, const change_tuple_t *t, int insert)
{
    assert_true(t->ncols <= MAXCOLS);
    for (int i = 0; i < t->ncols; i++) {
        const change_value_t *v = &t->values[i];
        if (v->kind == CHANGE_UNCHANGED) {
            if (insert)
                model_violation(f, "insert with an unchanged TOAST value", m->relid, m->key);
            continue;
        }
        assert_true(v->len < sizeof(m->val[i]));
        m->kind[i] = v->kind;
        memcpy(m->val[i], v->data ? v->data : "", v->len);
        m->val[i][v->len] = '\0';
    }
}

static void model_apply(fake_t *f, const change_row_t *r)
{
    char key[64], nkey[64];
    const change_tuple_t *kt = r->old_kind ? r->old_tuple : r->new_tuple;
    key_text(r->rel, kt, key, sizeof(key));
    mrow_t *m = model_find(f, r->rel->relid, key);
    if (r->op == CHANGE_INSERT) {
        if (m != NULL) {
            model_violation(f, "insert of an existing key", r->rel->relid, key);
            return;
        }
        if (f->nmrows == f->mcap) {
            f->mcap = f->mcap ? f->mcap * 2 : 64;
            f->mrows = realloc(f->mrows, (size_t)f->mcap * sizeof(*f->mrows));
            assert_non_null(f->mrows);
        }
        m = &f->mrows[f->nmrows++];
        memset(m, 0, sizeof(*m));
        m->relid = r->rel->relid;
        snprintf(m->key, sizeof(m->key), "%s", key);
        model_set(f, m, r->new_tuple, 1);
        return;
    }
    if (m == NULL) {
        model_violation(
            f, r->op == CHANGE_DELETE ? "delete of a missing key" : "update of a missing key",
            r->rel->relid, key);
        return;
    }
    if (r->op == CHANGE_DELETE) {
        model_remove(f, m);
        return;
    }
    key_text(r->rel, r->new_tuple, nkey, sizeof(nkey));
    if (strcmp(key, nkey) != 0) {
        if (model_find(f, r->rel->relid, nkey) != NULL) {
            model_violation(f, "key change onto an existing key", r->rel->relid, nkey);
            return;
        }
        snprintf(m->key, sizeof(m->key), "%s", nkey);
    }
    model_set(f, m, r->new_tuple, 0);
}

static void model_truncate(fake_t *f, uint32_t relid)
{
    for (int i = f->nmrows - 1; i >= 0; i--) {
        if (f->mrows[i].relid == relid)
            model_remove(f, &f->mrows[i]);
    }
}

static err_t fake_relation(void *ctx, const change_relation_t *rel, lsn_t lsn, char *errbuf,
                           size_t errsize)
{
    (void)lsn, (void)errbuf, (void)errsize;
    fake_record(ctx, "RELATION r%u", rel->relid);
    return ERR_OK;
}

static err_t fake_begin(void *ctx, char *errbuf, size_t errsize)
{
    (void)errbuf, (void)errsize;
    fake_record(ctx, "BEGIN");
    return ERR_OK;
}

/* Records one row as "I r1 v=t1|ta|tx", "U r1 v=...", "UK r1 k=t1 v=t5|ta|tx",
 * "DK r1 k=t1"; returns 1 when it is the row to fail on. */
static int fake_write(fake_t *f, const change_row_t *r)
{
    char k[128] = "", v[256] = "", ok[2] = {r->old_kind, '\0'};
    assert_true(r->old_kind == 0 || r->old_tuple != NULL);
    assert_true((r->op == CHANGE_DELETE) == (r->new_tuple == NULL));
    if (r->old_kind)
        key_text(r->rel, r->old_tuple, k, sizeof(k));
    if (r->new_tuple)
        tuple_text(r->new_tuple, v, sizeof(v));
    fake_record(f, "%c%s r%u%s%s%s%s", (char)r->op, ok, r->rel->relid, r->old_kind ? " k=" : "", k,
                r->new_tuple ? " v=" : "", v);
    if (f->model)
        model_apply(f, r);
    return ++f->nrows == f->fail_row_at;
}

/* A value said to end with a NUL must still point into a live buffer that
 * has one (a copy is no longer followed by the decoder's NUL). */
static void fake_check_nul(const change_tuple_t *t)
{
    for (int c = 0; t != NULL && c < t->ncols; c++) {
        const change_value_t *v = &t->values[c];
        if (v->nul)
            assert_int_equal(v->data[v->len], '\0');
    }
}

static err_t fake_row(void *ctx, const change_row_t *r, char *errbuf, size_t errsize)
{
    fake_check_nul(r->old_tuple);
    fake_check_nul(r->new_tuple);
    if (fake_write(ctx, r)) {
        snprintf(errbuf, errsize, "injected failure");
        return ERR_RUNTIME;
    }
    return ERR_OK;
}

static int fake_collapsible(void *ctx, uint32_t relid);

static int rel_has_key(const change_relation_t *rel)
{
    if (rel->replident == 'f')
        return 0;
    for (int i = 0; i < rel->ncols; i++) {
        if (rel->cols[i].is_key)
            return 1;
    }
    return 0;
}

/* The contract of sink_ops_t.rows: one collapsible relation, one op, the same
 * columns present, no key change, distinct keys (when the table has a key). */
static void fake_check_set(fake_t *f, const change_row_t *rows, int n)
{
    assert_true(n > 0);
    const change_row_t *a = &rows[0];
    assert_true(fake_collapsible(f, a->rel->relid));
    for (int i = 0; i < n; i++) {
        const change_row_t *b = &rows[i];
        assert_ptr_equal(b->rel, a->rel);
        assert_int_equal(b->op, a->op);
        assert_true(b->op == CHANGE_DELETE ? b->old_kind == 'K' : b->old_kind == 0);
        if (b->op != CHANGE_DELETE) {
            assert_int_equal(b->new_tuple->ncols, a->new_tuple->ncols);
            for (int c = 0; c < a->new_tuple->ncols; c++)
                assert_int_equal(b->new_tuple->values[c].kind == CHANGE_UNCHANGED,
                                 a->new_tuple->values[c].kind == CHANGE_UNCHANGED);
        }
        if (b->op == CHANGE_INSERT) {
            for (int c = 0; c < b->new_tuple->ncols; c++)
                assert_int_not_equal(b->new_tuple->values[c].kind, CHANGE_UNCHANGED);
        }
    }
    if (!rel_has_key(a->rel))
        return;
    for (int i = 0; i < n; i++) {
        char ki[128], kj[128];
        key_text(a->rel, a->op == CHANGE_DELETE ? rows[i].old_tuple : rows[i].new_tuple, ki,
                 sizeof(ki));
        for (int j = i + 1; j < n; j++) {
            key_text(a->rel, a->op == CHANGE_DELETE ? rows[j].old_tuple : rows[j].new_tuple, kj,
                     sizeof(kj));
            if (strcmp(ki, kj) == 0)
                fail_msg("rows(): key %s twice in one set of relation %u", ki, a->rel->relid);
        }
    }
}

/* The whole set is written, then fails if it held the row to fail on. */
static err_t fake_rows(void *ctx, const change_row_t *rows, int n, char *errbuf, size_t errsize)
{
    fake_t *f = ctx;
    int failed = 0;
    fake_check_set(f, rows, n);
    for (int i = 0; i < n; i++) {
        fake_check_nul(rows[i].old_tuple);
        fake_check_nul(rows[i].new_tuple);
    }
    f->nsets++;
    for (int i = 0; i < n; i++)
        failed |= fake_write(f, &rows[i]);
    if (failed) {
        snprintf(errbuf, errsize, "injected failure");
        return ERR_RUNTIME;
    }
    return ERR_OK;
}

static err_t fake_truncate(void *ctx, const change_relation_t *const *rels, int nrels,
                           uint8_t options, lsn_t lsn, char *errbuf, size_t errsize)
{
    fake_t *f = ctx;
    (void)options, (void)lsn, (void)errbuf, (void)errsize;
    char line[128] = "TRUNCATE";
    for (int i = 0; i < nrels; i++) {
        size_t n = strlen(line);
        snprintf(line + n, sizeof(line) - n, " r%u", rels[i]->relid);
        model_truncate(f, rels[i]->relid);
    }
    fake_record(f, "%s", line);
    return ERR_OK;
}

static err_t fake_commit(void *ctx, const sink_position_t *pos, char *errbuf, size_t errsize)
{
    (void)errbuf, (void)errsize;
    fake_record(ctx, "COMMIT %llu", (unsigned long long)pos->end_lsn);
    return ERR_OK;
}

static void fake_rollback(void *ctx)
{
    fake_record(ctx, "ROLLBACK");
}

static err_t fake_advance(void *ctx, lsn_t lsn, char *errbuf, size_t errsize)
{
    (void)errbuf, (void)errsize;
    fake_record(ctx, "ADVANCE %llu", (unsigned long long)lsn);
    return ERR_OK;
}

static int fake_collapsible(void *ctx, uint32_t relid)
{
    fake_t *f = ctx;
    return relid < (uint32_t)NELEMS(f->collapsible) && f->collapsible[relid];
}

static const sink_ops_t fake_ops = {
    .relation = fake_relation,
    .type = NULL,
    .begin = fake_begin,
    .row = fake_row,
    .truncate = fake_truncate,
    .commit = fake_commit,
    .rollback = fake_rollback,
    .advance = fake_advance,
    .collapsible = fake_collapsible,
};

static const sink_ops_t fake_ops_sets = {
    .relation = fake_relation,
    .begin = fake_begin,
    .row = fake_row,
    .truncate = fake_truncate,
    .commit = fake_commit,
    .rollback = fake_rollback,
    .advance = fake_advance,
    .collapsible = fake_collapsible,
    .rows = fake_rows,
};

static const sink_ops_t fake_ops_no_collapsible = {
    .relation = fake_relation,
    .begin = fake_begin,
    .row = fake_row,
    .truncate = fake_truncate,
    .commit = fake_commit,
    .rollback = fake_rollback,
    .advance = fake_advance,
    .collapsible = NULL,
};

/* ---- fixture -------------------------------------------------------------- */

typedef struct fixture {
    fake_t fake;
    change_relation_t *rels[NRELS];
    int sets; /* the inner sink takes sets of rows */
    collapse_t *cl;
    sink_t s;       /* the decorator */
    lsn_t next_lsn; /* of the next row or TRUNCATE sent */
} fixture_t;

static fixture_t *fixture_new(size_t max_bytes, int sets)
{
    fixture_t *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    fx->sets = sets;
    fx->rels[REL1] = rel_new(1, "ivw", "k..");
    fx->rels[REL2] = rel_new(2, "ivw", "k..");
    fx->rels[REL3] = rel_new(3, "ivw", "k..");
    fx->rels[REL4] = rel_new(4, "abv", "kk.");
    fx->rels[REL5] = rel_new(5, "vw", "..");
    fx->rels[REL6] = rel_new(6, "vw", "kk");
    fx->rels[REL6]->replident = 'f';
    fx->fake.collapsible[1] = fx->fake.collapsible[2] = fx->fake.collapsible[4] = 1;
    fx->fake.collapsible[5] = fx->fake.collapsible[6] = 1;
    sink_t inner = {.ops = sets ? &fake_ops_sets : &fake_ops, .ctx = &fx->fake};
    fx->cl = collapse_new(inner, max_bytes);
    assert_non_null(fx->cl);
    fx->s = collapse_sink(fx->cl);
    return fx;
}

static void fixture_free(fixture_t *fx)
{
    collapse_free(fx->cl);
    for (int i = 0; i < NRELS; i++)
        change_relation_free(fx->rels[i]);
    fake_free(&fx->fake);
    free(fx);
}

static int setup(void **state)
{
    *state = fixture_new(64u << 20, 0);
    return 0;
}

static int setup_sets(void **state)
{
    *state = fixture_new(64u << 20, 1);
    return 0;
}

static int teardown(void **state)
{
    fixture_free(*state);
    return 0;
}

/* ---- driving the decorator ------------------------------------------------ */

static void send(fixture_t *fx, change_op_t op, int rel, char old_kind, const char *old_spec,
                 const char *new_spec)
{
    char err[256] = "";
    tup_t *o = old_spec ? tup_new(old_spec) : NULL;
    tup_t *n = new_spec ? tup_new(new_spec) : NULL;
    change_row_t r = {.op = op,
                      .rel = fx->rels[rel],
                      .old_kind = old_kind,
                      .old_tuple = o ? &o->t : NULL,
                      .new_tuple = n ? &n->t : NULL,
                      .lsn = fx->next_lsn++};
    err_t e = fx->s.ops->row(fx->s.ctx, &r, err, sizeof(err));
    if (e != ERR_OK)
        fail_msg("row %c failed: %s", (char)op, err);
    tup_free(o);
    tup_free(n);
}

static void ins(fixture_t *fx, int rel, const char *spec)
{
    send(fx, CHANGE_INSERT, rel, 0, NULL, spec);
}

static void upd(fixture_t *fx, int rel, const char *spec)
{
    send(fx, CHANGE_UPDATE, rel, 0, NULL, spec);
}

/* A key-changing update: old key tuple, then the new row. */
static void updk(fixture_t *fx, int rel, const char *old_spec, const char *spec)
{
    send(fx, CHANGE_UPDATE, rel, 'K', old_spec, spec);
}

static void del(fixture_t *fx, int rel, const char *old_spec)
{
    send(fx, CHANGE_DELETE, rel, 'K', old_spec, NULL);
}

static void begin(fixture_t *fx)
{
    char err[256] = "";
    assert_int_equal(fx->s.ops->begin(fx->s.ctx, err, sizeof(err)), ERR_OK);
}

static void commit(fixture_t *fx, lsn_t end)
{
    char err[256] = "";
    sink_position_t pos = {.end_lsn = end};
    err_t e = fx->s.ops->commit(fx->s.ctx, &pos, err, sizeof(err));
    if (e != ERR_OK)
        fail_msg("commit failed: %s", err);
}

static void truncate_rels(fixture_t *fx, int a, int b)
{
    char err[256] = "";
    const change_relation_t *rels[2] = {fx->rels[a], b >= 0 ? fx->rels[b] : NULL};
    assert_int_equal(
        fx->s.ops->truncate(fx->s.ctx, rels, b >= 0 ? 2 : 1, 0, fx->next_lsn++, err, sizeof(err)),
        ERR_OK);
}

/* The calls recorded so far are exactly exp, in order; then forgets them. */
static void expect_calls_(fixture_t *fx, const char *const *exp, int n)
{
    fake_t *f = &fx->fake;
    for (int i = 0; i < n || i < f->ncalls; i++) {
        const char *want = i < n ? exp[i] : "(nothing)";
        const char *got = i < f->ncalls ? f->calls[i] : "(nothing)";
        if (strcmp(want, got) != 0) {
            for (int j = 0; j < f->ncalls; j++)
                print_message("  call %d: %s\n", j, f->calls[j]);
            fail_msg("call %d: expected [%s], got [%s]", i, want, got);
        }
    }
    fake_clear_calls(f);
}

#define expect_calls(fx, ...)                                                                      \
    do {                                                                                           \
        const char *const exp_[] = {__VA_ARGS__};                                                  \
        expect_calls_(fx, exp_, NELEMS(exp_));                                                     \
    } while (0)

static void expect_no_calls(fixture_t *fx)
{
    expect_calls_(fx, NULL, 0);
}

static void expect_counts(fixture_t *fx, unsigned long long in, unsigned long long out)
{
    unsigned long long i = 0, o = 0;
    collapse_counts(fx->cl, &i, &o);
    assert_int_equal(i, in);
    assert_int_equal(o, out);
}

/* ---- merge rules ---------------------------------------------------------- */

static void test_insert_update_update(void **state)
{
    fixture_t *fx = *state;
    begin(fx);
    ins(fx, REL1, "t1|ta|tx");
    upd(fx, REL1, "t1|tb|tx");
    upd(fx, REL1, "t1|tc|ty");
    expect_calls(fx, "BEGIN"); /* buffered until the commit */
    commit(fx, 7);
    expect_calls(fx, "I r1 v=t1|tc|ty", "COMMIT 7");
    expect_counts(fx, 3, 1);
}

static void test_update_update(void **state)
{
    fixture_t *fx = *state;
    upd(fx, REL1, "t1|tb|tx");
    upd(fx, REL1, "t1|tc|n");
    commit(fx, 1);
    expect_calls(fx, "U r1 v=t1|tc|n", "COMMIT 1");
}

static void test_insert_delete(void **state)
{
    fixture_t *fx = *state;
    ins(fx, REL1, "t1|ta|tx");
    del(fx, REL1, "t1|n|n");
    commit(fx, 1);
    expect_calls(fx, "COMMIT 1");
    expect_counts(fx, 2, 0);
}

static void test_update_delete(void **state)
{
    fixture_t *fx = *state;
    upd(fx, REL1, "t1|tb|tx");
    upd(fx, REL1, "t1|tc|tx");
    del(fx, REL1, "t1|n|n");
    commit(fx, 1);
    expect_calls(fx, "DK r1 k=t1", "COMMIT 1");
}

static void test_delete_insert(void **state)
{
    fixture_t *fx = *state;
    del(fx, REL1, "t1|n|n");
    ins(fx, REL1, "t1|tnew|tx");
    commit(fx, 1);
    expect_calls(fx, "DK r1 k=t1", "I r1 v=t1|tnew|tx", "COMMIT 1");
}

static void test_delete_insert_update(void **state)
{
    fixture_t *fx = *state;
    del(fx, REL1, "t1|n|n");
    ins(fx, REL1, "t1|tnew|tx");
    upd(fx, REL1, "t1|tnewer|tx");
    commit(fx, 1);
    expect_calls(fx, "DK r1 k=t1", "I r1 v=t1|tnewer|tx", "COMMIT 1");
}

/* R + D is a plain delete; a later insert makes it R again. */
static void test_delete_insert_delete_insert(void **state)
{
    fixture_t *fx = *state;
    del(fx, REL1, "t1|n|n");
    ins(fx, REL1, "t1|ta|tx");
    del(fx, REL1, "t1|n|n");
    commit(fx, 1);
    expect_calls(fx, "DK r1 k=t1", "COMMIT 1");
    del(fx, REL1, "t1|n|n");
    ins(fx, REL1, "t1|ta|tx");
    del(fx, REL1, "t1|n|n");
    ins(fx, REL1, "t1|tb|tx");
    commit(fx, 2);
    expect_calls(fx, "DK r1 k=t1", "I r1 v=t1|tb|tx", "COMMIT 2");
}

static void test_insert_delete_insert(void **state)
{
    fixture_t *fx = *state;
    ins(fx, REL1, "t1|ta|tx");
    del(fx, REL1, "t1|n|n");
    ins(fx, REL1, "t1|tb|ty");
    upd(fx, REL1, "t1|tc|u");
    commit(fx, 1);
    expect_calls(fx, "I r1 v=t1|tc|ty", "COMMIT 1");
}

/* U + D + I: the target still has the row; delete it by its key, insert anew. */
static void test_update_delete_insert(void **state)
{
    fixture_t *fx = *state;
    upd(fx, REL1, "t1|tb|tx");
    del(fx, REL1, "t1|n|n");
    ins(fx, REL1, "t1|tc|tz");
    commit(fx, 1);
    expect_calls(fx, "DK r1 k=t1", "I r1 v=t1|tc|tz", "COMMIT 1");
}

/* ---- unchanged TOAST values ----------------------------------------------- */

static void test_toast_after_insert(void **state)
{
    fixture_t *fx = *state;
    ins(fx, REL1, "t1|ta|tBIGVALUE");
    upd(fx, REL1, "t1|tb|u");
    upd(fx, REL1, "t1|tc|u");
    commit(fx, 1);
    expect_calls(fx, "I r1 v=t1|tc|tBIGVALUE", "COMMIT 1");
}

static void test_toast_after_update_value(void **state)
{
    fixture_t *fx = *state;
    upd(fx, REL1, "t1|ta|tNEWBIG");
    upd(fx, REL1, "t1|tb|u");
    commit(fx, 1);
    expect_calls(fx, "U r1 v=t1|tb|tNEWBIG", "COMMIT 1");
}

static void test_toast_after_toast(void **state)
{
    fixture_t *fx = *state;
    upd(fx, REL1, "t1|ta|u");
    upd(fx, REL1, "t1|tb|u");
    commit(fx, 1);
    expect_calls(fx, "U r1 v=t1|tb|u", "COMMIT 1");
}

/* A value after 'u' wins; 'u' after it keeps it; a NULL is a value too. */
static void test_toast_mixed(void **state)
{
    fixture_t *fx = *state;
    upd(fx, REL1, "t1|u|u");
    upd(fx, REL1, "t1|tv|u");
    upd(fx, REL1, "t1|u|n");
    upd(fx, REL1, "t1|u|u");
    commit(fx, 1);
    expect_calls(fx, "U r1 v=t1|tv|n", "COMMIT 1");
}

/* After D + I the row is the inserted one: 'u' refers to the inserted value. */
static void test_toast_after_reinsert(void **state)
{
    fixture_t *fx = *state;
    upd(fx, REL1, "t1|ta|u");
    del(fx, REL1, "t1|n|n");
    ins(fx, REL1, "t1|tb|tINSERTED");
    upd(fx, REL1, "t1|tc|u");
    commit(fx, 1);
    expect_calls(fx, "DK r1 k=t1", "I r1 v=t1|tc|tINSERTED", "COMMIT 1");
}

/* ---- order where it matters ----------------------------------------------- */

static void test_key_change_flushes(void **state)
{
    fixture_t *fx = *state;
    ins(fx, REL1, "t1|ta|tx");
    upd(fx, REL1, "t1|tb|tx");
    upd(fx, REL1, "t2|tb|tx");
    expect_no_calls(fx);
    updk(fx, REL1, "t1|n|n", "t5|tc|tx");
    /* everything before it, then the key change itself, at once (sets of
     * rows: a table's updates before its inserts) */
    if (fx->sets)
        expect_calls(fx, "U r1 v=t2|tb|tx", "I r1 v=t1|tb|tx", "UK r1 k=t1 v=t5|tc|tx");
    else
        expect_calls(fx, "I r1 v=t1|tb|tx", "U r1 v=t2|tb|tx", "UK r1 k=t1 v=t5|tc|tx");
    upd(fx, REL1, "t5|td|tx");
    upd(fx, REL1, "t5|te|u");
    ins(fx, REL1, "t1|tf|tx");
    commit(fx, 1);
    expect_calls(fx, "U r1 v=t5|te|tx", "I r1 v=t1|tf|tx", "COMMIT 1");
    expect_counts(fx, 7, 5);
}

/* A key swap through a temporary key: each step passes through in order. */
static void test_key_swap(void **state)
{
    fixture_t *fx = *state;
    ins(fx, REL1, "t1|ta|tx");
    ins(fx, REL1, "t2|tb|tx");
    updk(fx, REL1, "t1|n|n", "t3|ta|tx");
    updk(fx, REL1, "t2|n|n", "t1|tb|tx");
    updk(fx, REL1, "t3|n|n", "t2|ta|tx");
    commit(fx, 1);
    expect_calls(fx, "I r1 v=t1|ta|tx", "I r1 v=t2|tb|tx", "UK r1 k=t1 v=t3|ta|tx",
                 "UK r1 k=t2 v=t1|tb|tx", "UK r1 k=t3 v=t2|ta|tx", "COMMIT 1");
}

/* REPLICA IDENTITY FULL sends the old row ('O'): never merged, and it keeps
 * the order of what was buffered before it. */
static void test_old_row_flushes(void **state)
{
    fixture_t *fx = *state;
    ins(fx, REL1, "t2|ta|tx");
    send(fx, CHANGE_UPDATE, REL1, 'O', "t1|ta|tx", "t1|tb|tx");
    expect_calls(fx, "I r1 v=t2|ta|tx", "UO r1 k=t1 v=t1|tb|tx");
}

static void test_not_collapsible_passes_through(void **state)
{
    fixture_t *fx = *state;
    ins(fx, REL3, "t1|ta|tx");
    upd(fx, REL3, "t1|tb|tx");
    upd(fx, REL3, "t1|tc|u");
    expect_calls(fx, "I r3 v=t1|ta|tx", "U r3 v=t1|tb|tx", "U r3 v=t1|tc|u");
    del(fx, REL3, "t1|n|n");
    ins(fx, REL3, "t1|td|tx");
    expect_calls(fx, "DK r3 k=t1", "I r3 v=t1|td|tx");
    /* interleaved with a collapsible table: r3's rows go out at once, in
     * their order; r1's are merged and written at the commit */
    ins(fx, REL1, "t1|ta|tx");
    upd(fx, REL3, "t1|te|tx");
    upd(fx, REL1, "t1|tb|tx");
    upd(fx, REL3, "t1|tf|tx");
    expect_calls(fx, "U r3 v=t1|te|tx", "U r3 v=t1|tf|tx");
    commit(fx, 1);
    expect_calls(fx, "I r1 v=t1|tb|tx", "COMMIT 1");
    expect_counts(fx, 9, 8);
}

/* A row larger than an arena block (a large TOAST value) is not copied into
 * the buffer: what came before is written, then the row, before the commit. */
static void test_large_row_passes_through(void **state)
{
    fixture_t *fx = *state;
    size_t n = (size_t)2 << 20;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    ins(fx, REL1, "t1|ta|tx");
    change_value_t v[3] = {{.kind = CHANGE_TEXT, .len = 1, .data = "2"},
                           {.kind = CHANGE_TEXT, .len = (uint32_t)n, .data = big},
                           {.kind = CHANGE_TEXT, .len = 1, .data = "y"}};
    change_tuple_t t = {3, v};
    change_row_t r = {
        .op = CHANGE_INSERT, .rel = fx->rels[REL1], .new_tuple = &t, .lsn = fx->next_lsn++};
    char err[256] = "";
    assert_int_equal(fx->s.ops->row(fx->s.ctx, &r, err, sizeof(err)), ERR_OK);
    memset(big, 0x5a, n); /* the decoder's buffer is reused: nothing may point into it */
    free(big);
    assert_int_equal(fx->fake.nrows, 2);
    upd(fx, REL1, "t2|tz|tz"); /* later changes of it buffer as usual */
    assert_int_equal(fx->fake.nrows, 2);
    commit(fx, 1);
    assert_int_equal(fx->fake.nrows, 3);
}

/* A buffered value is a copy: the decoder's NUL after it, which lets a value
 * go out without a copy, stays behind, also for an empty value (whose view
 * still pointed into the freed buffer). */
static void test_buffered_value_loses_nul(void **state)
{
    fixture_t *fx = *state;
    ins(fx, REL1, "t1|t|tx");
    upd(fx, REL1, "t1|t|t");
    commit(fx, 1);
    expect_calls(fx, "I r1 v=t1|t|t", "COMMIT 1");
}

static void test_inner_without_collapsible(void **state)
{
    (void)state;
    fake_t f = {0};
    sink_t inner = {.ops = &fake_ops_no_collapsible, .ctx = &f};
    collapse_t *cl = collapse_new(inner, 1u << 20);
    assert_non_null(cl);
    change_relation_t *rel = rel_new(1, "ivw", "k..");
    sink_t s = collapse_sink(cl);
    char err[256];
    tup_t *a = tup_new("t1|ta|tx"), *b = tup_new("t1|tb|tx");
    change_row_t r1 = {.op = CHANGE_INSERT, .rel = rel, .new_tuple = &a->t};
    change_row_t r2 = {.op = CHANGE_UPDATE, .rel = rel, .new_tuple = &b->t};
    assert_int_equal(s.ops->row(s.ctx, &r1, err, sizeof(err)), ERR_OK);
    assert_int_equal(s.ops->row(s.ctx, &r2, err, sizeof(err)), ERR_OK);
    assert_int_equal(f.ncalls, 2);
    assert_string_equal(f.calls[0], "I r1 v=t1|ta|tx");
    assert_string_equal(f.calls[1], "U r1 v=t1|tb|tx");
    tup_free(a);
    tup_free(b);
    change_relation_free(rel);
    collapse_free(cl);
    fake_free(&f);
}

/* ---- what flushes, what discards ------------------------------------------ */

static void test_truncate_flushes(void **state)
{
    fixture_t *fx = *state;
    ins(fx, REL1, "t1|ta|tx");
    upd(fx, REL1, "t1|tb|tx");
    ins(fx, REL2, "t1|ta|tx");
    truncate_rels(fx, REL1, -1);
    expect_calls(fx, "I r1 v=t1|tb|tx", "I r2 v=t1|ta|tx", "TRUNCATE r1");
    ins(fx, REL1, "t1|tc|tx");
    upd(fx, REL1, "t1|td|tx");
    truncate_rels(fx, REL3, REL2); /* another table's TRUNCATE flushes too */
    expect_calls(fx, "I r1 v=t1|td|tx", "TRUNCATE r3 r2");
    ins(fx, REL1, "t2|te|tx");
    commit(fx, 3);
    expect_calls(fx, "I r1 v=t2|te|tx", "COMMIT 3");
}

static void test_relation_flushes(void **state)
{
    fixture_t *fx = *state;
    char err[256] = "";
    ins(fx, REL1, "t1|ta|tx");
    upd(fx, REL1, "t1|tb|tx");
    assert_int_equal(fx->s.ops->relation(fx->s.ctx, fx->rels[REL1], 5, err, sizeof(err)), ERR_OK);
    expect_calls(fx, "I r1 v=t1|tb|tx", "RELATION r1");
    upd(fx, REL1, "t1|tc|tx");
    commit(fx, 1);
    expect_calls(fx, "U r1 v=t1|tc|tx", "COMMIT 1");
}

/* The pipeline frees a relation's old description right after relation():
 * nothing buffered may point at it afterwards. */
static void test_relation_replaced(void **state)
{
    fixture_t *fx = *state;
    char err[256] = "";
    ins(fx, REL1, "t1|ta|tx");
    change_relation_t *fresh = rel_new(1, "ivw", "k..");
    assert_int_equal(fx->s.ops->relation(fx->s.ctx, fresh, 5, err, sizeof(err)), ERR_OK);
    change_relation_free(fx->rels[REL1]);
    fx->rels[REL1] = fresh;
    upd(fx, REL1, "t1|tb|tx");
    commit(fx, 1);
    expect_calls(fx, "I r1 v=t1|ta|tx", "RELATION r1", "U r1 v=t1|tb|tx", "COMMIT 1");
}

static void test_rollback_discards(void **state)
{
    fixture_t *fx = *state;
    begin(fx);
    ins(fx, REL1, "t1|ta|tx");
    upd(fx, REL2, "t2|ta|tx");
    del(fx, REL4, "t1|t2|n");
    fx->s.ops->rollback(fx->s.ctx);
    expect_calls(fx, "BEGIN", "ROLLBACK");
    begin(fx);
    ins(fx, REL1, "t3|ta|tx");
    upd(fx, REL1, "t3|tb|tx");
    commit(fx, 9);
    expect_calls(fx, "BEGIN", "I r1 v=t3|tb|tx", "COMMIT 9");
}

/* Commit writes the buffer and commits; the next transaction starts empty. */
static void test_commit_then_next(void **state)
{
    fixture_t *fx = *state;
    char err[256] = "";
    ins(fx, REL1, "t1|ta|tx");
    commit(fx, 1);
    expect_calls(fx, "I r1 v=t1|ta|tx", "COMMIT 1");
    commit(fx, 2);
    expect_calls(fx, "COMMIT 2");
    assert_int_equal(fx->s.ops->advance(fx->s.ctx, 3, err, sizeof(err)), ERR_OK);
    expect_calls(fx, "ADVANCE 3");
    /* a row of the committed transaction is not "buffered" any more */
    upd(fx, REL1, "t1|tb|tx");
    commit(fx, 4);
    expect_calls(fx, "U r1 v=t1|tb|tx", "COMMIT 4");
}

/* A failing write fails the commit, and the inner commit is not called. */
static void test_inner_error(void **state)
{
    fixture_t *fx = *state;
    char err[256] = "";
    ins(fx, REL1, "t1|ta|tx");
    ins(fx, REL2, "t2|ta|tx");
    fx->fake.fail_row_at = 1;
    sink_position_t pos = {.end_lsn = 1};
    assert_int_equal(fx->s.ops->commit(fx->s.ctx, &pos, err, sizeof(err)), ERR_RUNTIME);
    assert_string_equal(err, "injected failure");
    expect_calls(fx, "I r1 v=t1|ta|tx");
    fx->s.ops->rollback(fx->s.ctx);
    expect_calls(fx, "ROLLBACK");
    commit(fx, 2);
    expect_calls(fx, "COMMIT 2");
}

/* ---- the memory bound ----------------------------------------------------- */

static void test_max_bytes(void **state)
{
    fixture_t *fx = fixture_new(1, ((fixture_t *)*state)->sets); /* any row overflows */
    ins(fx, REL1, "t1|ta|tx");
    expect_calls(fx, "I r1 v=t1|ta|tx");
    upd(fx, REL1, "t1|tb|tx");
    upd(fx, REL1, "t1|tc|u");
    del(fx, REL1, "t1|n|n");
    ins(fx, REL1, "t1|td|tx");
    commit(fx, 1);
    expect_calls(fx, "U r1 v=t1|tb|tx", "U r1 v=t1|tc|u", "DK r1 k=t1", "I r1 v=t1|td|tx",
                 "COMMIT 1");
    fixture_free(fx);
}

/* A hot row and inserts/deletes under a small bound: several flushes inside
 * one transaction, fewer writes than changes, and the right final state. */
static void test_max_bytes_mid_transaction(void **state)
{
    fixture_t *fx = fixture_new(2000, ((fixture_t *)*state)->sets);
    fx->fake.model = 1;
    char spec[64];
    ins(fx, REL1, "t0|thot|tBIG");
    for (int i = 0; i < 500; i++) {
        snprintf(spec, sizeof(spec), "t0|th%d|u", i);
        upd(fx, REL1, spec);
        snprintf(spec, sizeof(spec), "t%d|tgone|tx", 1000 + i);
        ins(fx, REL1, spec);
        snprintf(spec, sizeof(spec), "t%d|n|n", 1000 + i);
        del(fx, REL1, spec);
        snprintf(spec, sizeof(spec), "t%d|tkeep%d|tx", 1 + i % 50, i);
        if (i < 50)
            ins(fx, REL1, spec);
        else
            upd(fx, REL1, spec);
    }
    int before_commit = fx->fake.ncalls;
    assert_true(before_commit > 0); /* flushed mid-transaction */
    commit(fx, 1);
    assert_int_equal(fx->fake.violations, 0);
    unsigned long long in = 0, out = 0;
    collapse_counts(fx->cl, &in, &out);
    assert_int_equal(in, 1 + 500 * 4);
    assert_true(out < in / 2);
    /* final state: the hot row with its last value and the TOASTed one kept,
     * 50 kept rows with their last values, none of the deleted ones */
    assert_int_equal(fx->fake.nmrows, 51);
    mrow_t *m = model_find(&fx->fake, 1, "t0");
    assert_non_null(m);
    assert_string_equal(m->val[1], "h499");
    assert_string_equal(m->val[2], "BIG");
    assert_int_equal(m->kind[2], CHANGE_TEXT);
    m = model_find(&fx->fake, 1, "t7");
    assert_non_null(m);
    assert_string_equal(m->val[1], "keep456");
    for (int i = 0; i < 500; i++) {
        char key[16];
        snprintf(key, sizeof(key), "t%d", 1000 + i);
        assert_null(model_find(&fx->fake, 1, key));
    }
    fixture_free(fx);
}

/* ---- the hash ------------------------------------------------------------- */

static void test_many_keys(void **state)
{
    fixture_t *fx = *state;
    enum { N = 10000 };
    char spec[64];
    for (int i = 0; i < N; i++) {
        snprintf(spec, sizeof(spec), "t%d|ta%d|tx", i, i);
        ins(fx, REL1, spec);
    }
    for (int i = N - 1; i >= 0; i--) {
        snprintf(spec, sizeof(spec), "t%d|tb%d|u", i, i);
        upd(fx, REL1, spec);
    }
    int ndel = 0;
    for (int i = 0; i < N; i += 3, ndel++) {
        snprintf(spec, sizeof(spec), "t%d|n|n", i);
        del(fx, REL1, spec);
    }
    expect_no_calls(fx);
    commit(fx, 1);
    assert_int_equal(fx->fake.ncalls, N - ndel + 1);
    int c = 0;
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0)
            continue;
        snprintf(spec, sizeof(spec), "I r1 v=t%d|tb%d|tx", i, i);
        assert_string_equal(fx->fake.calls[c], spec);
        c++;
    }
    assert_string_equal(fx->fake.calls[c], "COMMIT 1");
    expect_counts(fx, 2 * N + ndel, N - ndel);
    assert_int_equal(fx->fake.nsets, fx->sets ? 1 : 0); /* one set of all the inserts */
    fake_clear_calls(&fx->fake);
    /* the grown table still works after the flush */
    upd(fx, REL1, "t1|tz|tx");
    upd(fx, REL1, "t1|ty|tx");
    commit(fx, 2);
    expect_calls(fx, "U r1 v=t1|ty|tx", "COMMIT 2");
}

static void test_relations_kept_apart(void **state)
{
    fixture_t *fx = *state;
    ins(fx, REL1, "t1|ta|tx");
    ins(fx, REL2, "t1|tb|tx");
    upd(fx, REL1, "t1|tc|tx");
    del(fx, REL2, "t1|n|n");
    upd(fx, REL2, "t2|td|tx");
    upd(fx, REL1, "t2|te|tx");
    commit(fx, 1);
    if (fx->sets) /* by table in first-seen order; in a table updates, then inserts */
        expect_calls(fx, "U r1 v=t2|te|tx", "I r1 v=t1|tc|tx", "U r2 v=t2|td|tx", "COMMIT 1");
    else
        expect_calls(fx, "I r1 v=t1|tc|tx", "U r2 v=t2|td|tx", "U r1 v=t2|te|tx", "COMMIT 1");
}

/* Composite keys: rows that share part of the key are different rows. */
static void test_composite_key(void **state)
{
    fixture_t *fx = *state;
    ins(fx, REL4, "t1|t1|ta");
    ins(fx, REL4, "t1|t2|tb");
    ins(fx, REL4, "t11|t|tc"); /* same bytes as (1, 1) run together */
    upd(fx, REL4, "t1|t1|tz");
    del(fx, REL4, "t1|t2|n");
    upd(fx, REL4, "t11|t|ty");
    commit(fx, 1);
    expect_calls(fx, "I r4 v=t1|t1|tz", "I r4 v=t11|t|ty", "COMMIT 1");
}

/* A NULL key value and an empty text are different keys. */
static void test_key_kinds(void **state)
{
    fixture_t *fx = *state;
    ins(fx, REL4, "t1|n|ta");
    ins(fx, REL4, "t1|t|tb");
    upd(fx, REL4, "t1|t|tc");
    commit(fx, 1);
    expect_calls(fx, "I r4 v=t1|n|ta", "I r4 v=t1|t|tc", "COMMIT 1");
}

/* A table without replica identity only receives inserts: equal rows are
 * different rows, every one is written, in order. */
static void test_keyless_inserts(void **state)
{
    fixture_t *fx = *state;
    ins(fx, REL5, "ta|tx");
    ins(fx, REL1, "t1|ta|tx");
    ins(fx, REL5, "ta|tx");
    upd(fx, REL1, "t1|tb|tx");
    ins(fx, REL5, "tb|n");
    ins(fx, REL5, "ta|tx");
    commit(fx, 1);
    if (fx->sets)
        expect_calls(fx, "I r5 v=ta|tx", "I r5 v=ta|tx", "I r5 v=tb|n", "I r5 v=ta|tx",
                     "I r1 v=t1|tb|tx", "COMMIT 1");
    else
        expect_calls(fx, "I r5 v=ta|tx", "I r1 v=t1|tb|tx", "I r5 v=ta|tx", "I r5 v=tb|n",
                     "I r5 v=ta|tx", "COMMIT 1");
    expect_counts(fx, 6, 5);
}

/* REPLICA IDENTITY FULL: every column is "key" and equal rows are different
 * rows. Inserts are gathered like a keyless table's; an update or delete
 * (located by all its old values) first writes everything gathered, then
 * goes through in order. */
static void test_full_identity(void **state)
{
    fixture_t *fx = *state;
    ins(fx, REL6, "ta|tx");
    ins(fx, REL1, "t1|ta|tx");
    ins(fx, REL6, "ta|tx");
    send(fx, CHANGE_UPDATE, REL6, 'O', "ta|tx", "tb|tx");
    ins(fx, REL6, "tc|n");
    send(fx, CHANGE_DELETE, REL6, 'O', "tc|n", NULL);
    commit(fx, 1);
    if (fx->sets)
        expect_calls(fx, "I r6 v=ta|tx", "I r6 v=ta|tx", "I r1 v=t1|ta|tx", "UO r6 k=ta,tx v=tb|tx",
                     "I r6 v=tc|n", "DO r6 k=tc,n", "COMMIT 1");
    else
        expect_calls(fx, "I r6 v=ta|tx", "I r1 v=t1|ta|tx", "I r6 v=ta|tx", "UO r6 k=ta,tx v=tb|tx",
                     "I r6 v=tc|n", "DO r6 k=tc,n", "COMMIT 1");
    expect_counts(fx, 6, 6);
}

/* ---- random sequences against a model ------------------------------------- */

typedef struct srcrow {
    int live;
    int key;
    char v[16], w[16];
} srcrow_t;

static uint32_t rnd(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) & 0xffffff;
}

/* Random but valid source histories over three tables (one not collapsible):
 * inserts, updates (some leaving w unchanged as TOAST), key changes, deletes,
 * re-inserts and TRUNCATEs, across transactions. The target model must end
 * in the source's state with no write a real target would reject. */
static void run_random(uint32_t seed, size_t max_bytes, int sets)
{
    enum { KEYS = 24, SLOTS = 16, STEPS = 3000 };
    fixture_t *fx = fixture_new(max_bytes, sets);
    fx->fake.model = 1;
    const int rels[3] = {REL1, REL2, REL3};
    srcrow_t src[3][SLOTS];
    memset(src, 0, sizeof(src));
    uint32_t s = seed;
    char a[96], b[96];
    for (int step = 0; step < STEPS; step++) {
        int t = (int)(rnd(&s) % 3), slot = (int)(rnd(&s) % SLOTS), dice = (int)(rnd(&s) % 100);
        srcrow_t *r = &src[t][slot];
        if (dice < 2) {
            truncate_rels(fx, rels[t], -1);
            for (int i = 0; i < SLOTS; i++)
                src[t][i].live = 0;
            continue;
        }
        if (dice < 10) {
            commit(fx, (lsn_t)step);
            continue;
        }
        int used[KEYS] = {0};
        for (int i = 0; i < SLOTS; i++)
            used[src[t][i].key] |= src[t][i].live;
        int free_key = -1;
        for (int k = (int)(rnd(&s) % KEYS), n = 0; n < KEYS && free_key < 0;
             n++, k = (k + 1) % KEYS)
            free_key = used[k] ? -1 : k;
        if (!r->live) {
            if (free_key < 0)
                continue;
            r->live = 1;
            r->key = free_key;
            snprintf(r->v, sizeof(r->v), "v%d", step);
            snprintf(r->w, sizeof(r->w), "w%d", step);
            snprintf(a, sizeof(a), "t%d|t%s|t%s", r->key, r->v, r->w);
            ins(fx, rels[t], a);
        } else if (dice < 30) {
            r->live = 0;
            snprintf(a, sizeof(a), "t%d|n|n", r->key);
            del(fx, rels[t], a);
        } else if (dice < 40 && free_key >= 0) {
            snprintf(a, sizeof(a), "t%d|n|n", r->key);
            r->key = free_key;
            snprintf(r->v, sizeof(r->v), "k%d", step);
            snprintf(b, sizeof(b), "t%d|t%s|u", r->key, r->v);
            updk(fx, rels[t], a, b);
        } else {
            int toast = dice % 2;
            snprintf(r->v, sizeof(r->v), "u%d", step);
            if (!toast)
                snprintf(r->w, sizeof(r->w), "x%d", step);
            snprintf(a, sizeof(a), "t%d|t%s|%s%s", r->key, r->v, toast ? "u" : "t",
                     toast ? "" : r->w);
            upd(fx, rels[t], a);
        }
    }
    commit(fx, STEPS);
    if (fx->fake.violations != 0)
        fail_msg("seed %u max_bytes %zu: %d rejected writes, first: %s", seed, max_bytes,
                 fx->fake.violations, fx->fake.first_violation);
    int live = 0;
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < SLOTS; i++) {
            const srcrow_t *r = &src[t][i];
            if (!r->live)
                continue;
            live++;
            char key[16];
            snprintf(key, sizeof(key), "t%d", r->key);
            mrow_t *m = model_find(&fx->fake, (uint32_t)fx->rels[rels[t]]->relid, key);
            if (m == NULL)
                fail_msg("seed %u max_bytes %zu: rel %d key %d missing", seed, max_bytes, t,
                         r->key);
            if (strcmp(m->val[1], r->v) != 0 || strcmp(m->val[2], r->w) != 0)
                fail_msg("seed %u max_bytes %zu: rel %d key %d is (%s, %s), source (%s, %s)", seed,
                         max_bytes, t, r->key, m->val[1], m->val[2], r->v, r->w);
        }
    }
    assert_int_equal(fx->fake.nmrows, live);
    unsigned long long in = 0, out = 0;
    collapse_counts(fx->cl, &in, &out);
    assert_true(out <= in);
    fixture_free(fx);
}

static void test_random_histories(void **state)
{
    int sets = ((fixture_t *)*state)->sets;
    const size_t bounds[] = {1, 700, 5000, 64u << 20};
    for (uint32_t seed = 1; seed <= 12; seed++) {
        for (int b = 0; b < NELEMS(bounds); b++)
            run_random(seed, bounds[b], sets);
    }
}

/* Each test with an inner sink taking rows one by one, then sets of rows. */
/* clang-format off */
#define BOTH(f) {#f, f, setup, teardown, NULL}, {#f " (sets)", f, setup_sets, teardown, NULL}
/* clang-format on */

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_insert_update_update),
        BOTH(test_update_update),
        BOTH(test_insert_delete),
        BOTH(test_update_delete),
        BOTH(test_delete_insert),
        BOTH(test_delete_insert_update),
        BOTH(test_delete_insert_delete_insert),
        BOTH(test_insert_delete_insert),
        BOTH(test_update_delete_insert),
        BOTH(test_toast_after_insert),
        BOTH(test_toast_after_update_value),
        BOTH(test_toast_after_toast),
        BOTH(test_toast_mixed),
        BOTH(test_toast_after_reinsert),
        BOTH(test_key_change_flushes),
        BOTH(test_key_swap),
        BOTH(test_old_row_flushes),
        BOTH(test_not_collapsible_passes_through),
        BOTH(test_large_row_passes_through),
        BOTH(test_buffered_value_loses_nul),
        cmocka_unit_test(test_inner_without_collapsible),
        BOTH(test_truncate_flushes),
        BOTH(test_relation_flushes),
        BOTH(test_relation_replaced),
        BOTH(test_rollback_discards),
        BOTH(test_commit_then_next),
        BOTH(test_inner_error),
        BOTH(test_max_bytes),
        BOTH(test_max_bytes_mid_transaction),
        BOTH(test_many_keys),
        BOTH(test_relations_kept_apart),
        BOTH(test_composite_key),
        BOTH(test_key_kinds),
        BOTH(test_keyless_inserts),
        BOTH(test_full_identity),
        BOTH(test_random_histories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
