/*
 * pg_hold: the online verify's hold protocol on the target (see pg_hold.h).
 * The applier polls on a connection of its own, so the apply connection's
 * pipeline and transactions are never touched by it.
 */
#include "pg/pg_hold.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "pg/pg_conn.h"
#include "pg/pg_reap.h"
#include "pg/pg_vmarks.h"

#define PG_HOLD_LOCK_SQL "hashtext('syncline.verify_hold'), hashtext($1)"

#define PG_HOLD_METRICS_MS 5000
#define PG_HOLD_AT_EXPIRE_S 30  /* a pg_hold_at request expires after this long */
#define PG_HOLD_AT_MAX_MS 25000 /* and is given up a little before */

struct pg_hold {
    PGconn *conn;
    char *name;
    int locked;         /* holds the listening lock */
    metrics_t *metrics; /* optional, borrowed */
    int64_t metrics_ms; /* last refresh of the verify metrics */
};

static const char *const pg_hold_ddl = "CREATE SCHEMA IF NOT EXISTS syncline;"
                                       "CREATE TABLE IF NOT EXISTS syncline.verify_hold ("
                                       " name text PRIMARY KEY,"
                                       " id bigint NOT NULL,"
                                       " until_lsn pg_lsn,"
                                       " held_lsn pg_lsn,"
                                       " held_at timestamptz,"
                                       " expires_at timestamptz NOT NULL)";

