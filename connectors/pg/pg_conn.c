/*
 * pg_conn: libpq connection set-up and query helpers shared by the
 * PostgreSQL connectors. Does not know about changes or configuration.
 */
#include "pg/pg_conn.h"

#include <errno.h>
#include <libpq-events.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "core/log.h"

/*
 * Dead peers and lost packets are the kernel's to notice: keepalives probe an
 * idle connection (30 s, then every 10 s, 3 probes) and tcp_user_timeout caps
 * how long sent data may stay unacknowledged (60 s). Each default applies
 * unless the user's conninfo sets that keyword.
 */
static const char *const pg_conn_defaults[][2] = {
    {"connect_timeout", "10"},     {"keepalives", "1"},       {"keepalives_idle", "30"},
    {"keepalives_interval", "10"}, {"keepalives_count", "3"}, {"tcp_user_timeout", "60000"},
};
#define PG_CONN_NDEFAULTS (sizeof(pg_conn_defaults) / sizeof(pg_conn_defaults[0]))

/*
 * A bounded connection: a peer that takes our bytes but never answers (a
 * proxy that stopped forwarding, a stopped backend) is invisible to TCP, so
 * every wait for an answer is bounded by timeout_ms of silence. Kept as libpq
 * instance data, so that every helper taking a PGconn honours it.
 */
typedef struct pg_conn_bound {
    int timeout_ms;
    char peer[160]; /* "target host:port", for messages (never the conninfo) */
    int stalled;    /* the bound expired: the socket is shut, every call fails fast */
    char why[300];  /* the message saying so */
    void (*hook)(void *arg, int stalled);
    void *hook_arg;
} pg_conn_bound_t;

static int pg_conn_event(PGEventId id, void *info, void *pass)
{
    (void)pass;
    if (id == PGEVT_CONNDESTROY)
        free(PQinstanceData(((PGEventConnDestroy *)info)->conn, pg_conn_event));
    return 1;
}

static pg_conn_bound_t *pg_conn_bound(const PGconn *conn)
{
    return conn != NULL ? PQinstanceData(conn, pg_conn_event) : NULL;
}

/*
 * Text values must read back identically on the other side. Every session,
 * source and target, talks UTF-8 (client_encoding below): each server converts
 * from and to its own encoding, so a LATIN1 source feeds a UTF8 target, Kafka
 * events are always UTF-8, and a character the target's encoding cannot hold
 * fails on the target, in the statement of that row, where the error can name
 * table, key and LSN (on the source it would fail inside the walsender, with
 * none of them). Native replication sets the target's encoding on the source
 * instead; UTF-8 loses nothing, since every server encoding converts to it.
 * default_transaction_read_only=off: the cutover fence (ALTER DATABASE ... SET
 * default_transaction_read_only = on) stops applications, not syncline; the
 * fallback applier writes into the fenced old database.
 */
#define PG_CONN_OPTIONS                                                                            \
    "-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 "                          \
    "-c standard_conforming_strings=on "                                                           \
    "-c lc_monetary=C -c bytea_output=hex -c TimeZone=UTC -c client_min_messages=warning "         \
    "-c default_transaction_read_only=off"

static void pg_conn_trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

const char *pg_conn_message(PGconn *conn, char *buf, size_t size)
{
    const pg_conn_bound_t *b = pg_conn_bound(conn);
    if (b != NULL && b->stalled)
        snprintf(buf, size, "%s", b->why);
    else
        snprintf(buf, size, "%s", conn ? PQerrorMessage(conn) : "no connection");
    pg_conn_trim(buf);
    return buf;
}

/*
 * libpq's parse errors quote pieces of the conninfo, and for a URI the whole
 * string ("invalid percent-encoded token: \"postgresql://u:secret%zz@h\""), so
 * the copy into out replaces every quoted piece but libpq's own "=" and "]",
 * through the message's last quote, by "...": a password never reaches a log.
 */
