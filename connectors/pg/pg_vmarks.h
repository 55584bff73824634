/*
 * pg_vmarks: incremental verify's bookkeeping on the target: the key ranges
 * the applier marks changed (syncline.verify_marks, written in each batch's
 * transaction) and the last verify's base (syncline.verify_state).
 */
#ifndef SYNCLINE_PG_VMARKS_H
#define SYNCLINE_PG_VMARKS_H

#include <libpq-fe.h>
#include <stddef.h>

#include "core/err.h"
#include "core/lsn.h"
#include "core/sink.h"
#include "pg/pg_pipe.h"

/* Creates the two tables if needed (and the syncline schema). */
err_t pg_vmarks_ensure(PGconn *conn, char *errbuf, size_t errsize);

/* Applier: queues the upsert of pos->marks (stamped pos->end_lsn) into the
 * open pipelined transaction; *prepared tracks the prepared statement. */
err_t pg_vmarks_queue(pg_pipe_t *pipe, int *prepared, const char *name, const sink_position_t *pos,
                      char *errbuf, size_t errsize);

/* Who applies for name: the session holding pg_hold's listening lock. */
typedef struct pg_vmarks_tracker {
    int pid; /* 0: none */
    char started[64];
} pg_vmarks_tracker_t;

typedef struct pg_vmarks_state {
    int exists;                  /* the applier marks changes (a verify asked for it) */
    lsn_t base_lsn;              /* 0: no base: the next verify is full */
    double full_age_s;           /* seconds since the last full verify, -1: never */
    pg_vmarks_tracker_t tracker; /* the applier session that marked since the base */
} pg_vmarks_state_t;

err_t pg_vmarks_tracker(PGconn *conn, const char *name, pg_vmarks_tracker_t *t, char *errbuf,
                        size_t errsize);
err_t pg_vmarks_state(PGconn *conn, const char *name, pg_vmarks_state_t *st, char *errbuf,
                      size_t errsize);

/* Asks the applier to mark from now on (creates the state row). */
err_t pg_vmarks_start(PGconn *conn, const char *name, char *errbuf, size_t errsize);

/* After a verify that matched everywhere: changes before base are checked;
 * full also stamps the full verify's time. */
err_t pg_vmarks_set_base(PGconn *conn, const char *name, lsn_t base, int full,
                         const pg_vmarks_tracker_t *t, char *errbuf, size_t errsize);

/* The number of key ranges marked since the base (-1: no base), for lag. */
err_t pg_vmarks_dirty(PGconn *conn, const char *name, long long *dirty, double *full_age_s,
                      char *errbuf, size_t errsize);

#endif
