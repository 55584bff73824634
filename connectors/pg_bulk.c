/*
 * pg_bulk: text of set-based statements. Parameters are numbered row by
 * row in the order pg_bulk_columns gives; VALUES entries carry explicit
 * casts to the target's column types (without typmod, so that a cast never
 * truncates: length and precision are then checked by the assignment, as in
 * the single-row statements).
 */
#include "pg_bulk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pg_bulk_buf {
    char *s;
    size_t len, cap;
    int oom;
} pg_bulk_buf_t;

static void pg_bulk_add(pg_bulk_buf_t *b, const char *t)
{
    size_t n = strlen(t);
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 1024) + n;
        char *s = realloc(b->s, cap);
        if (s == NULL) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, t, n + 1);
    b->len += n;
}

int pg_bulk_columns(const pg_bulk_rel_t *b, char op, const char *present, int *cols)
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
static void pg_bulk_values(pg_bulk_buf_t *sb, const pg_bulk_rel_t *b, const int *cols, int per_row,
                           int nrows, int typed)
{
    char p[24];
    int k = 1;
    for (int r = 0; r < nrows; r++) {
        pg_bulk_add(sb, r ? ", (" : "(");
        for (int i = 0; i < per_row; i++, k++) {
            snprintf(p, sizeof(p), "%s$%d", i ? ", " : "", k);
            pg_bulk_add(sb, p);
            if (typed) {
                pg_bulk_add(sb, "::");
                pg_bulk_add(sb, b->types[cols[i]]);
            }
        }
        pg_bulk_add(sb, ")");
    }
}

/* v(c0, c1, ...) names for the VALUES columns. */
static void pg_bulk_alias(pg_bulk_buf_t *sb, int per_row)
{
    char p[24];
    pg_bulk_add(sb, " AS v(");
    for (int i = 0; i < per_row; i++) {
        snprintf(p, sizeof(p), "%sc%d", i ? ", " : "", i);
        pg_bulk_add(sb, p);
    }
    pg_bulk_add(sb, ")");
}

/* t."k1" = v.c0 AND ... over the first nkey VALUES columns. */
static void pg_bulk_key_join(pg_bulk_buf_t *sb, const pg_bulk_rel_t *b, const int *cols, int nkey)
{
    char p[24];
    for (int i = 0; i < nkey; i++) {
        pg_bulk_add(sb, i ? " AND t." : "t.");
        pg_bulk_add(sb, b->qcols[cols[i]]);
        snprintf(p, sizeof(p), " = v.c%d", i);
        pg_bulk_add(sb, p);
    }
}

static int pg_bulk_nkey(const change_relation_t *rel)
{
    int n = 0;
    for (int c = 0; c < rel->ncols; c++)
        n += rel->cols[c].is_key;
    return n;
}

static void pg_bulk_insert(pg_bulk_buf_t *sb, const pg_bulk_rel_t *b, const int *cols, int n,
                           int nrows)
{
    pg_bulk_add(sb, "INSERT INTO ");
    pg_bulk_add(sb, b->target);
    pg_bulk_add(sb, " (");
    for (int i = 0; i < n; i++) {
        pg_bulk_add(sb, i ? ", " : "");
        pg_bulk_add(sb, b->qcols[cols[i]]);
    }
    pg_bulk_add(sb, ") OVERRIDING SYSTEM VALUE VALUES ");
    pg_bulk_values(sb, b, cols, n, nrows, 1);
}

static void pg_bulk_delete(pg_bulk_buf_t *sb, const pg_bulk_rel_t *b, const int *cols, int n,
                           int nrows)
{
    pg_bulk_add(sb, "DELETE FROM ");
    pg_bulk_add(sb, b->target);
    pg_bulk_add(sb, " AS t USING (VALUES ");
    pg_bulk_values(sb, b, cols, n, nrows, 1);
    pg_bulk_add(sb, ")");
    pg_bulk_alias(sb, n);
    pg_bulk_add(sb, " WHERE ");
    pg_bulk_key_join(sb, b, cols, n);
}

static void pg_bulk_update(pg_bulk_buf_t *sb, const pg_bulk_rel_t *b, const int *cols, int n,
                           int nrows)
{
    char p[24];
    int nkey = pg_bulk_nkey(b->rel);
    pg_bulk_add(sb, "UPDATE ");
    pg_bulk_add(sb, b->target);
    pg_bulk_add(sb, " AS t SET ");
    if (n > nkey) {
        for (int i = nkey; i < n; i++) {
            pg_bulk_add(sb, i > nkey ? ", " : "");
            pg_bulk_add(sb, b->qcols[cols[i]]);
            snprintf(p, sizeof(p), " = v.c%d", i);
            pg_bulk_add(sb, p);
        }
    } else { /* only the key is present: a no-op assignment keeps the statement valid */
        pg_bulk_add(sb, b->qcols[cols[0]]);
        pg_bulk_add(sb, " = v.c0");
    }
    pg_bulk_add(sb, " FROM (VALUES ");
    pg_bulk_values(sb, b, cols, n, nrows, 1);
    pg_bulk_add(sb, ")");
    pg_bulk_alias(sb, n);
    pg_bulk_add(sb, " WHERE ");
    pg_bulk_key_join(sb, b, cols, nkey);
}

char *pg_bulk_sql(const pg_bulk_rel_t *b, char op, const char *present, int nrows)
{
    int *cols = calloc((size_t)b->rel->ncols * 2 + 1, sizeof(int));
    pg_bulk_buf_t sb = {0};
    if (cols == NULL)
        return NULL;
    int n = pg_bulk_columns(b, op, present, cols);
    if (op == 'I')
        pg_bulk_insert(&sb, b, cols, n, nrows);
    else if (op == 'D')
        pg_bulk_delete(&sb, b, cols, n, nrows);
    else
        pg_bulk_update(&sb, b, cols, n, nrows);
    free(cols);
    if (sb.oom) {
        free(sb.s);
        return NULL;
    }
    return sb.s;
}
