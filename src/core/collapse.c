/*
 * collapse: merges changes per row inside a target transaction.
 *
 * Rows are buffered in first-occurrence order with copies of their values in
 * an arena of blocks (pointers stay valid until the flush). A hash on
 * (relation, key values) finds the entry of a row. Merge rules, with E the
 * buffered state and C the incoming change:
 *   I + U -> I (new values merged)   U + U -> U   I + D -> nothing
 *   U + D -> D (by the original key) D + I -> delete then insert (R)
 *   R + U -> R                       R + D -> D
 * Merged values: a column C leaves unchanged ('u', TOAST) keeps E's value.
 * Anything else (a key change, an impossible sequence, a relation the
 * target does not call collapsible) flushes the buffer first or passes
 * straight through, so order is kept wherever it could matter; so does a
 * row larger than an arena block, which is then never copied. Rows of
 * different relations may be written in another order than they came: safe
 * only because collapsible relations have no triggers or foreign keys firing.
 * A relation without replica identity only ever receives inserts; with no
 * unique index on the target (pg_target decides) those commute, so they are
 * buffered too and written together. The inserts of a REPLICA IDENTITY FULL
 * relation are too; its updates and deletes flush and keep their order.
 */
#include "core/collapse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLLAPSE_BLOCK (1u << 20)

typedef struct collapse_block {
    struct collapse_block *next;
    size_t used, size;
    char data[];
} collapse_block_t;

typedef struct collapse_entry {
    char op; /* 'I', 'U', 'D', 'R' (delete then insert), 0 = gone */
    const change_relation_t *rel;
    lsn_t lsn;
    uint64_t hash;
    change_tuple_t key; /* the row's key as the target has it now (U, D, R) */
    change_tuple_t row; /* the new values (I, U, R) */
} collapse_entry_t;

struct collapse {
    sink_t inner;
    size_t max_bytes;
    collapse_block_t *blocks;
    size_t bytes;
    collapse_entry_t *entries;
    int nentries, cap;
    int *slots; /* hash table of entry index + 1, 0 = empty */
    int nslots;
    unsigned long long in, out;
    lsn_t committed; /* commit_async over a synchronous inner sink */
};

collapse_t *collapse_new(sink_t inner, size_t max_bytes)
{
    collapse_t *cl = calloc(1, sizeof(*cl));
    if (cl == NULL)
        return NULL;
    cl->inner = inner;
    cl->max_bytes = max_bytes;
    return cl;
}

/* Empties the buffer; one standard block is kept for the next transaction
 * (a fresh 1 MB allocation per commit would churn). */
static void collapse_reset(collapse_t *cl)
{
    collapse_block_t *keep = NULL;
    while (cl->blocks != NULL) {
        collapse_block_t *next = cl->blocks->next;
        if (keep == NULL && cl->blocks->size == COLLAPSE_BLOCK) {
            keep = cl->blocks;
            keep->used = 0;
            keep->next = NULL;
        } else {
            free(cl->blocks);
        }
        cl->blocks = next;
    }
    cl->blocks = keep;
    cl->bytes = 0;
    cl->nentries = 0;
    if (cl->slots != NULL)
        memset(cl->slots, 0, (size_t)cl->nslots * sizeof(int));
}

void collapse_free(collapse_t *cl)
{
    if (cl == NULL)
        return;
    collapse_reset(cl);
    free(cl->blocks);
    cl->blocks = NULL;
    free(cl->entries);
    free(cl->slots);
    free(cl);
}

void collapse_counts(const collapse_t *cl, unsigned long long *in, unsigned long long *out)
{
    *in = cl->in;
    *out = cl->out;
}

/* ---- arena and copies ---------------------------------------------------- */

