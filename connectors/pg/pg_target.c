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
#include "pg/pg_bulk.h"
#include "pg/pg_pipe.h"
#include "pg/pg_trel.h"
#include "core/route.h"
#include "core/sbuf.h"

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

/* What the applier knows about one source relation. */
typedef struct pg_target_rel {
    uint32_t relid;
    change_relation_t *rel; /* owned copy */
    char *display;          /* source "schema.name", for messages */
    char *target;           /* quoted target "schema"."name" */
    char **qcols;           /* quoted target column per source column */
    char **ttypes;          /* target type (no typmod) per source column, for pg_bulk */
    int skip;
    int full;        /* REPLICA IDENTITY FULL: match all columns, one row at a time */
    pg_trel_t *trel; /* set for a transformed table (columns/exclude/where) */
    int collapsible; /* changes to one row may be merged (see pg_target_collapsible) */
    pg_target_stmt_t *stmts;
    struct pg_target_rel *next;
} pg_target_rel_t;

struct pg_target {
    const config_t *cfg;
    PGconn *conn;
    pg_pipe_t *pipe;
    pg_target_rel_t *rels;
    int stmt_counter;
    pg_trel_types_t types; /* user-defined source types seen on the stream */
    int replica_role;      /* session_replication_role = replica is in force */
    int progress_prepared;
    int offsets_prepared;
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
    change_relation_free(r->rel);
    free(r->display);
    free(r->target);
    pg_target_stmts_free(r->stmts);
    pg_trel_free(r->trel, NULL);
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
    pg_trel_types_clear(&pt->types);
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
        " PRIMARY KEY (name, topic, partition))";
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
            pg_trel_free(r->trel, pt->conn);
            r->trel = NULL;
            pg_target_rel_free(r);
            return;
        }
    }
}

