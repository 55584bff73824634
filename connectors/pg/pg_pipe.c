/*
 * pg_pipe: pipeline-mode bookkeeping for the target connector.
 *
 * Every queued statement gets a tag in a FIFO; a Sync gets a marker. Results
 * come back in the same order, so the head of the FIFO always says what the
 * next result is for. After `window` statements a Sync is sent; with more
 * than one Sync outstanding the older one is drained, so sending overlaps the
 * server's work while results in memory stay bounded. The first error in a
 * window aborts the rest of it (PGRES_PIPELINE_ABORTED); its message is kept.
 */
#include "pg/pg_pipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "pg/pg_conn.h"
#include "pg/pg_rowcheck.h"

#define PG_PIPE_SYNC_OP 'S'
#define PG_PIPE_KEY_MAX 200
#define PG_PIPE_FLUSH_BYTES (256u << 10) /* try a flush after this much was queued */
#define PG_PIPE_MAX_UNFLUSHED (8u << 20) /* wait for the socket beyond this */

typedef struct pg_pipe_entry {
    pg_pipe_tag_t tag;
    char *key; /* owned, may be NULL */
} pg_pipe_entry_t;

struct pg_pipe {
    PGconn *conn;
    int window;
    int skip_missing;
    int in_pipeline;
    pg_pipe_entry_t *fifo; /* ring */
    size_t cap, head, count;
    int since_sync;   /* statements since the last Sync */
    size_t unflushed; /* bytes queued since libpq last sent everything (an upper bound) */
    size_t since_try; /* bytes queued since the last flush attempt */
    int syncs;        /* Syncs sent and not yet read */
    int failed;       /* an error was seen in the current window */
    err_t failed_err; /* its kind: ERR_CONNECT when the session was ended, else ERR_RUNTIME */
    char error[1024];
    uint64_t missing_skipped;
    lsn_t committed;   /* newest successful COMMIT (tag op 'C') */
    void *failed_diag; /* diag of the failed statement, taken from its entry */
    void (*failed_diag_free)(void *diag);
    void (*failed_diag_explain)(PGconn *conn, void *diag, char *errbuf, size_t errsize);
};

pg_pipe_t *pg_pipe_new(PGconn *conn, int window, int skip_missing)
{
    pg_pipe_t *pp = calloc(1, sizeof(*pp));
    if (pp == NULL)
        return NULL;
    pp->conn = conn;
    pp->window = window > 0 ? window : 1000;
    pp->skip_missing = skip_missing;
    pp->cap = (size_t)pp->window * 2 + 16;
    pp->fifo = calloc(pp->cap, sizeof(*pp->fifo));
    if (pp->fifo == NULL) {
        free(pp);
        return NULL;
    }
    return pp;
}

PGconn *pg_pipe_conn(const pg_pipe_t *pp)
{
    return pp->conn;
}

int pg_pipe_skips_missing(const pg_pipe_t *pp)
{
    return pp->skip_missing;
}

static void pg_pipe_pop(pg_pipe_t *pp)
{
    pg_pipe_entry_t *e = &pp->fifo[pp->head];
    free(e->key);
    e->key = NULL;
    if (e->tag.diag != NULL && e->tag.diag_free != NULL)
        e->tag.diag_free(e->tag.diag);
    e->tag.diag = NULL;
    pp->head = (pp->head + 1) % pp->cap;
    pp->count--;
}

void *pg_pipe_take_failed(pg_pipe_t *pp,
                          void (**explain)(PGconn *conn, void *diag, char *errbuf, size_t errsize))
{
    void *d = pp->failed_diag;
    *explain = pp->failed_diag_explain;
    if (d != NULL && *explain == NULL) { /* nothing to explain with: just free it */
        if (pp->failed_diag_free != NULL)
            pp->failed_diag_free(d);
        d = NULL;
    }
    pp->failed_diag = NULL;
    return d;
}

void pg_pipe_free(pg_pipe_t *pp)
{
    if (pp == NULL)
        return;
    if (pp->failed_diag != NULL && pp->failed_diag_free != NULL)
        pp->failed_diag_free(pp->failed_diag);
    while (pp->count > 0)
        pg_pipe_pop(pp);
    free(pp->fifo);
    free(pp);
}

static int pg_pipe_push(pg_pipe_t *pp, const pg_pipe_tag_t *tag, const char *key)
{
    if (pp->count == pp->cap) {
        size_t ncap = pp->cap * 2;
        pg_pipe_entry_t *n = calloc(ncap, sizeof(*n));
        if (n == NULL)
            return -1;
        for (size_t i = 0; i < pp->count; i++)
            n[i] = pp->fifo[(pp->head + i) % pp->cap];
        free(pp->fifo);
        pp->fifo = n;
        pp->cap = ncap;
        pp->head = 0;
    }
    pg_pipe_entry_t *e = &pp->fifo[(pp->head + pp->count) % pp->cap];
    e->tag = *tag;
    e->key = key ? strndup(key, PG_PIPE_KEY_MAX) : NULL;
    pp->count++;
    return 0;
}

