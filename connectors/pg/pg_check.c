/*
 * pg_check: configuration check against live source and target schemas.
 * Reads catalogs only; the target side runs the applier's own checks and
 * PREPAREs (never executes) the statements a transformed table would use.
 */
#include "pg/pg_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/change.h"
#include "pg/pg_conn.h"
#include "pg/pg_target.h"
#include "pg/pg_version.h"
#include "core/route.h"
#include "core/transform.h"

typedef struct pg_check_ctx {
    const config_t *cfg;
    PGconn *src;
    pg_target_t *pt;
    sink_t snk;
    pg_check_report_fn report;
    void *arg;
    int problems;
    int tables;
} pg_check_ctx_t;

static void pg_check_problem(pg_check_ctx_t *cx, const char *msg)
{
    cx->problems++;
    cx->report(cx->arg, 0, msg);
}

/* What the configuration asks of each side's PostgreSQL major
 * (docs/versions.md): problems for what it lacks, warnings for what works
 * differently there. */
static void pg_check_versions(pg_check_ctx_t *cx)
{
    int sv = PQserverVersion(cx->src), tv = pg_target_server_version(cx->pt);
    char s[8], t[8], msg[512];
    pg_version_major(sv, s, sizeof(s));
    pg_version_major(tv, t, sizeof(t));
    if (sv < PG_VERSION_MIN || tv < PG_VERSION_MIN) {
        snprintf(msg, sizeof(msg), "%s is PostgreSQL %s; syncline needs 12 or newer",
                 sv < PG_VERSION_MIN ? "source" : "target", sv < PG_VERSION_MIN ? s : t);
        pg_check_problem(cx, msg);
    }
    if (cx->cfg->binary && !pg_version_has_binary(sv)) {
        snprintf(msg, sizeof(msg),
                 "apply.binary: the source is PostgreSQL %s, whose pgoutput has no binary "
                 "option (14 and newer); set apply.binary to false",
                 s);
        pg_check_problem(cx, msg);
    }
    for (int i = 0; i < cx->cfg->ntables && !pg_version_has_schema_publication(sv); i++) {
        const config_table_t *e = &cx->cfg->tables[i];
        if (e->skip || strcmp(e->source.name, "*") != 0)
            continue;
        snprintf(msg, sizeof(msg),
                 "tables: the source is PostgreSQL %s (no FOR TABLES IN SCHEMA before 15): "
                 "the publication lists the tables of schema %s when it is created; tables "
                 "created there later are not published (ALTER PUBLICATION ... ADD TABLE)",
                 s, e->source.schema);
        cx->report(cx->arg, 1, msg);
    }
}

/* On a source without publish_via_partition_root (12), a synced partitioned
 * table is published as its leaves: say what that changes. */
static void pg_check_partitioned(pg_check_ctx_t *cx, PGresult *tables, int row)
{
    if (pg_version_has_partition_root(PQserverVersion(cx->src)) ||
        PQgetvalue(tables, row, 4)[0] != 'p')
        return;
    char msg[640];
    snprintf(msg, sizeof(msg),
             "%s.%s: the source is PostgreSQL 12, which publishes the partitions (leaves) of "
             "a partitioned table, not the table: syncline applies their rows to the table's "
             "target; partitions attached later are not published until added to the "
             "publication (run refuses to start until then), and a TRUNCATE of single "
             "partitions stops apply",
             PQgetvalue(tables, row, 1), PQgetvalue(tables, row, 2));
    cx->report(cx->arg, 1, msg);
}

/* Tables the configuration syncs, as (oid, schema, name) rows. */
static PGresult *pg_check_tables(pg_check_ctx_t *cx, char *errbuf, size_t errsize)
{
    return pg_conn_exec(cx->src,
                        "SELECT c.oid, n.nspname, c.relname, c.relreplident, c.relkind "
                        "FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
                        "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'syncline') "
                        "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
                        "ORDER BY 2, 3",
                        PGRES_TUPLES_OK, "source", errbuf, errsize);
}

/* Exact "tables" entries must name existing source tables. */
static void pg_check_entries_exist(pg_check_ctx_t *cx, PGresult *tables)
{
    for (int i = 0; i < cx->cfg->ntables; i++) {
        const config_table_t *t = &cx->cfg->tables[i];
        if (strcmp(t->source.name, "*") == 0)
            continue;
        int found = 0;
        for (int r = 0; r < PQntuples(tables) && !found; r++)
            found = strcmp(PQgetvalue(tables, r, 1), t->source.schema) == 0 &&
                    strcmp(PQgetvalue(tables, r, 2), t->source.name) == 0;
        if (!found) {
            char msg[512];
            snprintf(msg, sizeof(msg), "tables[%d]: source table %s.%s does not exist", i,
                     t->source.schema, t->source.name);
            pg_check_problem(cx, msg);
        }
    }
}

