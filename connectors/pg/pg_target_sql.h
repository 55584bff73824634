/*
 * pg_target_sql: the text of the applier's statements: INSERT, UPDATE and
 * DELETE of one row per prepared-statement shape, and the multi-row forms of
 * collapsible tables. Builds strings only; sends nothing.
 */
#ifndef SYNCLINE_PG_TARGET_SQL_H
#define SYNCLINE_PG_TARGET_SQL_H

#include "core/sink.h"
#include "pg/pg_target_rel.h"

/*
 * Shape of a row change into shape (ncols + 2 bytes): op letter ('I', 'U'
 * new-tuple key, 'u' old-tuple key, 'D') then per column '1' when the new
 * tuple carries a value for it.
 */
void pg_target_sql_shape(const change_row_t *row, char *shape);

/* The statement for st->shape on r (malloc'd; NULL when out of memory),
 * filling st's parameter list (st->param_col/param_old sized 2 * ncols + 1,
 * st->nparams 0). UPDATE and DELETE must touch one row (pg_rowcheck);
 * skips_missing lets a missing one pass (on_missing_row skip). */
char *pg_target_sql_stmt(const pg_target_rel_t *r, pg_target_stmt_t *st, int skips_missing);

/* The statement for m rows of r, one op, the columns marked in present
 * (pg_bulk_sql), checked like pg_target_sql_stmt's. malloc'd or NULL. */
char *pg_target_sql_bulk(const pg_target_rel_t *r, char op, const char *present, int m,
                         int skips_missing);

#endif
