/*
 * pg_pipe: libpq pipeline mode with bookkeeping. Queues statements, sends a
 * Sync every so many, reads results in order and matches each to the change
 * that caused it, so an error names table, operation, LSN and key. Bounds
 * the results in flight, so memory does not grow with a transaction.
 */
#ifndef SYNCLINE_PG_PIPE_H
#define SYNCLINE_PG_PIPE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/lsn.h"

/* What a queued statement was for. `table` is borrowed and must outlive the
 * result (callers drain before freeing what it points to). */
typedef struct pg_pipe_tag {
    char op;        /* 'I','U','D','T' for changes; 'P' prepare; 'X' other */
    int check_rows; /* 1: a pg_rowcheck statement: it fails by itself when rows are
                       missing, or returns 1 when told to skip them (warned here) */
    const char *table;
    lsn_t lsn;
    /* optional: what is needed to explain a failure later (owned by the pipe
     * once queued, freed with diag_free; see pg_pipe_take_failed) */
    void *diag;
    void (*diag_free)(void *diag);
    /* appends to errbuf what diag tells about the failure, and frees diag */
    void (*diag_explain)(PGconn *conn, void *diag, char *errbuf, size_t errsize);
} pg_pipe_tag_t;

typedef struct pg_pipe pg_pipe_t;

/* conn is borrowed. window: statements between Syncs. skip_missing: a
 * missing row is logged and skipped instead of failing (statements are
 * built for it: see pg_pipe_skips_missing). */
pg_pipe_t *pg_pipe_new(PGconn *conn, int window, int skip_missing);
void pg_pipe_free(pg_pipe_t *pp);

/* The connection (borrowed), for work outside pipeline mode (pg_pipe_leave first). */
PGconn *pg_pipe_conn(const pg_pipe_t *pp);

/* Whether checked statements are to be built soft (pg_rowcheck_wrap). */
int pg_pipe_skips_missing(const pg_pipe_t *pp);

/* Enters pipeline mode (idempotent). */
err_t pg_pipe_enter(pg_pipe_t *pp, char *errbuf, size_t errsize);

/* Drains everything and leaves pipeline mode, so ordinary queries can run. */
err_t pg_pipe_leave(pg_pipe_t *pp, char *errbuf, size_t errsize);

err_t pg_pipe_prepare(pg_pipe_t *pp, const char *name, const char *sql, const pg_pipe_tag_t *tag,
                      char *errbuf, size_t errsize);

/* key: a short description of the row's identity for error messages (copied). */
err_t pg_pipe_exec_prepared(pg_pipe_t *pp, const char *name, int nparams, const char *const *values,
                            const int *lengths, const int *formats, const pg_pipe_tag_t *tag,
                            const char *key, char *errbuf, size_t errsize);

err_t pg_pipe_exec(pg_pipe_t *pp, const char *sql, const pg_pipe_tag_t *tag, char *errbuf,
                   size_t errsize);

/* Reads, without blocking, the results that have arrived. */
err_t pg_pipe_poll(pg_pipe_t *pp, char *errbuf, size_t errsize);

/* Closes the window with a Sync (so the server sends its results now) and
 * sends what is queued as far as the socket takes it, without waiting. */
err_t pg_pipe_flush(pg_pipe_t *pp, char *errbuf, size_t errsize);

/* The lsn of the newest statement tagged 'C' (a COMMIT) whose result came
 * back successful; 0 when none has. */
lsn_t pg_pipe_committed(const pg_pipe_t *pp);

/* Sends a Sync and reads every result up to it. */
err_t pg_pipe_drain(pg_pipe_t *pp, char *errbuf, size_t errsize);

/* The diag of the statement that failed, or NULL; at most once per failure.
 * The caller hands it to *explain (which frees it). */
void *pg_pipe_take_failed(pg_pipe_t *pp,
                          void (**explain)(PGconn *conn, void *diag, char *errbuf, size_t errsize));

/* Best effort after a failure: discards results, rolls back, leaves pipeline mode. */
void pg_pipe_abort(pg_pipe_t *pp);

#endif
