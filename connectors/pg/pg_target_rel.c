/*
 * pg_target_rel: what the applier knows of one source relation on the
 * target (its table, quoted columns, types, equality, whether changes may be
 * collapsed) and the catalogue queries that find it out. Sends no row.
 */
#include "pg/pg_target_rel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/route.h"
#include "pg/pg_conn.h"
#include "pg/pg_identity.h"

void pg_target_rel_stmts_free(pg_target_stmt_t *s)
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

void pg_target_rel_free(pg_target_rel_t *r)
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
    free(r->always);
    change_relation_free(r->rel);
    free(r->unusable);
    free(r->display);
    free(r->target);
    pg_target_rel_stmts_free(r->stmts);
    pg_target_transform_free(r->trel, NULL);
    free(r);
}

pg_target_rel_t *pg_target_rel_find(pg_target_rel_t *list, uint32_t relid)
{
    for (pg_target_rel_t *r = list; r != NULL; r = r->next) {
        if (r->relid == relid)
            return r;
    }
    return NULL;
}

/* Drops what the applier knew of relid, server-side statements included.
 * Called outside pipeline mode. */
void pg_target_rel_forget(pg_target_rel_t **list, PGconn *conn, uint32_t relid)
{
    for (pg_target_rel_t **p = list; *p != NULL; p = &(*p)->next) {
        if ((*p)->relid == relid) {
            pg_target_rel_t *r = *p;
            *p = r->next;
            for (pg_target_stmt_t *st = r->stmts; st != NULL; st = st->next) {
                char sql[64];
                snprintf(sql, sizeof(sql), "DEALLOCATE %s", st->name);
                PQclear(pg_conn_query(conn, sql, 0, NULL));
            }
            pg_target_transform_free(r->trel, conn);
            r->trel = NULL;
            pg_target_rel_free(r);
            return;
        }
    }
}

/*
 * Target columns: name, generated, the unlimited form of the type ("bit" and
 * "character" without a length would mean bit(1) and char(1)), and its
 * PG_TARGET_REL_EQ_*. A type (or a domain's base type) has equality when it has
 * a default btree or hash operator class, directly, as an enum or through a
 * binary-coercible cast: what the type cache offers native replication.
 * Arrays, composites and ranges answer none (their equality depends on their
 * elements) and are compared exactly by output text. Equality is exact for
 * a list of built-in types whose equal values print the same (under a
 * deterministic collation); numeric, float, interval, jsonb, citext... are
 * loose.
 */
#define PG_TARGET_REL_COLUMNS_SQL                                                                  \
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
static err_t pg_target_rel_check_columns(PGconn *conn, pg_target_rel_t *r, const char *tdisplay,
                                         lsn_t lsn, char *errbuf, size_t errsize)
{
    const char *params[1] = {r->target};
    PGresult *res = pg_conn_execp(conn, PG_TARGET_REL_COLUMNS_SQL, 1, params, PGRES_TUPLES_OK,
                                  "target", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(conn);
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

pg_target_rel_t *pg_target_rel_new(PGconn *conn, const change_relation_t *rel)
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
        r->qcols[i] = PQescapeIdentifier(conn, rel->cols[i].name, strlen(rel->cols[i].name));
        if (r->qcols[i] == NULL) {
            pg_target_rel_free(r);
            return NULL;
        }
    }
    return r;
}

/* The boolean a one-row catalogue query answers about r's target table
 * ($1; $2 = arg when not NULL), or otherwise when the query fails. */
static int pg_target_rel_ask(PGconn *conn, const pg_target_rel_t *r, const char *sql,
                             const char *arg, int otherwise)
{
    const char *p[2] = {r->target, arg};
    PGresult *res = pg_conn_query(conn, sql, arg != NULL ? 2 : 1, p);
    int yes = PQresultStatus(res) == PGRES_TUPLES_OK ? PQgetvalue(res, 0, 0)[0] == 't' : otherwise;
    PQclear(res);
    return yes;
}

/* True when the target table has no unique index, no exclusion constraint
 * and no trigger that fires under the replica role. */
static int pg_target_rel_no_constraints(PGconn *conn, const pg_target_rel_t *r)
{
    return pg_target_rel_ask(
        conn, r,
        "SELECT NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = $1::regclass AND indisunique) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND contype = "
        "'x') AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT "
        "tgisinternal AND tgenabled IN ('A', 'R'))",
        NULL, 0);
}

/* Merging changes per row reorders rows of a table and hides intermediate
 * states. Safe when nothing can see either: no trigger fires (replica role,
 * no ENABLE ALWAYS/REPLICA trigger), the only unique constraint is a primary
 * key on exactly the source's key columns, and no exclusion constraint. A
 * table without key or with REPLICA IDENTITY FULL needs no unique constraint
 * at all: collapse then only gathers its inserts (src/core/collapse.c). */
