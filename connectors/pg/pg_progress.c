/*
 * pg_progress: the tables syncline keeps in the target (syncline.progress,
 * syncline.kafka_offsets, syncline.claims): their DDL, reads, and the writes
 * queued in the applier's pipeline. Applies no row of user data.
 */
#include "pg/pg_progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/route.h"
#include "core/sbuf.h"
#include "pg/pg_conn.h"
#include "pg/pg_rowcheck.h"

#define PG_PROGRESS_STMT "syncline_progress"
#define PG_PROGRESS_OFFSET_STMT "syncline_offset"

err_t pg_progress_ensure_tables(PGconn *conn, char *errbuf, size_t errsize)
{
    static const char *const ddl =
        "CREATE SCHEMA IF NOT EXISTS syncline;"
        "CREATE TABLE IF NOT EXISTS syncline.progress ("
        " name text PRIMARY KEY,"
        " applied_lsn pg_lsn NOT NULL,"
        " source_commit_time timestamptz,"
        " updated_at timestamptz NOT NULL DEFAULT now(),"
        " publication_created boolean NOT NULL DEFAULT false,"
        " state text NOT NULL DEFAULT 'streaming' CHECK (state IN ('copying', 'streaming')));"
        /* the initial copy's counters, written by pg_copy while state = 'copying' */
        "ALTER TABLE syncline.progress ADD COLUMN IF NOT EXISTS copy_rows bigint,"
        " ADD COLUMN IF NOT EXISTS copy_bytes bigint,"
        " ADD COLUMN IF NOT EXISTS copy_total_bytes bigint,"
        " ADD COLUMN IF NOT EXISTS copy_tables_done integer,"
        " ADD COLUMN IF NOT EXISTS copy_tables_total integer;"
        "CREATE TABLE IF NOT EXISTS syncline.kafka_offsets ("
        " name text NOT NULL,"
        " topic text NOT NULL,"
        " partition integer NOT NULL,"
        " next_offset bigint NOT NULL,"
        " updated_at timestamptz NOT NULL DEFAULT now(),"
        " PRIMARY KEY (name, topic, partition));"
        /* which configuration writes which target table (pg_progress_claim) */
        "CREATE TABLE IF NOT EXISTS syncline.claims ("
        " relid oid PRIMARY KEY,"
        " target text NOT NULL,"
        " name text NOT NULL,"
        " claimed_at timestamptz NOT NULL DEFAULT now())";
    /* several statements: PQexec, not PQexecParams */
    return pg_conn_run(conn, ddl, 0, NULL, PGRES_COMMAND_OK, "target: create progress table",
                       errbuf, errsize);
}

