/*
 * pg_target_sql: the text of the applier's statements: INSERT, UPDATE and
 * DELETE of one row per prepared-statement shape, and the multi-row forms of
 * collapsible tables. Builds strings only; sends nothing.
 */
#include "pg/pg_target_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sbuf.h"
#include "pg/pg_bulk_sql.h"
#include "pg/pg_large.h"
#include "pg/pg_rowcheck.h"

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
        if (r->full && r->teq[c] == PG_TARGET_REL_EQ_NONE) {
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
        if (r->teq[c] != PG_TARGET_REL_EQ_LOOSE)
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

/* Column col's value staged by pg_large, read back as the target column's type. */
static void pg_target_sql_staged(sbuf_t *s, const pg_target_rel_t *r, int col)
{
    char i[16];
    snprintf(i, sizeof(i), "%d", col);
    sbuf_add(s, "(SELECT v FROM " PG_LARGE_TABLE " WHERE i = ");
    sbuf_add(s, i);
    sbuf_add(s, ")::");
    sbuf_add(s, r->ttypes[col]);
}

/* The columns the new tuple carries (st->shape), comma-separated: their
 * names, a new parameter each (or a staged value: PG_LARGE_SHAPE), or both
 * as "name = $k". */
static void pg_target_sql_columns(sbuf_t *s, const pg_target_rel_t *r, pg_target_stmt_t *st,
                                  int names, int params)
{
    char p[16];
    for (int c = 0, n = 0; c < r->rel->ncols; c++) {
        char has = st->shape[c + 1];
        if (has != '1' && has != PG_LARGE_SHAPE)
            continue;
        sbuf_add(s, n++ ? ", " : "");
        sbuf_add(s, names ? r->qcols[c] : "");
        sbuf_add(s, names && params ? " = " : "");
        if (params && has == PG_LARGE_SHAPE) {
            pg_target_sql_staged(s, r, c);
        } else if (params) {
            pg_target_sql_param(st, c, 0, p, sizeof(p));
            sbuf_add(s, p);
        }
    }
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
    pg_target_sql_columns(s, r, st, 1, 0);
    /* the source's values win, also over GENERATED ALWAYS identity columns */
    sbuf_add(s, ") OVERRIDING SYSTEM VALUE VALUES (");
    pg_target_sql_columns(s, r, st, 0, 1);
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
    pg_target_sql_columns(s, r, st, 1, 1);
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
static char *pg_target_sql_checked(const pg_target_rel_t *r, const sbuf_t *s, const sbuf_t *where,
                                   int skips_missing)
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
        sql = pg_rowcheck_wrap(s->s, 1, exists.s, skips_missing);
    free(exists.s);
    return sql;
}

/*
 * Shape of a row change: op letter ('I', 'U' new-tuple key, 'u' old-tuple
 * key, 'D') then per column '1' when the new tuple carries a value for it.
 */
void pg_target_sql_shape(const change_row_t *row, char *shape)
{
    int ncols = row->rel->ncols;
    shape[0] = (char)row->op;
    if (row->op == CHANGE_UPDATE && row->old_kind != 0)
        shape[0] = 'u';
    for (int c = 0; c < ncols; c++) {
        int has = row->new_tuple && c < row->new_tuple->ncols &&
                  row->new_tuple->values[c].kind != CHANGE_UNCHANGED;
        shape[c + 1] = has ? '1' : '0';
    }
    shape[ncols + 1] = '\0';
}

char *pg_target_sql_stmt(const pg_target_rel_t *r, pg_target_stmt_t *st, int skips_missing)
{
    sbuf_t s = {0}, where = {0};
    if (st->shape[0] == 'I')
        pg_target_sql_insert(&s, r, st);
    else if (st->shape[0] == 'D')
        pg_target_sql_delete(&s, r, st, &where);
    else
        pg_target_sql_update(&s, r, st, &where);
    char *sql =
        st->shape[0] == 'I' ? sbuf_take(&s) : pg_target_sql_checked(r, &s, &where, skips_missing);
    free(s.s);
    free(where.s);
    return sql;
}

char *pg_target_sql_bulk(const pg_target_rel_t *r, char op, const char *present, int m,
                         int skips_missing)
{
    pg_bulk_sql_rel_t b = {
        .rel = r->rel, .target = r->target, .qcols = r->qcols, .types = r->ttypes};
    char *sql = pg_bulk_sql(&b, op, present, m);
    if (sql != NULL && op != 'I') { /* no trigger here: collapsible tables have none */
        char *checked = pg_rowcheck_wrap(sql, m, NULL, skips_missing);
        free(sql);
        sql = checked;
    }
    return sql;
}