static err_t pg_pipe_conn_error(pg_pipe_t *pp, const char *what, char *errbuf, size_t errsize)
{
    char m[1024];
    snprintf(errbuf, errsize, "target: %s: %s", what, pg_conn_message(pp->conn, m, sizeof(m)));
    return pg_conn_classify(pp->conn);
}

err_t pg_pipe_enter(pg_pipe_t *pp, char *errbuf, size_t errsize)
{
    if (pp->in_pipeline)
        return ERR_OK;
    if (!PQenterPipelineMode(pp->conn))
        return pg_pipe_conn_error(pp, "entering pipeline mode", errbuf, errsize);
    pp->in_pipeline = 1;
    return ERR_OK;
}

static const char *pg_pipe_op_name(char op)
{
    switch (op) {
    case 'I':
        return "INSERT";
    case 'U':
        return "UPDATE";
    case 'D':
        return "DELETE";
    case 'T':
        return "TRUNCATE";
    case 'P':
        return "PREPARE";
    default:
        return "statement";
    }
}

/* Records the first failure of the window with everything known about it;
 * kind says whether a reconnect may cure it. */
static void pg_pipe_note_error(pg_pipe_t *pp, pg_pipe_entry_t *e, err_t kind, const char *msg)
{
    if (pp->failed)
        return;
    char l[LSN_STRLEN];
    pp->failed = 1;
    pp->failed_err = kind;
    pp->failed_diag = e->tag.diag;
    pp->failed_diag_free = e->tag.diag_free;
    pp->failed_diag_explain = e->tag.diag_explain;
    e->tag.diag = NULL;
    snprintf(pp->error, sizeof(pp->error), "target: %s on %s failed (lsn=%s%s%s): %s",
             pg_pipe_op_name(e->tag.op), e->tag.table ? e->tag.table : "-",
             lsn_format(e->tag.lsn, l, sizeof(l)), e->key ? " key=" : "", e->key ? e->key : "",
             msg);
    size_t n = strlen(pp->error);
    while (n > 0 && pp->error[n - 1] == '\n')
        pp->error[--n] = '\0';
}

/* A checked statement (pg_rowcheck) that succeeded returns 0, or 1 when it
 * found no row and was told to carry on (on_missing_row = skip). */
static void pg_pipe_check_rows(pg_pipe_t *pp, pg_pipe_entry_t *e, PGresult *res)
{
    if (!e->tag.check_rows || PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "0") == 0)
        return;
    char l[LSN_STRLEN];
    pp->missing_skipped++;
    log_warn("missing row skipped op=%s table=%s lsn=%s key=%s", pg_pipe_op_name(e->tag.op),
             e->tag.table, lsn_format(e->tag.lsn, l, sizeof(l)), e->key ? e->key : "-");
}

/* A failed statement: a check of pg_rowcheck gets its explanation; a session
 * the server ended (pg_terminate_backend, shutdown, failover: class 57P) or a
 * broken connection (class 08) is a lost connection, worth a reconnect. */
static void pg_pipe_failed_result(pg_pipe_t *pp, pg_pipe_entry_t *e, const PGresult *res)
{
    const char *msg = PQresultErrorMessage(res);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *reason = pg_rowcheck_reason(msg);
    int lost = PQstatus(pp->conn) != CONNECTION_OK ||
               (state != NULL && (strncmp(state, "57P", 3) == 0 || strncmp(state, "08", 2) == 0));
    pg_pipe_note_error(pp, e, lost ? ERR_CONNECT : ERR_RUNTIME, reason != NULL ? reason : msg);
}