err_t pg_progress_read(PGconn *conn, const config_t *cfg, pg_progress_t *out, char *errbuf,
                       size_t errsize)
{
    memset(out, 0, sizeof(*out));
    int has = pg_conn_table_exists(conn, "syncline.progress", errbuf, errsize);
    if (has <= 0)
        return has < 0 ? pg_conn_classify(conn) : ERR_OK;
    const char *params[1] = {cfg->name};
    PGresult *res =
        pg_conn_execp(conn,
                      "SELECT applied_lsn, publication_created, updated_at, "
                      "coalesce(source_commit_time::text, ''), state = 'copying' "
                      "FROM syncline.progress WHERE name = $1",
                      1, params, PGRES_TUPLES_OK, "target: read progress", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(conn);
    if (PQntuples(res) > 0) {
        out->exists = 1;
        lsn_parse(PQgetvalue(res, 0, 0), &out->applied_lsn);
        out->publication_created = PQgetvalue(res, 0, 1)[0] == 't';
        snprintf(out->updated_at, sizeof(out->updated_at), "%s", PQgetvalue(res, 0, 2));
        snprintf(out->commit_time, sizeof(out->commit_time), "%s", PQgetvalue(res, 0, 3));
        out->copying = PQgetvalue(res, 0, 4)[0] == 't';
    }
    PQclear(res);
    return ERR_OK;
}

err_t pg_progress_init(PGconn *conn, const config_t *cfg, lsn_t applied, int publication_created,
                       int copying, char *errbuf, size_t errsize)
{
    char l[LSN_STRLEN];
    const char *params[4] = {cfg->name, lsn_format(applied, l, sizeof(l)),
                             publication_created ? "true" : "false",
                             copying ? "copying" : "streaming"};
    return pg_conn_run(conn,
                       "INSERT INTO syncline.progress (name, applied_lsn, "
                       "publication_created, state) VALUES ($1, $2, $3, $4) "
                       "ON CONFLICT (name) DO NOTHING",
                       4, params, PGRES_COMMAND_OK, "target: write progress", errbuf, errsize);
}

err_t pg_progress_copy_done(PGconn *conn, const config_t *cfg, char *errbuf, size_t errsize)
{
    const char *params[1] = {cfg->name};
    return pg_conn_run(conn,
                       "UPDATE syncline.progress SET state = 'streaming', "
                       "updated_at = now() WHERE name = $1",
                       1, params, PGRES_COMMAND_OK, "target: write progress", errbuf, errsize);
}

/* Quoted target names of the source tables (schema, name) that are not
 * skipped, as a PostgreSQL text[] literal into sb. */
static void pg_progress_claim_list(PGconn *conn, const config_t *cfg, const char *const *schemas,
                                   const char *const *names, int n, sbuf_t *sb)
{
    sbuf_add(sb, "{");
    for (int i = 0, k = 0; i < n; i++) {
        const char *ts, *tn;
        if (route_target(cfg, schemas[i], names[i], &ts, &tn) != ROUTE_SYNC)
            continue;
        char *q = pg_conn_qualified(conn, ts, tn);
        sbuf_add(sb, k++ ? ",\"" : "\"");
        for (const char *c = q ? q : ""; *c != '\0'; c++) { /* array element quoting */
            char e[3] = {'\\', *c, '\0'};
            sbuf_add(sb, (*c == '"' || *c == '\\') ? e : e + 1);
        }
        sbuf_add(sb, "\"");
        sb->oom |= q == NULL;
        free(q);
    }
    sbuf_add(sb, "}");
}

/* Runs the claim statements in one transaction that holds the claims table's
 * lock, so that two configurations starting at once are serialised. */
static err_t pg_progress_claim_run(PGconn *conn, const config_t *cfg, const char *list,
                                   char *errbuf, size_t errsize)
{
    const char *params[2] = {cfg->name, list};
    PGresult *res =
        pg_conn_exec(conn, "BEGIN; LOCK TABLE syncline.claims IN SHARE ROW EXCLUSIVE MODE",
                     PGRES_COMMAND_OK, "target: claim tables", errbuf, errsize);
    PQclear(res);
    PGresult *taken =
        res ? pg_conn_execp(conn,
                            "SELECT c.target, c.name FROM syncline.claims c WHERE c.name <> $1 AND "
                            "c.relid IN (SELECT to_regclass(t)::oid FROM unnest($2::text[]) t) "
                            "ORDER BY 1 LIMIT 1",
                            2, params, PGRES_TUPLES_OK, "target: claim tables", errbuf, errsize)
            : NULL;
    err_t err = taken ? ERR_OK : pg_conn_classify(conn);
    if (taken != NULL && PQntuples(taken) > 0) {
        snprintf(errbuf, errsize,
                 "target table %s is written by configuration '%s' (syncline.claims on the "
                 "target): two configurations must not write the same table; remove it from one "
                 "of them, or 'syncline drop' the other",
                 PQgetvalue(taken, 0, 0), PQgetvalue(taken, 0, 1));
        err = ERR_CONFIG;
    }
    PQclear(taken);
    static const char *const write[2] = {
        /* tables this configuration no longer lists are free again */
        "DELETE FROM syncline.claims WHERE name = $1 AND relid NOT IN (SELECT to_regclass(t)::oid "
        "FROM unnest($2::text[]) t WHERE to_regclass(t) IS NOT NULL)",
        "INSERT INTO syncline.claims (relid, target, name) SELECT to_regclass(t)::oid, "
        "t, $1 FROM unnest($2::text[]) t WHERE to_regclass(t) IS NOT NULL "
        "ON CONFLICT (relid) DO NOTHING"};
    for (int i = 0; i < 2 && err == ERR_OK; i++) {
        err = pg_conn_run(conn, write[i], 2, params, PGRES_COMMAND_OK, "target: claim tables",
                          errbuf, errsize);
    }
    char eb[64];
    PQclear(pg_conn_exec(conn, err == ERR_OK ? "COMMIT" : "ROLLBACK", PGRES_COMMAND_OK, "target",
                         eb, sizeof(eb)));
    return err;
}

err_t pg_progress_claim(PGconn *conn, const config_t *cfg, const char *const *schemas,
                        const char *const *names, int n, char *errbuf, size_t errsize)
{
    sbuf_t sb = {0};
    pg_progress_claim_list(conn, cfg, schemas, names, n, &sb);
    char *list = sbuf_take(&sb);
    if (list == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    err_t err = pg_progress_claim_run(conn, cfg, list, errbuf, errsize);
    free(list);
    return err;
}

err_t pg_progress_unclaim(PGconn *conn, const config_t *cfg, char *errbuf, size_t errsize)
{
    const char *params[1] = {cfg->name};
    int has = pg_conn_table_exists(conn, "syncline.claims", errbuf, errsize);
    if (has <= 0)
        return has < 0 ? pg_conn_classify(conn) : ERR_OK;
    return pg_conn_run(conn, "DELETE FROM syncline.claims WHERE name = $1", 1, params,
                       PGRES_COMMAND_OK, "target: delete claims", errbuf, errsize);
}

err_t pg_progress_delete(PGconn *conn, const config_t *cfg, char *errbuf, size_t errsize)
{
    pg_progress_t p;
    err_t err = pg_progress_read(conn, cfg, &p, errbuf, errsize);
    if (err != ERR_OK || !p.exists)
        return err;
    const char *params[1] = {cfg->name};
    return pg_conn_run(conn, "DELETE FROM syncline.progress WHERE name = $1", 1, params,
                       PGRES_COMMAND_OK, "target: delete progress", errbuf, errsize);
}

/* Prepares on pipe the fenced write dml (pg_rowcheck_wrap_fenced). */
static err_t pg_progress_prepare(pg_pipe_t *pipe, const char *name, const char *dml,
                                 const char *fence, const pg_pipe_tag_t *tag, char *errbuf,
                                 size_t errsize)
{
    char *sql = pg_rowcheck_wrap_fenced(dml, fence);
    if (sql == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    err_t err = pg_pipe_prepare(pipe, name, sql, tag, errbuf, errsize);
    free(sql);
    return err;
}

/* Queues the progress row update for lsn (and the commit time, 0 = keep).
 * The statement counts its row (pg_rowcheck): none fails the transaction, as
 * "moved" when fenced ($4: the value the row must hold), else "missing". */
err_t pg_progress_queue(pg_pipe_t *pipe, pg_progress_stmts_t *ps, const char *name, lsn_t lsn,
                        int64_t commit_time, char *errbuf, size_t errsize)
{
    pg_pipe_tag_t tag = {.op = 'U', .check_rows = 1, .table = "syncline.progress", .lsn = lsn};
    err_t err = pg_pipe_enter(pipe, errbuf, errsize);
    if (err == ERR_OK && !ps->progress) {
        /* a missing progress row fails the transaction, even with on_missing_row skip */
        err = pg_progress_prepare(
            pipe, PG_PROGRESS_STMT,
            "UPDATE syncline.progress SET applied_lsn = $2::pg_lsn, updated_at = now(), "
            "source_commit_time = CASE WHEN $3::bigint = 0 THEN source_commit_time ELSE "
            "'2000-01-01 00:00:00+00'::timestamptz + $3::bigint * interval '1 microsecond' END "
            "WHERE name = $1 AND ($4::pg_lsn IS NULL OR applied_lsn = $4::pg_lsn)",
            "$4::pg_lsn", &tag, errbuf, errsize);
        ps->progress = err == ERR_OK;
    }
    if (err != ERR_OK)
        return err;
    char l[LSN_STRLEN], f[LSN_STRLEN], ts[32];
    snprintf(ts, sizeof(ts), "%lld", (long long)commit_time);
    const char *values[4] = {name, lsn_format(lsn, l, sizeof(l)), ts,
                             ps->fenced ? lsn_format(ps->fence, f, sizeof(f)) : NULL};
    err = pg_pipe_exec_prepared(pipe, PG_PROGRESS_STMT, 4, values, NULL, NULL, &tag, NULL, errbuf,
                                errsize);
    if (err == ERR_OK && ps->fenced)
        ps->fence = lsn;
    return err;
}

void pg_progress_stmts_clear(pg_progress_stmts_t *ps)
{
    for (int i = 0; i < ps->ntopics_read; i++)
        free(ps->topics_read[i]);
    for (int i = 0; i < ps->nseen; i++)
        free(ps->seen[i].topic);
    free(ps->topics_read);
    free(ps->seen);
    ps->topics_read = NULL;
    ps->seen = NULL;
    ps->ntopics_read = ps->nseen = 0;
}

static int pg_progress_topic_read(const pg_progress_stmts_t *ps, const char *topic)
{
    for (int i = 0; i < ps->ntopics_read; i++) {
        if (strcmp(ps->topics_read[i], topic) == 0)
            return 1;
    }
    return 0;
}

static pg_progress_seen_t *pg_progress_seen(pg_progress_stmts_t *ps, const char *topic,
                                            int32_t partition)
{
    for (int i = 0; i < ps->nseen; i++) {
        if (ps->seen[i].partition == partition && strcmp(ps->seen[i].topic, topic) == 0)
            return &ps->seen[i];
    }
    return NULL;
}

/* Sets what (topic, partition) holds; -1 when out of memory. */
static int pg_progress_see(pg_progress_stmts_t *ps, const char *topic, int32_t partition,
                           int64_t next_offset)
{
    pg_progress_seen_t *e = pg_progress_seen(ps, topic, partition);
    if (e != NULL) {
        e->next_offset = next_offset;
        return 0;
    }
    pg_progress_seen_t *grown = realloc(ps->seen, (size_t)(ps->nseen + 1) * sizeof(*grown));
    if (grown == NULL)
        return -1;
    ps->seen = grown;
    char *t = strdup(topic);
    if (t == NULL)
        return -1;
    ps->seen[ps->nseen++] = (pg_progress_seen_t){t, partition, next_offset};
    return 0;
}

int pg_progress_saw(pg_progress_stmts_t *ps, const char *topic, const sink_offset_t *offsets, int n)
{
    if (!pg_progress_topic_read(ps, topic)) {
        char **grown = realloc(ps->topics_read, (size_t)(ps->ntopics_read + 1) * sizeof(*grown));
        if (grown == NULL)
            return -1;
        ps->topics_read = grown;
        if ((grown[ps->ntopics_read] = strdup(topic)) == NULL)
            return -1;
        ps->ntopics_read++;
    }
    for (int i = 0; i < ps->nseen; i++) { /* a partition no longer stored: no row */
        if (strcmp(ps->seen[i].topic, topic) == 0)
            ps->seen[i].next_offset = -1;
    }
    for (int i = 0; i < n; i++) {
        if (pg_progress_see(ps, topic, offsets[i].partition, offsets[i].next_offset) != 0)
            return -1;
    }
    return 0;
}

/* Queues the upsert of one Kafka consumer offset; $5, when not NULL, is the
 * fence: the offset the row holds, -1 for no row (a conflict then means some
 * other session inserted it). */
err_t pg_progress_queue_offset(pg_pipe_t *pipe, pg_progress_stmts_t *ps, const char *name,
                               const sink_offset_t *off, lsn_t lsn, char *errbuf, size_t errsize)
{
    pg_pipe_tag_t tag = {.op = 'X', .check_rows = 1, .table = "syncline.kafka_offsets", .lsn = lsn};
    err_t err = ERR_OK;
    if (!ps->offset) {
        err = pg_progress_prepare(
            pipe, PG_PROGRESS_OFFSET_STMT,
            "INSERT INTO syncline.kafka_offsets (name, topic, partition, next_offset) VALUES ($1, "
            "$2, $3, $4) ON CONFLICT (name, topic, partition) DO UPDATE SET next_offset = "
            "EXCLUDED.next_offset, updated_at = now() WHERE $5::bigint IS NULL OR "
            "syncline.kafka_offsets.next_offset = $5::bigint",
            "$5::bigint", &tag, errbuf, errsize);
        ps->offset = err == ERR_OK;
    }
    if (err != ERR_OK)
        return err;
    const pg_progress_seen_t *seen = pg_progress_seen(ps, off->topic, off->partition);
    int fenced = pg_progress_topic_read(ps, off->topic);
    char part[16], next[32], fence[32];
    snprintf(part, sizeof(part), "%d", (int)off->partition);
    snprintf(next, sizeof(next), "%lld", (long long)off->next_offset);
    snprintf(fence, sizeof(fence), "%lld", seen != NULL ? (long long)seen->next_offset : -1LL);
    const char *values[5] = {name, off->topic, part, next, fenced ? fence : NULL};
    err = pg_pipe_exec_prepared(pipe, PG_PROGRESS_OFFSET_STMT, 5, values, NULL, NULL, &tag, NULL,
                                errbuf, errsize);
    if (err == ERR_OK && fenced &&
        pg_progress_see(ps, off->topic, off->partition, off->next_offset) != 0) {
        snprintf(errbuf, errsize, "out of memory");
        err = ERR_RUNTIME;
    }
    return err;
}
