/*
 * pg_transform_sql: statement text for transformed tables.
 *
 * Every expression is written as "(" expr ")" over a derived table
 * (SELECT $1::type AS "col", ...) AS s, so unqualified names resolve to the
 * source columns first. transform_expr_ok has already made sure an
 * expression cannot close its parenthesis or the statement. A filtered
 * table's UPDATE is one statement: a data-modifying CTE deletes the old row
 * unless the new one still qualifies under the same key, and an upsert
 * writes the new row when it qualifies, so rows move in and out of the
 * filter atomically.
 */
#include "pg/pg_transform_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sbuf.h"
#include "pg/pg_rowcheck.h"

/* (SELECT $k::type AS "c", ...) with parameters numbered from first. */
static void pg_transform_sql_values(sbuf_t *b, const pg_transform_sql_rel_t *r, int first)
{
    char p[24];
    sbuf_add(b, "SELECT ");
    for (int i = 0; i < r->nsrc; i++) {
        snprintf(p, sizeof(p), "%s$%d::", i ? ", " : "", first + i);
        sbuf_add(b, p);
        sbuf_add(b, r->src_type[i]);
        sbuf_add(b, " AS ");
        sbuf_add(b, r->src_q[i]);
    }
}

static void pg_transform_sql_expr(sbuf_t *b, const pg_transform_sql_rel_t *r, int c)
{
    const transform_col_t *col = &r->plan->cols[c];
    sbuf_add(b, "(");
    sbuf_add(b, col->expr ? col->expr : r->src_q[col->src_col]);
    sbuf_add(b, ")");
}

/* Target column names of the plan columns in list (all when list == NULL). */
static void pg_transform_sql_tcols(sbuf_t *b, const pg_transform_sql_rel_t *r, const int *list,
                                   int n, const char *prefix)
{
    for (int i = 0; i < n; i++) {
        sbuf_add(b, i ? ", " : "");
        sbuf_add(b, prefix);
        sbuf_add(b, r->tcol_q[list ? list[i] : i]);
    }
}

static void pg_transform_sql_exprs(sbuf_t *b, const pg_transform_sql_rel_t *r, const int *list,
                                   int n)
{
    for (int i = 0; i < n; i++) {
        sbuf_add(b, i ? ", " : "");
        pg_transform_sql_expr(b, r, list ? list[i] : i);
    }
}

/* ("k1", ...) = (SELECT (ek1), ... FROM <from>) */
static void pg_transform_sql_key_match(sbuf_t *b, const pg_transform_sql_rel_t *r, const char *from)
{
    sbuf_add(b, "(");
    pg_transform_sql_tcols(b, r, r->key, r->nkey, "");
    sbuf_add(b, ") = (SELECT ");
    pg_transform_sql_exprs(b, r, r->key, r->nkey);
    sbuf_add(b, " FROM ");
    sbuf_add(b, from);
    sbuf_add(b, ")");
}

static void pg_transform_sql_where(sbuf_t *b, const pg_transform_sql_rel_t *r)
{
    if (r->plan->where == NULL)
        return;
    sbuf_add(b, " WHERE (");
    sbuf_add(b, r->plan->where);
    sbuf_add(b, ")");
}

/* INSERT INTO target (columns) OVERRIDING SYSTEM VALUE SELECT expressions FROM */
static void pg_transform_sql_insert_select(sbuf_t *b, const pg_transform_sql_rel_t *r)
{
    sbuf_add(b, "INSERT INTO ");
    sbuf_add(b, r->target);
    sbuf_add(b, " (");
    pg_transform_sql_tcols(b, r, NULL, r->plan->ncols, "");
    sbuf_add(b, ") OVERRIDING SYSTEM VALUE SELECT ");
    pg_transform_sql_exprs(b, r, NULL, r->plan->ncols);
    sbuf_add(b, " FROM ");
}

static void pg_transform_sql_insert(sbuf_t *b, const pg_transform_sql_rel_t *r)
{
    pg_transform_sql_insert_select(b, r);
    sbuf_add(b, "(");
    pg_transform_sql_values(b, r, 1);
    sbuf_add(b, ") AS s");
    pg_transform_sql_where(b, r);
}

static void pg_transform_sql_delete(sbuf_t *b, const pg_transform_sql_rel_t *r)
{
    sbuf_t from = {0};
    sbuf_add(&from, "(");
    pg_transform_sql_values(&from, r, 1);
    sbuf_add(&from, ") AS s");
    sbuf_add(b, "DELETE FROM ");
    sbuf_add(b, r->target);
    sbuf_add(b, " WHERE ");
    b->oom |= from.oom;
    pg_transform_sql_key_match(b, r, from.s ? from.s : "");
    free(from.s);
}