static void *collapse_alloc(collapse_t *cl, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    collapse_block_t *b = cl->blocks;
    if (b == NULL || b->used + n > b->size) {
        size_t size = n > COLLAPSE_BLOCK ? n : COLLAPSE_BLOCK;
        b = malloc(sizeof(*b) + size);
        if (b == NULL)
            return NULL;
        b->size = size;
        b->used = 0;
        b->next = cl->blocks;
        cl->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    cl->bytes += n;
    return p;
}

/* Copies t; values marked 'u' take base's value when base has one. */
static int collapse_copy(collapse_t *cl, const change_tuple_t *t, const change_tuple_t *base,
                         change_tuple_t *out)
{
    out->ncols = t->ncols;
    out->values = collapse_alloc(cl, (size_t)t->ncols * sizeof(change_value_t) + 1);
    if (out->values == NULL)
        return -1;
    for (int i = 0; i < t->ncols; i++) {
        change_value_t v = t->values[i];
        if (v.kind == CHANGE_UNCHANGED && base != NULL && i < base->ncols) {
            out->values[i] = base->values[i]; /* already in the arena */
            continue;
        }
        if (v.len > 0) {
            char *d = collapse_alloc(cl, v.len);
            if (d == NULL)
                return -1;
            memcpy(d, v.data, v.len);
            v.data = d;
        }
        v.nul = false; /* the frame's NUL stays behind (an empty value still points there) */
        out->values[i] = v;
    }
    return 0;
}

/* ---- keys and the hash --------------------------------------------------- */

static uint64_t collapse_hash(const change_relation_t *rel, const change_tuple_t *t)
{
    uint64_t h = 1469598103934665603ull ^ rel->relid;
    for (int i = 0; i < rel->ncols && i < t->ncols; i++) {
        if (!rel->cols[i].is_key)
            continue;
        const change_value_t *v = &t->values[i];
        h = (h ^ (uint64_t)v->kind) * 1099511628211ull;
        for (uint32_t k = 0; k < v->len; k++)
            h = (h ^ (unsigned char)v->data[k]) * 1099511628211ull;
    }
    return h;
}

static int collapse_same_key(const change_relation_t *rel, const change_tuple_t *a,
                             const change_tuple_t *b)
{
    for (int i = 0; i < rel->ncols; i++) {
        if (!rel->cols[i].is_key)
            continue;
        if (i >= a->ncols || i >= b->ncols)
            return 0;
        const change_value_t *x = &a->values[i], *y = &b->values[i];
        if (x->kind != y->kind || x->len != y->len ||
            (x->len > 0 && memcmp(x->data, y->data, x->len) != 0))
            return 0;
    }
    return 1;
}

/* The key tuple of an entry: where its key values live. */
static const change_tuple_t *collapse_entry_key(const collapse_entry_t *e)
{
    return e->op == 'I' ? &e->row : &e->key;
}

static int collapse_find(const collapse_t *cl, const change_relation_t *rel,
                         const change_tuple_t *key, uint64_t h)
{
    if (cl->nslots == 0)
        return -1;
    for (int i = (int)(h & (uint64_t)(cl->nslots - 1));; i = (i + 1) & (cl->nslots - 1)) {
        int e = cl->slots[i] - 1;
        if (e < 0)
            return -1;
        const collapse_entry_t *en = &cl->entries[e];
        if (en->hash == h && en->rel->relid == rel->relid &&
            collapse_same_key(rel, collapse_entry_key(en), key))
            return e;
    }
}

static void collapse_index(collapse_t *cl, int e)
{
    int i = (int)(cl->entries[e].hash & (uint64_t)(cl->nslots - 1));
    while (cl->slots[i] != 0)
        i = (i + 1) & (cl->nslots - 1);
    cl->slots[i] = e + 1;
}

static int collapse_grow(collapse_t *cl)
{
    if (cl->nentries + 1 > cl->cap) {
        int cap = cl->cap ? cl->cap * 2 : 1024;
        collapse_entry_t *n = realloc(cl->entries, (size_t)cap * sizeof(*n));
        if (n == NULL)
            return -1;
        cl->entries = n;
        cl->cap = cap;
    }
    if ((cl->nentries + 1) * 2 > cl->nslots) {
        int nslots = cl->nslots ? cl->nslots * 2 : 2048;
        int *slots = calloc((size_t)nslots, sizeof(int));
        if (slots == NULL)
            return -1;
        free(cl->slots);
        cl->slots = slots;
        cl->nslots = nslots;
        for (int e = 0; e < cl->nentries; e++)
            collapse_index(cl, e);
    }
    return 0;
}

/* What the buffer holds: the copies, and its entries with their hash slots
 * (for narrow rows these are as large as the copies). */
static size_t collapse_memory(const collapse_t *cl)
{
    return cl->bytes + (size_t)cl->nentries * (sizeof(collapse_entry_t) + 2 * sizeof(int));
}

static err_t collapse_oom(char *errbuf, size_t errsize);

/* ---- flushing ------------------------------------------------------------ */

static err_t collapse_emit(collapse_t *cl, const collapse_entry_t *e, char *errbuf, size_t errsize)
{
    change_row_t r = {.rel = e->rel, .lsn = e->lsn};
    err_t err = ERR_OK;
    if (e->op == 'D' || e->op == 'R') {
        r.op = CHANGE_DELETE;
        r.old_kind = 'K';
        r.old_tuple = &e->key;
        err = cl->inner.ops->row(cl->inner.ctx, &r, errbuf, errsize);
        cl->out++;
    }
    if (err == ERR_OK && e->op != 'D') {
        r.op = e->op == 'U' ? CHANGE_UPDATE : CHANGE_INSERT;
        r.old_kind = 0;
        r.old_tuple = NULL;
        r.new_tuple = &e->row;
        err = cl->inner.ops->row(cl->inner.ctx, &r, errbuf, errsize);
        cl->out++;
    }
    return err;
}

/* Same columns present in the new values (the shape of an UPDATE)? */
static int collapse_same_shape(const change_tuple_t *a, const change_tuple_t *b)
{
    if (a->ncols != b->ncols)
        return 0;
    for (int i = 0; i < a->ncols; i++) {
        if ((a->values[i].kind == CHANGE_UNCHANGED) != (b->values[i].kind == CHANGE_UNCHANGED))
            return 0;
    }
    return 1;
}

/* Hands one group (same relation, op, shape; distinct keys) to inner. */
static err_t collapse_group(collapse_t *cl, change_row_t *batch, int n, char *errbuf,
                            size_t errsize)
{
    if (n == 0)
        return ERR_OK;
    cl->out += (unsigned long long)n;
    return cl->inner.ops->rows(cl->inner.ctx, batch, n, errbuf, errsize);
}

/* The rows of relation rel from entry first on: deletes (also the delete half
 * of R), then updates grouped by shape, then inserts. Keys are distinct, so
 * only R's delete-before-insert order matters, and it is kept. */
static err_t collapse_flush_rel(collapse_t *cl, int first, uint8_t *done, change_row_t *batch,
                                char *errbuf, size_t errsize)
{
    const change_relation_t *rel = cl->entries[first].rel;
    int n = 0;
    err_t err = ERR_OK;
    for (int j = first; j < cl->nentries; j++) {
        const collapse_entry_t *e = &cl->entries[j];
        if (e->rel == rel && (e->op == 'D' || e->op == 'R'))
            batch[n++] = (change_row_t){.op = CHANGE_DELETE,
                                        .rel = rel,
                                        .old_kind = 'K',
                                        .old_tuple = &e->key,
                                        .lsn = e->lsn};
    }
    err = collapse_group(cl, batch, n, errbuf, errsize);
    for (int j = first; j < cl->nentries && err == ERR_OK; j++) {
        const collapse_entry_t *e = &cl->entries[j];
        if (e->rel != rel || e->op != 'U' || done[j])
            continue;
        n = 0;
        for (int k = j; k < cl->nentries; k++) {
            const collapse_entry_t *f = &cl->entries[k];
            if (f->rel == rel && f->op == 'U' && !done[k] &&
                collapse_same_shape(&e->row, &f->row)) {
                batch[n++] = (change_row_t){
                    .op = CHANGE_UPDATE, .rel = rel, .new_tuple = &f->row, .lsn = f->lsn};
                done[k] = 1;
            }
        }
        err = collapse_group(cl, batch, n, errbuf, errsize);
    }
    n = 0;
    for (int j = first; j < cl->nentries; j++) {
        const collapse_entry_t *e = &cl->entries[j];
        if (e->rel == rel && (e->op == 'I' || e->op == 'R'))
            batch[n++] = (change_row_t){
                .op = CHANGE_INSERT, .rel = rel, .new_tuple = &e->row, .lsn = e->lsn};
        if (e->rel == rel)
            done[j] = 1;
    }
    return err != ERR_OK ? err : collapse_group(cl, batch, n, errbuf, errsize);
}

static err_t collapse_flush(collapse_t *cl, char *errbuf, size_t errsize)
{
    err_t err = ERR_OK;
    if (cl->inner.ops->rows == NULL) {
        for (int i = 0; i < cl->nentries && err == ERR_OK; i++) {
            if (cl->entries[i].op != 0)
                err = collapse_emit(cl, &cl->entries[i], errbuf, errsize);
        }
        collapse_reset(cl);
        return err;
    }
    uint8_t *done = calloc((size_t)cl->nentries + 1, 1);
    change_row_t *batch = malloc(((size_t)cl->nentries + 1) * sizeof(*batch));
    if (done == NULL || batch == NULL)
        err = collapse_oom(errbuf, errsize);
    for (int i = 0; i < cl->nentries && err == ERR_OK; i++) {
        if (!done[i])
            err = collapse_flush_rel(cl, i, done, batch, errbuf, errsize);
    }
    free(done);
    free(batch);
    collapse_reset(cl);
    return err;
}

/* ---- merging ------------------------------------------------------------- */

static err_t collapse_oom(char *errbuf, size_t errsize)
{
    snprintf(errbuf, errsize, "out of memory merging row changes");
    return ERR_RUNTIME;
}

/* No key to merge on: no identity columns, or REPLICA IDENTITY FULL (every
 * column travels as "key", and two rows may be equal in all of them). Only
 * inserts of such a relation are buffered; any other change of it flushes
 * and passes through in order. */
static int collapse_keyless(const change_relation_t *rel)
{
    if (rel->replident == 'f')
        return 1;
    for (int i = 0; i < rel->ncols; i++) {
        if (rel->cols[i].is_key)
            return 0;
    }
    return 1;
}

/* A row whose values pass an arena block (a large TOAST value): merging it
 * would save little and copy it whole, so it is not buffered. */
static int collapse_large(const change_row_t *r)
{
    size_t n = 0;
    const change_tuple_t *ts[2] = {r->old_tuple, r->new_tuple};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; ts[k] != NULL && i < ts[k]->ncols; i++)
            n += ts[k]->values[i].len;
    }
    return n > COLLAPSE_BLOCK;
}

