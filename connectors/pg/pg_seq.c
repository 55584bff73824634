/*
 * pg_seq: sequence synchronisation. Reads source sequences, compares with the
 * target's and raises the target's; each setval commits on its own (setval is
 * not transactional anyway).
 */
#include "pg/pg_seq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_conn.h"
#include "pg/pg_synced_tables.h"

/* Every user sequence, with the table column owning it (serial, identity). */
#define PG_SEQ_LIST_SQL                                                                            \
    "SELECT n.nspname, c.relname, tn.nspname, tc.relname, a.attname, s.seqincrement > 0 "          \
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "                               \
    "JOIN pg_sequence s ON s.seqrelid = c.oid "                                                    \
    "LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid "               \
    " AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "                        \
    "LEFT JOIN pg_class tc ON tc.oid = d.refobjid "                                                \
    "LEFT JOIN pg_namespace tn ON tn.oid = tc.relnamespace "                                       \
    "LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "            \
    "WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema', "             \
    "'syncline') ORDER BY 1, 2"

typedef struct pg_seq_ctx {
    const config_t *cfg;
    PGconn *src;
    PGconn *tgt;
    pg_synced_tables_t synced;
    void (*report)(void *arg, const pg_seq_result_t *r);
    void *arg;
    pg_seq_stats_t *stats;
    char *errbuf;
    size_t errsize;
} pg_seq_ctx_t;

/* The synced table schema.name, or NULL. */
static const pg_synced_tables_table_t *pg_seq_synced(const pg_seq_ctx_t *sc, const char *schema,
                                                     const char *name)
{
    for (int i = 0; i < sc->synced.ntables; i++) {
        const pg_synced_tables_table_t *t = &sc->synced.tables[i];
        if (strcmp(t->schema, schema) == 0 && (name == NULL || strcmp(t->name, name) == 0))
            return t;
    }
    return NULL;
}

/* last_value and is_called of the sequence `q` (quoted); -1 on error. */
static int pg_seq_read(PGconn *conn, const char *q, const char *what, long long *value, int *called,
                       char *errbuf, size_t errsize)
{
    char sql[1200];
    snprintf(sql, sizeof(sql), "SELECT last_value, is_called FROM %s", q);
    PGresult *res = pg_conn_exec(conn, sql, PGRES_TUPLES_OK, what, errbuf, errsize);
    if (res == NULL)
        return -1;
    *value = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    *called = PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);
    return 0;
}

/* The target sequence for a source sequence, as "schema"."name" (malloc'd),
 * or NULL with *missing set when the target has none. */
