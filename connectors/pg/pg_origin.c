/*
 * pg_origin: replication origins of syncline's applying sessions (create,
 * session setup with a short retry, drop).
 */
#include "pg/pg_origin.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "pg/pg_conn.h"

#define PG_ORIGIN_TRIES 50 /* 200 ms apart */

static void pg_origin_nap(void)
{
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* 1 when the failure is "already active for PID n" (object in use). */
static int pg_origin_busy(PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    return state != NULL && strcmp(state, "55006") == 0;
}

err_t pg_origin_session(PGconn *conn, const char *origin, char *errbuf, size_t errsize)
{
    const char *params[1] = {origin};
    err_t err =
        pg_conn_run(conn,
                    "SELECT pg_replication_origin_create($1) WHERE NOT EXISTS "
                    "(SELECT 1 FROM pg_replication_origin WHERE roname = $1)",
                    1, params, PGRES_TUPLES_OK, "target: replication origin", errbuf, errsize);
    if (err != ERR_OK)
        return err;
    PGresult *res = NULL;
    for (int i = 0; i < PG_ORIGIN_TRIES; i++) {
        PQclear(res);
        res = pg_conn_query(conn, "SELECT pg_replication_origin_session_setup($1)", 1, params);
        if (res == NULL || PQresultStatus(res) == PGRES_TUPLES_OK || !pg_origin_busy(res))
            break;
        if (i == 0)
            log_warn("target: replication origin %s is still held by a previous session; "
                     "waiting for it to end",
                     origin);
        pg_origin_nap();
    }
    if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK) {
        PQclear(res);
        return ERR_OK;
    }
    if (res != NULL) {
        char m[512];
        snprintf(errbuf, errsize,
                 "target: cannot set up replication origin %s (needs superuser or EXECUTE on "
                 "pg_replication_origin_session_setup): %s",
                 origin, pg_conn_message(conn, m, sizeof(m)));
        PQclear(res);
    }
    return pg_conn_classify(conn);
}

err_t pg_origin_drop(PGconn *conn, const char *origin, char *errbuf, size_t errsize)
{
    const char *params[1] = {origin};
    return pg_conn_run(conn,
                       "SELECT pg_replication_origin_drop(roname) FROM "
                       "pg_replication_origin WHERE roname = $1",
                       1, params, PGRES_TUPLES_OK, "drop replication origin", errbuf, errsize);
}
