/*
 * pg_target_rel: what the applier knows of one source relation on the
 * target (its table, quoted columns, types, equality, whether changes may be
 * collapsed) and the catalogue queries that find it out. Sends no row.
 */
#ifndef SYNCLINE_PG_TARGET_REL_H
#define SYNCLINE_PG_TARGET_REL_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "core/change.h"
#include "core/config.h"
#include "core/err.h"
#include "core/lsn.h"
#include "pg/pg_target_transform.h"

/* One prepared statement shape. */
typedef struct pg_target_stmt {
    char *shape; /* op + one flag char per column; owned */
    char name[24];
    int nparams;
    int *param_col; /* source column index per parameter; owned */
    int *param_old; /* 1: parameter comes from the old tuple */
    struct pg_target_stmt *next;
} pg_target_stmt_t;

/* How a FULL lookup compares a column (pg_target_rel_describe). */
#define PG_TARGET_REL_EQ_NONE 'n'  /* no equality operator: output text, exactly */
#define PG_TARGET_REL_EQ_LOOSE 'l' /* =, but equal values may differ (1.0 = 1.00) */
#define PG_TARGET_REL_EQ_EXACT 'e' /* =, and equal values are identical */

/* What the applier knows about one source relation. */
typedef struct pg_target_rel {
    uint32_t relid;
    change_relation_t *rel; /* owned copy */
    char *display;          /* source "schema.name", for messages */
    char *target;           /* quoted target "schema"."name" */
    char **qcols;           /* quoted target column per source column */
    char **ttypes;          /* target type (no typmod) per source column: parameter casts */
    char *teq;              /* its equality under FULL: PG_TARGET_REL_EQ_* per source column */
    int skip;
    /* why this relation cannot be applied (no target table, not listed), or
     * NULL. Not an error until a change of it arrives: with
     * publish_via_partition_root the stream describes the leaf partitions
     * too, but their rows come as the root's. Owned. */
    char *unusable;
    int full;                    /* REPLICA IDENTITY FULL: match all columns, one row at a time */
    pg_target_transform_t *trel; /* set for a transformed table (columns/exclude/where) */
    int collapsible;             /* changes to one row may be merged (see pg_target_collapsible) */
    int copyable;      /* collapsible, and a plain or partitioned table without rules: a run of
                          inserts may go as one COPY (pg_target_copy) */
    int trigger_skips; /* a BEFORE ROW UPDATE/DELETE trigger fires: it may skip a change */
    char *always;      /* GENERATED ALWAYS identity columns (pg_identity), or NULL; owned */
    pg_target_stmt_t *stmts;
    struct pg_target_rel *next;
} pg_target_rel_t;

/* A new relation for rel (copied), its columns quoted for conn; NULL when
 * out of memory. Caller frees with pg_target_rel_free. */
pg_target_rel_t *pg_target_rel_new(PGconn *conn, const change_relation_t *rel);
void pg_target_rel_free(pg_target_rel_t *r);
void pg_target_rel_stmts_free(pg_target_stmt_t *s);

/* The relation relid in list, or NULL. */
pg_target_rel_t *pg_target_rel_find(pg_target_rel_t *list, uint32_t relid);

/* Unlinks relid from *list and frees it, deallocating its statements on conn.
 * Called outside pipeline mode. */
void pg_target_rel_forget(pg_target_rel_t **list, PGconn *conn, uint32_t relid);

/*
 * Maps r to its target table through cfg and checks it: skip, transform,
 * columns, collapsibility, triggers. A table that is missing or not listed
 * is no error yet: r->unusable says why (pg_target_rel_usable). lsn (0 at
 * startup) is named in errors.
 */
err_t pg_target_rel_describe(PGconn *conn, const config_t *cfg, pg_target_transform_types_t *types,
                             int replica_role, pg_target_rel_t *r, lsn_t lsn, char *errbuf,
                             size_t errsize);

/* ERR_SCHEMA when a change of r arrives that it cannot take, naming its LSN. */
err_t pg_target_rel_usable(const pg_target_rel_t *r, lsn_t lsn, char *errbuf, size_t errsize);

#endif