/* Reads the results of the FIFO head statement. */
static err_t pg_pipe_read_one(pg_pipe_t *pp, char *errbuf, size_t errsize)
{
    pg_pipe_entry_t *e = &pp->fifo[pp->head];
    err_t err = pg_conn_await(pp->conn, 0, errbuf, errsize); /* bounded on a stalled target */
    if (err != ERR_OK)
        return err;
    PGresult *res = PQgetResult(pp->conn);
    if (res == NULL)
        return pg_pipe_conn_error(pp, "reading results", errbuf, errsize);
    ExecStatusType st = PQresultStatus(res);
    if (e->tag.op == PG_PIPE_SYNC_OP) {
        PQclear(res);
        if (st != PGRES_PIPELINE_SYNC)
            return pg_pipe_conn_error(pp, "pipeline out of step", errbuf, errsize);
        pg_pipe_pop(pp);
        pp->syncs--;
        return ERR_OK;
    }
    if (st == PGRES_COMMAND_OK && e->tag.op == 'C' && !pp->failed &&
        strcmp(PQcmdStatus(res), "COMMIT") == 0 && e->tag.lsn > pp->committed)
        pp->committed = e->tag.lsn;
    if (st == PGRES_FATAL_ERROR)
        pg_pipe_failed_result(pp, e, res);
    else if (st == PGRES_TUPLES_OK)
        pg_pipe_check_rows(pp, e, res);
    else if (st != PGRES_PIPELINE_ABORTED && st != PGRES_COMMAND_OK)
        pg_pipe_note_error(pp, e, ERR_RUNTIME, PQresStatus(st));
    PQclear(res);
    /* each statement's results end with a NULL */
    err = pg_conn_await(pp->conn, 0, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    res = PQgetResult(pp->conn);
    PQclear(res);
    pg_pipe_pop(pp);
    return ERR_OK;
}

/* The window's first failure (its kind, message in errbuf) once a statement failed. */
static err_t pg_pipe_status(const pg_pipe_t *pp, char *errbuf, size_t errsize)
{
    if (pp->failed) {
        snprintf(errbuf, errsize, "%s", pp->error);
        return pp->failed_err;
    }
    return ERR_OK;
}

/* Reads results until at most `keep` Syncs are outstanding. */
static err_t pg_pipe_read_until(pg_pipe_t *pp, int keep, char *errbuf, size_t errsize)
{
    while (pp->syncs > keep) {
        err_t err = pg_pipe_read_one(pp, errbuf, errsize);
        if (err != ERR_OK)
            return err;
    }
    return pg_pipe_status(pp, errbuf, errsize);
}

static err_t pg_pipe_send_sync(pg_pipe_t *pp, char *errbuf, size_t errsize)
{
    pg_pipe_tag_t tag = {.op = PG_PIPE_SYNC_OP};
    if (!PQpipelineSync(pp->conn) || pg_pipe_push(pp, &tag, NULL) != 0)
        return pg_pipe_conn_error(pp, "sending sync", errbuf, errsize);
    pp->syncs++;
    pp->since_sync = 0;
    pp->since_try = PG_PIPE_FLUSH_BYTES; /* a Sync is worth sending now */
    return ERR_OK;
}

/* A flush that does not wait: libpq keeps what the socket does not take. */
static err_t pg_pipe_try_flush(pg_pipe_t *pp, char *errbuf, size_t errsize)
{
    int f = PQflush(pp->conn);
    if (f < 0)
        return pg_pipe_conn_error(pp, "sending", errbuf, errsize);
    if (f == 0)
        pp->unflushed = 0;
    pp->since_try = 0;
    return ERR_OK;
}

/*
 * After queuing a statement of about `bytes`: close the window when full,
 * keep one in flight. Sending does not wait for the target to read: while
 * it is busy, the statements wait in libpq's buffer and the caller goes on
 * reading the source (pg_pipe_poll sends more). Only beyond
 * PG_PIPE_MAX_UNFLUSHED does it wait (bounded) for the socket, so memory
 * stays bounded when the target is the slower side.
 */
static err_t pg_pipe_after_send(pg_pipe_t *pp, size_t bytes, char *errbuf, size_t errsize)
{
    pp->since_sync++;
    pp->unflushed += bytes;
    pp->since_try += bytes;
    err_t err = ERR_OK;
    if (pp->since_try >= PG_PIPE_FLUSH_BYTES)
        err = pg_pipe_try_flush(pp, errbuf, errsize);
    if (err == ERR_OK && pp->unflushed >= PG_PIPE_MAX_UNFLUSHED) {
        err = pg_conn_await(pp->conn, 1, errbuf, errsize);
        if (err == ERR_OK)
            pp->unflushed = 0;
    }
    if (err != ERR_OK || pp->since_sync < pp->window)
        return err;
    err = pg_pipe_send_sync(pp, errbuf, errsize);
    return err != ERR_OK ? err : pg_pipe_read_until(pp, 1, errbuf, errsize);
}

/* What a statement puts on the wire, roughly. */
static size_t pg_pipe_size(const char *sql, int nparams, const int *lengths)
{
    size_t n = (sql != NULL ? strlen(sql) : 0) + 32;
    for (int i = 0; i < nparams; i++)
        n += 4 + (size_t)(lengths != NULL && lengths[i] > 0 ? lengths[i] : 0);
    return n;
}

err_t pg_pipe_prepare(pg_pipe_t *pp, const char *name, const char *sql, const pg_pipe_tag_t *tag,
                      char *errbuf, size_t errsize)
{
    pg_pipe_tag_t t = *tag;
    t.op = 'P';
    t.check_rows = 0;
    if (!PQsendPrepare(pp->conn, name, sql, 0, NULL) || pg_pipe_push(pp, &t, NULL) != 0)
        return pg_pipe_conn_error(pp, "sending prepare", errbuf, errsize);
    return pg_pipe_after_send(pp, pg_pipe_size(sql, 0, NULL), errbuf, errsize);
}

err_t pg_pipe_exec_prepared(pg_pipe_t *pp, const char *name, int nparams, const char *const *values,
                            const int *lengths, const int *formats, const pg_pipe_tag_t *tag,
                            const char *key, char *errbuf, size_t errsize)
{
    if (!PQsendQueryPrepared(pp->conn, name, nparams, values, lengths, formats, 0) ||
        pg_pipe_push(pp, tag, key) != 0) {
        if (tag->diag != NULL && tag->diag_free != NULL)
            tag->diag_free(tag->diag);
        return pg_pipe_conn_error(pp, "sending statement", errbuf, errsize);
    }
    return pg_pipe_after_send(pp, pg_pipe_size(name, nparams, lengths), errbuf, errsize);
}

err_t pg_pipe_exec(pg_pipe_t *pp, const char *sql, const pg_pipe_tag_t *tag, char *errbuf,
                   size_t errsize)
{
    if (!PQsendQueryParams(pp->conn, sql, 0, NULL, NULL, NULL, NULL, 0) ||
        pg_pipe_push(pp, tag, NULL) != 0)
        return pg_pipe_conn_error(pp, "sending statement", errbuf, errsize);
    return pg_pipe_after_send(pp, pg_pipe_size(sql, 0, NULL), errbuf, errsize);
}

err_t pg_pipe_flush(pg_pipe_t *pp, char *errbuf, size_t errsize)
{
    err_t err = pp->since_sync > 0 ? pg_pipe_send_sync(pp, errbuf, errsize) : ERR_OK;
    return err != ERR_OK ? err : pg_pipe_try_flush(pp, errbuf, errsize);
}

lsn_t pg_pipe_committed(const pg_pipe_t *pp)
{
    return pp->committed;
}

err_t pg_pipe_poll(pg_pipe_t *pp, char *errbuf, size_t errsize)
{
    err_t err = pg_pipe_try_flush(pp, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    if (!PQconsumeInput(pp->conn))
        return pg_pipe_conn_error(pp, "reading results", errbuf, errsize);
    while (pp->count > 0 && !PQisBusy(pp->conn)) {
        err = pg_pipe_read_one(pp, errbuf, errsize);
        if (err != ERR_OK)
            return err;
    }
    return pg_pipe_status(pp, errbuf, errsize);
}

err_t pg_pipe_drain(pg_pipe_t *pp, char *errbuf, size_t errsize)
{
    if (pp->since_sync > 0 || pp->count > 0) {
        err_t err = pg_pipe_send_sync(pp, errbuf, errsize);
        if (err != ERR_OK)
            return err;
    }
    return pg_pipe_read_until(pp, 0, errbuf, errsize);
}

err_t pg_pipe_leave(pg_pipe_t *pp, char *errbuf, size_t errsize)
{
    if (!pp->in_pipeline)
        return ERR_OK;
    err_t err = pg_pipe_drain(pp, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    if (!PQexitPipelineMode(pp->conn))
        return pg_pipe_conn_error(pp, "leaving pipeline mode", errbuf, errsize);
    pp->in_pipeline = 0;
    return ERR_OK;
}

void pg_pipe_abort(pg_pipe_t *pp)
{
    char eb[256];
    if (pp->in_pipeline && PQstatus(pp->conn) == CONNECTION_OK) {
        pp->failed = 0;
        if (pg_pipe_drain(pp, eb, sizeof(eb)) == ERR_OK || PQstatus(pp->conn) == CONNECTION_OK) {
            pp->failed = 0;
            if (PQexitPipelineMode(pp->conn))
                pp->in_pipeline = 0;
        }
    }
    while (pp->count > 0)
        pg_pipe_pop(pp);
    pp->syncs = pp->since_sync = pp->failed = 0;
    if (!pp->in_pipeline && PQstatus(pp->conn) == CONNECTION_OK &&
        PQtransactionStatus(pp->conn) != PQTRANS_IDLE)
        PQclear(pg_conn_query(pp->conn, "ROLLBACK", 0, NULL));
}