static char *pg_seq_target(pg_seq_ctx_t *sc, PGresult *res, int i, char *display, size_t dsize,
                           int *missing, err_t *err)
{
    const pg_synced_tables_table_t *owner = NULL;
    if (!PQgetisnull(res, i, 2))
        owner = pg_seq_synced(sc, PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
    char *q = NULL;
    if (owner != NULL) { /* the target column's own sequence, whatever its name */
        char *table = pg_conn_qualified(sc->tgt, owner->tschema, owner->tname);
        const char *params[2] = {table, PQgetvalue(res, i, 4)};
        PGresult *r =
            table ? pg_conn_execp(sc->tgt,
                                  "SELECT pg_get_serial_sequence($1, $2) FROM "
                                  "(SELECT to_regclass($1) AS t) x WHERE t IS NOT NULL",
                                  2, params, PGRES_TUPLES_OK, "target", sc->errbuf, sc->errsize)
                  : NULL;
        free(table);
        if (r == NULL) {
            *err = pg_conn_classify(sc->tgt);
            return NULL;
        }
        if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
            q = strdup(PQgetvalue(r, 0, 0)); /* already quoted where needed */
        PQclear(r);
        if (q != NULL) {
            snprintf(display, dsize, "%s", q);
            return q;
        }
    }
    const char *ts = pg_synced_tables_target_schema(sc->cfg, PQgetvalue(res, i, 0));
    snprintf(display, dsize, "%s.%s", ts, PQgetvalue(res, i, 1));
    q = pg_conn_qualified(sc->tgt, ts, PQgetvalue(res, i, 1));
    int exists = q ? pg_conn_table_exists(sc->tgt, q, sc->errbuf, sc->errsize) : -1;
    if (exists < 0) {
        free(q);
        *err = pg_conn_classify(sc->tgt);
        return NULL;
    }
    *missing = !exists;
    if (*missing) {
        free(q);
        q = NULL;
    }
    return q;
}

/* 1 when the source position is ahead of the target's (next nextval larger
 * for ascending sequences, smaller for descending ones). */
static int pg_seq_ahead(long long sv, int sc, long long tv, int tc, int ascending)
{
    if (sv != tv)
        return ascending ? sv > tv : sv < tv;
    return sc && !tc;
}

static err_t pg_seq_raise(pg_seq_ctx_t *sc, const char *tq, pg_seq_result_t *r)
{
    char v[32];
    snprintf(v, sizeof(v), "%lld", r->source_value);
    const char *params[3] = {tq, v, r->source_called ? "true" : "false"};
    PGresult *res =
        pg_conn_execp(sc->tgt, "SELECT setval($1::regclass, $2::bigint, $3::bool)", 3, params,
                      PGRES_TUPLES_OK, "target: setval", sc->errbuf, sc->errsize);
    if (res == NULL) {
        size_t n = strlen(sc->errbuf);
        snprintf(sc->errbuf + n, sc->errsize - n, " (sequence %s)", r->target);
        return pg_conn_classify(sc->tgt);
    }
    PQclear(res);
    return ERR_OK;
}

/* Compares and raises one sequence (row i of the listing). */
static err_t pg_seq_one(pg_seq_ctx_t *sc, PGresult *list, int i)
{
    char source[300];
    snprintf(source, sizeof(source), "%s.%s", PQgetvalue(list, i, 0), PQgetvalue(list, i, 1));
    pg_seq_result_t r = {.source = source, .target = ""};
    err_t err = ERR_OK;
    int missing = 0, tcalled = 0;
    char *sq = pg_conn_qualified(sc->src, PQgetvalue(list, i, 0), PQgetvalue(list, i, 1));
    if (sq == NULL) {
        snprintf(sc->errbuf, sc->errsize, "out of memory");
        return ERR_RUNTIME;
    }
    int rc = pg_seq_read(sc->src, sq, "source: read sequence", &r.source_value, &r.source_called,
                         sc->errbuf, sc->errsize);
    free(sq);
    if (rc != 0)
        return pg_conn_classify(sc->src);
    char tdisplay[300];
    char *tq = pg_seq_target(sc, list, i, tdisplay, sizeof(tdisplay), &missing, &err);
    if (tq == NULL && !missing)
        return err;
    if (tq != NULL && pg_seq_read(sc->tgt, tq, "target: read sequence", &r.target_before, &tcalled,
                                  sc->errbuf, sc->errsize) != 0)
        err = pg_conn_classify(sc->tgt);
    r.target = tq ? tdisplay : "";
    r.action = missing ? PG_SEQ_MISSING : PG_SEQ_UNCHANGED;
    if (err == ERR_OK && tq != NULL &&
        pg_seq_ahead(r.source_value, r.source_called, r.target_before, tcalled,
                     PQgetvalue(list, i, 5)[0] == 't')) {
        err = pg_seq_raise(sc, tq, &r);
        r.action = PG_SEQ_RAISED;
    }
    if (err == ERR_OK) {
        sc->stats->raised += r.action == PG_SEQ_RAISED;
        sc->stats->unchanged += r.action == PG_SEQ_UNCHANGED;
        sc->stats->missing += r.action == PG_SEQ_MISSING;
        if (sc->report != NULL)
            sc->report(sc->arg, &r);
    }
    free(tq);
    return err;
}

static err_t pg_seq_all(pg_seq_ctx_t *sc)
{
    err_t err = pg_synced_tables_list(sc->src, sc->cfg, &sc->synced, sc->errbuf, sc->errsize);
    if (err != ERR_OK)
        return err;
    PGresult *list = pg_conn_exec(sc->src, PG_SEQ_LIST_SQL, PGRES_TUPLES_OK,
                                  "source: list sequences", sc->errbuf, sc->errsize);
    if (list == NULL)
        return pg_conn_classify(sc->src);
    for (int i = 0; i < PQntuples(list) && err == ERR_OK; i++) {
        /* only schemas holding a synced table; owned sequences only of synced tables */
        int owned = !PQgetisnull(list, i, 2);
        if (owned ? pg_seq_synced(sc, PQgetvalue(list, i, 2), PQgetvalue(list, i, 3)) != NULL
                  : pg_seq_synced(sc, PQgetvalue(list, i, 0), NULL) != NULL)
            err = pg_seq_one(sc, list, i);
    }
    PQclear(list);
    return err;
}

err_t pg_seq_sync(const config_t *cfg, void (*report)(void *arg, const pg_seq_result_t *r),
                  void *arg, pg_seq_stats_t *stats, char *errbuf, size_t errsize)
{
    err_t err;
    pg_seq_ctx_t sc = {.cfg = cfg,
                       .report = report,
                       .arg = arg,
                       .stats = stats,
                       .errbuf = errbuf,
                       .errsize = errsize};
    memset(stats, 0, sizeof(*stats));
    sc.src = pg_conn_open(cfg->source_conninfo, PG_CONN_SQL, "source", &err, errbuf, errsize);
    if (sc.src != NULL)
        sc.tgt = pg_conn_open_bounded(cfg->target_conninfo, PG_CONN_SQL, "target",
                                      cfg->target_timeout_s * 1000, &err, errbuf, errsize);
    if (sc.tgt != NULL)
        err = pg_seq_all(&sc);
    pg_synced_tables_clear(&sc.synced);
    PQfinish(sc.src);
    PQfinish(sc.tgt);
    return err;
}