static void pg_conn_redact(const char *in, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = in; *p != '\0' && n + 1 < size;) {
        const char *close = *p == '"' ? strchr(p + 1, '"') : NULL;
        int syntax = close == p + 2 && (p[1] == '=' || p[1] == ']');
        const char *piece = close != NULL && !syntax ? "\"...\"" : NULL;
        if (piece != NULL) /* a quote inside the value: hide up to the last quote */
            close = strrchr(close, '"');
        size_t len = piece != NULL ? 5 : close != NULL ? (size_t)(close - p) + 1 : 1;
        if (len > size - 1 - n)
            len = size - 1 - n;
        memcpy(out + n, piece != NULL ? piece : p, len);
        n += len;
        p = close != NULL ? close + 1 : p + 1;
    }
    out[n] = '\0';
}

/* True when the user's conninfo sets `keyword` itself. */
static int pg_conn_has(PQconninfoOption *opts, const char *keyword)
{
    for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
        if (strcmp(o->keyword, keyword) == 0)
            return o->val != NULL && o->val[0] != '\0';
    }
    return 0;
}

/* Makes conn bounded (see pg_conn_bound_t). 0 when done. */
static int pg_conn_make_bounded(PGconn *conn, const char *what, int timeout_ms)
{
    pg_conn_bound_t *b = calloc(1, sizeof(*b));
    if (b == NULL || !PQregisterEventProc(conn, pg_conn_event, "syncline", NULL) ||
        !PQsetInstanceData(conn, pg_conn_event, b)) {
        free(b);
        return -1;
    }
    b->timeout_ms = timeout_ms;
    const char *host = PQhost(conn);
    snprintf(b->peer, sizeof(b->peer), "%s %s:%s", what, host ? host : "?", PQport(conn));
    /* sends never block: a peer that stops reading is caught by the bound too */
    return PQsetnonblocking(conn, 1) == 0 ? 0 : -1;
}

PGconn *pg_conn_open_bounded(const char *conninfo, pg_conn_kind_t kind, const char *what,
                             int timeout_ms, err_t *err, char *errbuf, size_t errsize)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (opts == NULL) {
        char why[256];
        pg_conn_redact(perr != NULL ? perr : "out of memory", why, sizeof(why));
        snprintf(errbuf, errsize, "%s: invalid conninfo: %s", what, why);
        pg_conn_trim(errbuf);
        PQfreemem(perr);
        *err = ERR_CONFIG;
        return NULL;
    }
    const char *keys[PG_CONN_NDEFAULTS + 6];
    const char *vals[PG_CONN_NDEFAULTS + 6];
    int n = 0;
    keys[n] = "dbname", vals[n++] = conninfo;
    keys[n] = "options", vals[n++] = PG_CONN_OPTIONS;
    keys[n] = "fallback_application_name", vals[n++] = "syncline";
    keys[n] = "client_encoding", vals[n++] = "UTF8"; /* after dbname: overrides the user's */
    for (size_t i = 0; i < PG_CONN_NDEFAULTS; i++) {
        if (!pg_conn_has(opts, pg_conn_defaults[i][0]))
            keys[n] = pg_conn_defaults[i][0], vals[n++] = pg_conn_defaults[i][1];
    }
    if (kind == PG_CONN_REPLICATION)
        keys[n] = "replication", vals[n++] = "database";
    keys[n] = NULL, vals[n] = NULL;
    PQconninfoFree(opts);

    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        char m[1024];
        snprintf(errbuf, errsize, "%s: cannot connect: %s", what,
                 pg_conn_message(conn, m, sizeof(m)));
        PQfinish(conn);
        *err = ERR_CONNECT;
        return NULL;
    }
    if (timeout_ms > 0 && pg_conn_make_bounded(conn, what, timeout_ms) != 0) {
        snprintf(errbuf, errsize, "%s: out of memory", what);
        PQfinish(conn);
        *err = ERR_RUNTIME;
        return NULL;
    }
    *err = ERR_OK;
    return conn;
}

