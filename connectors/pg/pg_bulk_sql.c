/*
 * pg_bulk_sql: text of set-based statements. Parameters are numbered row by
 * row in the order pg_bulk_sql_columns gives; VALUES entries carry explicit
 * casts to the target's column types (without typmod, so that a cast never
 * truncates: length and precision are then checked by the assignment, as in
 * the single-row statements).
 */
#include "pg/pg_bulk_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sbuf.h"

int pg_bulk_sql_columns(const pg_bulk_sql_rel_t *b, char op, const char *present, int *cols)
{
    int n = 0;
    const change_relation_t *rel = b->rel;
    for (int c = 0; c < rel->ncols; c++) {
        if (op == 'I' ? present[c] != 0 : rel->cols[c].is_key)
            cols[n++] = c;
    }
    for (int c = 0; op == 'U' && c < rel->ncols; c++) {
        if (!rel->cols[c].is_key && present[c])
            cols[n++] = c;
    }
    return n;
}

/* ($k::type, ...) rows of VALUES; casts only where asked (typed). */
static void pg_bulk_sql_values(sbuf_t *sb, const pg_bulk_sql_rel_t *b, const int *cols, int per_row,
                               int nrows, int typed)
{
    char p[24];
    int k = 1;
    for (int r = 0; r < nrows; r++) {
        sbuf_add(sb, r ? ", (" : "(");
        for (int i = 0; i < per_row; i++, k++) {
            snprintf(p, sizeof(p), "%s$%d", i ? ", " : "", k);
            sbuf_add(sb, p);
            if (typed) {
                sbuf_add(sb, "::");
                sbuf_add(sb, b->types[cols[i]]);
            }
        }
        sbuf_add(sb, ")");
    }
}

/* v(c0, c1, ...) names for the VALUES columns. */
static void pg_bulk_sql_alias(sbuf_t *sb, int per_row)
{
    char p[24];
    sbuf_add(sb, " AS v(");
    for (int i = 0; i < per_row; i++) {
        snprintf(p, sizeof(p), "%sc%d", i ? ", " : "", i);
        sbuf_add(sb, p);
    }
    sbuf_add(sb, ")");
}

/* t."k1" = v.c0 AND ... over the first nkey VALUES columns. */
static void pg_bulk_sql_key_join(sbuf_t *sb, const pg_bulk_sql_rel_t *b, const int *cols, int nkey)
{
    char p[24];
    for (int i = 0; i < nkey; i++) {
        sbuf_add(sb, i ? " AND t." : "t.");
        sbuf_add(sb, b->qcols[cols[i]]);
        snprintf(p, sizeof(p), " = v.c%d", i);
        sbuf_add(sb, p);
    }
}

static int pg_bulk_sql_nkey(const change_relation_t *rel)
{
    int n = 0;
    for (int c = 0; c < rel->ncols; c++)
        n += rel->cols[c].is_key;
    return n;
}

static void pg_bulk_sql_insert(sbuf_t *sb, const pg_bulk_sql_rel_t *b, const int *cols, int n,
                               int nrows)
{
    sbuf_add(sb, "INSERT INTO ");
    sbuf_add(sb, b->target);
    if (n == 0) { /* a table without columns: nrows empty rows */
        char p[48];
        snprintf(p, sizeof(p), " SELECT FROM generate_series(1, %d)", nrows);
        sbuf_add(sb, p);
        return;
    }
    sbuf_add(sb, " (");
    for (int i = 0; i < n; i++) {
        sbuf_add(sb, i ? ", " : "");
        sbuf_add(sb, b->qcols[cols[i]]);
    }
    sbuf_add(sb, ") OVERRIDING SYSTEM VALUE VALUES ");
    pg_bulk_sql_values(sb, b, cols, n, nrows, 1);
}

/* (VALUES ...) AS v(c0, ...) WHERE the first nkey of cols match t's. */
static void pg_bulk_sql_values_where(sbuf_t *sb, const pg_bulk_sql_rel_t *b, const int *cols, int n,
                                     int nrows, int nkey)
{
    sbuf_add(sb, "(VALUES ");
    pg_bulk_sql_values(sb, b, cols, n, nrows, 1);
    sbuf_add(sb, ")");
    pg_bulk_sql_alias(sb, n);
    sbuf_add(sb, " WHERE ");
    pg_bulk_sql_key_join(sb, b, cols, nkey);
}

static void pg_bulk_sql_delete(sbuf_t *sb, const pg_bulk_sql_rel_t *b, const int *cols, int n,
                               int nrows)
{
    sbuf_add(sb, "DELETE FROM ");
    sbuf_add(sb, b->target);
    sbuf_add(sb, " AS t USING ");
    pg_bulk_sql_values_where(sb, b, cols, n, nrows, n);
}

static void pg_bulk_sql_update(sbuf_t *sb, const pg_bulk_sql_rel_t *b, const int *cols, int n,
                               int nrows)
{
    char p[24];
    int nkey = pg_bulk_sql_nkey(b->rel);
    sbuf_add(sb, "UPDATE ");
    sbuf_add(sb, b->target);
    sbuf_add(sb, " AS t SET ");
    if (n > nkey) {
        for (int i = nkey; i < n; i++) {
            sbuf_add(sb, i > nkey ? ", " : "");
            sbuf_add(sb, b->qcols[cols[i]]);
            snprintf(p, sizeof(p), " = v.c%d", i);
            sbuf_add(sb, p);
        }
    } else { /* only the key is present: a no-op assignment keeps the statement valid */
        sbuf_add(sb, b->qcols[cols[0]]);
        sbuf_add(sb, " = v.c0");
    }
    sbuf_add(sb, " FROM ");
    pg_bulk_sql_values_where(sb, b, cols, n, nrows, nkey);
}

char *pg_bulk_sql(const pg_bulk_sql_rel_t *b, char op, const char *present, int nrows)
{
    int *cols = calloc((size_t)b->rel->ncols * 2 + 1, sizeof(int));
    sbuf_t sb = {0};
    if (cols == NULL)
        return NULL;
    int n = pg_bulk_sql_columns(b, op, present, cols);
    if (op == 'I')
        pg_bulk_sql_insert(&sb, b, cols, n, nrows);
    else if (op == 'D')
        pg_bulk_sql_delete(&sb, b, cols, n, nrows);
    else
        pg_bulk_sql_update(&sb, b, cols, n, nrows);
    free(cols);
    return sbuf_take(&sb);
}
