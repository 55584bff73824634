/*
 * event_dbz_txn: what apply reads of Debezium's transaction metadata: the
 * BEGIN/END messages of <prefix>.transaction and the transaction block of
 * each change event. Pure: no I/O.
 */
#ifndef SYNCLINE_EVENT_DBZ_TXN_H
#define SYNCLINE_EVENT_DBZ_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event/event.h"

#define EVENT_DBZ_TXN_IDLEN 128

/* A BEGIN or END message. */
typedef struct event_dbz_txn_meta {
    bool end;
    char id[EVENT_DBZ_TXN_IDLEN]; /* the transaction's key: its id up to ':' (the xid) */
    int64_t event_count;          /* END: changes of the transaction, all tables */
    uint64_t lsn;                 /* the LSN after ':' in the id (END: its commit's), 0 when none */
} event_dbz_txn_meta_t;

/*
 * Where a change stands in the source's commit order, from its source block
 * ("sequence": [last commit LSN, LSN], "lsn", "version") and its transaction
 * block ("total_order"), to tell a change a restarted connector sends again
 * (Debezium is at-least-once) from a new one. The PostgreSQL connector streams
 * whole transactions in commit order, so in one topic partition the triple
 * (prev_commit, lsn, order) of the changes it sends only grows; a copy sent
 * again compares at or below the greatest one seen.
 */
typedef struct event_dbz_pos {
    uint64_t prev_commit; /* the commit LSN before this transaction's (0: null) */
    uint64_t lsn;         /* the change's LSN (syncline's capture: its commit LSN) */
    int64_t order;        /* total_order in its transaction */
    bool has_prev;        /* "sequence" names the last commit */
    bool lsn_is_commit;   /* written by syncline's capture: lsn is the commit LSN */
} event_dbz_pos_t;

/* Reads the value of a metadata message (JSON, with or without the
 * JsonConverter's schema wrapper). 0; -1 with errbuf saying why. */
int event_dbz_txn_meta_read(const void *buf, size_t len, event_dbz_txn_meta_t *meta, char *errbuf,
                            size_t errsize);

/* The transaction block of decoded change event ev: 1 with id and *order
 * (total_order) set, id as in event_dbz_txn_meta_t; 0 when it has none
 * (provide.transaction.metadata off); -1 when it is malformed (errbuf says why). */
int event_dbz_txn_block(const event_t *ev, char *id, size_t idsize, int64_t *order, char *errbuf,
                        size_t errsize);

/* The position of decoded change event ev whose transaction block gave
 * order: 1 with *pos set; 0 when its source block lacks "lsn" (no position:
 * never taken for a copy). */
int event_dbz_txn_pos(const event_t *ev, int64_t order, event_dbz_pos_t *pos);

/* <0, 0, >0 as a stands before, with, after b. */
int event_dbz_pos_cmp(const event_dbz_pos_t *a, const event_dbz_pos_t *b);

/* Is the transaction of a change at pos committed at or before commit LSN
 * applied (the END of the newest transaction applied)? Only when pos says so
 * for certain: its previous commit is below applied (the transaction is the
 * next one after it, so at or below applied), or syncline's capture wrote it
 * (its lsn is the commit LSN). */
bool event_dbz_pos_applied(const event_dbz_pos_t *pos, uint64_t applied);

#endif