PGconn *pg_conn_open(const char *conninfo, pg_conn_kind_t kind, const char *what, err_t *err,
                     char *errbuf, size_t errsize)
{
    return pg_conn_open_bounded(conninfo, kind, what, 0, err, errbuf, errsize);
}

void pg_conn_set_wait_hook(PGconn *conn, void (*hook)(void *arg, int stalled), void *arg)
{
    pg_conn_bound_t *b = pg_conn_bound(conn);
    if (b != NULL) {
        b->hook = hook;
        b->hook_arg = arg;
    }
}

/* The bound expired: say so once, and shut the socket so that every later
 * call on conn (rollback, terminate) fails at once instead of waiting too. */
static err_t pg_conn_stall(PGconn *conn, pg_conn_bound_t *b, int64_t waited_ms, char *errbuf,
                           size_t errsize)
{
    snprintf(b->why, sizeof(b->why),
             "%s: no answer for %.1f s while waiting (limit %d s, apply.target_timeout_s): "
             "connection presumed stalled",
             b->peer, (double)waited_ms / 1000.0, b->timeout_ms / 1000);
    b->stalled = 1;
    log_warn("stalled connection peer=\"%s\" waited_ms=%lld limit_ms=%d", b->peer,
             (long long)waited_ms, b->timeout_ms);
    if (b->hook != NULL)
        b->hook(b->hook_arg, 1);
    shutdown(PQsocket(conn), SHUT_RDWR);
    (void)PQconsumeInput(conn); /* libpq notices the closed socket: CONNECTION_BAD */
    snprintf(errbuf, errsize, "%s", b->why);
    return ERR_CONNECT;
}

static err_t pg_conn_lost(PGconn *conn, const pg_conn_bound_t *b, char *errbuf, size_t errsize)
{
    char m[1024];
    snprintf(errbuf, errsize, "%s: %s", b->peer, pg_conn_message(conn, m, sizeof(m)));
    return pg_conn_classify(conn) == ERR_CONNECT ? ERR_CONNECT : ERR_RUNTIME;
}

/* One poll of at most a second; *progress when the socket moved. */
static int pg_conn_poll_once(PGconn *conn, int flushing, int64_t left_ms, int *progress)
{
    struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN | (flushing ? POLLOUT : 0)};
    int r = poll(&pfd, 1, left_ms < 1000 ? (int)left_ms : 1000);
    *progress = r > 0;
    if (r < 0 && errno != EINTR)
        return -1;
    if (r > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(conn))
        return -1;
    return 0;
}

err_t pg_conn_await(PGconn *conn, int output_only, char *errbuf, size_t errsize)
{
    pg_conn_bound_t *b = pg_conn_bound(conn);
    if (b == NULL)
        return ERR_OK; /* unbounded: libpq waits as long as it takes */
    if (b->stalled) {
        snprintf(errbuf, errsize, "%s", b->why);
        return ERR_CONNECT;
    }
    int64_t last = clock_ms(), hooked = last;
    for (;;) {
        int f = PQflush(conn);
        if (f < 0)
            return pg_conn_lost(conn, b, errbuf, errsize);
        /* a result that is in needs no flush first: the rest is sent later */
        if (output_only ? f == 0 : !PQisBusy(conn))
            return ERR_OK;
        int64_t now = clock_ms();
        if (now - last >= b->timeout_ms)
            return pg_conn_stall(conn, b, now - last, errbuf, errsize);
        int moved;
        if (pg_conn_poll_once(conn, f, b->timeout_ms - (now - last), &moved) != 0)
            return pg_conn_lost(conn, b, errbuf, errsize);
        now = clock_ms();
        if (moved)
            last = now;
        if (b->hook != NULL && now - hooked >= 1000) { /* e.g. status to the source */
            hooked = now;
            b->hook(b->hook_arg, 0);
        }
    }
}

