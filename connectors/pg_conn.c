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
        /* libpq's parse message quotes only the offending keyword, not values */
        snprintf(errbuf, errsize, "%s: invalid conninfo: %s", what, perr ? perr : "out of memory");
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
