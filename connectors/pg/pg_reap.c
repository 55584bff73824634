/*
 * pg_reap: ends the target sessions this process left behind (see pg_reap.h).
 */
#include "pg/pg_reap.h"

#include <stdio.h>

#include "core/log.h"
#include "pg/pg_conn.h"

/* the key's two halves as pg_locks shows them (int4 pair: objsubid 2) */
#define PG_REAP_HOLDERS                                                                            \
    "FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND "          \
    "l.classid = $1::int4::oid AND l.objid = $2::int4::oid AND l.pid <> pg_backend_pid() AND "     \
    "l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"

static int pg_reap_keyed(const config_t *cfg, char a[16], char b[16])
{
    if (cfg->session_key[0] == 0 && cfg->session_key[1] == 0)
        return 0;
    snprintf(a, 16, "%d", (int)cfg->session_key[0]);
    snprintf(b, 16, "%d", (int)cfg->session_key[1]);
    return 1;
}

err_t pg_reap_tag(PGconn *conn, const config_t *cfg, char *errbuf, size_t errsize)
{
    char a[16], b[16];
    if (!pg_reap_keyed(cfg, a, b))
        return ERR_OK;
    const char *params[2] = {a, b};
    return pg_conn_run(conn, "SELECT pg_advisory_lock_shared($1::int4, $2::int4)", 2, params,
                       PGRES_TUPLES_OK, "target: session key", errbuf, errsize);
}

err_t pg_reap_claim(PGconn *conn, const config_t *cfg, char *errbuf, size_t errsize)
{
    char a[16], b[16], eb[512];
    if (!pg_reap_keyed(cfg, a, b))
        return ERR_OK;
    const char *params[2] = {a, b};
    PGresult *res =
        pg_conn_execp(conn,
                      "SELECT string_agg(l.pid::text, ', ' ORDER BY l.pid), "
                      "count(*) FILTER (WHERE pg_terminate_backend(l.pid)) " PG_REAP_HOLDERS,
                      2, params, PGRES_TUPLES_OK, "target: end abandoned sessions", eb, sizeof(eb));
    if (res == NULL) {
        err_t err = pg_conn_classify(conn);
        if (err == ERR_CONNECT) {
            snprintf(errbuf, errsize, "%s", eb);
            return err;
        }
        log_warn("%s (their locks last until the server notices the lost connections)", eb);
    } else if (!PQgetisnull(res, 0, 0)) {
        log_warn("target: ended %s session(s) this process left behind on a lost connection "
                 "(pid %s): their open transactions are rolled back",
                 PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return pg_reap_tag(conn, cfg, errbuf, errsize);
}