/* libpq's message for a failed call on conn into errbuf, after "<what>: "
 * unless what is NULL; its class. */
static err_t pg_conn_failed(PGconn *conn, const char *what, char *errbuf, size_t errsize)
{
    char m[1024];
    pg_conn_message(conn, m, sizeof(m));
    snprintf(errbuf, errsize, "%s%s%s", what ? what : "", what ? ": " : "", m);
    return pg_conn_classify(conn);
}

err_t pg_conn_copy_put(PGconn *conn, const char *what, const char *buf, size_t n, char *errbuf,
                       size_t errsize)
{
    int rc;
    while ((rc = PQputCopyData(conn, buf, (int)n)) == 0) { /* nonblocking: no room yet */
        err_t err = pg_conn_await(conn, 1, errbuf, errsize);
        if (err != ERR_OK)
            return err;
    }
    return rc > 0 ? ERR_OK : pg_conn_failed(conn, what, errbuf, errsize);
}

err_t pg_conn_copy_send(PGconn *conn, const char *what, const char *buf, size_t n, char *errbuf,
                        size_t errsize)
{
    err_t err = pg_conn_copy_put(conn, what, buf, n, errbuf, errsize);
    if (err == ERR_OK && PQflush(conn) < 0)
        err = pg_conn_failed(conn, what, errbuf, errsize);
    return err == ERR_OK ? pg_conn_await(conn, 1, errbuf, errsize) : err;
}

static err_t pg_conn_copy_end(PGconn *conn, const char *why, char *errbuf, size_t errsize)
{
    int rc;
    while ((rc = PQputCopyEnd(conn, why)) == 0) { /* nonblocking: no room yet */
        err_t err = pg_conn_await(conn, 1, errbuf, errsize);
        if (err != ERR_OK)
            return err;
    }
    return rc > 0 ? ERR_OK : pg_conn_failed(conn, NULL, errbuf, errsize);
}

err_t pg_conn_copy_results(PGconn *conn, const char *what, uint64_t *rows, char *errbuf,
                           size_t errsize)
{
    err_t err = ERR_OK, waited;
    char eb[512];
    PGresult *res;
    while ((waited = pg_conn_await(conn, 0, eb, sizeof(eb))) == ERR_OK &&
           (res = PQgetResult(conn)) != NULL) {
        if (PQresultStatus(res) == PGRES_COMMAND_OK && rows != NULL)
            *rows = strtoull(PQcmdTuples(res), NULL, 10);
        else if (PQresultStatus(res) != PGRES_COMMAND_OK && err == ERR_OK) {
            snprintf(errbuf, errsize, "%s%s%s", what ? what : "", what ? ": " : "",
                     PQresultErrorMessage(res));
            err = pg_conn_classify(conn);
        }
        PQclear(res);
    }
    if (waited != ERR_OK && err == ERR_OK)
        snprintf(errbuf, errsize, "%s", eb);
    return waited != ERR_OK ? waited : err;
}

err_t pg_conn_copy_finish(PGconn *conn, const char *why, const char *what, uint64_t *rows,
                          err_t err, char *errbuf, size_t errsize)
{
    char eb[256];
    char *buf = err == ERR_OK ? errbuf : eb; /* an earlier failure keeps errbuf */
    size_t size = err == ERR_OK ? errsize : sizeof(eb);
    err_t end = pg_conn_copy_end(conn, why, buf, size);
    if (end == ERR_OK)
        end = pg_conn_copy_results(conn, what, rows, buf, size);
    return err != ERR_OK ? err : end;
}

/* PQexec / PQexecParams, with every wait bounded on a bounded connection.
 * As PQexec: the last result, or the first error; stops at a COPY state. */
