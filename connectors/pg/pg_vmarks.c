/*
 * pg_vmarks: incremental verify's tables on the target. A mark row (name,
 * table, bucket) carries the end LSN of the newest batch that changed the
 * bucket; a verify that matched everywhere moves verify_state.base_lsn to its
 * first consistent point, so the next one re-checks only marks at or after
 * it. Marks are never deleted (one row per bucket at most), so the applier's
 * upsert and a verifier never contend for the same rows.
 */
#include "pg/pg_vmarks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_conn.h"

#define PG_VMARKS_STMT "syncline_verify_marks"
#define PG_VMARKS_TRACKER_SQL                                                                      \
    "SELECT a.pid, a.backend_start::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = "      \
    "l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = "        \
    "hashtext('syncline.verify_hold')::oid AND l.objid = hashtext($1)::oid LIMIT 1"

err_t pg_vmarks_ensure(PGconn *conn, char *errbuf, size_t errsize)
{
    return pg_conn_run(conn,
                       "CREATE SCHEMA IF NOT EXISTS syncline;"
                       "CREATE TABLE IF NOT EXISTS syncline.verify_marks ("
                       " name text NOT NULL,"
                       " schema_name text NOT NULL,"
                       " table_name text NOT NULL,"
                       " bucket bigint NOT NULL,"
                       " lsn pg_lsn NOT NULL,"
                       " PRIMARY KEY (name, schema_name, table_name, bucket));"
                       "CREATE TABLE IF NOT EXISTS syncline.verify_state ("
                       " name text PRIMARY KEY,"
                       " base_lsn pg_lsn,"
                       " full_at timestamptz,"
                       " tracker_pid integer,"
                       " tracker_start text)",
                       0, NULL, PGRES_COMMAND_OK, "target: verify tables", errbuf, errsize);
}

/* Appends s as a quoted array element ("a\"b") to the literal in *buf
 * (which starts with '{'); -1 when out of memory. */
static int pg_vmarks_elem(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t need = *len + 2 * strlen(s) + 4;
    if (need > *cap) {
        char *n = realloc(*buf, need * 2);
        if (n == NULL)
            return -1;
        *buf = n;
        *cap = need * 2;
    }
    char *p = *buf + *len;
    if (*len > 1)
        *p++ = ',';
    *p++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *p++ = '\\';
        *p++ = *s;
    }
    *p++ = '"';
    *len = (size_t)(p - *buf);
    return 0;
}

/* The three array literals of pos->marks: schemas, tables, buckets. */
static int pg_vmarks_arrays(const sink_position_t *pos, char *out[3])
{
    size_t len[3] = {1, 1, 1}, cap[3] = {0, 0, 0};
    int bad = 0;
    for (int k = 0; k < 3; k++) {
        out[k] = malloc(2);
        bad |= out[k] == NULL;
        if (out[k] != NULL)
            out[k][0] = '{', cap[k] = 2;
    }
    for (int i = 0; !bad && i < pos->nmarks; i++) {
        char b[24];
        snprintf(b, sizeof(b), "%lld", (long long)pos->marks[i].bucket);
        bad = pg_vmarks_elem(&out[0], &len[0], &cap[0], pos->marks[i].schema) != 0 ||
              pg_vmarks_elem(&out[1], &len[1], &cap[1], pos->marks[i].table) != 0 ||
              pg_vmarks_elem(&out[2], &len[2], &cap[2], b) != 0;
    }
    for (int k = 0; !bad && k < 3; k++) {
        char *n = realloc(out[k], len[k] + 2);
        bad = n == NULL;
        if (n != NULL) {
            out[k] = n;
            memcpy(out[k] + len[k], "}", 2);
        }
    }
    return bad ? -1 : 0;
}

err_t pg_vmarks_queue(pg_pipe_t *pipe, int *prepared, const char *name, const sink_position_t *pos,
                      char *errbuf, size_t errsize)
{
    pg_pipe_tag_t tag = {.op = 'X', .table = "syncline.verify_marks", .lsn = pos->end_lsn};
    err_t err = ERR_OK;
    if (!*prepared) {
        err = pg_pipe_prepare(pipe, PG_VMARKS_STMT,
                              "INSERT INTO syncline.verify_marks AS m (name, schema_name, "
                              "table_name, bucket, lsn) SELECT $1, s, t, b, $2::pg_lsn FROM "
                              "unnest($3::text[], $4::text[], $5::bigint[]) AS u(s, t, b) ON "
                              "CONFLICT (name, schema_name, table_name, bucket) DO UPDATE SET "
                              "lsn = excluded.lsn",
                              &tag, errbuf, errsize);
        *prepared = err == ERR_OK;
    }
    if (err != ERR_OK)
        return err;
    char *arr[3] = {NULL, NULL, NULL}, l[LSN_STRLEN];
    if (pg_vmarks_arrays(pos, arr) != 0) {
        snprintf(errbuf, errsize, "out of memory writing verify marks");
        err = ERR_RUNTIME;
    } else {
        const char *values[5] = {name, lsn_format(pos->end_lsn, l, sizeof(l)), arr[0], arr[1],
                                 arr[2]};
        err = pg_pipe_exec_prepared(pipe, PG_VMARKS_STMT, 5, values, NULL, NULL, &tag, NULL, errbuf,
                                    errsize);
    }
    for (int k = 0; k < 3; k++)
        free(arr[k]);
    return err;
}

