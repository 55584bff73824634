/*
 * txnbuf: holds the changes of source transactions until each is complete,
 * and hands them out in END order. No I/O.
 *
 * Debezium writes a transaction's changes to one topic per table and BEGIN
 * and END (with the number of changes) to a metadata topic; a consumer sees
 * these interleaved in any order across topics. A transaction is ready when
 * its END was seen and as many changes as END counts are in hand; the
 * oldest END goes first (END order is commit order), so a later transaction
 * that is complete waits for an earlier one that is not. Transactions are
 * found by id in a chained hash table; ended ones wait in a FIFO.
 */
#include "core/txnbuf.h"

#include <stdlib.h>
#include <string.h>

#define TXNBUF_BUCKETS 4096

struct txnbuf {
    txnbuf_txn_t *buckets[TXNBUF_BUCKETS];
    txnbuf_txn_t *qhead, *qtail; /* ended, oldest first */
    size_t max_bytes;
    size_t bytes, items;
    size_t open; /* transactions without END */
    void (*free_item)(void *item);
};

static unsigned txnbuf_hash(const char *id)
{
    unsigned h = 2166136261u;
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % TXNBUF_BUCKETS;
}

txnbuf_t *txnbuf_new(size_t max_bytes, void (*free_item)(void *item))
{
    txnbuf_t *tb = calloc(1, sizeof(*tb));
    if (tb != NULL) {
        tb->max_bytes = max_bytes;
        tb->free_item = free_item;
    }
    return tb;
}

static void txnbuf_txn_free(txnbuf_t *tb, txnbuf_txn_t *t, int items_too)
{
    for (size_t i = 0; items_too && i < t->n; i++)
        tb->free_item(t->items[i].item);
    tb->items -= t->n;
    tb->bytes -= t->bytes;
    free(t->items);
    free(t->id);
    free(t);
}

void txnbuf_clear(txnbuf_t *tb)
{
    for (int b = 0; b < TXNBUF_BUCKETS; b++) {
        while (tb->buckets[b] != NULL) {
            txnbuf_txn_t *t = tb->buckets[b];
            tb->buckets[b] = t->next;
            if (!t->ended)
                txnbuf_txn_free(tb, t, 1);
        }
    }
    while (tb->qhead != NULL) {
        txnbuf_txn_t *t = tb->qhead;
        tb->qhead = t->next_qd;
        txnbuf_txn_free(tb, t, 1);
    }
    tb->qtail = NULL;
    tb->open = 0;
}

void txnbuf_free(txnbuf_t *tb)
{
    if (tb == NULL)
        return;
    txnbuf_clear(tb);
    free(tb);
}

static txnbuf_txn_t *txnbuf_find(const txnbuf_t *tb, const char *id)
{
    for (txnbuf_txn_t *t = tb->buckets[txnbuf_hash(id)]; t != NULL; t = t->next) {
        if (strcmp(t->id, id) == 0)
            return t;
    }
    return NULL;
}

/* A new transaction, in the hash table when it has an id. */
static txnbuf_txn_t *txnbuf_txn_new(txnbuf_t *tb, const char *id)
{
    txnbuf_txn_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    if (id != NULL) {
        t->id = strdup(id);
        if (t->id == NULL) {
            free(t);
            return NULL;
        }
        unsigned h = txnbuf_hash(id);
        t->next = tb->buckets[h];
        tb->buckets[h] = t;
        tb->open++;
    }
    return t;
}

static void txnbuf_unhash(txnbuf_t *tb, txnbuf_txn_t *t)
{
    txnbuf_txn_t **pp = &tb->buckets[txnbuf_hash(t->id)];
    while (*pp != t)
        pp = &(*pp)->next;
    *pp = t->next;
    t->next = NULL;
}

static void txnbuf_queue(txnbuf_t *tb, txnbuf_txn_t *t)
{
    t->ended = 1;
    if (t->id != NULL)
        tb->open--;
    if (tb->qtail != NULL)
        tb->qtail->next_qd = t;
    else
        tb->qhead = t;
    tb->qtail = t;
}

static int txnbuf_push(txnbuf_txn_t *t, void *item, int64_t order, size_t bytes)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 8;
        txnbuf_item_t *p = realloc(t->items, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        t->items = p;
        t->cap = cap;
    }
    t->items[t->n++] = (txnbuf_item_t){item, order};
    t->bytes += bytes;
    return 0;
}

txnbuf_rc_t txnbuf_add(txnbuf_t *tb, const char *id, int64_t order, void *item, size_t bytes)
{
    txnbuf_txn_t *t = id != NULL ? txnbuf_find(tb, id) : NULL;
    if (t != NULL && t->bytes + bytes > tb->max_bytes)
        return TXNBUF_TXN_TOO_BIG;
    if (tb->bytes + bytes > tb->max_bytes && tb->bytes > 0)
        return TXNBUF_FULL;
    int fresh = t == NULL;
    if (fresh && (t = txnbuf_txn_new(tb, id)) == NULL)
        return TXNBUF_NOMEM;
    if (txnbuf_push(t, item, order, bytes) != 0) {
        if (fresh && id == NULL)
            free(t);
        return TXNBUF_NOMEM; /* a fresh entry with an id stays, empty */
    }
    tb->items++;
    tb->bytes += bytes;
    if (id == NULL) {
        t->count = 1;
        t->src = -1;
        txnbuf_queue(tb, t);
    }
    return TXNBUF_OK;
}

txnbuf_rc_t txnbuf_end(txnbuf_t *tb, const char *id, int64_t count, int src, int64_t token,
                       uint64_t mark)
{
    txnbuf_txn_t *t = txnbuf_find(tb, id);
    if (t != NULL && t->ended)
        return TXNBUF_DUPLICATE;
    if (t == NULL && (t = txnbuf_txn_new(tb, id)) == NULL)
        return TXNBUF_NOMEM;
    t->count = count;
    t->src = src;
    t->token = token;
    t->mark = mark;
    txnbuf_queue(tb, t);
    return TXNBUF_OK;
}

static int txnbuf_cmp(const void *a, const void *b)
{
    int64_t x = ((const txnbuf_item_t *)a)->order, y = ((const txnbuf_item_t *)b)->order;
    return (x > y) - (x < y);
}

txnbuf_txn_t *txnbuf_ready(txnbuf_t *tb)
{
    txnbuf_txn_t *t = tb->qhead;
    if (t == NULL || (int64_t)t->n < t->count)
        return NULL;
    if (t->n > 1)
        qsort(t->items, t->n, sizeof(*t->items), txnbuf_cmp);
    return t;
}

void txnbuf_pop(txnbuf_t *tb)
{
    txnbuf_txn_t *t = tb->qhead;
    if (t == NULL)
        return;
    tb->qhead = t->next_qd;
    if (tb->qhead == NULL)
        tb->qtail = NULL;
    if (t->id != NULL)
        txnbuf_unhash(tb, t);
    txnbuf_txn_free(tb, t, 0);
}

const txnbuf_txn_t *txnbuf_head(const txnbuf_t *tb)
{
    return tb->qhead;
}

const txnbuf_txn_t *txnbuf_unended(const txnbuf_t *tb)
{
    for (int b = 0; tb->open > 0 && b < TXNBUF_BUCKETS; b++) {
        for (const txnbuf_txn_t *t = tb->buckets[b]; t != NULL; t = t->next) {
            if (!t->ended)
                return t;
        }
    }
    return NULL;
}

size_t txnbuf_items(const txnbuf_t *tb)
{
    return tb->items;
}

size_t txnbuf_bytes(const txnbuf_t *tb)
{
    return tb->bytes;
}
