/*
 * pg_target: the PostgreSQL applier. Maps source relations to target tables,
 * builds one prepared statement per (table, operation, column set) and sends
 * rows through pg_pipe; keeps the progress row in the same transaction as the
 * rows it covers. Knows nothing of the replication protocol.
 */
#include "pg/pg_target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "pg/pg_conn.h"
#include "pg/pg_offsets.h"
#include "pg/pg_bulk_sql.h"
#include "pg/pg_pipe.h"
#include "pg/pg_vmarks.h"
#include "pg/pg_target_transform.h"
#include "core/route.h"
#include "core/sbuf.h"
#include "pg/pg_rowcheck.h"

#define PG_TARGET_WINDOW 1000
#define PG_TARGET_PROGRESS_STMT "syncline_progress"
#define PG_TARGET_OFFSET_STMT "syncline_offset"

/* One prepared statement shape. */
typedef struct pg_target_stmt {
    char *shape; /* op + one flag char per column; owned */
    char name[24];
    int nparams;
    int *param_col; /* source column index per parameter; owned */
    int *param_old; /* 1: parameter comes from the old tuple */
    struct pg_target_stmt *next;
} pg_target_stmt_t;

/* How a FULL lookup compares a column (pg_target_check_columns). */
#define PG_TARGET_EQ_NONE 'n'  /* no equality operator: output text, exactly */
#define PG_TARGET_EQ_LOOSE 'l' /* =, but equal values may differ (1.0 = 1.00) */
#define PG_TARGET_EQ_EXACT 'e' /* =, and equal values are identical */

/* What the applier knows about one source relation. */
typedef struct pg_target_rel {
    uint32_t relid;
    change_relation_t *rel; /* owned copy */
    char *display;          /* source "schema.name", for messages */
    char *target;           /* quoted target "schema"."name" */
    char **qcols;           /* quoted target column per source column */
    char **ttypes;          /* target type (no typmod) per source column: parameter casts */
    char *teq;              /* its equality under FULL: PG_TARGET_EQ_* per source column */
    int skip;
    /* why this relation cannot be applied (no target table, not listed), or
     * NULL. Not an error until a change of it arrives: with
     * publish_via_partition_root the stream describes the leaf partitions
     * too, but their rows come as the root's. Owned. */
    char *unusable;
    int full;                    /* REPLICA IDENTITY FULL: match all columns, one row at a time */
    pg_target_transform_t *trel; /* set for a transformed table (columns/exclude/where) */
    int collapsible;             /* changes to one row may be merged (see pg_target_collapsible) */
    int trigger_skips; /* a BEFORE ROW UPDATE/DELETE trigger fires: it may skip a change */
    pg_target_stmt_t *stmts;
    struct pg_target_rel *next;
} pg_target_rel_t;

struct pg_target {
    const config_t *cfg;
    PGconn *conn;
    pg_pipe_t *pipe;
    pg_target_rel_t *rels;
    int stmt_counter;
    pg_target_transform_types_t types; /* user-defined source types seen on the stream */
    int replica_role;                  /* session_replication_role = replica is in force */
    /* the target's encoding is neither UTF8 (ours) nor SQL_ASCII: a value may
     * fail to convert, so multi-row statements keep their rows' keys */
    int converts;
    int progress_prepared;
    int offsets_prepared;
    int marks_prepared; /* incremental verify's marks statement (pg_vmarks) */
    /* per-row scratch */
    const char **values;
    int *lengths;
    int *formats;
    char *text;
    size_t text_cap;
    int params_cap;
};