static err_t pg_hold_exec(PGconn *conn, const char *sql, int n, const char *const *params,
                          ExecStatusType expect, PGresult **out, char *errbuf, size_t errsize)
{
    PGresult *res = n == 0 ? pg_conn_exec(conn, sql, expect, "target: verify hold", errbuf, errsize)
                           : pg_conn_execp(conn, sql, n, params, expect, "target: verify hold",
                                           errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(conn);
    if (out != NULL)
        *out = res;
    else
        PQclear(res);
    return ERR_OK;
}

static void pg_hold_try_lock(pg_hold_t *ph)
{
    const char *p[1] = {ph->name};
    PGresult *res = NULL;
    char eb[256];
    if (pg_hold_exec(ph->conn, "SELECT pg_try_advisory_lock(" PG_HOLD_LOCK_SQL ")", 1, p,
                     PGRES_TUPLES_OK, &res, eb, sizeof(eb)) == ERR_OK)
        ph->locked = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
}

pg_hold_t *pg_hold_open(const config_t *cfg, metrics_t *metrics, err_t *err, char *errbuf,
                        size_t errsize)
{
    pg_hold_t *ph = calloc(1, sizeof(*ph));
    if (ph == NULL || (ph->name = strdup(cfg->name)) == NULL) {
        free(ph);
        snprintf(errbuf, errsize, "out of memory");
        *err = ERR_RUNTIME;
        return NULL;
    }
    ph->conn = pg_conn_open_bounded(cfg->target_conninfo, PG_CONN_SQL, "target",
                                    cfg->target_timeout_s * 1000, err, errbuf, errsize);
    if (ph->conn != NULL)
        *err =
            pg_hold_exec(ph->conn, pg_hold_ddl, 0, NULL, PGRES_COMMAND_OK, NULL, errbuf, errsize);
    if (ph->conn != NULL && *err == ERR_OK)
        *err = pg_vmarks_ensure(ph->conn, errbuf, errsize);
    if (ph->conn != NULL && *err == ERR_OK) /* a later session ends it if it stalls */
        *err = pg_reap_tag(ph->conn, cfg, errbuf, errsize);
    if (ph->conn == NULL || *err != ERR_OK) {
        pg_hold_free(ph);
        return NULL;
    }
    pg_hold_try_lock(ph);
    ph->metrics = metrics;
    return ph;
}

/* The verify metrics, at most every PG_HOLD_METRICS_MS; failures only log. */
static void pg_hold_metrics(pg_hold_t *ph)
{
    if (ph->metrics == NULL || clock_ms() - ph->metrics_ms < PG_HOLD_METRICS_MS)
        return;
    ph->metrics_ms = clock_ms();
    long long dirty = -1;
    double age = -1;
    char eb[256];
    if (pg_vmarks_dirty(ph->conn, ph->name, &dirty, &age, eb, sizeof(eb)) != ERR_OK) {
        log_warn("verify metrics: %s", eb);
        return;
    }
    metrics_verify(ph->metrics, age >= 0 ? (double)time(NULL) - age : 0, dirty);
}

void pg_hold_free(pg_hold_t *ph)
{
    if (ph == NULL)
        return;
    PQfinish(ph->conn);
    free(ph->name);
    free(ph);
}

static err_t pg_hold_poll(void *ctx, int64_t *id, lsn_t *until, int *track, char *errbuf,
                          size_t errsize)
{
    pg_hold_t *ph = ctx;
    const char *p[1] = {ph->name};
    PGresult *res = NULL;
    *id = 0;
    *until = 0;
    if (!ph->locked)
        pg_hold_try_lock(ph);
    pg_hold_metrics(ph);
    err_t err = pg_hold_exec(ph->conn,
                             "SELECT h.id, h.until_lsn, EXISTS (SELECT 1 FROM "
                             "syncline.verify_state WHERE name = $1) FROM (SELECT 1) one LEFT "
                             "JOIN syncline.verify_hold h ON h.name = $1 AND h.expires_at > now()",
                             1, p, PGRES_TUPLES_OK, &res, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    if (!PQgetisnull(res, 0, 0))
        *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    if (!PQgetisnull(res, 0, 1))
        lsn_parse(PQgetvalue(res, 0, 1), until);
    *track = PQgetvalue(res, 0, 2)[0] == 't';
    PQclear(res);
    return ERR_OK;
}

static err_t pg_hold_held(void *ctx, int64_t id, lsn_t at, char *errbuf, size_t errsize)
{
    pg_hold_t *ph = ctx;
    char ids[32], l[LSN_STRLEN];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *p[3] = {ph->name, ids, lsn_format(at, l, sizeof(l))};
    err_t err = pg_hold_exec(ph->conn,
                             "UPDATE syncline.verify_hold SET held_lsn = $3::pg_lsn, held_at = "
                             "now() WHERE name = $1 AND id = $2::bigint",
                             3, p, PGRES_COMMAND_OK, NULL, errbuf, errsize);
    if (err == ERR_OK)
        log_info("verify hold: %s lsn=%s", at ? "held at" : "paused", l);
    return err;
}

hold_verifier_t pg_hold_stream(pg_hold_t *ph)
{
    return (hold_verifier_t){.poll = pg_hold_poll, .held = pg_hold_held, .ctx = ph};
}

/* ---- verifier side ---- */

err_t pg_hold_applier_alive(PGconn *conn, const char *name, int *alive, char *errbuf,
                            size_t errsize)
{
    const char *p[1] = {name};
    PGresult *res = NULL;
    err_t err = pg_hold_exec(conn,
                             "SELECT NOT pg_try_advisory_lock(" PG_HOLD_LOCK_SQL "), "
                             "pg_advisory_unlock_all()",
                             1, p, PGRES_TUPLES_OK, &res, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    *alive = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return ERR_OK;
}

err_t pg_hold_request(PGconn *conn, const char *name, int expire_s, int64_t *id, char *errbuf,
                      size_t errsize)
{
    char secs[16];
    snprintf(secs, sizeof(secs), "%d", expire_s);
    const char *p[2] = {name, secs};
    PGresult *res = NULL;
    err_t err = pg_hold_exec(conn, pg_hold_ddl, 0, NULL, PGRES_COMMAND_OK, NULL, errbuf, errsize);
    if (err == ERR_OK)
        err = pg_hold_exec(
            conn,
            "INSERT INTO syncline.verify_hold AS h (name, id, expires_at) VALUES ($1, "
            "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint, now() + $2::int * interval "
            "'1 s') ON CONFLICT (name) DO UPDATE SET id = excluded.id, until_lsn = NULL, "
            "held_lsn = NULL, held_at = NULL, expires_at = excluded.expires_at RETURNING id",
            2, p, PGRES_TUPLES_OK, &res, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return ERR_OK;
}

err_t pg_hold_set_point(PGconn *conn, const char *name, int64_t id, lsn_t until, char *errbuf,
                        size_t errsize)
{
    char ids[32], l[LSN_STRLEN];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *p[3] = {name, ids, lsn_format(until, l, sizeof(l))};
    return pg_hold_exec(conn,
                        "UPDATE syncline.verify_hold SET until_lsn = $3::pg_lsn, held_lsn = NULL, "
                        "held_at = NULL WHERE name = $1 AND id = $2::bigint",
                        3, p, PGRES_COMMAND_OK, NULL, errbuf, errsize);
}

err_t pg_hold_wait(PGconn *conn, const char *name, int64_t id, lsn_t at, int64_t deadline_ms,
                   volatile sig_atomic_t *stop, int *answered, char *errbuf, size_t errsize)
{
    char ids[32], l[LSN_STRLEN];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *p[3] = {name, ids, lsn_format(at, l, sizeof(l))};
    *answered = 0;
    for (;;) {
        PGresult *res = NULL;
        err_t err = pg_hold_exec(conn,
                                 "SELECT count(*) FROM syncline.verify_hold WHERE name = $1 AND "
                                 "id = $2::bigint AND held_lsn = $3::pg_lsn",
                                 3, p, PGRES_TUPLES_OK, &res, errbuf, errsize);
        if (err != ERR_OK)
            return err;
        *answered = PQgetvalue(res, 0, 0)[0] == '1';
        PQclear(res);
        if (*answered || *stop || clock_ms() > deadline_ms)
            return ERR_OK;
        nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL);
    }
}

err_t pg_hold_release(PGconn *conn, const char *name, int64_t id, char *errbuf, size_t errsize)
{
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *p[2] = {name, ids};
    return pg_hold_exec(conn,
                        "DELETE FROM syncline.verify_hold WHERE name = $1 AND id = $2::bigint", 2,
                        p, PGRES_COMMAND_OK, NULL, errbuf, errsize);
}

err_t pg_hold_at(PGconn *conn, const char *name, lsn_t at, int64_t deadline_ms,
                 volatile sig_atomic_t *stop, err_t (*while_held)(void *arg), void *arg,
                 int *reached, char *errbuf, size_t errsize)
{
    int64_t id = 0, limit = clock_ms() + PG_HOLD_AT_MAX_MS;
    char eb[256];
    *reached = 0;
    err_t err = pg_hold_request(conn, name, PG_HOLD_AT_EXPIRE_S, &id, errbuf, errsize);
    if (err == ERR_OK)
        err = pg_hold_set_point(conn, name, id, at, errbuf, errsize);
    if (err == ERR_OK)
        err = pg_hold_wait(conn, name, id, at, deadline_ms < limit ? deadline_ms : limit, stop,
                           reached, errbuf, errsize);
    if (err == ERR_OK && *reached && while_held != NULL)
        err = while_held(arg);
    if (id != 0 && pg_hold_release(conn, name, id, eb, sizeof(eb)) != ERR_OK && err == ERR_OK) {
        snprintf(errbuf, errsize, "%s", eb);
        err = ERR_RUNTIME;
    }
    return err;
}

err_t pg_hold_drain(const config_t *cfg, lsn_t at, int64_t deadline_ms, volatile sig_atomic_t *stop,
                    int *reached, char *errbuf, size_t errsize)
{
    err_t err;
    int alive = 0;
    *reached = 0;
    PGconn *conn = pg_conn_open_bounded(cfg->target_conninfo, PG_CONN_SQL, "target",
                                        cfg->target_timeout_s * 1000, &err, errbuf, errsize);
    if (conn == NULL)
        return err;
    err = pg_hold_applier_alive(conn, cfg->name, &alive, errbuf, errsize);
    if (err == ERR_OK && alive)
        err = pg_hold_at(conn, cfg->name, at, deadline_ms, stop, NULL, NULL, reached, errbuf,
                         errsize);
    PQfinish(conn);
    return err;
}
