/*
 * pg_conn: libpq connection set-up and query helpers shared by the
 * PostgreSQL connectors. Does not know about changes or configuration.
 */
#include "pg_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text values must read back identically on the other side. */
#define PG_CONN_OPTIONS                                                                            \
    "-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 "                          \
    "-c standard_conforming_strings=on "                                                           \
    "-c lc_monetary=C -c bytea_output=hex -c TimeZone=UTC -c client_min_messages=warning"

static void pg_conn_trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

const char *pg_conn_message(PGconn *conn, char *buf, size_t size)
{
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

PGconn *pg_conn_open(const char *conninfo, pg_conn_kind_t kind, const char *what, err_t *err,
                     char *errbuf, size_t errsize)
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
    const char *keys[12];
    const char *vals[12];
    int n = 0;
    keys[n] = "dbname", vals[n++] = conninfo;
    keys[n] = "options", vals[n++] = PG_CONN_OPTIONS;
    keys[n] = "fallback_application_name", vals[n++] = "syncline";
    if (!pg_conn_has(opts, "connect_timeout"))
        keys[n] = "connect_timeout", vals[n++] = "10";
    if (!pg_conn_has(opts, "keepalives_idle")) {
        keys[n] = "keepalives_idle", vals[n++] = "30";
        keys[n] = "keepalives_interval", vals[n++] = "10";
        keys[n] = "keepalives_count", vals[n++] = "3";
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
    *err = ERR_OK;
    return conn;
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
    return pg_conn_check(conn, PQexec(conn, sql), expect, what, errbuf, errsize);
}

PGresult *pg_conn_execp(PGconn *conn, const char *sql, int nparams, const char *const *params,
                        ExecStatusType expect, const char *what, char *errbuf, size_t errsize)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    return pg_conn_check(conn, res, expect, what, errbuf, errsize);
}

err_t pg_conn_classify(PGconn *conn)
{
    /* libpq keeps the status OK after a failed write (so that the server's
     * last message can still be read); reading is what notices the loss */
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