/* UPDATE target SET (columns of list) = (SELECT their expressions FROM */
static void pg_transform_sql_update_set(sbuf_t *b, const pg_transform_sql_rel_t *r, const int *list,
                                        int n)
{
    sbuf_add(b, "UPDATE ");
    sbuf_add(b, r->target);
    sbuf_add(b, " SET (");
    pg_transform_sql_tcols(b, r, list, n, "");
    sbuf_add(b, ") = (SELECT ");
    pg_transform_sql_exprs(b, r, list, n);
    sbuf_add(b, " FROM ");
}

/* The plan columns set in mask, *n of them, as a malloc'd list (caller frees);
 * NULL with b->oom set when out of memory. */
static int *pg_transform_sql_masked(sbuf_t *b, const pg_transform_sql_rel_t *r, const uint8_t *mask,
                                    int *n)
{
    int *list = calloc((size_t)r->plan->ncols + 1, sizeof(int));
    *n = 0;
    if (list == NULL) {
        b->oom = 1;
        return NULL;
    }
    for (int c = 0; c < r->plan->ncols; c++) {
        if (mask[c])
            list[(*n)++] = c;
    }
    return list;
}

static void pg_transform_sql_update(sbuf_t *b, const pg_transform_sql_rel_t *r, const uint8_t *mask)
{
    int n;
    int *list = pg_transform_sql_masked(b, r, mask, &n);
    if (list == NULL)
        return;
    sbuf_t from = {0};
    sbuf_add(&from, "(");
    pg_transform_sql_values(&from, r, r->nsrc + 1);
    sbuf_add(&from, ") AS s");
    pg_transform_sql_update_set(b, r, list, n);
    sbuf_add(b, "(");
    pg_transform_sql_values(b, r, 1);
    sbuf_add(b, ") AS s) WHERE ");
    b->oom |= from.oom;
    pg_transform_sql_key_match(b, r, from.s ? from.s : "");
    free(from.s);
    free(list);
}

/* The plan columns that are not part of the key. */
static int pg_transform_sql_nonkey(const pg_transform_sql_rel_t *r, int *list)
{
    int n = 0;
    for (int c = 0; c < r->plan->ncols; c++) {
        int is_key = 0;
        for (int k = 0; k < r->nkey; k++)
            is_key |= r->key[k] == c;
        if (!is_key)
            list[n++] = c;
    }
    return n;
}

static void pg_transform_sql_upsert(sbuf_t *b, const pg_transform_sql_rel_t *r)
{
    int *list = calloc((size_t)r->plan->ncols + 1, sizeof(int));
    if (list == NULL) {
        b->oom = 1;
        return;
    }
    int n = pg_transform_sql_nonkey(r, list);
    sbuf_add(b, "WITH n AS (");
    pg_transform_sql_values(b, r, 1);
    sbuf_add(b, "), o AS (");
    pg_transform_sql_values(b, r, r->nsrc + 1);
    sbuf_add(b, "), d AS (DELETE FROM ");
    sbuf_add(b, r->target);
    sbuf_add(b, " WHERE ");
    pg_transform_sql_key_match(b, r, "o");
    sbuf_add(b, " AND NOT EXISTS (SELECT 1 FROM n WHERE (");
    sbuf_add(b, r->plan->where);
    sbuf_add(b, ") AND (");
    pg_transform_sql_exprs(b, r, r->key, r->nkey);
    sbuf_add(b, ") = (SELECT ");
    pg_transform_sql_exprs(b, r, r->key, r->nkey);
    sbuf_add(b, " FROM o))) ");
    pg_transform_sql_insert_select(b, r);
    sbuf_add(b, "n");
    pg_transform_sql_where(b, r);
    sbuf_add(b, " ON CONFLICT (");
    pg_transform_sql_tcols(b, r, r->key, r->nkey, "");
    if (n == 0) {
        sbuf_add(b, ") DO NOTHING");
    } else {
        sbuf_add(b, ") DO UPDATE SET (");
        pg_transform_sql_tcols(b, r, list, n, "");
        sbuf_add(b, ") = ROW(");
        pg_transform_sql_tcols(b, r, list, n, "EXCLUDED.");
        sbuf_add(b, ")");
    }
    free(list);
}