PGresult *pg_conn_query(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
    if (pg_conn_bound(conn) == NULL)
        return nparams > 0 || params != NULL
                   ? PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0)
                   : PQexec(conn, sql);
    char eb[8];
    int sent = nparams > 0 || params != NULL
                   ? PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0)
                   : PQsendQuery(conn, sql);
    PGresult *last = NULL, *res;
    for (int ok = sent; ok; ok = res != NULL) {
        if (pg_conn_await(conn, 0, eb, sizeof(eb)) != ERR_OK) {
            PQclear(last); /* the answer is lost: pg_conn_message says why */
            return NULL;
        }
        if ((res = PQgetResult(conn)) == NULL)
            break;
        ExecStatusType st = PQresultStatus(res);
        if (last != NULL && PQresultStatus(last) == PGRES_FATAL_ERROR) {
            PQclear(res);
        } else {
            PQclear(last);
            last = res;
        }
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
            break;
    }
    return last;
}

static PGresult *pg_conn_check(PGconn *conn, PGresult *res, ExecStatusType expect, const char *what,
                               char *errbuf, size_t errsize)
{
    if (res != NULL && PQresultStatus(res) == expect)
        return res;
    char m[1024];
    const char *msg = res ? PQresultErrorMessage(res) : "";
    if (msg == NULL || msg[0] == '\0')
        msg = pg_conn_message(conn, m, sizeof(m));
    snprintf(errbuf, errsize, "%s: %s", what, msg);
    pg_conn_trim(errbuf);
    PQclear(res);
    return NULL;
}

PGresult *pg_conn_exec(PGconn *conn, const char *sql, ExecStatusType expect, const char *what,
                       char *errbuf, size_t errsize)
{
    return pg_conn_check(conn, pg_conn_query(conn, sql, 0, NULL), expect, what, errbuf, errsize);
}

PGresult *pg_conn_execp(PGconn *conn, const char *sql, int nparams, const char *const *params,
                        ExecStatusType expect, const char *what, char *errbuf, size_t errsize)
{
    const char *const none[1] = {NULL};
    PGresult *res = pg_conn_query(conn, sql, nparams, params != NULL ? params : none);
    return pg_conn_check(conn, res, expect, what, errbuf, errsize);
}

err_t pg_conn_run(PGconn *conn, const char *sql, int nparams, const char *const *params,
                  ExecStatusType expect, const char *what, char *errbuf, size_t errsize)
{
    PGresult *res = params == NULL
                        ? pg_conn_exec(conn, sql, expect, what, errbuf, errsize)
                        : pg_conn_execp(conn, sql, nparams, params, expect, what, errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(conn);
    PQclear(res);
    return ERR_OK;
}

err_t pg_conn_classify(PGconn *conn)
{
    /* libpq keeps the status OK after a failed write (so that the server's
     * last message can still be read); reading is what notices the loss */
    const pg_conn_bound_t *b = pg_conn_bound(conn);
    if (b != NULL && b->stalled)
        return ERR_CONNECT;
    if (conn != NULL && PQstatus(conn) == CONNECTION_OK)
        (void)PQconsumeInput(conn);
    return (conn == NULL || PQstatus(conn) != CONNECTION_OK) ? ERR_CONNECT : ERR_RUNTIME;
}

char *pg_conn_qualified(PGconn *conn, const char *schema, const char *name)
{
    char *s = PQescapeIdentifier(conn, schema, strlen(schema));
    char *n = PQescapeIdentifier(conn, name, strlen(name));
    char *out = NULL;
    if (s != NULL && n != NULL) {
        size_t len = strlen(s) + strlen(n) + 2;
        out = malloc(len);
        if (out != NULL)
            snprintf(out, len, "%s.%s", s, n);
    }
    PQfreemem(s);
    PQfreemem(n);
    return out;
}

int pg_conn_table_exists(PGconn *conn, const char *qualified, char *errbuf, size_t errsize)
{
    const char *params[1] = {qualified};
    PGresult *res = pg_conn_execp(conn, "SELECT to_regclass($1) IS NOT NULL", 1, params,
                                  PGRES_TUPLES_OK, "target", errbuf, errsize);
    if (res == NULL)
        return -1;
    int exists = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return exists;
}