static err_t collapse_add(collapse_t *cl, const change_row_t *r, const change_tuple_t *key,
                          uint64_t h, char *errbuf, size_t errsize)
{
    if (collapse_grow(cl) != 0)
        return collapse_oom(errbuf, errsize);
    collapse_entry_t *e = &cl->entries[cl->nentries];
    memset(e, 0, sizeof(*e));
    e->op = (char)r->op;
    e->rel = r->rel;
    e->lsn = r->lsn;
    e->hash = h;
    int rc = 0;
    if (r->op != CHANGE_INSERT)
        rc = collapse_copy(cl, key, NULL, &e->key);
    if (rc == 0 && r->op != CHANGE_DELETE)
        rc = collapse_copy(cl, r->new_tuple, NULL, &e->row);
    if (rc != 0)
        return collapse_oom(errbuf, errsize);
    if (!collapse_keyless(r->rel)) /* keyless rows all hash alike and are never looked up */
        collapse_index(cl, cl->nentries);
    cl->nentries++;
    return ERR_OK;
}

/* Applies r onto the buffered state e; returns 0, or 1 when r cannot follow e. */
static int collapse_merge(collapse_t *cl, collapse_entry_t *e, const change_row_t *r)
{
    e->lsn = r->lsn;
    switch (r->op) {
    case CHANGE_INSERT:
        if (e->op != 'D' && e->op != 0)
            return 1;
        e->op = e->op == 'D' ? 'R' : 'I'; /* gone (inserted then deleted): new again */
        return collapse_copy(cl, r->new_tuple, NULL, &e->row) != 0 ? -1 : 0;
    case CHANGE_UPDATE: {
        if (e->op == 'D' || e->op == 0)
            return 1;
        change_tuple_t base = e->row; /* the copy replaces e->row */
        return collapse_copy(cl, r->new_tuple, &base, &e->row) != 0 ? -1 : 0;
    }
    case CHANGE_DELETE:
        if (e->op == 'D' || e->op == 0)
            return 1;
        if (e->op == 'I') {
            e->op = 0; /* never existed for the target */
            return 0;
        }
        if (e->op == 'R' || e->op == 'U')
            e->op = 'D';
        return 0;
    case CHANGE_TRUNCATE: /* never a row (sink_ops.truncate) */
        break;
    }
    return 1;
}