/* The relation a pgoutput Relation message would carry for table oid. */
static change_relation_t *pg_check_relation(pg_check_ctx_t *cx, PGresult *tables, int row,
                                            char *errbuf, size_t errsize)
{
    const char *oid = PQgetvalue(tables, row, 0);
    const char *params[1] = {oid};
    PGresult *res = pg_conn_execp(
        cx->src,
        "SELECT a.attname, a.atttypid, a.atttypmod, CASE c.relreplident WHEN 'f' THEN true "
        "WHEN 'd' THEN coalesce(a.attnum = ANY (pk.indkey::int2[]), false) "
        "WHEN 'i' THEN coalesce(a.attnum = ANY (ri.indkey::int2[]), false) ELSE false END, "
        "tn.nspname, t.typname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace tn ON tn.oid = t.typnamespace "
        "LEFT JOIN pg_index pk ON pk.indrelid = c.oid AND pk.indisprimary "
        "LEFT JOIN pg_index ri ON ri.indrelid = c.oid AND ri.indisreplident "
        "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
        "AND a.attgenerated = '' ORDER BY a.attnum",
        1, params, PGRES_TUPLES_OK, "source", errbuf, errsize);
    if (res == NULL)
        return NULL;
    int n = PQntuples(res);
    change_relation_t rel = {.relid = (uint32_t)strtoul(oid, NULL, 10),
                             .nspname = PQgetvalue(tables, row, 1),
                             .relname = PQgetvalue(tables, row, 2),
                             .replident = PQgetvalue(tables, row, 3)[0],
                             .ncols = n};
    rel.cols = calloc((size_t)n + 1, sizeof(*rel.cols));
    for (int i = 0; rel.cols != NULL && i < n; i++) {
        rel.cols[i] =
            (change_column_t){.name = PQgetvalue(res, i, 0),
                              .type_oid = (uint32_t)strtoul(PQgetvalue(res, i, 1), NULL, 10),
                              .typmod = atoi(PQgetvalue(res, i, 2)),
                              .is_key = PQgetvalue(res, i, 3)[0] == 't'};
        if (rel.cols[i].type_oid >= 16384)
            cx->snk.ops->type(cx->snk.ctx, rel.cols[i].type_oid, PQgetvalue(res, i, 4),
                              PQgetvalue(res, i, 5), errbuf, errsize);
    }
    change_relation_t *out = rel.cols ? change_relation_dup(&rel) : NULL;
    free(rel.cols);
    PQclear(res);
    if (out == NULL)
        snprintf(errbuf, errsize, "out of memory");
    return out;
}

/* Source columns that may be TOASTed (and so arrive unchanged, without data). */
static uint8_t *pg_check_toastable(pg_check_ctx_t *cx, const char *oid, int n)
{
    const char *params[1] = {oid};
    char eb[256];
    uint8_t *out = calloc((size_t)n + 1, 1);
    PGresult *res = out ? pg_conn_execp(cx->src,
                                        "SELECT t.typstorage <> 'p' FROM pg_attribute a JOIN "
                                        "pg_type t ON t.oid = a.atttypid WHERE a.attrelid = "
                                        "$1::oid AND a.attnum > 0 AND NOT a.attisdropped AND "
                                        "a.attgenerated = '' ORDER BY a.attnum",
                                        1, params, PGRES_TUPLES_OK, "source", eb, sizeof(eb))
                        : NULL;
    for (int i = 0; res != NULL && i < n && i < PQntuples(res); i++)
        out[i] = PQgetvalue(res, i, 0)[0] == 't';
    PQclear(res);
    return out;
}

/* Does expr read a TOASTable column (*toast) and how many columns in all? */
static int pg_check_reads(const change_relation_t *rel, const char *const *names,
                          const uint8_t *toastable, const char *expr, int *toast)
{
    uint8_t refs[1664] = {0};
    int n = 0;
    transform_expr_refs(expr, names, rel->ncols, refs);
    for (int i = 0; i < rel->ncols; i++) {
        n += refs[i];
        if (refs[i] && toastable[i])
            *toast = i + 1;
    }
    return n;
}

/* Unchanged TOAST values carry no data: a mapping that must recompute from
 * them needs the old row, i.e. REPLICA IDENTITY FULL. A warning: whether
 * values are really stored out of line is not known in advance. */
