/*
 * pg_conn: opening libpq connections the way syncline needs them (session
 * settings that make text values portable, timeouts, keepalives) and small
 * helpers shared by the PostgreSQL source and target connectors. Messages
 * never include the conninfo string: it may hold a password.
 */
#ifndef SYNCLINE_PG_CONN_H
#define SYNCLINE_PG_CONN_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef enum pg_conn_kind {
    PG_CONN_SQL,         /* ordinary session */
    PG_CONN_REPLICATION, /* replication=database (walsender) */
} pg_conn_kind_t;

/*
 * Connects; `what` ("source", "target") prefixes error messages. Returns NULL
 * with ERR_CONNECT (or ERR_CONFIG for a malformed conninfo) in *err.
 * Caller frees with PQfinish. TCP keepalives, tcp_user_timeout and
 * connect_timeout get defaults unless the conninfo sets them.
 */
PGconn *pg_conn_open(const char *conninfo, pg_conn_kind_t kind, const char *what, err_t *err,
                     char *errbuf, size_t errsize);

/*
 * pg_conn_open, and with timeout_ms > 0 a bounded connection: nonblocking,
 * and every wait for an answer through these helpers (pg_conn_exec,
 * pg_conn_query, pg_conn_await) gives up after timeout_ms without a byte
 * either way. Then the connection is shut (every later call fails at once),
 * the stall is logged, pg_conn_message names peer host:port and the time
 * waited, and pg_conn_classify says ERR_CONNECT. Raw PQexec/PQgetResult on it
 * still wait unbounded: use the helpers.
 */
PGconn *pg_conn_open_bounded(const char *conninfo, pg_conn_kind_t kind, const char *what,
                             int timeout_ms, err_t *err, char *errbuf, size_t errsize);

/* Bounded connections only: hook(arg, 0) runs about once a second while a
 * wait goes on (so that a long statement does not silence the source side),
 * hook(arg, 1) once when the bound expires. hook NULL removes it. */
void pg_conn_set_wait_hook(PGconn *conn, void (*hook)(void *arg, int stalled), void *arg);

/*
 * Flushes what was sent and, unless output_only, waits until PQgetResult will
 * not block. Bounded as above (ERR_CONNECT with errbuf naming the stall);
 * on an unbounded connection returns ERR_OK at once and libpq waits.
 */
err_t pg_conn_await(PGconn *conn, int output_only, char *errbuf, size_t errsize);

/* COPY FROM STDIN: queues one CopyData message, waiting (bounded as
 * pg_conn_await) for room in libpq's buffer. Fails with "<what>: <libpq's
 * message>" (what NULL: the message alone) in errbuf, classed by
 * pg_conn_classify. */
err_t pg_conn_copy_put(PGconn *conn, const char *what, const char *buf, size_t n, char *errbuf,
                       size_t errsize);

/* pg_conn_copy_put, then waits (bounded as pg_conn_await) until libpq has
 * sent it all, so libpq's buffer stays about one piece however much is
 * copied. */
err_t pg_conn_copy_send(PGconn *conn, const char *what, const char *buf, size_t n, char *errbuf,
                        size_t errsize);

/* Reads a COPY's results (either direction, once its data ended), every wait
 * bounded; *rows (NULL: not wanted) the rows it reports. The first failure
 * into errbuf, "<what>: <server message>" (what NULL: the message alone). */
err_t pg_conn_copy_results(PGconn *conn, const char *what, uint64_t *rows, char *errbuf,
                           size_t errsize);

/* Ends a COPY FROM STDIN (aborted with why when not NULL) and reads its
 * results as pg_conn_copy_results. err != ERR_OK: the caller's failure,
 * already in errbuf, which stays there and is returned. */
err_t pg_conn_copy_finish(PGconn *conn, const char *why, const char *what, uint64_t *rows,
                          err_t err, char *errbuf, size_t errsize);

/* PQexec (params NULL and nparams 0) or PQexecParams with text parameters,
 * bounded on a bounded connection (NULL when the wait failed). Caller PQclears. */
PGresult *pg_conn_query(PGconn *conn, const char *sql, int nparams, const char *const *params);

/* PQexec that expects `expect` (PGRES_COMMAND_OK or PGRES_TUPLES_OK). On
 * failure returns NULL with errbuf "<what>: <server message>". Caller PQclears. */
PGresult *pg_conn_exec(PGconn *conn, const char *sql, ExecStatusType expect, const char *what,
                       char *errbuf, size_t errsize);

/* PQexecParams with text parameters; as pg_conn_exec. */
PGresult *pg_conn_execp(PGconn *conn, const char *sql, int nparams, const char *const *params,
                        ExecStatusType expect, const char *what, char *errbuf, size_t errsize);

/* A statement whose result is not needed: pg_conn_exec when params is NULL
 * (several statements may be sent at once), else pg_conn_execp. ERR_OK, or
 * pg_conn_classify's class with errbuf as pg_conn_exec fills it. */
err_t pg_conn_run(PGconn *conn, const char *sql, int nparams, const char *const *params,
                  ExecStatusType expect, const char *what, char *errbuf, size_t errsize);

/* 1 when the table (qualified, quoted as SQL) exists on conn, 0 when not,
 * -1 on error (errbuf set; pg_conn_classify tells its class). */
int pg_conn_table_exists(PGconn *conn, const char *qualified, char *errbuf, size_t errsize);

/* Error class of a failed result or connection: ERR_CONNECT when the
 * connection is gone, else ERR_RUNTIME. */
err_t pg_conn_classify(PGconn *conn);

/* "schema"."name" quoted with PQescapeIdentifier into a malloc'd string
 * (caller frees), NULL on failure. */
char *pg_conn_qualified(PGconn *conn, const char *schema, const char *name);

/* The server message of conn without the trailing newline, into buf. */
const char *pg_conn_message(PGconn *conn, char *buf, size_t size);

#endif
