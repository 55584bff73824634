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
} event_dbz_txn_meta_t;

/* Reads the value of a metadata message (JSON, with or without the
 * JsonConverter's schema wrapper). 0; -1 with errbuf saying why. */
int event_dbz_txn_meta_read(const void *buf, size_t len, event_dbz_txn_meta_t *meta, char *errbuf,
                            size_t errsize);

/* The transaction block of decoded change event ev: 1 with id and *order
 * (total_order) set, id as in event_dbz_txn_meta_t; 0 when it has none
 * (provide.transaction.metadata off); -1 when it is malformed (errbuf says why). */
int event_dbz_txn_block(const event_t *ev, char *id, size_t idsize, int64_t *order, char *errbuf,
                        size_t errsize);

#endif
