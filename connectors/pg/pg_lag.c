/*
 * pg_lag: lag measurement from the source's WAL position and the target's
 * progress row. Reads only; never touches the slot or the stream.
 */
#include "pg/pg_lag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_conn.h"
#include "pg/pg_vmarks.h"
#include "pg/pg_offsets.h"

struct pg_lag {
    const config_t *cfg;
    PGconn *src;
    PGconn *tgt;
};

pg_lag_t *pg_lag_open(const config_t *cfg, err_t *err, char *errbuf, size_t errsize)
{
    pg_lag_t *pl = calloc(1, sizeof(*pl));
    if (pl == NULL) {
        *err = ERR_RUNTIME;
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    pl->cfg = cfg;
    pl->src = pg_conn_open(cfg->source_conninfo, PG_CONN_SQL, "source", err, errbuf, errsize);
    if (pl->src != NULL)
        pl->tgt = pg_conn_open_bounded(cfg->target_conninfo, PG_CONN_SQL, "target",
                                       cfg->target_timeout_s * 1000, err, errbuf, errsize);
    if (pl->tgt == NULL) {
        pg_lag_free(pl);
        return NULL;
    }
    return pl;
}

void pg_lag_free(pg_lag_t *pl)
{
    if (pl == NULL)
        return;
    PQfinish(pl->src);
    PQfinish(pl->tgt);
    free(pl);
}

static err_t pg_lag_source(pg_lag_t *pl, pg_lag_sample_t *out, char *errbuf, size_t errsize)
{
    const char *params[1] = {pl->cfg->slot};
    PGresult *res =
        pg_conn_execp(pl->src,
                      "SELECT pg_current_wal_lsn(), s.slot_name IS NOT NULL, "
                      "s.active_pid IS NOT NULL, coalesce(s.confirmed_flush_lsn, "
                      "'0/0') FROM (SELECT 1) one LEFT JOIN pg_replication_slots s "
                      "ON s.slot_name = $1",
                      1, params, PGRES_TUPLES_OK, "source: read position", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(pl->src) == ERR_CONNECT ? ERR_CONNECT : ERR_SOURCE;
    lsn_parse(PQgetvalue(res, 0, 0), &out->source_lsn);
    out->slot_exists = PQgetvalue(res, 0, 1)[0] == 't';
    out->slot_active = PQgetvalue(res, 0, 2)[0] == 't';
    lsn_parse(PQgetvalue(res, 0, 3), &out->confirmed_lsn);
    PQclear(res);
    return ERR_OK;
}

static err_t pg_lag_target(pg_lag_t *pl, pg_lag_sample_t *out, char *errbuf, size_t errsize)
{
    const char *params[1] = {pl->cfg->name};
    PGresult *res = pg_conn_execp(
        pl->tgt,
        "SELECT p.applied_lsn, coalesce(p.source_commit_time::text, ''), p.updated_at::text, "
        "greatest(0, extract(epoch FROM clock_timestamp() - greatest(p.source_commit_time, "
        "p.updated_at)))::float8 FROM (SELECT to_regclass('syncline.progress') AS t) r "
        "LEFT JOIN LATERAL (SELECT * FROM syncline.progress WHERE r.t IS NOT NULL "
        "AND name = $1) p ON true",
        1, params, PGRES_TUPLES_OK, "target: read progress", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(pl->tgt);
    out->progress_exists = !PQgetisnull(res, 0, 0);
    if (out->progress_exists) {
        lsn_parse(PQgetvalue(res, 0, 0), &out->applied_lsn);
        snprintf(out->commit_time, sizeof(out->commit_time), "%s", PQgetvalue(res, 0, 1));
        snprintf(out->updated_at, sizeof(out->updated_at), "%s", PQgetvalue(res, 0, 2));
        out->lag_seconds = strtod(PQgetvalue(res, 0, 3), NULL);
    }
    PQclear(res);
    return ERR_OK;
}

err_t pg_lag_sample(pg_lag_t *pl, pg_lag_sample_t *out, char *errbuf, size_t errsize)
{
    memset(out, 0, sizeof(*out));
    err_t err = pg_lag_source(pl, out, errbuf, errsize);
    if (err == ERR_OK)
        err = pg_lag_target(pl, out, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    if (!out->progress_exists) {
        snprintf(errbuf, errsize,
                 "target has no progress row for '%s' (syncline.progress): start 'syncline run' "
                 "first",
                 pl->cfg->name);
        return ERR_SOURCE;
    }
    out->lag_bytes = lsn_diff(out->source_lsn, out->applied_lsn);
    if (out->lag_bytes == 0)
        out->lag_seconds = 0;
    return pg_vmarks_dirty(pl->tgt, pl->cfg->name, &out->verify_dirty, &out->verify_full_age_s,
                           errbuf, errsize);
}

err_t pg_lag_kafka_offsets(pg_lag_t *pl, const char *topic, sink_offset_t **offsets, int *n,
                           char *errbuf, size_t errsize)
{
    return pg_offsets_read(pl->tgt, pl->cfg->name, topic, offsets, n, errbuf, errsize);
}
