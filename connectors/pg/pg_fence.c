/*
 * pg_fence: the source write fence of a cutover (ALTER DATABASE ... SET
 * default_transaction_read_only, session termination) and its removal.
 */
#include "pg/pg_fence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg/pg_conn.h"

struct pg_fence {
    PGconn *conn;
    char db[256];
    char *qdb; /* quoted database name */
};

static err_t pg_fence_exec(pg_fence_t *pf, const char *fmt, char *errbuf, size_t errsize)
{
    char sql[512];
    snprintf(sql, sizeof(sql), fmt, pf->qdb);
    PGresult *res = pg_conn_exec(pf->conn, sql, PGRES_COMMAND_OK, "source", errbuf, errsize);
    if (res == NULL) {
        size_t n = strlen(errbuf);
        snprintf(errbuf + n, errsize - n,
                 " (database %s; ALTER DATABASE needs superuser or the database owner)", pf->db);
        return pg_conn_classify(pf->conn) == ERR_CONNECT ? ERR_CONNECT : ERR_SOURCE;
    }
    PQclear(res);
    return ERR_OK;
}

pg_fence_t *pg_fence_open(const config_t *cfg, err_t *err, char *errbuf, size_t errsize)
{
    pg_fence_t *pf = calloc(1, sizeof(*pf));
    if (pf == NULL) {
        *err = ERR_RUNTIME;
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    pf->conn = pg_conn_open(cfg->source_conninfo, PG_CONN_SQL, "source", err, errbuf, errsize);
    PGresult *res = pf->conn ? pg_conn_exec(pf->conn,
                                            "SET default_transaction_read_only = off; "
                                            "SELECT current_database()",
                                            PGRES_TUPLES_OK, "source", errbuf, errsize)
                             : NULL;
    if (res != NULL) {
        snprintf(pf->db, sizeof(pf->db), "%s", PQgetvalue(res, 0, 0));
        pf->qdb = PQescapeIdentifier(pf->conn, pf->db, strlen(pf->db));
        PQclear(res);
    }
    if (pf->qdb == NULL) {
        if (pf->conn != NULL)
            *err = pg_conn_classify(pf->conn);
        pg_fence_free(pf);
        return NULL;
    }
    return pf;
}

void pg_fence_free(pg_fence_t *pf)
{
    if (pf == NULL)
        return;
    PQfreemem(pf->qdb);
    PQfinish(pf->conn);
    free(pf);
}

const char *pg_fence_database(const pg_fence_t *pf)
{
    return pf->db;
}

/* Waits (up to 5 s) until none of the pids in `pids` ("{1,2}") is left. */
static err_t pg_fence_wait_gone(pg_fence_t *pf, const char *pids, char *errbuf, size_t errsize)
{
    const char *params[1] = {pids};
    for (int i = 0; i < 500; i++) {
        PGresult *res = pg_conn_execp(pf->conn,
                                      "SELECT count(*) FROM pg_stat_activity WHERE pid = "
                                      "ANY($1::int[])",
                                      1, params, PGRES_TUPLES_OK, "source", errbuf, errsize);
        if (res == NULL)
            return pg_conn_classify(pf->conn);
        int left = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
        if (left == 0)
            return ERR_OK;
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
    snprintf(errbuf, errsize,
             "source: sessions of database %s did not end within 5 s of "
             "pg_terminate_backend",
             pf->db);
    return ERR_SOURCE;
}

/* Ends the client sessions of this database opened before the fence and
 * waits until they are gone. */
static err_t pg_fence_terminate(pg_fence_t *pf, pg_fence_info_t *out, char *errbuf, size_t errsize)
{
    const char *params[1] = {out->fenced_at};
    PGresult *res = pg_conn_execp(
        pf->conn,
        "SELECT count(*), coalesce(array_agg(pid), '{}')::text FROM pg_stat_activity "
        "WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> "
        "pg_backend_pid() AND backend_start < $1::timestamptz AND application_name <> 'syncline' "
        "AND pg_terminate_backend(pid)",
        1, params, PGRES_TUPLES_OK, "source: terminate sessions", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(pf->conn) == ERR_CONNECT ? ERR_CONNECT : ERR_SOURCE;
    out->terminated = atoi(PQgetvalue(res, 0, 0));
    err_t err = pg_fence_wait_gone(pf, PQgetvalue(res, 0, 1), errbuf, errsize);
    PQclear(res);
    return err;
}

err_t pg_fence_on(pg_fence_t *pf, pg_fence_info_t *out, char *errbuf, size_t errsize)
{
    memset(out, 0, sizeof(*out));
    err_t err = pg_fence_exec(pf, "ALTER DATABASE %s SET default_transaction_read_only = on",
                              errbuf, errsize);
    if (err != ERR_OK)
        return err;
    PGresult *res = pg_conn_exec(pf->conn, "SELECT clock_timestamp()::text", PGRES_TUPLES_OK,
                                 "source", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(pf->conn);
    snprintf(out->fenced_at, sizeof(out->fenced_at), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    err = pg_fence_terminate(pf, out, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    res = pg_conn_exec(pf->conn, "SELECT pg_current_wal_lsn(), clock_timestamp()::text",
                       PGRES_TUPLES_OK, "source", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(pf->conn);
    lsn_parse(PQgetvalue(res, 0, 0), &out->final_lsn);
    snprintf(out->writes_stopped_at, sizeof(out->writes_stopped_at), "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    return ERR_OK;
}

err_t pg_fence_off(pg_fence_t *pf, char *errbuf, size_t errsize)
{
    return pg_fence_exec(pf, "ALTER DATABASE %s RESET default_transaction_read_only", errbuf,
                         errsize);
}
