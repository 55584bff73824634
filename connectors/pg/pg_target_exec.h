/*
 * pg_target_exec: sends the applier's row changes: finds or prepares the
 * statement of a row's shape, binds its values and queues it in the
 * pipeline (pg_pipe), one row or a chunk of rows per statement. Knows
 * nothing of transactions or progress.
 */
#ifndef SYNCLINE_PG_TARGET_EXEC_H
#define SYNCLINE_PG_TARGET_EXEC_H

#include <stddef.h>

#include "core/err.h"
#include "core/sink.h"
#include "pg/pg_pipe.h"
#include "pg/pg_target_rel.h"

/* The sending state of one target session: its pipeline (borrowed) and the
 * per-row parameter scratch (owned; pg_target_exec_clear frees it). */
typedef struct pg_target_exec {
    pg_pipe_t *pipe;
    int stmt_counter; /* names prepared statements sl_<n> */
    /* the target's encoding is neither UTF8 (ours) nor SQL_ASCII: a value may
     * fail to convert, so multi-row statements keep their rows' keys */
    int converts;
    size_t large_value;        /* a value this large goes by pg_large; 0: never */
    unsigned long long copied; /* rows sent by COPY (pg_target_copy) */
    const char **values;
    int *lengths;
    int *formats;
    char *text;
    size_t text_cap;
    int params_cap;
} pg_target_exec_t;

void pg_target_exec_clear(pg_target_exec_t *ex);

/* Queues one row change of r (described, usable, not skipped). */
err_t pg_target_exec_row(pg_target_exec_t *ex, pg_target_rel_t *r, const change_row_t *row,
                         char *errbuf, size_t errsize);

/* Queues n rows of one collapsible table r: one op, one column set, distinct
 * keys; as few multi-row statements as the sizes allow, or for a run of
 * inserts one COPY (pg_target_copy: the pipeline is drained first). */
err_t pg_target_exec_rows(pg_target_exec_t *ex, pg_target_rel_t *r, const change_row_t *rows, int n,
                          char *errbuf, size_t errsize);

#endif