static err_t collapse_row(void *ctx, const change_row_t *r, char *errbuf, size_t errsize)
{
    collapse_t *cl = ctx;
    cl->in++;
    int keyed = r->op == CHANGE_INSERT || r->old_kind == 0 || r->op == CHANGE_DELETE;
    if (cl->inner.ops->collapsible == NULL || !keyed ||
        !cl->inner.ops->collapsible(cl->inner.ctx, r->rel->relid)) {
        /* a key change links two rows: keep everything in order */
        err_t err = keyed ? ERR_OK : collapse_flush(cl, errbuf, errsize);
        cl->out++;
        return err != ERR_OK ? err : cl->inner.ops->row(cl->inner.ctx, r, errbuf, errsize);
    }
    const change_tuple_t *key = r->op == CHANGE_DELETE ? r->old_tuple : r->new_tuple;
    uint64_t h = collapse_hash(r->rel, key);
    int keyless = collapse_keyless(r->rel);
    if (keyless && r->op != CHANGE_INSERT) { /* the source refuses these; keep order anyway */
        err_t err = collapse_flush(cl, errbuf, errsize);
        cl->out++;
        return err != ERR_OK ? err : cl->inner.ops->row(cl->inner.ctx, r, errbuf, errsize);
    }
    if (collapse_large(r)) { /* not copied: written at once, after what came before */
        err_t err = collapse_flush(cl, errbuf, errsize);
        cl->out++;
        return err != ERR_OK ? err : cl->inner.ops->row(cl->inner.ctx, r, errbuf, errsize);
    }
    /* rows of a keyless table are only ever inserted: each is its own entry */
    int e = keyless ? -1 : collapse_find(cl, r->rel, key, h);
    err_t err = ERR_OK;
    if (e < 0) {
        err = collapse_add(cl, r, key, h, errbuf, errsize);
    } else {
        int rc = collapse_merge(cl, &cl->entries[e], r);
        if (rc < 0)
            return collapse_oom(errbuf, errsize);
        if (rc > 0) { /* not a sequence the source can produce: pass it on in order */
            err = collapse_flush(cl, errbuf, errsize);
            cl->out++;
            return err != ERR_OK ? err : cl->inner.ops->row(cl->inner.ctx, r, errbuf, errsize);
        }
    }
    if (err == ERR_OK && collapse_memory(cl) > cl->max_bytes)
        err = collapse_flush(cl, errbuf, errsize);
    return err;
}

