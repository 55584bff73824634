/*
 * pg_large: sends a row's large values to the target in pieces: COPY into a
 * session temp table, inside the open target transaction, so that libpq
 * never holds a large value whole; the row's statement then reads them.
 */
#ifndef SYNCLINE_PG_LARGE_H
#define SYNCLINE_PG_LARGE_H

#include <stddef.h>

#include "core/change.h"
#include "core/err.h"
#include "pg/pg_pipe.h"

/* Where staged values wait: (i = source column index, v = the value). */
#define PG_LARGE_TABLE "pg_temp.syncline_large"

/* A shape character (pg_target_sql_shape) of a column whose value is staged. */
#define PG_LARGE_SHAPE '2'

/* Whether column c of row's new tuple is staged: a text value of at least
 * limit bytes (limit 0: never) outside the replica identity. */
int pg_large_is(const change_row_t *row, int c, size_t limit);

/* Whether any column of row is staged. */
int pg_large_any(const change_row_t *row, size_t limit);

/* Turns the '1' of every staged column in shape (op letter first) into
 * PG_LARGE_SHAPE; returns how many. */
int pg_large_mark(const change_row_t *row, size_t limit, char *shape);

/*
 * Stages the values of the columns marked in shape: leaves the pipeline
 * (a failure of what was queued before comes back as it is), empties the
 * staging table (created on first use in the session), COPYs each value in
 * pieces, waiting (bounded) for the socket between them, and enters the
 * pipeline again. Errors name table (for messages), column and LSN.
 */
err_t pg_large_stage(pg_pipe_t *pp, const change_row_t *row, const char *shape, const char *table,
                     char *errbuf, size_t errsize);

#endif
