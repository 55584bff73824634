/*
 * pg_target_transform: one transformed table on the target: its plan, the SQL types of
 * the source columns, the target key, and the prepared statements that
 * apply row changes through the mapping. Used by pg_target for tables whose
 * "tables" entry has columns, exclude or where.
 */
#ifndef SYNCLINE_PG_TREL_H
#define SYNCLINE_PG_TREL_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "core/change.h"
#include "core/config.h"
#include "core/err.h"
#include "pg/pg_pipe.h"
#include "core/sink.h"

/* User-defined source types (from pgoutput Type messages): oid -> SQL name. */
typedef struct pg_target_transform_types {
    uint32_t *oids;
    char **names; /* quoted "schema"."type", owned */
    int n, cap;
} pg_target_transform_types_t;

int pg_target_transform_types_put(pg_target_transform_types_t *types, PGconn *conn, uint32_t oid,
                                  const char *nsp, const char *name);
void pg_target_transform_types_clear(pg_target_transform_types_t *types);

typedef struct pg_target_transform pg_target_transform_t;

/*
 * Describes a transformed table. Returns ERR_OK with *out NULL when the
 * entry needs no transform (the plain path applies), ERR_SCHEMA when the
 * mapping does not fit the target (unknown column, unmapped source column,
 * target key not derivable from the source key...). Caller frees with
 * pg_target_transform_free.
 */
err_t pg_target_transform_new(PGconn *conn, const config_table_t *entry,
                              const change_relation_t *rel, const char *target, const char *display,
                              const pg_target_transform_types_t *types, pg_target_transform_t **out,
                              char *errbuf, size_t errsize);

/* A BEFORE ROW UPDATE/DELETE trigger fires on the target table (see
 * pg_target.c): a change it skips on purpose is then not a missing row. */
void pg_target_transform_trigger_skips(pg_target_transform_t *tr, int skips);

/* Frees; with conn, also deallocates its server-side statements. */
void pg_target_transform_free(pg_target_transform_t *tr, PGconn *conn);

/* Queues the statement applying one row change. *counter numbers statements. */
err_t pg_target_transform_apply(pg_target_transform_t *tr, pg_pipe_t *pipe, int *counter,
                                const change_row_t *row, char *errbuf, size_t errsize);

/*
 * After a failed apply (the pipeline aborted), evaluates each mapping of the
 * failed row alone and appends to errbuf which column (or the filter) fails
 * and why. diag comes from pg_pipe_take_failed; this frees it.
 */
void pg_target_transform_explain(PGconn *conn, void *diag, char *errbuf, size_t errsize);

#endif
