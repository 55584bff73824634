/*
 * pg_reap: ends the target sessions this process left behind (see pg_reap.h).
 */
#include "pg/pg_reap.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "pg/pg_conn.h"

#define PG_REAP_WAIT_MS 10000 /* how long the ended sessions may take to go */
#define PG_REAP_POLL_MS 50

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

/*
 * pg_terminate_backend only signals: a session inside its COMMIT finishes it
 * first. Waits up to PG_REAP_WAIT_MS until no other session holds the key
 * (params: its halves) any more, which a session does until it has exited, so
 * that what the caller reads next (the progress row) includes a COMMIT of
 * theirs that was landing. One still there is left to the progress fence
 * (pg_progress_queue), with a warning naming pids.
 */
static err_t pg_reap_wait(PGconn *conn, const char *const *params, const char *pids, char *errbuf,
                          size_t errsize)
{
    for (int waited = 0;; waited += PG_REAP_POLL_MS) {
        PGresult *res =
            pg_conn_execp(conn, "SELECT count(*) " PG_REAP_HOLDERS, 2, params, PGRES_TUPLES_OK,
                          "target: wait for the ended sessions", errbuf, errsize);
        if (res == NULL)
            return pg_conn_classify(conn);
        int left = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
        if (left == 0)
            return ERR_OK;
        if (waited >= PG_REAP_WAIT_MS) {
            log_warn("target: %d ended session(s) still there after %d ms (pid %s); a COMMIT of "
                     "theirs that lands later stops the next batch (the stored position moved)",
                     left, waited, pids);
            return ERR_OK;
        }
        nanosleep(&(struct timespec){.tv_nsec = PG_REAP_POLL_MS * 1000000L}, NULL);
    }
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
        err_t err = pg_reap_wait(conn, params, PQgetvalue(res, 0, 0), errbuf, errsize);
        if (err != ERR_OK) {
            PQclear(res);
            return err;
        }
    }
    PQclear(res);
    return pg_reap_tag(conn, cfg, errbuf, errsize);
}