/* ---- the rest of the sink: flush, then delegate -------------------------- */

static err_t collapse_relation(void *ctx, const change_relation_t *rel, lsn_t lsn, char *errbuf,
                               size_t errsize)
{
    collapse_t *cl = ctx;
    err_t err = collapse_flush(cl, errbuf, errsize);
    return err != ERR_OK ? err : cl->inner.ops->relation(cl->inner.ctx, rel, lsn, errbuf, errsize);
}

static err_t collapse_type(void *ctx, uint32_t oid, const char *nsp, const char *name, char *errbuf,
                           size_t errsize)
{
    collapse_t *cl = ctx;
    if (cl->inner.ops->type == NULL)
        return ERR_OK;
    return cl->inner.ops->type(cl->inner.ctx, oid, nsp, name, errbuf, errsize);
}

static err_t collapse_begin(void *ctx, char *errbuf, size_t errsize)
{
    collapse_t *cl = ctx;
    return cl->inner.ops->begin(cl->inner.ctx, errbuf, errsize);
}

static err_t collapse_truncate(void *ctx, const change_relation_t *const *rels, int nrels,
                               uint8_t options, lsn_t lsn, char *errbuf, size_t errsize)
{
    collapse_t *cl = ctx;
    err_t err = collapse_flush(cl, errbuf, errsize);
    return err != ERR_OK
               ? err
               : cl->inner.ops->truncate(cl->inner.ctx, rels, nrels, options, lsn, errbuf, errsize);
}