pg_target_t *pg_target_open(const config_t *cfg, err_t *err, char *errbuf, size_t errsize)
{
    pg_target_t *pt = calloc(1, sizeof(*pt));
    if (pt == NULL) {
        *err = ERR_RUNTIME;
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    pt->cfg = cfg;
    pt->conn = pg_conn_open_bounded(cfg->target_conninfo, PG_CONN_SQL, "target",
                                    cfg->target_timeout_s * 1000, err, errbuf, errsize);
    if (pt->conn == NULL) {
        free(pt);
        return NULL;
    }
    const char *enc = PQparameterStatus(pt->conn, "server_encoding");
    pt->converts = enc == NULL || (strcmp(enc, "UTF8") != 0 && strcmp(enc, "SQL_ASCII") != 0);
    /* Replayed rows must not fire ordinary triggers or FK checks a second time.
     * Needs superuser (or the right grant); without it, say so and go on. */
    PGresult *res = pg_conn_query(pt->conn, "SET session_replication_role = replica", 0, NULL);
    pt->replica_role = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!pt->replica_role)
        log_warn("target: cannot set session_replication_role=replica (needs superuser); "
                 "triggers and foreign keys on the target will fire on replayed rows");
    PQclear(res);
    /* a commit must be durable before its LSN is confirmed to the source */
    res = pg_conn_exec(pt->conn, "SET synchronous_commit = on", PGRES_COMMAND_OK, "target", errbuf,
                       errsize);
    if (res == NULL) {
        *err = pg_conn_classify(pt->conn);
        pg_target_free(pt);
        return NULL;
    }
    PQclear(res);
    pt->pipe = pg_pipe_new(pt->conn, PG_TARGET_WINDOW, cfg->on_missing_row_skip);
    if (pt->pipe == NULL) {
        pg_target_free(pt);
        *err = ERR_RUNTIME;
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    return pt;
}

static void pg_target_stmts_free(pg_target_stmt_t *s)
{
    while (s != NULL) {
        pg_target_stmt_t *next = s->next;
        free(s->shape);
        free(s->param_col);
        free(s->param_old);
        free(s);
        s = next;
    }
}

static void pg_target_rel_free(pg_target_rel_t *r)
{
    if (r == NULL)
        return;
    for (int i = 0; r->qcols && r->rel && i < r->rel->ncols; i++)
        PQfreemem(r->qcols[i]);
    free(r->qcols);
    for (int i = 0; r->ttypes && r->rel && i < r->rel->ncols; i++)
        free(r->ttypes[i]);
    free(r->ttypes);
    free(r->teq);
    change_relation_free(r->rel);
    free(r->unusable);
    free(r->display);
    free(r->target);
    pg_target_stmts_free(r->stmts);
    pg_target_transform_free(r->trel, NULL);
    free(r);
}

void pg_target_free(pg_target_t *pt)
{
    if (pt == NULL)
        return;
    while (pt->rels != NULL) {
        pg_target_rel_t *next = pt->rels->next;
        pg_target_rel_free(pt->rels);
        pt->rels = next;
    }
    pg_pipe_free(pt->pipe);
    pg_target_transform_types_clear(&pt->types);
    PQfinish(pt->conn);
    free(pt->values);
    free(pt->lengths);
    free(pt->formats);
    free(pt->text);
    free(pt);
}

/* ---- progress table ---------------------------------------------------- */

err_t pg_target_ensure_progress_table(pg_target_t *pt, char *errbuf, size_t errsize)
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
        /* which configuration writes which target table (pg_target_claim_tables) */
        "CREATE TABLE IF NOT EXISTS syncline.claims ("
        " relid oid PRIMARY KEY,"
        " target text NOT NULL,"
        " name text NOT NULL,"
        " claimed_at timestamptz NOT NULL DEFAULT now())";
    PGresult *res = pg_conn_exec(pt->conn, ddl, PGRES_COMMAND_OK, "target: create progress table",
                                 errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(pt->conn);
    PQclear(res);
    return ERR_OK;
}

err_t pg_target_read_progress(pg_target_t *pt, pg_target_progress_t *out, char *errbuf,
                              size_t errsize)
{
    memset(out, 0, sizeof(*out));
    PGresult *res = pg_conn_exec(pt->conn, "SELECT to_regclass('syncline.progress') IS NOT NULL",
                                 PGRES_TUPLES_OK, "target", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(pt->conn);
    int has_table = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!has_table)
        return ERR_OK;
    const char *params[1] = {pt->cfg->name};
    res = pg_conn_execp(pt->conn,
                        "SELECT applied_lsn, publication_created, updated_at, "
                        "coalesce(source_commit_time::text, ''), state = 'copying' "
                        "FROM syncline.progress WHERE name = $1",
                        1, params, PGRES_TUPLES_OK, "target: read progress", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(pt->conn);
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

err_t pg_target_init_progress(pg_target_t *pt, lsn_t applied, int publication_created, int copying,
                              char *errbuf, size_t errsize)
{
    char l[LSN_STRLEN];
    const char *params[4] = {pt->cfg->name, lsn_format(applied, l, sizeof(l)),
                             publication_created ? "true" : "false",
                             copying ? "copying" : "streaming"};
    PGresult *res =
        pg_conn_execp(pt->conn,
                      "INSERT INTO syncline.progress (name, applied_lsn, "
                      "publication_created, state) VALUES ($1, $2, $3, $4) "
                      "ON CONFLICT (name) DO NOTHING",
                      4, params, PGRES_COMMAND_OK, "target: write progress", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(pt->conn);
    PQclear(res);
    return ERR_OK;
}

err_t pg_target_read_offsets(pg_target_t *pt, const char *topic, sink_offset_t **offsets, int *n,
                             char *errbuf, size_t errsize)
{
    *offsets = NULL;
    *n = 0;
    err_t err = pg_pipe_leave(pt->pipe, errbuf, errsize); /* plain queries from here */
    if (err != ERR_OK)
        return err;
    return pg_offsets_read(pt->conn, pt->cfg->name, topic, offsets, n, errbuf, errsize);
}

err_t pg_target_copy_done(pg_target_t *pt, char *errbuf, size_t errsize)
{
    const char *params[1] = {pt->cfg->name};
    PGresult *res =
        pg_conn_execp(pt->conn,
                      "UPDATE syncline.progress SET state = 'streaming', "
                      "updated_at = now() WHERE name = $1",
                      1, params, PGRES_COMMAND_OK, "target: write progress", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(pt->conn);
    PQclear(res);
    return ERR_OK;
}

/* Quoted target names of the source tables (schema, name) that are not
 * skipped, as a PostgreSQL text[] literal into sb. */
static void pg_target_claim_list(pg_target_t *pt, const char *const *schemas,
                                 const char *const *names, int n, sbuf_t *sb)
{
    sbuf_add(sb, "{");
    for (int i = 0, k = 0; i < n; i++) {
        const char *ts, *tn;
        if (route_target(pt->cfg, schemas[i], names[i], &ts, &tn) != ROUTE_SYNC)
            continue;
        char *q = pg_conn_qualified(pt->conn, ts, tn);
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
static err_t pg_target_claim_run(pg_target_t *pt, const char *list, char *errbuf, size_t errsize)
{
    const char *params[2] = {pt->cfg->name, list};
    PGresult *res =
        pg_conn_exec(pt->conn, "BEGIN; LOCK TABLE syncline.claims IN SHARE ROW EXCLUSIVE MODE",
                     PGRES_COMMAND_OK, "target: claim tables", errbuf, errsize);
    PQclear(res);
    PGresult *taken =
        res ? pg_conn_execp(pt->conn,
                            "SELECT c.target, c.name FROM syncline.claims c WHERE c.name <> $1 AND "
                            "c.relid IN (SELECT to_regclass(t)::oid FROM unnest($2::text[]) t) "
                            "ORDER BY 1 LIMIT 1",
                            2, params, PGRES_TUPLES_OK, "target: claim tables", errbuf, errsize)
            : NULL;
    err_t err = taken ? ERR_OK : pg_conn_classify(pt->conn);
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
        res = pg_conn_execp(pt->conn, write[i], 2, params, PGRES_COMMAND_OK, "target: claim tables",
                            errbuf, errsize);
        err = res ? ERR_OK : pg_conn_classify(pt->conn);
        PQclear(res);
    }
    char eb[64];
    PQclear(pg_conn_exec(pt->conn, err == ERR_OK ? "COMMIT" : "ROLLBACK", PGRES_COMMAND_OK,
                         "target", eb, sizeof(eb)));
    return err;
}

err_t pg_target_claim_tables(pg_target_t *pt, const char *const *schemas, const char *const *names,
                             int n, char *errbuf, size_t errsize)
{
    sbuf_t sb = {0};
    pg_target_claim_list(pt, schemas, names, n, &sb);
    char *list = sbuf_take(&sb);
    if (list == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    err_t err = pg_target_claim_run(pt, list, errbuf, errsize);
    free(list);
    return err;
}

err_t pg_target_unclaim_tables(pg_target_t *pt, char *errbuf, size_t errsize)
{
    const char *params[1] = {pt->cfg->name};
    PGresult *res = pg_conn_exec(pt->conn, "SELECT to_regclass('syncline.claims') IS NOT NULL",
                                 PGRES_TUPLES_OK, "target", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(pt->conn);
    int has = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!has)
        return ERR_OK;
    res = pg_conn_execp(pt->conn, "DELETE FROM syncline.claims WHERE name = $1", 1, params,
                        PGRES_COMMAND_OK, "target: delete claims", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(pt->conn);
    PQclear(res);
    return ERR_OK;
}

err_t pg_target_delete_progress(pg_target_t *pt, char *errbuf, size_t errsize)
{
    pg_target_progress_t p;
    err_t err = pg_target_read_progress(pt, &p, errbuf, errsize);
    if (err != ERR_OK || !p.exists)
        return err;
    const char *params[1] = {pt->cfg->name};
    PGresult *res =
        pg_conn_execp(pt->conn, "DELETE FROM syncline.progress WHERE name = $1", 1, params,
                      PGRES_COMMAND_OK, "target: delete progress", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(pt->conn);
    PQclear(res);
    return ERR_OK;
}

/* ---- relation mapping -------------------------------------------------- */

/* 1 when the target table exists, 0 when not, -1 on error. */
static int pg_target_table_exists(pg_target_t *pt, const char *qualified, char *errbuf,
                                  size_t errsize)
{
    const char *params[1] = {qualified};
    PGresult *res = pg_conn_execp(pt->conn, "SELECT to_regclass($1) IS NOT NULL", 1, params,
                                  PGRES_TUPLES_OK, "target", errbuf, errsize);
    if (res == NULL)
        return -1;
    int exists = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return exists;
}

err_t pg_target_check_table(pg_target_t *pt, const char *schema, const char *name, char *errbuf,
                            size_t errsize)
{
    const char *ts, *tn;
    route_result_t route = route_target(pt->cfg, schema, name, &ts, &tn);
    if (route == ROUTE_UNLISTED) {
        snprintf(errbuf, errsize,
                 "source table %s.%s is published but not listed in tables (add it, or an "
                 "entry with \"skip\": true)",
                 schema, name);
        return ERR_CONFIG;
    }
    if (route == ROUTE_SKIP)
        return ERR_OK;
    char *q = pg_conn_qualified(pt->conn, ts, tn);
    int exists = q ? pg_target_table_exists(pt, q, errbuf, errsize) : -1;
    free(q);
    if (exists < 0)
        return pg_conn_classify(pt->conn);
    if (!exists) {
        snprintf(errbuf, errsize, "target table %s.%s does not exist (source table %s.%s)", ts, tn,
                 schema, name);
        return ERR_SCHEMA;
    }
    return ERR_OK;
}

static pg_target_rel_t *pg_target_find_rel(pg_target_t *pt, uint32_t relid)
{
    for (pg_target_rel_t *r = pt->rels; r != NULL; r = r->next) {
        if (r->relid == relid)
            return r;
    }
    return NULL;
}

/* Drops what the applier knew of relid, server-side statements included.
 * Called outside pipeline mode. */
static void pg_target_forget_rel(pg_target_t *pt, uint32_t relid)
{
    for (pg_target_rel_t **p = &pt->rels; *p != NULL; p = &(*p)->next) {
        if ((*p)->relid == relid) {
            pg_target_rel_t *r = *p;
            *p = r->next;
            for (pg_target_stmt_t *st = r->stmts; st != NULL; st = st->next) {
                char sql[64];
                snprintf(sql, sizeof(sql), "DEALLOCATE %s", st->name);
                PQclear(pg_conn_query(pt->conn, sql, 0, NULL));
            }
            pg_target_transform_free(r->trel, pt->conn);
            r->trel = NULL;
            pg_target_rel_free(r);
            return;
        }
    }
}

/*
 * Target columns: name, generated, the unlimited form of the type ("bit" and
 * "character" without a length would mean bit(1) and char(1)), and its
 * PG_TARGET_EQ_*. A type (or a domain's base type) has equality when it has
 * a default btree or hash operator class, directly, as an enum or through a
 * binary-coercible cast: what the type cache offers native replication.
 * Arrays, composites and ranges answer none (their equality depends on their
 * elements) and are compared exactly by output text. Equality is exact for
 * a list of built-in types whose equal values print the same (under a
 * deterministic collation); numeric, float, interval, jsonb, citext... are
 * loose.
 */
#define PG_TARGET_COLUMNS_SQL                                                                      \
    "SELECT a.attname, a.attgenerated <> '', "                                                     \
    "CASE a.atttypid WHEN 'bpchar'::regtype THEN 'bpchar' "                                        \
    "WHEN '_bpchar'::regtype THEN 'bpchar[]' WHEN 'bit'::regtype THEN 'bit varying' "              \
    "WHEN '_bit'::regtype THEN 'bit varying[]' ELSE format_type(a.atttypid, NULL) END, "           \
    "CASE WHEN NOT EXISTS (SELECT 1 FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod "    \
    " WHERE oc.opcdefault AND am.amname IN ('btree', 'hash') AND (oc.opcintype = b.oid "           \
    " OR (b.typtype = 'e' AND oc.opcintype = 'anyenum'::regtype) OR EXISTS (SELECT 1 FROM "        \
    " pg_cast k WHERE k.castsource = b.oid AND k.casttarget = oc.opcintype "                       \
    " AND k.castmethod = 'b'))) THEN 'n' "                                                         \
    "WHEN (b.typtype = 'e' OR b.oid = ANY ('{bool,int2,int4,int8,oid,text,varchar,bpchar,name,"    \
    "\"char\",bytea,date,time,timetz,timestamp,timestamptz,uuid,inet,cidr,macaddr,macaddr8,bit,"   \
    "varbit,money,pg_lsn}'::regtype[])) AND coalesce((SELECT collisdeterministic FROM "            \
    "pg_collation WHERE oid = a.attcollation), true) THEN 'e' ELSE 'l' END "                       \
    "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "                                    \
    "JOIN pg_type b ON b.oid = CASE t.typtype WHEN 'd' THEN t.typbasetype ELSE t.oid END "         \
    "WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped"

/* Checks every source column against the target's columns. */
static err_t pg_target_check_columns(pg_target_t *pt, pg_target_rel_t *r, const char *tdisplay,
                                     lsn_t lsn, char *errbuf, size_t errsize)
{
    const char *params[1] = {r->target};
    PGresult *res = pg_conn_execp(pt->conn, PG_TARGET_COLUMNS_SQL, 1, params, PGRES_TUPLES_OK,
                                  "target", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(pt->conn);
    err_t err = ERR_OK;
    for (int c = 0; c < r->rel->ncols && err == ERR_OK; c++) {
        int found = 0, generated = 0;
        for (int i = 0; i < PQntuples(res) && !found; i++) {
            found = strcmp(PQgetvalue(res, i, 0), r->rel->cols[c].name) == 0;
            generated = found && PQgetvalue(res, i, 1)[0] == 't';
            if (found && r->ttypes[c] == NULL)
                r->ttypes[c] = strdup(PQgetvalue(res, i, 2));
            if (found)
                r->teq[c] = PQgetvalue(res, i, 3)[0];
        }
        if (!found || generated) {
            char l[LSN_STRLEN];
            snprintf(errbuf, errsize,
                     "target table %s %s column \"%s\" that source table %s sends%s%s%s; "
                     "add the column on the target and run again",
                     tdisplay, found ? "has a generated" : "has no", r->rel->cols[c].name,
                     r->display, lsn ? " (lsn=" : "", lsn ? lsn_format(lsn, l, sizeof(l)) : "",
                     lsn ? ")" : "");
            err = ERR_SCHEMA;
        } else if (r->ttypes[c] == NULL) {
            snprintf(errbuf, errsize, "out of memory");
            err = ERR_RUNTIME;
        }
    }
    PQclear(res);
    return err;
}

static pg_target_rel_t *pg_target_rel_new(pg_target_t *pt, const change_relation_t *rel)
{
    pg_target_rel_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->relid = rel->relid;
    r->rel = change_relation_dup(rel);
    size_t len = strlen(rel->nspname) + strlen(rel->relname) + 2;
    r->display = malloc(len);
    r->qcols = calloc((size_t)rel->ncols + 1, sizeof(char *));
    r->ttypes = calloc((size_t)rel->ncols + 1, sizeof(char *));
    r->teq = calloc((size_t)rel->ncols + 1, 1);
    if (r->rel == NULL || r->display == NULL || r->qcols == NULL || r->ttypes == NULL ||
        r->teq == NULL) {
        pg_target_rel_free(r);
        return NULL;
    }
    snprintf(r->display, len, "%s.%s", rel->nspname, rel->relname);
    r->full = rel->replident == 'f';
    for (int i = 0; i < rel->ncols; i++) {
        r->qcols[i] = PQescapeIdentifier(pt->conn, rel->cols[i].name, strlen(rel->cols[i].name));
        if (r->qcols[i] == NULL) {
            pg_target_rel_free(r);
            return NULL;
        }
    }
    return r;
}

/* True when the target table has no unique index, no exclusion constraint
 * and no trigger that fires under the replica role. */
static int pg_target_no_constraints(pg_target_t *pt, const pg_target_rel_t *r)
{
    const char *p[1] = {r->target};
    PGresult *res = pg_conn_query(
        pt->conn,
        "SELECT NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = $1::regclass AND indisunique) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND contype = "
        "'x') AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT "
        "tgisinternal AND tgenabled IN ('A', 'R'))",
        1, p);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return ok;
}

/* Merging changes per row reorders rows of a table and hides intermediate
 * states. Safe when nothing can see either: no trigger fires (replica role,
 * no ENABLE ALWAYS/REPLICA trigger), the only unique constraint is a primary
 * key on exactly the source's key columns, and no exclusion constraint. A
 * table without key or with REPLICA IDENTITY FULL needs no unique constraint
 * at all: collapse then only gathers its inserts (src/core/collapse.c). */
static int pg_target_can_collapse(pg_target_t *pt, const pg_target_rel_t *r)
{
    int nkey = 0;
    for (int c = 0; c < r->rel->ncols; c++)
        nkey += r->rel->cols[c].is_key;
    if (!pt->replica_role)
        return 0;
    /* no key (insert-only) or FULL (collapse buffers only the inserts): the
     * inserts commute when nothing is unique */
    if (nkey == 0 || r->full)
        return pg_target_no_constraints(pt, r);
    const char *p[1] = {r->target};
    PGresult *res = pg_conn_query(
        pt->conn,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY (i.indkey::int2[]) WHERE i.indrelid = $1::regclass AND i.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_index u WHERE u.indrelid = i.indrelid "
        "AND u.indisunique AND NOT u.indisprimary) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = i.indrelid "
        "AND c.contype = 'x') "
        "AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = i.indrelid "
        "AND NOT t.tgisinternal AND t.tgenabled IN ('A', 'R'))",
        1, p);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;
    ok = ok && nkey == PQntuples(res);
    for (int i = 0; ok && i < PQntuples(res); i++) {
        int c = change_relation_find_column(r->rel, PQgetvalue(res, i, 0));
        ok = c >= 0 && r->rel->cols[c].is_key;
    }
    PQclear(res);
    return ok;
}

/* True when a BEFORE ROW UPDATE or DELETE trigger fires for this session's
 * role on the table or one of its partitions: it may return NULL and skip a
 * change on purpose, which native replication does not count as a missing row. */
static int pg_target_trigger_skips(pg_target_t *pt, const pg_target_rel_t *r)
{
    const char *p[2] = {r->target, pt->replica_role ? "{A,R}" : "{A,O}"};
    PGresult *res =
        pg_conn_query(pt->conn,
                      "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE (tgrelid = $1::regclass OR "
                      "tgrelid IN (SELECT relid FROM pg_partition_tree($1::regclass))) AND NOT "
                      "tgisinternal AND tgenabled = ANY ($2::\"char\"[]) AND tgtype & 3 = 3 AND "
                      "tgtype & 24 <> 0)",
                      2, p);
    int skips = PQresultStatus(res) != PGRES_TUPLES_OK || PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return skips;
}

const char *pg_target_unusable(pg_target_t *pt, uint32_t relid)
{
    const pg_target_rel_t *r = pg_target_find_rel(pt, relid);
    return r != NULL ? r->unusable : NULL;
}

/* Keeps errbuf's message as the reason r cannot be applied (see unusable). */
static err_t pg_target_set_unusable(pg_target_rel_t *r, char *errbuf, size_t errsize)
{
    r->unusable = strdup(errbuf);
    errbuf[0] = '\0';
    if (r->unusable != NULL)
        return ERR_OK;
    snprintf(errbuf, errsize, "out of memory");
    return ERR_RUNTIME;
}

/* ERR_SCHEMA when a change of r arrives that it cannot take, naming its LSN. */
static err_t pg_target_usable(const pg_target_rel_t *r, lsn_t lsn, char *errbuf, size_t errsize)
{
    if (r->unusable == NULL)
        return ERR_OK;
    char l[LSN_STRLEN];
    snprintf(errbuf, errsize, "%s; a change of it arrived (lsn=%s)", r->unusable,
             lsn_format(lsn, l, sizeof(l)));
    return ERR_SCHEMA;
}

static err_t pg_target_describe(pg_target_t *pt, pg_target_rel_t *r, lsn_t lsn, char *errbuf,
                                size_t errsize)
{
    const char *ts, *tn;
    route_result_t route = route_target(pt->cfg, r->rel->nspname, r->rel->relname, &ts, &tn);
    r->skip = route == ROUTE_SKIP;
    if (route == ROUTE_UNLISTED) {
        snprintf(errbuf, errsize,
                 "source table %s is published but not listed in tables (add it, or an entry "
                 "with \"skip\": true)",
                 r->display);
        return pg_target_set_unusable(r, errbuf, errsize);
    }
    if (r->skip)
        return ERR_OK;
    r->target = pg_conn_qualified(pt->conn, ts, tn);
    if (r->target == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    int exists = pg_target_table_exists(pt, r->target, errbuf, errsize);
    if (exists < 0)
        return pg_conn_classify(pt->conn);
    char tdisplay[512];
    snprintf(tdisplay, sizeof(tdisplay), "%s.%s", ts, tn);
    if (!exists) {
        snprintf(errbuf, errsize, "target table %s does not exist (source table %s)", tdisplay,
                 r->display);
        return pg_target_set_unusable(r, errbuf, errsize);
    }
    const config_table_t *entry = config_find_table(pt->cfg, r->rel->nspname, r->rel->relname);
    err_t err = pg_target_transform_new(pt->conn, entry, r->rel, r->target, r->display, &pt->types,
                                        &r->trel, errbuf, errsize);
    if (err == ERR_RUNTIME)
        err = pg_conn_classify(pt->conn); /* a lost connection is worth a retry */
    if (err != ERR_OK || r->trel != NULL) {
        if (err != ERR_OK && lsn != 0) {
            char l[LSN_STRLEN];
            size_t n = strlen(errbuf);
            snprintf(errbuf + n, n < errsize ? errsize - n : 0, " (lsn=%s)",
                     lsn_format(lsn, l, sizeof(l)));
        }
        return err;
    }
    err = pg_target_check_columns(pt, r, tdisplay, lsn, errbuf, errsize);
    if (err == ERR_OK) {
        r->collapsible = pg_target_can_collapse(pt, r);
        r->trigger_skips = pg_target_trigger_skips(pt, r);
    }
    return err;
}

static err_t pg_target_relation(void *ctx, const change_relation_t *rel, lsn_t lsn, char *errbuf,
                                size_t errsize)
{
    pg_target_t *pt = ctx;
    /* statements of the old shape may still be in flight: finish them first */
    err_t err = pg_pipe_leave(pt->pipe, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    pg_target_forget_rel(pt, rel->relid);
    pg_target_rel_t *r = pg_target_rel_new(pt, rel);
    if (r == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    err = pg_target_describe(pt, r, lsn, errbuf, errsize);
    if (err != ERR_OK) {
        pg_target_rel_free(r);
        return err;
    }
    r->next = pt->rels;
    pt->rels = r;
    return pg_pipe_enter(pt->pipe, errbuf, errsize);
}

/* ---- statements -------------------------------------------------------- */

/* A new parameter for column col of the new or old tuple; its "$k" into p. */
static void pg_target_sql_param(pg_target_stmt_t *st, int col, int old, char *p, size_t psize)
{
    st->param_col[st->nparams] = col;
    st->param_old[st->nparams] = old;
    snprintf(p, psize, "$%d", ++st->nparams);
}

/* $k::type: the parameter typed as the target column, so that the
 * comparison is the type's own (a bare $k next to a composite column would
 * be an anonymous record, which has no input function). */
static void pg_target_sql_typed(sbuf_t *s, const pg_target_rel_t *r, int col, const char *param)
{
    sbuf_add(s, param);
    sbuf_add(s, "::");
    sbuf_add(s, r->ttypes[col]);
}

/* format('%L', "c") = format('%L', $k::type): both values printed by the
 * type's output function in this one session, NULL as NULL. Exact for types
 * without an equality operator (json, point), and the tie-break between rows
 * equal by = but not identical (numeric 1.0 and 1.00, float -0 and 0). */
static void pg_target_sql_same(sbuf_t *s, const pg_target_rel_t *r, int col, const char *param)
{
    sbuf_add(s, "format('%L', ");
    sbuf_add(s, r->qcols[col]);
    sbuf_add(s, ") = format('%L', ");
    pg_target_sql_typed(s, r, col, param);
    sbuf_add(s, ")");
}

/*
 * The old tuple's identity columns, parameters $from+1 on, compared with
 * each type's equality as native replication does (the key's = under
 * DEFAULT or USING INDEX, IS NOT DISTINCT FROM under FULL). Under FULL a
 * type without equality is compared by its output text instead of being
 * refused. A FULL table without columns matches any row.
 */
static void pg_target_sql_match(sbuf_t *s, const pg_target_rel_t *r, const pg_target_stmt_t *st,
                                int from)
{
    char p[16];
    for (int i = from; i < st->nparams; i++) {
        int c = st->param_col[i];
        snprintf(p, sizeof(p), "$%d", i + 1);
        sbuf_add(s, i > from ? " AND " : "");
        if (r->full && r->teq[c] == PG_TARGET_EQ_NONE) {
            pg_target_sql_same(s, r, c, p);
            continue;
        }
        sbuf_add(s, r->qcols[c]);
        sbuf_add(s, r->full ? " IS NOT DISTINCT FROM " : " = ");
        pg_target_sql_typed(s, r, c, p);
    }
    if (st->nparams == from)
        sbuf_add(s, r->full ? "true" : "false");
}

/* Identical (same output text) on every loosely equal column of the match;
 * 0 when there is none. */
static int pg_target_sql_identical(sbuf_t *s, const pg_target_rel_t *r, const pg_target_stmt_t *st,
                                   int from)
{
    int n = 0;
    char p[16];
    for (int i = from; i < st->nparams; i++) {
        int c = st->param_col[i];
        if (r->teq[c] != PG_TARGET_EQ_LOOSE)
            continue;
        sbuf_add(s, " AND ");
        snprintf(p, sizeof(p), "$%d", i + 1);
        pg_target_sql_same(s, r, c, p);
        n++;
    }
    return n;
}

/* SELECT tableoid, ctid FROM target WHERE <match>[ AND <identical>] LIMIT 1 */
static int pg_target_sql_first(sbuf_t *s, const pg_target_rel_t *r, const pg_target_stmt_t *st,
                               int from, int identical)
{
    sbuf_add(s, "SELECT tableoid, ctid FROM ");
    sbuf_add(s, r->target);
    sbuf_add(s, " WHERE ");
    pg_target_sql_match(s, r, st, from);
    int n = identical ? pg_target_sql_identical(s, r, st, from) : 0;
    sbuf_add(s, " LIMIT 1");
    return n;
}

static void pg_target_sql_insert(sbuf_t *s, const pg_target_rel_t *r, pg_target_stmt_t *st)
{
    sbuf_add(s, "INSERT INTO ");
    sbuf_add(s, r->target);
    if (r->rel->ncols == 0) { /* a table without columns: () would be a syntax error */
        sbuf_add(s, " DEFAULT VALUES");
        return;
    }
    sbuf_add(s, " (");
    int n = 0;
    char p[16];
    for (int c = 0; c < r->rel->ncols; c++) {
        if (st->shape[c + 1] == '1') {
            sbuf_add(s, n++ ? ", " : "");
            sbuf_add(s, r->qcols[c]);
        }
    }
    /* the source's values win, also over GENERATED ALWAYS identity columns */
    sbuf_add(s, ") OVERRIDING SYSTEM VALUE VALUES (");
    for (int c = 0, k = 0; c < r->rel->ncols; c++) {
        if (st->shape[c + 1] == '1') {
            sbuf_add(s, k++ ? ", " : "");
            pg_target_sql_param(st, c, 0, p, sizeof(p));
            sbuf_add(s, p);
        }
    }
    sbuf_add(s, ")");
}

/*
 * WHERE clause locating the row by its identity columns. Under FULL
 * duplicates are possible: exactly one row is touched, and of the rows equal
 * to the old tuple an identical one is preferred (numeric 1.0 = 1.00, float
 * -0 = 0; the source changed one of them). The identical row is searched
 * first and the equal one only when none is found: UNION ALL runs its
 * branches in order (UPDATE and DELETE never run in parallel), so the scan
 * still stops at the first hit where ORDER BY would read the whole table.
 * The match condition goes to *where too (for pg_target_sql_checked).
 */
static void pg_target_sql_locate(sbuf_t *s, const pg_target_rel_t *r, pg_target_stmt_t *st, int old,
                                 sbuf_t *where)
{
    int from = st->nparams;
    char p[16];
    for (int c = 0; c < r->rel->ncols; c++) {
        if (r->rel->cols[c].is_key)
            pg_target_sql_param(st, c, old, p, sizeof(p));
    }
    pg_target_sql_match(where, r, st, from);
    sbuf_add(s, " WHERE ");
    if (!r->full) {
        sbuf_add(s, where->s ? where->s : "false");
        return;
    }
    sbuf_t exact = {0};
    sbuf_add(s, "(tableoid, ctid) = (");
    if (pg_target_sql_first(&exact, r, st, from, 1) == 0) {
        pg_target_sql_first(s, r, st, from, 0);
    } else {
        sbuf_add(s, "SELECT tableoid, ctid FROM ((");
        sbuf_add(s, exact.s ? exact.s : "");
        sbuf_add(s, ") UNION ALL (");
        pg_target_sql_first(s, r, st, from, 0);
        sbuf_add(s, ")) AS syncline_m LIMIT 1");
    }
    s->oom |= exact.oom;
    free(exact.s);
    sbuf_add(s, ")");
}

static void pg_target_sql_update(sbuf_t *s, const pg_target_rel_t *r, pg_target_stmt_t *st,
                                 sbuf_t *where)
{
    sbuf_add(s, "UPDATE ");
    sbuf_add(s, r->target);
    sbuf_add(s, " SET ");
    int n = 0;
    char p[16];
    for (int c = 0; c < r->rel->ncols; c++) {
        if (st->shape[c + 1] == '1') {
            sbuf_add(s, n++ ? ", " : "");
            sbuf_add(s, r->qcols[c]);
            sbuf_add(s, " = ");
            pg_target_sql_param(st, c, 0, p, sizeof(p));
            sbuf_add(s, p);
        }
    }
    pg_target_sql_locate(s, r, st, st->shape[0] == 'u', where);
}

static void pg_target_sql_delete(sbuf_t *s, const pg_target_rel_t *r, pg_target_stmt_t *st,
                                 sbuf_t *where)
{
    sbuf_add(s, "DELETE FROM ");
    sbuf_add(s, r->target);
    pg_target_sql_locate(s, r, st, 1, where);
}

/* The UPDATE/DELETE in s as a pg_rowcheck statement (malloc'd, NULL when out
 * of memory): it must touch one row, or the row must have existed before it
 * (a trigger skipped the change) on tables where a trigger may skip. */
static char *pg_target_sql_checked(const pg_target_t *pt, const pg_target_rel_t *r, const sbuf_t *s,
                                   const sbuf_t *where)
{
    sbuf_t exists = {0};
    if (r->trigger_skips) {
        sbuf_add(&exists, "EXISTS (SELECT 1 FROM ");
        sbuf_add(&exists, r->target);
        sbuf_add(&exists, " WHERE ");
        sbuf_add(&exists, where->s ? where->s : "false");
        sbuf_add(&exists, ")");
    }
    char *sql = NULL;
    if (!s->oom && !where->oom && !exists.oom && s->s != NULL)
        sql = pg_rowcheck_wrap(s->s, 1, exists.s, pg_pipe_skips_missing(pt->pipe));
    free(exists.s);
    return sql;
}

/*
 * Shape of a row change: op letter ('I', 'U' new-tuple key, 'u' old-tuple
 * key, 'D') then per column '1' when the new tuple carries a value for it.
 */
static void pg_target_shape(const sink_row_t *row, char *shape)
{
    int ncols = row->rel->ncols;
    shape[0] = (char)row->op;
    if (row->op == SINK_UPDATE && row->old_kind != 0)
        shape[0] = 'u';
    for (int c = 0; c < ncols; c++) {
        int has = row->new_tuple && c < row->new_tuple->ncols &&
                  row->new_tuple->values[c].kind != CHANGE_UNCHANGED;
        shape[c + 1] = has ? '1' : '0';
    }
    shape[ncols + 1] = '\0';
}

static pg_target_stmt_t *pg_target_stmt_build(pg_target_t *pt, pg_target_rel_t *r,
                                              const char *shape, char *errbuf, size_t errsize,
                                              err_t *err)
{
    pg_target_stmt_t *st = calloc(1, sizeof(*st));
    sbuf_t s = {0};
    size_t n = (size_t)r->rel->ncols * 2 + 1;
    *err = ERR_RUNTIME;
    if (st == NULL || (st->shape = strdup(shape)) == NULL ||
        (st->param_col = calloc(n, sizeof(int))) == NULL ||
        (st->param_old = calloc(n, sizeof(int))) == NULL) {
        pg_target_stmts_free(st);
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    snprintf(st->name, sizeof(st->name), "sl_%d", ++pt->stmt_counter);
    sbuf_t where = {0};
    if (shape[0] == 'I')
        pg_target_sql_insert(&s, r, st);
    else if (shape[0] == 'D')
        pg_target_sql_delete(&s, r, st, &where);
    else
        pg_target_sql_update(&s, r, st, &where);
    char *sql = shape[0] == 'I' ? sbuf_take(&s) : pg_target_sql_checked(pt, r, &s, &where);
    free(s.s);
    free(where.s);
    pg_pipe_tag_t tag = {.table = r->display};
    *err =
        sql == NULL ? ERR_RUNTIME : pg_pipe_prepare(pt->pipe, st->name, sql, &tag, errbuf, errsize);
    if (sql == NULL)
        snprintf(errbuf, errsize, "out of memory");
    free(sql);
    if (*err != ERR_OK) {
        pg_target_stmts_free(st);
        return NULL;
    }
    st->next = r->stmts;
    r->stmts = st;
    return st;
}

static pg_target_stmt_t *pg_target_stmt(pg_target_t *pt, pg_target_rel_t *r, const sink_row_t *row,
                                        char *errbuf, size_t errsize, err_t *err)
{
    char stack[256];
    char *shape =
        r->rel->ncols + 2 <= (int)sizeof(stack) ? stack : malloc((size_t)r->rel->ncols + 2);
    if (shape == NULL) {
        *err = ERR_RUNTIME;
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    pg_target_shape(row, shape);
    pg_target_stmt_t *st = r->stmts;
    while (st != NULL && strcmp(st->shape, shape) != 0)
        st = st->next;
    *err = ERR_OK;
    if (st == NULL)
        st = pg_target_stmt_build(pt, r, shape, errbuf, errsize, err);
    if (shape != stack)
        free(shape);
    return st;
}

/* Grows the per-row parameter arrays and text scratch. */
static int pg_target_scratch(pg_target_t *pt, int nparams, size_t text)
{
    if (nparams > pt->params_cap) {
        int cap = nparams * 2;
        const char **v = realloc(pt->values, (size_t)cap * sizeof(*v));
        if (v != NULL)
            pt->values = v;
        int *l = realloc(pt->lengths, (size_t)cap * sizeof(*l));
        if (l != NULL)
            pt->lengths = l;
        int *f = realloc(pt->formats, (size_t)cap * sizeof(*f));
        if (f != NULL)
            pt->formats = f;
        if (v == NULL || l == NULL || f == NULL)
            return -1;
        pt->params_cap = cap;
    }
    if (text > pt->text_cap) {
        char *t = realloc(pt->text, text * 2);
        if (t == NULL)
            return -1;
        pt->text = t;
        pt->text_cap = text * 2;
    }
    return 0;
}

static const change_value_t *pg_target_param_value(const sink_row_t *row,
                                                   const pg_target_stmt_t *st, int i)
{
    const change_tuple_t *t = st->param_old[i] ? row->old_tuple : row->new_tuple;
    int col = st->param_col[i];
    return (t != NULL && col < t->ncols) ? &t->values[col] : NULL;
}

/* Fills values/lengths/formats for one row; text values get a NUL in scratch. */
static err_t pg_target_bind(pg_target_t *pt, const pg_target_rel_t *r, const sink_row_t *row,
                            const pg_target_stmt_t *st, char *errbuf, size_t errsize)
{
    size_t text = 1;
    for (int i = 0; i < st->nparams; i++) {
        const change_value_t *v = pg_target_param_value(row, st, i);
        if (v == NULL || v->kind == CHANGE_UNCHANGED) {
            char l[LSN_STRLEN];
            snprintf(errbuf, errsize,
                     "table %s column \"%s\": identity value %s (lsn=%s); the row cannot be "
                     "located",
                     r->display, r->rel->cols[st->param_col[i]].name,
                     v ? "is an unchanged TOAST value without a stored copy" : "is missing",
                     lsn_format(row->lsn, l, sizeof(l)));
            return ERR_RUNTIME;
        }
        text += v->len + 1;
    }
    if (pg_target_scratch(pt, st->nparams, text) != 0) {
        snprintf(errbuf, errsize, "out of memory binding a row of %s", r->display);
        return ERR_RUNTIME;
    }
    char *p = pt->text;
    for (int i = 0; i < st->nparams; i++) {
        const change_value_t *v = pg_target_param_value(row, st, i);
        pt->formats[i] = v->kind == CHANGE_BINARY;
        pt->lengths[i] = (int)v->len;
        if (v->kind == CHANGE_NULL) {
            pt->values[i] = NULL;
        } else if (v->kind == CHANGE_BINARY) {
            pt->values[i] = v->data;
        } else {
            memcpy(p, v->data, v->len);
            p[v->len] = '\0';
            pt->values[i] = p;
            p += v->len + 1;
        }
    }
    return ERR_OK;
}

static err_t pg_target_row(void *ctx, const sink_row_t *row, char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    pg_target_rel_t *r = pg_target_find_rel(pt, row->rel->relid);
    if (r == NULL) {
        snprintf(errbuf, errsize, "relation %u was never described", row->rel->relid);
        return ERR_RUNTIME;
    }
    if (r->skip)
        return ERR_OK;
    if (r->unusable != NULL)
        return pg_target_usable(r, row->lsn, errbuf, errsize);
    if (r->trel != NULL)
        return pg_target_transform_apply(r->trel, pt->pipe, &pt->stmt_counter, row, errbuf,
                                         errsize);
    err_t err;
    pg_target_stmt_t *st = pg_target_stmt(pt, r, row, errbuf, errsize, &err);
    if (st == NULL)
        return err;
    err = pg_target_bind(pt, r, row, st, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    char key[256];
    change_key_text(r->rel, row->old_tuple ? row->old_tuple : row->new_tuple, key, sizeof(key));
    pg_pipe_tag_t tag = {.op = (char)row->op,
                         .check_rows = row->op != SINK_INSERT,
                         .table = r->display,
                         .lsn = row->lsn};
    return pg_pipe_exec_prepared(pt->pipe, st->name, st->nparams, (const char *const *)pt->values,
                                 pt->lengths, pt->formats, &tag, key, errbuf, errsize);
}

static err_t pg_target_truncate(void *ctx, const change_relation_t *const *rels, int nrels,
                                uint8_t options, lsn_t lsn, char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    sbuf_t s = {0};
    int n = 0;
    const char *first = NULL;
    sbuf_add(&s, "TRUNCATE ");
    for (int i = 0; i < nrels; i++) {
        pg_target_rel_t *r = pg_target_find_rel(pt, rels[i]->relid);
        if (r == NULL || r->skip)
            continue;
        if (r->unusable != NULL) {
            sbuf_clear(&s);
            return pg_target_usable(r, lsn, errbuf, errsize);
        }
        sbuf_add(&s, n++ ? ", " : "");
        sbuf_add(&s, r->target);
        first = first ? first : r->display;
    }
    if (options & 2) /* RESTART IDENTITY */
        sbuf_add(&s, " RESTART IDENTITY");
    if (options & 1) /* CASCADE */
        sbuf_add(&s, " CASCADE");
    err_t err = ERR_OK;
    if (s.oom) {
        snprintf(errbuf, errsize, "out of memory");
        err = ERR_RUNTIME;
    } else if (n > 0) {
        pg_pipe_tag_t tag = {.op = 'T', .table = first, .lsn = lsn};
        err = pg_pipe_exec(pt->pipe, s.s, &tag, errbuf, errsize);
    }
    free(s.s);
    return err;
}

static err_t pg_target_begin(void *ctx, char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    pg_pipe_tag_t tag = {.op = 'X', .table = "BEGIN"};
    err_t err = pg_pipe_enter(pt->pipe, errbuf, errsize);
    return err != ERR_OK ? err : pg_pipe_exec(pt->pipe, "BEGIN", &tag, errbuf, errsize);
}

/* Queues the progress row update for lsn (and the commit time, 0 = keep). */
static err_t pg_target_queue_progress(pg_target_t *pt, lsn_t lsn, int64_t commit_time, char *errbuf,
                                      size_t errsize)
{
    pg_pipe_tag_t tag = {.op = 'U', .check_rows = 1, .table = "syncline.progress", .lsn = lsn};
    err_t err = pg_pipe_enter(pt->pipe, errbuf, errsize);
    if (err == ERR_OK && !pt->progress_prepared) {
        /* a missing progress row fails the transaction, even with on_missing_row skip */
        char *sql = pg_rowcheck_wrap(
            "UPDATE syncline.progress SET applied_lsn = $2::pg_lsn, updated_at = now(), "
            "source_commit_time = CASE WHEN $3::bigint = 0 THEN source_commit_time ELSE "
            "'2000-01-01 00:00:00+00'::timestamptz + $3::bigint * interval '1 microsecond' END "
            "WHERE name = $1",
            1, NULL, 0);
        err = sql != NULL
                  ? pg_pipe_prepare(pt->pipe, PG_TARGET_PROGRESS_STMT, sql, &tag, errbuf, errsize)
                  : ERR_RUNTIME;
        if (sql == NULL)
            snprintf(errbuf, errsize, "out of memory");
        free(sql);
        pt->progress_prepared = err == ERR_OK;
    }
    if (err != ERR_OK)
        return err;
    char l[LSN_STRLEN], ts[32];
    snprintf(ts, sizeof(ts), "%lld", (long long)commit_time);
    const char *values[3] = {pt->cfg->name, lsn_format(lsn, l, sizeof(l)), ts};
    return pg_pipe_exec_prepared(pt->pipe, PG_TARGET_PROGRESS_STMT, 3, values, NULL, NULL, &tag,
                                 NULL, errbuf, errsize);
}

/* Queues the upsert of one Kafka consumer offset. */
static err_t pg_target_queue_offset(pg_target_t *pt, const sink_offset_t *off, lsn_t lsn,
                                    char *errbuf, size_t errsize)
{
    pg_pipe_tag_t tag = {.op = 'X', .table = "syncline.kafka_offsets", .lsn = lsn};
    err_t err = ERR_OK;
    if (!pt->offsets_prepared) {
        err = pg_pipe_prepare(pt->pipe, PG_TARGET_OFFSET_STMT,
                              "INSERT INTO syncline.kafka_offsets (name, topic, partition, "
                              "next_offset) VALUES ($1, $2, $3, $4) ON CONFLICT (name, topic, "
                              "partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, "
                              "updated_at = now()",
                              &tag, errbuf, errsize);
        pt->offsets_prepared = err == ERR_OK;
    }
    if (err != ERR_OK)
        return err;
    char part[16], next[32];
    snprintf(part, sizeof(part), "%d", (int)off->partition);
    snprintf(next, sizeof(next), "%lld", (long long)off->next_offset);
    const char *values[4] = {pt->cfg->name, off->topic, part, next};
    return pg_pipe_exec_prepared(pt->pipe, PG_TARGET_OFFSET_STMT, 4, values, NULL, NULL, &tag, NULL,
                                 errbuf, errsize);
}

/* Queues progress, offsets and COMMIT (tagged 'C' with the end LSN). */
static err_t pg_target_send_commit(pg_target_t *pt, const sink_position_t *pos, char *errbuf,
                                   size_t errsize)
{
    pg_pipe_tag_t tag = {.op = 'C', .table = "COMMIT", .lsn = pos->end_lsn};
    err_t err = pg_target_queue_progress(pt, pos->end_lsn, pos->commit_time, errbuf, errsize);
    for (int i = 0; err == ERR_OK && i < pos->noffsets; i++)
        err = pg_target_queue_offset(pt, &pos->offsets[i], pos->end_lsn, errbuf, errsize);
    if (err == ERR_OK && pos->nmarks > 0)
        err = pg_vmarks_queue(pt->pipe, &pt->marks_prepared, pt->cfg->name, pos, errbuf, errsize);
    return err != ERR_OK ? err : pg_pipe_exec(pt->pipe, "COMMIT", &tag, errbuf, errsize);
}

static err_t pg_target_commit(void *ctx, const sink_position_t *pos, char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    err_t err = pg_target_send_commit(pt, pos, errbuf, errsize);
    return err != ERR_OK ? err : pg_pipe_drain(pt->pipe, errbuf, errsize);
}

static err_t pg_target_commit_async(void *ctx, const sink_position_t *pos, char *errbuf,
                                    size_t errsize)
{
    pg_target_t *pt = ctx;
    err_t err = pg_target_send_commit(pt, pos, errbuf, errsize);
    return err != ERR_OK ? err : pg_pipe_flush(pt->pipe, errbuf, errsize);
}

static err_t pg_target_durable(void *ctx, lsn_t *lsn, char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    err_t err = pg_pipe_poll(pt->pipe, errbuf, errsize);
    *lsn = pg_pipe_committed(pt->pipe);
    return err;
}

static err_t pg_target_drain(void *ctx, char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    return pg_pipe_drain(pt->pipe, errbuf, errsize);
}

static void pg_target_rollback(void *ctx)
{
    pg_target_t *pt = ctx;
    pg_pipe_abort(pt->pipe);
}

static err_t pg_target_advance(void *ctx, lsn_t lsn, char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    err_t err = pg_target_queue_progress(pt, lsn, 0, errbuf, errsize);
    return err != ERR_OK ? err : pg_pipe_drain(pt->pipe, errbuf, errsize);
}

static void pg_target_on_wait(void *ctx, void (*hook)(void *arg, int stalled), void *arg)
{
    pg_target_t *pt = ctx;
    pg_conn_set_wait_hook(pt->conn, hook, arg);
}

static err_t pg_target_type(void *ctx, uint32_t oid, const char *nspname, const char *typname,
                            char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    if (pg_target_transform_types_put(&pt->types, pt->conn, oid, nspname, typname) != 0) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    return ERR_OK;
}

/* Largest power of two <= n, capped so one statement binds at most ~30,000 values. */
static int pg_target_chunk(int n, int per_row)
{
    int cap = per_row > 0 ? 30000 / per_row : 256;
    int m = 1;
    while (m * 2 <= n && m * 2 <= 256 && m * 2 <= cap)
        m *= 2;
    return m;
}

/* Binds the chunk's rows in pg_bulk_sql_columns order; text values get a NUL. */
static err_t pg_target_bind_bulk(pg_target_t *pt, const sink_row_t *rows, int m, const int *cols,
                                 int per_row, char op, char *errbuf, size_t errsize)
{
    size_t text = 1;
    for (int r = 0; r < m; r++) {
        const change_tuple_t *t = op == 'D' ? rows[r].old_tuple : rows[r].new_tuple;
        for (int i = 0; i < per_row; i++)
            text += t->values[cols[i]].len + 1;
    }
    if (pg_target_scratch(pt, m * per_row, text) != 0) {
        snprintf(errbuf, errsize, "out of memory binding rows");
        return ERR_RUNTIME;
    }
    char *p = pt->text;
    for (int r = 0, k = 0; r < m; r++) {
        const change_tuple_t *t = op == 'D' ? rows[r].old_tuple : rows[r].new_tuple;
        for (int i = 0; i < per_row; i++, k++) {
            const change_value_t *v = &t->values[cols[i]];
            pt->formats[k] = v->kind == CHANGE_BINARY;
            pt->lengths[k] = (int)v->len;
            pt->values[k] = v->kind == CHANGE_NULL ? NULL : v->data;
            if (v->kind == CHANGE_TEXT) {
                memcpy(p, v->data, v->len);
                p[v->len] = '\0';
                pt->values[k] = p;
                p += v->len + 1;
            }
        }
    }
    return ERR_OK;
}

/* The prepared statement for m rows of this shape (*out), built on first
 * use. A lost connection stays ERR_CONNECT, so the caller retries. */
static err_t pg_target_bulk_stmt(pg_target_t *pt, pg_target_rel_t *r, char op, const char *present,
                                 int m, int per_row, pg_target_stmt_t **out, char *errbuf,
                                 size_t errsize)
{
    int ncols = r->rel->ncols;
    char *shape = malloc((size_t)ncols + 32);
    *out = NULL;
    if (shape == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    int n = snprintf(shape, 32, "B%c%d:", op, m);
    for (int c = 0; c < ncols; c++)
        shape[n + c] = present[c] ? '1' : '0';
    shape[n + ncols] = '\0';
    pg_target_stmt_t *st = r->stmts;
    while (st != NULL && strcmp(st->shape, shape) != 0)
        st = st->next;
    if (st != NULL) {
        free(shape);
        *out = st;
        return ERR_OK;
    }
    pg_bulk_sql_rel_t b = {
        .rel = r->rel, .target = r->target, .qcols = r->qcols, .types = r->ttypes};
    char *sql = pg_bulk_sql(&b, op, present, m);
    if (sql != NULL && op != 'I') { /* no trigger here: collapsible tables have none */
        char *checked = pg_rowcheck_wrap(sql, m, NULL, pg_pipe_skips_missing(pt->pipe));
        free(sql);
        sql = checked;
    }
    st = calloc(1, sizeof(*st));
    err_t err = ERR_RUNTIME;
    if (sql != NULL && st != NULL) {
        st->shape = shape;
        shape = NULL;
        st->nparams = m * per_row;
        snprintf(st->name, sizeof(st->name), "sl_%d", ++pt->stmt_counter);
        pg_pipe_tag_t tag = {.table = r->display};
        err = pg_pipe_prepare(pt->pipe, st->name, sql, &tag, errbuf, errsize);
    }
    free(sql);
    free(shape);
    if (err != ERR_OK) {
        if (err == ERR_RUNTIME && errbuf[0] == '\0')
            snprintf(errbuf, errsize, "out of memory");
        pg_target_stmts_free(st);
        return err;
    }
    st->next = r->stmts;
    r->stmts = st;
    *out = st;
    return ERR_OK;
}

/*
 * A multi-row statement's keys and LSNs, kept until its result is in. A value
 * the server cannot take as a parameter (a character the target encoding
 * cannot hold, a malformed value) fails with "parameter $N"; the row it
 * belongs to is (N - 1) / per_row, and the error then names that row. Kept
 * only when the target's encoding converts (pt->converts): a window of
 * statements in flight holds up to 256 rows' keys each.
 */
typedef struct pg_target_bulk_diag {
    const change_relation_t *rel; /* borrowed: lives as long as the statement's table name */
    int m, per_row;
    lsn_t *lsn;          /* per row */
    change_tuple_t *key; /* per row: the key columns' values, the others NULL */
    change_value_t *values;
    char *bytes; /* the key values' data */
} pg_target_bulk_diag_t;

static void pg_target_bulk_diag_free(void *p)
{
    pg_target_bulk_diag_t *d = p;
    if (d == NULL)
        return;
    free(d->lsn);
    free(d->key);
    free(d->values);
    free(d->bytes);
    free(d);
}

static void pg_target_bulk_diag_explain(PGconn *conn, void *p, char *errbuf, size_t errsize)
{
    pg_target_bulk_diag_t *d = p;
    const char *at = strstr(errbuf, "parameter $");
    long row = at != NULL ? (strtol(at + 11, NULL, 10) - 1) / d->per_row : -1;
    (void)conn;
    if (row >= 0 && row < d->m) {
        char key[256], l[LSN_STRLEN];
        change_key_text(d->rel, &d->key[row], key, sizeof(key));
        size_t n = strlen(errbuf);
        snprintf(errbuf + n, n < errsize ? errsize - n : 0,
                 " (the failing row: lsn=%s key=%s, row %ld of %d in one statement)",
                 lsn_format(d->lsn[row], l, sizeof(l)), key, row + 1, d->m);
    }
    pg_target_bulk_diag_free(d);
}

/* Copies what pg_target_bulk_diag_explain needs of m rows; NULL when out of
 * memory (the error then names the statement's first row only). */
static pg_target_bulk_diag_t *pg_target_bulk_diag_new(const change_relation_t *rel,
                                                      const sink_row_t *rows, int m, char op,
                                                      int per_row)
{
    int ncols = rel->ncols;
    size_t bytes = 1;
    for (int r = 0; r < m; r++) {
        const change_tuple_t *t = op == 'D' ? rows[r].old_tuple : rows[r].new_tuple;
        for (int c = 0; c < ncols && c < t->ncols; c++)
            bytes += rel->cols[c].is_key ? t->values[c].len : 0;
    }
    pg_target_bulk_diag_t *d = calloc(1, sizeof(*d));
    if (d == NULL || (d->lsn = calloc((size_t)m, sizeof(lsn_t))) == NULL ||
        (d->key = calloc((size_t)m, sizeof(change_tuple_t))) == NULL ||
        (d->values = calloc((size_t)m * (size_t)ncols + 1, sizeof(change_value_t))) == NULL ||
        (d->bytes = malloc(bytes)) == NULL) {
        pg_target_bulk_diag_free(d);
        return NULL;
    }
    *d = (pg_target_bulk_diag_t){rel, m, per_row, d->lsn, d->key, d->values, d->bytes};
    char *p = d->bytes;
    for (int r = 0; r < m; r++) {
        const change_tuple_t *t = op == 'D' ? rows[r].old_tuple : rows[r].new_tuple;
        d->lsn[r] = rows[r].lsn;
        d->key[r] = (change_tuple_t){.ncols = ncols, .values = d->values + (size_t)r * ncols};
        for (int c = 0; c < ncols && c < t->ncols; c++) {
            change_value_t *v = &d->key[r].values[c];
            *v = (change_value_t){.kind = CHANGE_NULL};
            if (!rel->cols[c].is_key)
                continue;
            *v = (change_value_t){.kind = t->values[c].kind, .len = t->values[c].len, .data = p};
            memcpy(p, t->values[c].data ? t->values[c].data : "", t->values[c].len);
            p += t->values[c].len;
        }
    }
    return d;
}

static err_t pg_target_bulk_chunk(pg_target_t *pt, pg_target_rel_t *r, const sink_row_t *rows,
                                  int m, char op, const char *present, const int *cols, int per_row,
                                  char *errbuf, size_t errsize)
{
    pg_target_stmt_t *st;
    err_t err = pg_target_bulk_stmt(pt, r, op, present, m, per_row, &st, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    err = pg_target_bind_bulk(pt, rows, m, cols, per_row, op, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    char key[256];
    change_key_text(r->rel, op == 'D' ? rows[0].old_tuple : rows[0].new_tuple, key, sizeof(key));
    size_t kn = strlen(key);
    snprintf(key + kn, sizeof(key) - kn, " (first of %d rows)", m);
    pg_pipe_tag_t tag = {
        .op = op,
        .check_rows = op != 'I',
        .table = r->display,
        .lsn = rows[m - 1].lsn,
        .diag = pt->converts ? pg_target_bulk_diag_new(r->rel, rows, m, op, per_row) : NULL,
        .diag_free = pg_target_bulk_diag_free,
        .diag_explain = pg_target_bulk_diag_explain};
    return pg_pipe_exec_prepared(pt->pipe, st->name, st->nparams, (const char *const *)pt->values,
                                 pt->lengths, pt->formats, &tag, key, errbuf, errsize);
}

/* Several rows of one collapsible table, one op, one column set, distinct keys. */
static err_t pg_target_rows(void *ctx, const sink_row_t *rows, int n, char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    pg_target_rel_t *r = n > 0 ? pg_target_find_rel(pt, rows[0].rel->relid) : NULL;
    int ncols = r ? r->rel->ncols : 0;
    char *present = r ? malloc((size_t)ncols + 1) : NULL;
    int *cols = r ? calloc((size_t)ncols * 2 + 1, sizeof(int)) : NULL;
    err_t err = ERR_OK;
    if (present == NULL || cols == NULL || !r->collapsible || r->trel != NULL) {
        for (int i = 0; i < n && err == ERR_OK; i++) /* the plain path, row by row */
            err = pg_target_row(pt, &rows[i], errbuf, errsize);
        free(present);
        free(cols);
        return err;
    }
    char op = rows[0].op == SINK_INSERT ? 'I' : rows[0].op == SINK_DELETE ? 'D' : 'U';
    for (int c = 0; c < ncols; c++)
        present[c] = op != 'D' && c < rows[0].new_tuple->ncols &&
                     rows[0].new_tuple->values[c].kind != CHANGE_UNCHANGED;
    pg_bulk_sql_rel_t b = {
        .rel = r->rel, .target = r->target, .qcols = r->qcols, .types = r->ttypes};
    int per_row = pg_bulk_sql_columns(&b, op, present, cols);
    for (int done = 0; done < n && err == ERR_OK;) {
        int m = pg_target_chunk(n - done, per_row);
        err = m == 1 ? pg_target_row(pt, &rows[done], errbuf, errsize)
                     : pg_target_bulk_chunk(pt, r, rows + done, m, op, present, cols, per_row,
                                            errbuf, errsize);
        done += m;
    }
    free(present);
    free(cols);
    return err;
}

static int pg_target_collapsible(void *ctx, uint32_t relid)
{
    pg_target_t *pt = ctx;
    pg_target_rel_t *r = pg_target_find_rel(pt, relid);
    return r != NULL && r->collapsible && r->trel == NULL && !r->skip && r->unusable == NULL;
}

/*
 * Every sink operation ends here: after a failure, the statement that failed
 * may be a transformed row whose values were kept; the pipeline is aborted
 * and its mappings are evaluated one by one to name the failing column.
 */
static err_t pg_target_failed(pg_target_t *pt, err_t err, char *errbuf, size_t errsize)
{
    void (*explain)(PGconn * conn, void *diag, char *errbuf, size_t errsize) = NULL;
    void *diag = err != ERR_OK ? pg_pipe_take_failed(pt->pipe, &explain) : NULL;
    if (diag != NULL) {
        pg_pipe_abort(pt->pipe);
        explain(pt->conn, diag, errbuf, errsize);
    }
    return err;
}

static err_t pg_target_op_rows(void *ctx, const sink_row_t *rows, int n, char *errbuf,
                               size_t errsize)
{
    return pg_target_failed(ctx, pg_target_rows(ctx, rows, n, errbuf, errsize), errbuf, errsize);
}

static err_t pg_target_op_row(void *ctx, const sink_row_t *row, char *errbuf, size_t errsize)
{
    return pg_target_failed(ctx, pg_target_row(ctx, row, errbuf, errsize), errbuf, errsize);
}

static err_t pg_target_op_begin(void *ctx, char *errbuf, size_t errsize)
{
    return pg_target_failed(ctx, pg_target_begin(ctx, errbuf, errsize), errbuf, errsize);
}

static err_t pg_target_op_relation(void *ctx, const change_relation_t *rel, lsn_t lsn, char *errbuf,
                                   size_t errsize)
{
    return pg_target_failed(ctx, pg_target_relation(ctx, rel, lsn, errbuf, errsize), errbuf,
                            errsize);
}

static err_t pg_target_op_truncate(void *ctx, const change_relation_t *const *rels, int nrels,
                                   uint8_t options, lsn_t lsn, char *errbuf, size_t errsize)
{
    err_t err = pg_target_truncate(ctx, rels, nrels, options, lsn, errbuf, errsize);
    return pg_target_failed(ctx, err, errbuf, errsize);
}

static err_t pg_target_op_commit(void *ctx, const sink_position_t *pos, char *errbuf,
                                 size_t errsize)
{
    return pg_target_failed(ctx, pg_target_commit(ctx, pos, errbuf, errsize), errbuf, errsize);
}

static err_t pg_target_op_commit_async(void *ctx, const sink_position_t *pos, char *errbuf,
                                       size_t errsize)
{
    return pg_target_failed(ctx, pg_target_commit_async(ctx, pos, errbuf, errsize), errbuf,
                            errsize);
}

static err_t pg_target_op_durable(void *ctx, lsn_t *lsn, char *errbuf, size_t errsize)
{
    return pg_target_failed(ctx, pg_target_durable(ctx, lsn, errbuf, errsize), errbuf, errsize);
}

static err_t pg_target_op_drain(void *ctx, char *errbuf, size_t errsize)
{
    return pg_target_failed(ctx, pg_target_drain(ctx, errbuf, errsize), errbuf, errsize);
}

static err_t pg_target_op_advance(void *ctx, lsn_t lsn, char *errbuf, size_t errsize)
{
    return pg_target_failed(ctx, pg_target_advance(ctx, lsn, errbuf, errsize), errbuf, errsize);
}

static err_t pg_target_op_offsets(void *ctx, const char *topic, sink_offset_t **offsets, int *n,
                                  char *errbuf, size_t errsize)
{
    return pg_target_read_offsets(ctx, topic, offsets, n, errbuf, errsize);
}

static const sink_ops_t pg_target_ops = {
    .collapsible = pg_target_collapsible,
    .rows = pg_target_op_rows,
    .relation = pg_target_op_relation,
    .type = pg_target_type,
    .begin = pg_target_op_begin,
    .row = pg_target_op_row,
    .truncate = pg_target_op_truncate,
    .commit = pg_target_op_commit,
    .commit_async = pg_target_op_commit_async,
    .durable = pg_target_op_durable,
    .drain = pg_target_op_drain,
    .rollback = pg_target_rollback,
    .advance = pg_target_op_advance,
    .offsets = pg_target_op_offsets,
    .on_wait = pg_target_on_wait,
};

sink_t pg_target_sink(pg_target_t *pt)
{
    sink_t s = {.ops = &pg_target_ops, .ctx = pt};
    return s;
}

int pg_target_server_version(const pg_target_t *pt)
{
    return PQserverVersion(pt->conn);
}