static void pg_transform_sql_partial(sbuf_t *b, const pg_transform_sql_rel_t *r,
                                     const uint8_t *mask)
{
    int n;
    int *list = pg_transform_sql_masked(b, r, mask, &n);
    if (list == NULL)
        return;
    sbuf_add(b, "WITH n AS (");
    pg_transform_sql_values(b, r, 1);
    sbuf_add(b, "), o AS (");
    pg_transform_sql_values(b, r, r->nsrc + 1);
    sbuf_add(b, "), q AS (SELECT count(*) AS k FROM n WHERE (");
    sbuf_add(b, r->plan->where);
    sbuf_add(b, ")), d AS (DELETE FROM ");
    sbuf_add(b, r->target);
    sbuf_add(b, " WHERE ");
    pg_transform_sql_key_match(b, r, "o");
    sbuf_add(b, " AND (SELECT k FROM q) = 0), u AS (");
    pg_transform_sql_update_set(b, r, list, n);
    sbuf_add(b, "n) WHERE ");
    pg_transform_sql_key_match(b, r, "o");
    sbuf_add(b, " AND (SELECT k FROM q) = 1 RETURNING 1) ");
    sbuf_t ok = {0};
    sbuf_add(&ok, "(SELECT k FROM q) = (SELECT count(*) FROM u)");
    if (r->trigger_skips) { /* the row was there: a trigger skipped the UPDATE */
        sbuf_add(&ok, " OR EXISTS (SELECT 1 FROM ");
        sbuf_add(&ok, r->target);
        sbuf_add(&ok, " WHERE ");
        pg_transform_sql_key_match(&ok, r, "o");
        sbuf_add(&ok, ")");
    }
    b->oom |= ok.oom;
    pg_rowcheck_select(b, ok.s ? ok.s : "false", PG_ROWCHECK_PARTIAL, 0);
    free(ok.s);
    free(list);
}

char *pg_transform_sql_exists(const pg_transform_sql_rel_t *r, pg_transform_sql_op_t op)
{
    sbuf_t b = {0}, from = {0};
    sbuf_add(&from, "(");
    pg_transform_sql_values(&from, r, op == PG_TRANSFORM_SQL_DELETE ? 1 : r->nsrc + 1);
    sbuf_add(&from, ") AS s");
    sbuf_add(&b, "EXISTS (SELECT 1 FROM ");
    sbuf_add(&b, r->target);
    sbuf_add(&b, " WHERE ");
    pg_transform_sql_key_match(&b, r, from.s ? from.s : "");
    sbuf_add(&b, ")");
    b.oom |= from.oom;
    free(from.s);
    return sbuf_take(&b);
}

char *pg_transform_sql_build(const pg_transform_sql_rel_t *r, pg_transform_sql_op_t op,
                             const uint8_t *mask)
{
    sbuf_t b = {0};
    switch (op) {
    case PG_TRANSFORM_SQL_INSERT:
        pg_transform_sql_insert(&b, r);
        break;
    case PG_TRANSFORM_SQL_DELETE:
        pg_transform_sql_delete(&b, r);
        break;
    case PG_TRANSFORM_SQL_UPDATE:
        pg_transform_sql_update(&b, r, mask);
        break;
    case PG_TRANSFORM_SQL_UPSERT:
        pg_transform_sql_upsert(&b, r);
        break;
    case PG_TRANSFORM_SQL_PARTIAL:
        pg_transform_sql_partial(&b, r, mask);
        break;
    }
    return sbuf_take(&b);
}

char *pg_transform_sql_probe(const pg_transform_sql_rel_t *r, int c)
{
    sbuf_t b = {0};
    sbuf_add(&b, "SELECT (");
    if (c < 0)
        sbuf_add(&b, r->plan->where);
    else
        sbuf_add(&b, r->plan->cols[c].expr ? r->plan->cols[c].expr
                                           : r->src_q[r->plan->cols[c].src_col]);
    sbuf_add(&b, ") FROM (");
    pg_transform_sql_values(&b, r, 1);
    sbuf_add(&b, ") AS s");
    return sbuf_take(&b);
}

int pg_transform_sql_nparams(const pg_transform_sql_rel_t *r, pg_transform_sql_op_t op)
{
    return (op == PG_TRANSFORM_SQL_UPDATE || op == PG_TRANSFORM_SQL_UPSERT ||
            op == PG_TRANSFORM_SQL_PARTIAL)
               ? 2 * r->nsrc
               : r->nsrc;
}

int pg_transform_sql_copy(const transform_plan_t *plan, char *const *src_q, char *const *tcol_q,
                          const char *source, int only, char **select, char **columns)
{
    sbuf_t sel = {0}, cols = {0};
    sbuf_add(&sel, "SELECT ");
    for (int c = 0; c < plan->ncols; c++) {
        const transform_col_t *col = &plan->cols[c];
        sbuf_add(&sel, c ? ", (" : "(");
        sbuf_add(&sel, col->expr ? col->expr : src_q[col->src_col]);
        sbuf_add(&sel, ")");
        sbuf_add(&cols, c ? ", " : "");
        sbuf_add(&cols, tcol_q[c]);
    }
    sbuf_add(&sel, only ? " FROM ONLY " : " FROM ");
    sbuf_add(&sel, source);
    sbuf_add(&sel, " AS s");
    if (plan->where != NULL) {
        sbuf_add(&sel, " WHERE (");
        sbuf_add(&sel, plan->where);
        sbuf_add(&sel, ")");
    }
    if (sel.oom || cols.oom || cols.s == NULL) {
        free(sel.s);
        free(cols.s);
        return -1;
    }
    *select = sel.s;
    *columns = cols.s;
    return 0;
}