/* Checks every source column against the target's columns. */
static err_t pg_target_check_columns(pg_target_t *pt, pg_target_rel_t *r, const char *tdisplay,
                                     lsn_t lsn, char *errbuf, size_t errsize)
{
    const char *params[1] = {r->target};
    PGresult *res = pg_conn_execp(pt->conn,
                                  "SELECT attname, attgenerated <> '', "
                                  /* the unlimited form of each type: "bit" and "character"
                                   * without a length would mean bit(1) and char(1) */
                                  "CASE atttypid WHEN 'bpchar'::regtype THEN 'bpchar' "
                                  "WHEN '_bpchar'::regtype THEN 'bpchar[]' "
                                  "WHEN 'bit'::regtype THEN 'bit varying' "
                                  "WHEN '_bit'::regtype THEN 'bit varying[]' "
                                  "ELSE format_type(atttypid, NULL) END FROM pg_attribute "
                                  "WHERE attrelid = $1::regclass AND attnum > 0 "
                                  "AND NOT attisdropped",
                                  1, params, PGRES_TUPLES_OK, "target", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(pt->conn);
    err_t err = ERR_OK;
    for (int c = 0; c < r->rel->ncols && err == ERR_OK; c++) {
        int found = 0, generated = 0;
        for (int i = 0; i < PQntuples(res) && !found; i++) {
            found = strcmp(PQgetvalue(res, i, 0), r->rel->cols[c].name) == 0;
            generated = found && PQgetvalue(res, i, 1)[0] == 't';
            if (found && r->ttypes != NULL && r->ttypes[c] == NULL)
                r->ttypes[c] = strdup(PQgetvalue(res, i, 2));
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
    if (r->rel == NULL || r->display == NULL || r->qcols == NULL || r->ttypes == NULL) {
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
        return ERR_SCHEMA;
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
        char l[LSN_STRLEN];
        snprintf(errbuf, errsize, "target table %s does not exist (source table %s, lsn=%s)",
                 tdisplay, r->display, lsn_format(lsn, l, sizeof(l)));
        return ERR_SCHEMA;
    }
    const config_table_t *entry = config_find_table(pt->cfg, r->rel->nspname, r->rel->relname);
    err_t err = pg_trel_new(pt->conn, entry, r->rel, r->target, r->display, &pt->types, &r->trel,
                            errbuf, errsize);
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
    if (err == ERR_OK)
        r->collapsible = pg_target_can_collapse(pt, r);
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

static void pg_target_sql_param(sbuf_t *s, pg_target_stmt_t *st, int col, int old)
{
    char p[16];
    st->param_col[st->nparams] = col;
    st->param_old[st->nparams] = old;
    snprintf(p, sizeof(p), "$%d", ++st->nparams);
    sbuf_add(s, p);
}

/* WHERE clause locating the row by its identity columns. */
static void pg_target_sql_where(sbuf_t *s, const pg_target_rel_t *r, pg_target_stmt_t *st, int old)
{
    int first = 1;
    for (int c = 0; c < r->rel->ncols; c++) {
        if (!r->rel->cols[c].is_key)
            continue;
        /* Under FULL identity every column is compared by its text form: equality
         * operators may be missing (json, point) or too loose (numeric 4.0 = 4.00
         * would pick the wrong one of two rows). Both sessions print values with
         * the same settings, so equal text means the same value. */
        int as_text = r->full;
        sbuf_add(s, first ? "" : " AND ");
        sbuf_add(s, r->qcols[c]);
        sbuf_add(s, as_text ? "::text" : "");
        sbuf_add(s, r->full ? " IS NOT DISTINCT FROM " : " = ");
        pg_target_sql_param(s, st, c, old);
        sbuf_add(s, as_text ? "::text" : "");
        first = 0;
    }
}

static void pg_target_sql_insert(sbuf_t *s, const pg_target_rel_t *r, pg_target_stmt_t *st)
{
    sbuf_add(s, "INSERT INTO ");
    sbuf_add(s, r->target);
    sbuf_add(s, " (");
    int n = 0;
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
            pg_target_sql_param(s, st, c, 0);
        }
    }
    sbuf_add(s, ")");
}

/* Under FULL identity duplicates are possible: touch exactly one row. */
static void pg_target_sql_locate(sbuf_t *s, const pg_target_rel_t *r, pg_target_stmt_t *st, int old)
{
    sbuf_add(s, " WHERE ");
    if (r->full) {
        sbuf_add(s, "(tableoid, ctid) = (SELECT tableoid, ctid FROM ");
        sbuf_add(s, r->target);
        sbuf_add(s, " WHERE ");
    }
    pg_target_sql_where(s, r, st, old);
    if (r->full)
        sbuf_add(s, " LIMIT 1)");
}

static void pg_target_sql_update(sbuf_t *s, const pg_target_rel_t *r, pg_target_stmt_t *st)
{
    sbuf_add(s, "UPDATE ");
    sbuf_add(s, r->target);
    sbuf_add(s, " SET ");
    int n = 0;
    for (int c = 0; c < r->rel->ncols; c++) {
        if (st->shape[c + 1] == '1') {
            sbuf_add(s, n++ ? ", " : "");
            sbuf_add(s, r->qcols[c]);
            sbuf_add(s, " = ");
            pg_target_sql_param(s, st, c, 0);
        }
    }
    pg_target_sql_locate(s, r, st, st->shape[0] == 'u');
}

static void pg_target_sql_delete(sbuf_t *s, const pg_target_rel_t *r, pg_target_stmt_t *st)
{
    sbuf_add(s, "DELETE FROM ");
    sbuf_add(s, r->target);
    pg_target_sql_locate(s, r, st, 1);
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
    if (shape[0] == 'I')
        pg_target_sql_insert(&s, r, st);
    else if (shape[0] == 'D')
        pg_target_sql_delete(&s, r, st);
    else
        pg_target_sql_update(&s, r, st);
    pg_pipe_tag_t tag = {.table = r->display};
    *err = s.oom ? ERR_RUNTIME : pg_pipe_prepare(pt->pipe, st->name, s.s, &tag, errbuf, errsize);
    free(s.s);
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
    if (r->trel != NULL)
        return pg_trel_apply(r->trel, pt->pipe, &pt->stmt_counter, row, errbuf, errsize);
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
        err = pg_pipe_prepare(
            pt->pipe, PG_TARGET_PROGRESS_STMT,
            "UPDATE syncline.progress SET applied_lsn = $2::pg_lsn, updated_at = now(), "
            "source_commit_time = CASE WHEN $3::bigint = 0 THEN source_commit_time ELSE "
            "'2000-01-01 00:00:00+00'::timestamptz + $3::bigint * interval '1 microsecond' END "
            "WHERE name = $1",
            &tag, errbuf, errsize);
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
    if (pg_trel_types_put(&pt->types, pt->conn, oid, nspname, typname) != 0) {
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

/* Binds the chunk's rows in pg_bulk_columns order; text values get a NUL. */
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
    pg_bulk_rel_t b = {.rel = r->rel, .target = r->target, .qcols = r->qcols, .types = r->ttypes};
    char *sql = pg_bulk_sql(&b, op, present, m);
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
    pg_pipe_tag_t tag = {.op = op,
                         .check_rows = op != 'I',
                         .expect_rows = m,
                         .table = r->display,
                         .lsn = rows[m - 1].lsn};
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
    pg_bulk_rel_t b = {.rel = r->rel, .target = r->target, .qcols = r->qcols, .types = r->ttypes};
    int per_row = pg_bulk_columns(&b, op, present, cols);
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
    return r != NULL && r->collapsible && r->trel == NULL && !r->skip;
}

/*
 * Every sink operation ends here: after a failure, the statement that failed
 * may be a transformed row whose values were kept; the pipeline is aborted
 * and its mappings are evaluated one by one to name the failing column.
 */
static err_t pg_target_failed(pg_target_t *pt, err_t err, char *errbuf, size_t errsize)
{
    void *diag = err != ERR_OK ? pg_pipe_take_failed(pt->pipe) : NULL;
    if (diag != NULL) {
        pg_pipe_abort(pt->pipe);
        pg_trel_explain(pt->conn, diag, errbuf, errsize);
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
