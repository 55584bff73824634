/*
 * event_dbz: the messages of capture's "debezium" layout, as the Debezium
 * PostgreSQL connector writes them with Kafka Connect's JsonConverter
 * (schemas.enable=true), or with the AvroConverter in the Confluent wire
 * format: per-table change events (key struct and envelope), transaction
 * metadata and heartbeats. Pure: no I/O (the registry is a callback).
 */
#ifndef SYNCLINE_EVENT_DBZ_H
#define SYNCLINE_EVENT_DBZ_H

#include <stddef.h>
#include <stdint.h>

#include "event/event.h"

/* Keeps the schemas of the relations seen; one per capture. */
typedef struct event_dbz event_dbz_t;

/* prefix: topic prefix and source.name; db: source.db. Copied. NULL when
 * out of memory. Free with event_dbz_free. */
event_dbz_t *event_dbz_new(const char *prefix, const char *db);
void event_dbz_free(event_dbz_t *dz);

/* Registers the Avro schema text under subject (the registry's
 * TopicNameStrategy subject <topic>-key or <topic>-value) and gives its id.
 * 0; -1 with errbuf. */
typedef int (*event_dbz_register_fn)(void *ctx, const char *subject, const char *schema,
                                     int32_t *id, char *errbuf, size_t errsize);

/* Messages in Avro from now on (the Confluent wire format), each schema
 * registered through reg at its first use. */
void event_dbz_set_avro(event_dbz_t *dz, event_dbz_register_fn reg, void *ctx);

/* <prefix>.<schema>.<table> into buf, each character Kafka refuses in a
 * topic name replaced by '_' (as Debezium does). */
void event_dbz_topic(const event_dbz_t *dz, const char *nspname, const char *relname, char *buf,
                     size_t size);

/* The transaction block each change event carries, and the transaction id
 * ("<xid>:<commit LSN>") the metadata messages name. */
typedef struct event_dbz_block {
    char id[48];
    int64_t total_order;           /* 1-based, in the transaction */
    int64_t data_collection_order; /* 1-based, in the transaction and table */
} event_dbz_block_t;

/* Fills blk->id for txn. */
void event_dbz_txn_id(const event_txn_t *txn, event_dbz_block_t *blk);

/*
 * The key message of the row image t of rel (its identity columns), as
 * malloc'd text into *out (caller frees); *out NULL when the relation has no
 * identity column (Debezium's null key). 0; -1 with errbuf naming the column.
 */
int event_dbz_key(event_dbz_t *dz, const change_relation_t *rel, const change_tuple_t *t,
                  char **out, size_t *len, char *errbuf, size_t errsize);

/*
 * The value message (envelope) of row in transaction txn with block blk
 * (NULL: none), now_ms the envelope's ts_ms. An update given with
 * as_op EVENT_DELETE or EVENT_CREATE is written as that op (the halves of a
 * key change). Malloc'd into *out. 0; -1 with errbuf naming the column.
 */
int event_dbz_value(event_dbz_t *dz, const change_row_t *row, event_op_t as_op,
                    const event_txn_t *txn, const event_dbz_block_t *blk, int64_t now_ms,
                    char **out, size_t *len, char *errbuf, size_t errsize);

/* True when the update row changes the columns of its key struct. */
bool event_dbz_key_changed(event_dbz_t *dz, const change_row_t *row);

/* The key struct of relation relid is its primary key cols[0..n) (copied),
 * not its replica identity (REPLICA IDENTITY FULL, or an index). 0; -1 when
 * out of memory. */
int event_dbz_primary_key(event_dbz_t *dz, uint32_t relid, char *const *cols, int n);

/* Events of one table in a transaction, for its END message. */
typedef struct event_dbz_count {
    const char *collection; /* "schema.table" */
    int64_t count;
} event_dbz_count_t;

/* The transaction topic's key and value (BEGIN: counts NULL; END: n
 * tables). Malloc'd; NULL with errbuf. */
char *event_dbz_txn_key(event_dbz_t *dz, const event_dbz_block_t *blk, size_t *len, char *errbuf,
                        size_t errsize);
char *event_dbz_txn_value(event_dbz_t *dz, const event_dbz_block_t *blk, bool end, int64_t ts_ms,
                          const event_dbz_count_t *counts, int n, size_t *len, char *errbuf,
                          size_t errsize);

/* The heartbeat topic's key ({serverName}) and value ({ts_ms}). Malloc'd;
 * NULL with errbuf. */
char *event_dbz_heartbeat_key(event_dbz_t *dz, size_t *len, char *errbuf, size_t errsize);
char *event_dbz_heartbeat_value(event_dbz_t *dz, int64_t ts_ms, size_t *len, char *errbuf,
                                size_t errsize);

#endif