static void pg_check_toast(pg_check_ctx_t *cx, const change_relation_t *rel, const char *oid)
{
    const config_table_t *t = config_find_table(cx->cfg, rel->nspname, rel->relname);
    if (t == NULL || rel->replident == 'f' || (t->ncolumns == 0 && t->where == NULL))
        return;
    const char *names[1664];
    uint8_t *toastable = pg_check_toastable(cx, oid, rel->ncols);
    for (int i = 0; i < rel->ncols && i < 1664; i++)
        names[i] = rel->cols[i].name;
    for (int c = 0; toastable != NULL && c <= t->ncolumns; c++) {
        const char *what = c < t->ncolumns ? t->columns[c].target_column : "where";
        const char *expr = c < t->ncolumns ? t->columns[c].expression : t->where;
        int toast = 0;
        int n = expr ? pg_check_reads(rel, names, toastable, expr, &toast) : 0;
        int is_where = c == t->ncolumns;
        if (!toast || (n == 1 && !is_where))
            continue;
        char msg[768];
        snprintf(msg, sizeof(msg),
                 "table %s.%s: %s%s reads column \"%s\"%s; if its values are large (stored "
                 "out of line), an UPDATE that leaves it unchanged does not send it and syncline "
                 "stops: set REPLICA IDENTITY FULL on the source table to be safe",
                 rel->nspname, rel->relname, is_where ? "" : "columns.", what, names[toast - 1],
                 is_where ? "" : " together with other columns");
        cx->report(cx->arg, 1, msg);
    }
    free(toastable);
}

static void pg_check_identity(pg_check_ctx_t *cx, const change_relation_t *rel)
{
    int keys = 0;
    for (int i = 0; i < rel->ncols; i++)
        keys += rel->cols[i].is_key;
    if (keys > 0 || rel->replident == 'f') /* FULL without columns: nothing to send */
        return;
    char msg[512];
    snprintf(msg, sizeof(msg),
             "table %s.%s: no replica identity (REPLICA IDENTITY %s without a primary key): "
             "fine for an insert-only table; the source rejects UPDATE and DELETE on it "
             "(add a primary key or set REPLICA IDENTITY FULL if it needs them)",
             rel->nspname, rel->relname, rel->replident == 'n' ? "NOTHING" : "DEFAULT");
    cx->report(cx->arg, 1, msg);
}

static err_t pg_check_table(pg_check_ctx_t *cx, PGresult *tables, int row)
{
    char errbuf[2048] = "";
    const char *ts, *tn;
    if (route_target(cx->cfg, PQgetvalue(tables, row, 1), PQgetvalue(tables, row, 2), &ts, &tn) !=
        ROUTE_SYNC)
        return ERR_OK;
    change_relation_t *rel = pg_check_relation(cx, tables, row, errbuf, sizeof(errbuf));
    if (rel == NULL)
        return pg_conn_classify(cx->src);
    cx->tables++;
    pg_check_partitioned(cx, tables, row);
    pg_check_identity(cx, rel);
    pg_check_toast(cx, rel, PQgetvalue(tables, row, 0));
    err_t err = cx->snk.ops->relation(cx->snk.ctx, rel, 0, errbuf, sizeof(errbuf));
    const char *unusable = err == ERR_OK ? pg_target_unusable(cx->pt, rel->relid) : NULL;
    if (unusable != NULL) { /* the stream would stop at its first change */
        snprintf(errbuf, sizeof(errbuf), "%s", unusable);
        err = ERR_SCHEMA;
    }
    if (err == ERR_SCHEMA || err == ERR_CONFIG)
        pg_check_problem(cx, errbuf);
    change_relation_free(rel);
    return err == ERR_SCHEMA || err == ERR_CONFIG ? ERR_OK : err;
}

err_t pg_check_run(const config_t *cfg, pg_check_report_fn report, void *arg, int *problems,
                   int *tables, char *errbuf, size_t errsize)
{
    err_t err;
    pg_check_ctx_t cx = {.cfg = cfg, .report = report, .arg = arg};
    cx.src = pg_conn_open(cfg->source_conninfo, PG_CONN_SQL, "source", &err, errbuf, errsize);
    if (cx.src != NULL)
        cx.pt = pg_target_open(cfg, &err, errbuf, errsize);
    PGresult *list = cx.pt ? pg_check_tables(&cx, errbuf, errsize) : NULL;
    if (cx.pt != NULL && list == NULL)
        err = pg_conn_classify(cx.src);
    if (list != NULL) {
        cx.snk = pg_target_sink(cx.pt);
        pg_check_versions(&cx);
        pg_check_entries_exist(&cx, list);
        for (int r = 0; err == ERR_OK && r < PQntuples(list); r++)
            err = pg_check_table(&cx, list, r);
    }
    PQclear(list);
    pg_target_free(cx.pt);
    PQfinish(cx.src);
    *problems = cx.problems;
    *tables = cx.tables;
    return err;
}