/* DDL sits between the rows before and after it: those before go first. */
static err_t collapse_ddl(void *ctx, const sink_ddl_t *ddl, char *errbuf, size_t errsize)
{
    collapse_t *cl = ctx;
    if (cl->inner.ops->ddl == NULL)
        return ERR_OK;
    err_t err = collapse_flush(cl, errbuf, errsize);
    return err != ERR_OK ? err : cl->inner.ops->ddl(cl->inner.ctx, ddl, errbuf, errsize);
}

static err_t collapse_commit(void *ctx, const sink_position_t *pos, char *errbuf, size_t errsize)
{
    collapse_t *cl = ctx;
    err_t err = collapse_flush(cl, errbuf, errsize);
    return err != ERR_OK ? err : cl->inner.ops->commit(cl->inner.ctx, pos, errbuf, errsize);
}

/* An inner sink without asynchronous commits commits synchronously here, and
 * what it committed is then durable at once. */
static err_t collapse_commit_async(void *ctx, const sink_position_t *pos, char *errbuf,
                                   size_t errsize)
{
    collapse_t *cl = ctx;
    err_t err = collapse_flush(cl, errbuf, errsize);
    if (err != ERR_OK || cl->inner.ops->commit_async != NULL)
        return err != ERR_OK ? err
                             : cl->inner.ops->commit_async(cl->inner.ctx, pos, errbuf, errsize);
    err = cl->inner.ops->commit(cl->inner.ctx, pos, errbuf, errsize);
    if (err == ERR_OK)
        cl->committed = pos->end_lsn;
    return err;
}

static err_t collapse_durable(void *ctx, lsn_t *lsn, char *errbuf, size_t errsize)
{
    collapse_t *cl = ctx;
    if (cl->inner.ops->durable == NULL) {
        *lsn = cl->committed;
        return ERR_OK;
    }
    return cl->inner.ops->durable(cl->inner.ctx, lsn, errbuf, errsize);
}

static err_t collapse_drain(void *ctx, char *errbuf, size_t errsize)
{
    collapse_t *cl = ctx;
    return cl->inner.ops->drain ? cl->inner.ops->drain(cl->inner.ctx, errbuf, errsize) : ERR_OK;
}

static void collapse_rollback(void *ctx)
{
    collapse_t *cl = ctx;
    collapse_reset(cl);
    cl->inner.ops->rollback(cl->inner.ctx);
}

static err_t collapse_advance(void *ctx, lsn_t lsn, char *errbuf, size_t errsize)
{
    collapse_t *cl = ctx;
    return cl->inner.ops->advance(cl->inner.ctx, lsn, errbuf, errsize);
}

static void collapse_on_wait(void *ctx, void (*hook)(void *arg, int stalled), void *arg)
{
    collapse_t *cl = ctx;
    if (cl->inner.ops->on_wait != NULL)
        cl->inner.ops->on_wait(cl->inner.ctx, hook, arg);
}

static const sink_ops_t collapse_ops = {
    .relation = collapse_relation,
    .type = collapse_type,
    .begin = collapse_begin,
    .row = collapse_row,
    .truncate = collapse_truncate,
    .commit = collapse_commit,
    .commit_async = collapse_commit_async,
    .durable = collapse_durable,
    .drain = collapse_drain,
    .rollback = collapse_rollback,
    .advance = collapse_advance,
    .on_wait = collapse_on_wait,
    .collapsible = NULL,
    .ddl = collapse_ddl,
};

sink_t collapse_sink(collapse_t *cl)
{
    sink_t s = {.ops = &collapse_ops, .ctx = cl};
    return s;
}
