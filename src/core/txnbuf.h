/*
 * txnbuf: re-assembles source transactions whose changes arrive spread over
 * many streams (Debezium's topic per table) and whose end is announced on
 * another (the transaction metadata topic). Pure bookkeeping: no I/O.
 */
#ifndef SYNCLINE_TXNBUF_H
#define SYNCLINE_TXNBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct txnbuf txnbuf_t;

/* What txnbuf_add and txnbuf_end report. */
typedef enum txnbuf_rc {
    TXNBUF_OK,
    TXNBUF_TXN_TOO_BIG, /* one transaction would pass the limit: nothing taken */
    TXNBUF_FULL,        /* all buffered transactions would pass it: nothing taken */
    TXNBUF_NOMEM,
    TXNBUF_DUPLICATE, /* a second END of a transaction in hand: ignored */
} txnbuf_rc_t;

typedef struct txnbuf_item {
    void *item;
    int64_t order;
} txnbuf_item_t;

/* A transaction in hand. items[0..n) are sorted by order once it is ready. */
typedef struct txnbuf_txn {
    char *id;      /* NULL: a change without a transaction block */
    int ended;     /* its END was seen */
    int64_t count; /* changes END announced */
    int src;       /* where END was read, as the caller gave it (stream, offset); */
    int64_t token; /* src -1 for a change without a transaction block */
    uint64_t mark; /* what the caller gave with END (its commit LSN), 0 before */
    txnbuf_item_t *items;
    size_t n, cap;
    size_t bytes;
    struct txnbuf_txn *next;    /* in its hash bucket */
    struct txnbuf_txn *next_qd; /* in the queue of ended transactions */
} txnbuf_txn_t;

/* An empty buffer holding at most max_bytes (per transaction and in all);
 * free_item frees an item the buffer still owns. */
txnbuf_t *txnbuf_new(size_t max_bytes, void (*free_item)(void *item));

/* Frees the buffer and every item it holds. */
void txnbuf_free(txnbuf_t *tb);

/* Drops everything held (the items freed). */
void txnbuf_clear(txnbuf_t *tb);

/*
 * A change of transaction id at position order (Debezium's total_order),
 * bytes large; takes item on TXNBUF_OK. id NULL: a change of its own, which
 * is complete at once and queues behind the transactions ended before it.
 */
txnbuf_rc_t txnbuf_add(txnbuf_t *tb, const char *id, int64_t order, void *item, size_t bytes);

/* END of transaction id with count changes, read at (src, token), with mark
 * (kept in the transaction): it queues, in END order. */
txnbuf_rc_t txnbuf_end(txnbuf_t *tb, const char *id, int64_t count, int src, int64_t token,
                       uint64_t mark);

/* The oldest ended transaction when all its changes are in (items sorted),
 * NULL when none is ready. Owned by the buffer until txnbuf_pop. */
txnbuf_txn_t *txnbuf_ready(txnbuf_t *tb);

/* Forgets the ready transaction txnbuf_ready returned; its items are the
 * caller's (taken) and not freed. */
void txnbuf_pop(txnbuf_t *tb);

/* The oldest ended transaction (complete or not), NULL when none. */
const txnbuf_txn_t *txnbuf_head(const txnbuf_t *tb);

/* Any transaction still waiting for its END, NULL when none. */
const txnbuf_txn_t *txnbuf_unended(const txnbuf_t *tb);

/* Items and bytes held. */
size_t txnbuf_items(const txnbuf_t *tb);
size_t txnbuf_bytes(const txnbuf_t *tb);

#endif