err_t pg_vmarks_tracker(PGconn *conn, const char *name, pg_vmarks_tracker_t *t, char *errbuf,
                        size_t errsize)
{
    const char *p[1] = {name};
    memset(t, 0, sizeof(*t));
    PGresult *res = pg_conn_execp(conn, PG_VMARKS_TRACKER_SQL, 1, p, PGRES_TUPLES_OK,
                                  "target: verify tracker", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(conn);
    if (PQntuples(res) == 1) {
        t->pid = atoi(PQgetvalue(res, 0, 0));
        snprintf(t->started, sizeof(t->started), "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return ERR_OK;
}

err_t pg_vmarks_state(PGconn *conn, const char *name, pg_vmarks_state_t *st, char *errbuf,
                      size_t errsize)
{
    const char *p[1] = {name};
    memset(st, 0, sizeof(*st));
    st->full_age_s = -1;
    PGresult *res = pg_conn_execp(
        conn,
        "SELECT base_lsn, extract(epoch FROM now() - full_at), tracker_pid, tracker_start FROM "
        "syncline.verify_state WHERE name = $1",
        1, p, PGRES_TUPLES_OK, "target: verify state", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(conn);
    if (PQntuples(res) == 1) {
        st->exists = 1;
        if (!PQgetisnull(res, 0, 0))
            lsn_parse(PQgetvalue(res, 0, 0), &st->base_lsn);
        if (!PQgetisnull(res, 0, 1))
            st->full_age_s = strtod(PQgetvalue(res, 0, 1), NULL);
        if (!PQgetisnull(res, 0, 2))
            st->tracker.pid = atoi(PQgetvalue(res, 0, 2));
        snprintf(st->tracker.started, sizeof(st->tracker.started), "%s", PQgetvalue(res, 0, 3));
    }
    PQclear(res);
    return ERR_OK;
}

err_t pg_vmarks_start(PGconn *conn, const char *name, char *errbuf, size_t errsize)
{
    const char *p[1] = {name};
    err_t err = pg_vmarks_ensure(conn, errbuf, errsize);
    PGresult *res = err != ERR_OK ? NULL
                                  : pg_conn_execp(conn,
                                                  "INSERT INTO syncline.verify_state (name) "
                                                  "VALUES ($1) ON CONFLICT (name) DO NOTHING",
                                                  1, p, PGRES_COMMAND_OK, "target: verify state",
                                                  errbuf, errsize);
    if (err == ERR_OK && res == NULL)
        err = pg_conn_classify(conn);
    PQclear(res);
    return err;
}

err_t pg_vmarks_set_base(PGconn *conn, const char *name, lsn_t base, int full,
                         const pg_vmarks_tracker_t *t, char *errbuf, size_t errsize)
{
    char l[LSN_STRLEN], pid[16];
    snprintf(pid, sizeof(pid), "%d", t->pid);
    const char *p[5] = {name, lsn_format(base, l, sizeof(l)), full ? "t" : "f", pid, t->started};
    return pg_conn_run(
        conn,
        "UPDATE syncline.verify_state SET base_lsn = $2::pg_lsn, full_at = CASE WHEN $3::boolean "
        "THEN now() ELSE full_at END, tracker_pid = $4::integer, tracker_start = $5 WHERE name = "
        "$1",
        5, p, PGRES_COMMAND_OK, "target: verify state", errbuf, errsize);
}

err_t pg_vmarks_dirty(PGconn *conn, const char *name, long long *dirty, double *full_age_s,
                      char *errbuf, size_t errsize)
{
    const char *p[1] = {name};
    *dirty = -1;
    *full_age_s = -1;
    PGresult *res = pg_conn_exec(conn, "SELECT to_regclass('syncline.verify_state') IS NOT NULL",
                                 PGRES_TUPLES_OK, "target: verify state", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(conn);
    int exists = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!exists)
        return ERR_OK;
    res = pg_conn_execp(conn,
                        "SELECT (SELECT count(*) FROM syncline.verify_marks m WHERE m.name = "
                        "s.name AND m.lsn >= s.base_lsn), extract(epoch FROM now() - s.full_at) "
                        "FROM syncline.verify_state s WHERE s.name = $1 AND s.base_lsn IS NOT NULL",
                        1, p, PGRES_TUPLES_OK, "target: verify state", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(conn);
    if (PQntuples(res) == 1) {
        *dirty = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        if (!PQgetisnull(res, 0, 1))
            *full_age_s = strtod(PQgetvalue(res, 0, 1), NULL);
    }
    PQclear(res);
    return ERR_OK;
}