static int pg_target_rel_can_collapse(PGconn *conn, const pg_target_rel_t *r, int replica_role)
{
    int nkey = 0;
    for (int c = 0; c < r->rel->ncols; c++)
        nkey += r->rel->cols[c].is_key;
    if (!replica_role)
        return 0;
    /* no key (insert-only) or FULL (collapse buffers only the inserts): the
     * inserts commute when nothing is unique */
    if (nkey == 0 || r->full)
        return pg_target_rel_no_constraints(conn, r);
    const char *p[1] = {r->target};
    PGresult *res = pg_conn_query(
        conn,
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
static int pg_target_rel_trigger_skips(PGconn *conn, const pg_target_rel_t *r, int replica_role)
{
    return pg_target_rel_ask(
        conn, r,
        "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE (tgrelid = $1::regclass OR "
        "tgrelid IN (SELECT relid FROM pg_partition_tree($1::regclass))) AND NOT "
        "tgisinternal AND tgenabled = ANY ($2::\"char\"[]) AND tgtype & 3 = 3 AND "
        "tgtype & 24 <> 0)",
        replica_role ? "{A,R}" : "{A,O}", 1);
}

/* Keeps errbuf's message as the reason r cannot be applied (see unusable). */
static err_t pg_target_rel_set_unusable(pg_target_rel_t *r, char *errbuf, size_t errsize)
{
    r->unusable = strdup(errbuf);
    errbuf[0] = '\0';
    if (r->unusable != NULL)
        return ERR_OK;
    snprintf(errbuf, errsize, "out of memory");
    return ERR_RUNTIME;
}

/* ERR_SCHEMA when a change of r arrives that it cannot take, naming its LSN. */
err_t pg_target_rel_usable(const pg_target_rel_t *r, lsn_t lsn, char *errbuf, size_t errsize)
{
    if (r->unusable == NULL)
        return ERR_OK;
    char l[LSN_STRLEN];
    snprintf(errbuf, errsize, "%s; a change of it arrived (lsn=%s)", r->unusable,
             lsn_format(lsn, l, sizeof(l)));
    return ERR_SCHEMA;
}

err_t pg_target_rel_describe(PGconn *conn, const config_t *cfg, pg_target_transform_types_t *types,
                             int replica_role, pg_target_rel_t *r, lsn_t lsn, char *errbuf,
                             size_t errsize)
{
    const char *ts, *tn;
    route_result_t route = route_target(cfg, r->rel->nspname, r->rel->relname, &ts, &tn);
    r->skip = route == ROUTE_SKIP;
    if (route == ROUTE_UNLISTED) {
        snprintf(errbuf, errsize,
                 "source table %s is published but not listed in tables (add it, or an entry "
                 "with \"skip\": true)",
                 r->display);
        return pg_target_rel_set_unusable(r, errbuf, errsize);
    }
    if (r->skip)
        return ERR_OK;
    r->target = pg_conn_qualified(conn, ts, tn);
    if (r->target == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    int exists = pg_conn_table_exists(conn, r->target, errbuf, errsize);
    if (exists < 0)
        return pg_conn_classify(conn);
    char tdisplay[512];
    snprintf(tdisplay, sizeof(tdisplay), "%s.%s", ts, tn);
    if (!exists) {
        snprintf(errbuf, errsize, "target table %s does not exist (source table %s)", tdisplay,
                 r->display);
        return pg_target_rel_set_unusable(r, errbuf, errsize);
    }
    const config_table_t *entry = config_find_table(cfg, r->rel->nspname, r->rel->relname);
    err_t err = pg_target_transform_new(conn, entry, r->rel, r->target, r->display, types, &r->trel,
                                        errbuf, errsize);
    if (err == ERR_RUNTIME)
        err = pg_conn_classify(conn); /* a lost connection is worth a retry */
    if (err == ERR_OK && r->trel != NULL)
        pg_target_transform_trigger_skips(r->trel,
                                          pg_target_rel_trigger_skips(conn, r, replica_role));
    if (err != ERR_OK || r->trel != NULL) {
        if (err != ERR_OK && lsn != 0) {
            char l[LSN_STRLEN];
            size_t n = strlen(errbuf);
            snprintf(errbuf + n, n < errsize ? errsize - n : 0, " (lsn=%s)",
                     lsn_format(lsn, l, sizeof(l)));
        }
        return err;
    }
    err = pg_target_rel_check_columns(conn, r, tdisplay, lsn, errbuf, errsize);
    if (err == ERR_OK &&
        pg_identity_load(conn, r->target, r->rel, &r->always, errbuf, errsize) != ERR_OK)
        err = pg_conn_classify(conn);
    if (err == ERR_OK) {
        r->collapsible = pg_target_rel_can_collapse(conn, r, replica_role);
        /* COPY takes no rules (INSERT would run them; native replication does not
         * either, but the applier's INSERT path does) and no views */
        r->copyable =
            r->collapsible && pg_target_rel_ask(conn, r,
                                                "SELECT relkind IN ('r', 'p') AND NOT relhasrules "
                                                "FROM pg_class WHERE oid = $1::regclass",
                                                NULL, 0);
        r->trigger_skips = pg_target_rel_trigger_skips(conn, r, replica_role);
    }
    return err;
}
