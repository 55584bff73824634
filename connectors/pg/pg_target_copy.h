/*
 * pg_target_copy: sends a run of inserts into one target table as one
 * COPY FROM STDIN (text format, or binary when pgoutput sent binary values)
 * instead of multi-row INSERT statements.
 * The server then stores the rows the way native logical replication and
 * COPY do (each value through its type's input function with the column's
 * typmod) at less cost per row. COPY is not allowed in pipeline mode: the
 * pipeline is drained and left first, and entered again after; all of it
 * stays in the open target transaction.
 */
#ifndef SYNCLINE_PG_TARGET_COPY_H
#define SYNCLINE_PG_TARGET_COPY_H

#include <stddef.h>

#include "core/change.h"
#include "core/err.h"
#include "pg/pg_pipe.h"

/* Fewest rows worth leaving the pipeline for: below it, multi-row INSERT. */
#define PG_TARGET_COPY_MIN_ROWS 64

#define PG_TARGET_COPY_TEXT 1   /* every value text or NULL */
#define PG_TARGET_COPY_BINARY 2 /* every value binary (apply.binary) or NULL */

/* The COPY format the m inserts can go in: PG_TARGET_COPY_TEXT or _BINARY
 * when every value of the columns cols[0..ncols) is of that kind or NULL;
 * 0 when they are mixed or one is an unchanged TOAST value. */
int pg_target_copy_fits(const change_row_t *rows, int m, const int *cols, int ncols);

/*
 * COPY target (qcols[cols[i]], ...) FROM STDIN of the m rows' values in cols
 * order, in format (what pg_target_copy_fits said). On failure errbuf names the table (display),
 * the failing row's key and LSN when the server's message tells its line, else the first row's; the
 * pipeline is then left out (the caller rolls the transaction back).
 */
err_t pg_target_copy_rows(pg_pipe_t *pp, const char *target, char *const *qcols,
                          const char *display, const change_row_t *rows, int m, const int *cols,
                          int ncols, int format, char *errbuf, size_t errsize);

#endif
