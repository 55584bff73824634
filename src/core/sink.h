/*
 * sink: the interface the apply loop applies changes through. A connector
 * (connectors/pg/pg_target.c) implements it on a PostgreSQL target. The sink
 * owns target transactions; the apply loop decides where they end.
 */
#ifndef SYNCLINE_SINK_H
#define SYNCLINE_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "core/change.h"
#include "core/err.h"
#include "core/lsn.h"

/* One source transaction as its Begin and Commit describe it. */
typedef struct sink_txn {
    uint32_t xid;
    lsn_t commit_lsn;    /* the Commit record's LSN: orders transactions */
    lsn_t end_lsn;       /* the Commit's end LSN; 0 until the Commit */
    int64_t commit_time; /* PostgreSQL timestamp */
} sink_txn_t;

/* A DDL command captured on the source (a "syncline.ddl" logical message,
 * core/ddl.h), at its place among the rows of its source transaction. */
typedef struct sink_ddl {
    const char *json; /* the message content (not NUL-terminated); borrowed */
    size_t len;
    lsn_t lsn;     /* the message's own LSN: names this DDL (--ddl-applied) */
    lsn_t txn_lsn; /* the source transaction's commit LSN */
    uint32_t xid;  /* the source transaction's xid (its Begin): the message must name it */
} sink_ddl_t;

/* Where a Kafka consumer stands: the next offset to read in a partition. */
typedef struct sink_offset {
    const char *topic;
    int32_t partition;
    int64_t next_offset;
} sink_offset_t;

/* A key range of a source table that changed in the batch, for incremental
 * verify (src/core/vmark.h): keys [bucket * VMARK_WIDTH, (bucket + 1) *
 * VMARK_WIDTH) of its single integer primary key, or bucket -1: anywhere. */
typedef struct sink_mark {
    const char *schema;
    const char *table;
    int64_t bucket;
} sink_mark_t;

/* What a committed batch covers: the source position, and for the Kafka
 * applier the consumer offsets, all written in the batch's transaction. */
typedef struct sink_position {
    lsn_t end_lsn;       /* end LSN of the newest source transaction in the batch */
    int64_t commit_time; /* its source commit time (PostgreSQL timestamp), 0 = unknown */
    const sink_offset_t *offsets;
    int noffsets;
    const sink_mark_t *marks; /* changed key ranges, written with the batch (may be NULL) */
    int nmarks;
} sink_position_t;

typedef struct sink_ops {
    /* A source relation was (re)described: check the target can take it.
     * ERR_SCHEMA names table and column when it cannot. */
    err_t (*relation)(void *ctx, const change_relation_t *rel, lsn_t lsn, char *errbuf,
                      size_t errsize);
    /* A user-defined source type (pgoutput Type message); may be NULL. */
    err_t (*type)(void *ctx, uint32_t oid, const char *nspname, const char *typname, char *errbuf,
                  size_t errsize);
    /* Opens a target transaction (the apply loop calls it once per batch). */
    err_t (*begin)(void *ctx, char *errbuf, size_t errsize);
    /* May be NULL. A source transaction starts: its changes follow, inside the
     * target transaction begin opened. Not called for transactions skipped as
     * applied before. */
    err_t (*txn_begin)(void *ctx, const sink_txn_t *txn, char *errbuf, size_t errsize);
    /* May be NULL. The source transaction's Commit: every change of it was handed
     * over (txn->end_lsn now set). The target transaction may go on. */
    err_t (*txn_end)(void *ctx, const sink_txn_t *txn, char *errbuf, size_t errsize);
    err_t (*row)(void *ctx, const change_row_t *row, char *errbuf, size_t errsize);
    err_t (*truncate)(void *ctx, const change_relation_t *const *rels, int nrels, uint8_t options,
                      lsn_t lsn, char *errbuf, size_t errsize);
    /* Writes progress (pos) into the open transaction and commits it; returns
     * only once the commit is durable on the target. */
    err_t (*commit)(void *ctx, const sink_position_t *pos, char *errbuf, size_t errsize);
    /* Like commit, but returns once the commit is sent, not when it is durable;
     * durable() then tells how far the target has committed. May be NULL (the
     * apply loop then uses commit). */
    err_t (*commit_async)(void *ctx, const sink_position_t *pos, char *errbuf, size_t errsize);
    /* Without blocking: the end LSN of the newest commit the target reported
     * durable (*lsn, 0 = none yet). Fails when a sent commit failed. */
    err_t (*durable)(void *ctx, lsn_t *lsn, char *errbuf, size_t errsize);
    /* Waits until everything sent has been answered (then durable() is final). */
    err_t (*drain)(void *ctx, char *errbuf, size_t errsize);
    /* Abandons the open transaction, if any. */
    void (*rollback)(void *ctx);
    /* May be NULL. While the sink waits for the target: hook(arg, 0) about once
     * a second, hook(arg, 1) once when it gives up on a stalled target (that
     * call then fails with ERR_CONNECT). hook NULL removes it. */
    void (*on_wait)(void *ctx, void (*hook)(void *arg, int stalled), void *arg);
    /* The consumer offsets stored for topic (Kafka apply): *offsets is malloc'd
     * (caller frees), *n its length. NULL when the sink keeps none. */
    err_t (*offsets)(void *ctx, const char *topic, sink_offset_t **offsets, int *n, char *errbuf,
                     size_t errsize);
    /* Records progress with no data (idle source), in its own transaction. */
    err_t (*advance)(void *ctx, lsn_t lsn, char *errbuf, size_t errsize);
    /* May successive changes to one row of relid be merged into its last state
     * (src/core/collapse.c)? Only when nothing can observe the intermediate states or
     * the order between rows: key identity, no other unique constraint, no
     * triggers. NULL = never. */
    int (*collapsible)(void *ctx, uint32_t relid);
    /* Several changes of one collapsible relation with the same op and the same
     * columns present, all with distinct keys, in any order. NULL = one by one. */
    err_t (*rows)(void *ctx, const change_row_t *rows, int n, char *errbuf, size_t errsize);
    /* May be NULL (DDL is then not followed). A DDL command between the rows
     * before and after it, inside the open target transaction: apply it there,
     * skip it, or fail (ERR_SCHEMA) naming it. */
    err_t (*ddl)(void *ctx, const sink_ddl_t *ddl, char *errbuf, size_t errsize);
} sink_ops_t;

typedef struct sink {
    const sink_ops_t *ops;
    void *ctx; /* owned by whoever built the sink */
} sink_t;

#endif
