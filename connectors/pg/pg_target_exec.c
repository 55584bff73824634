/*
 * pg_target_exec: sends the applier's row changes: finds or prepares the
 * statement of a row's shape, binds its values and queues it in the
 * pipeline (pg_pipe), one row or a chunk of rows per statement. Knows
 * nothing of transactions or progress.
 */
#include "pg/pg_target_exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_bulk_sql.h"
#include "pg/pg_identity.h"
#include "pg/pg_large.h"
#include "pg/pg_target_copy.h"
#include "pg/pg_target_sql.h"

static pg_target_stmt_t *pg_target_exec_stmt_build(pg_target_exec_t *ex, pg_target_rel_t *r,
                                                   const char *shape, char *errbuf, size_t errsize,
                                                   err_t *err)
{
    pg_target_stmt_t *st = calloc(1, sizeof(*st));
    size_t n = (size_t)r->rel->ncols * 2 + 1;
    *err = ERR_RUNTIME;
    if (st == NULL || (st->shape = strdup(shape)) == NULL ||
        (st->param_col = calloc(n, sizeof(int))) == NULL ||
        (st->param_old = calloc(n, sizeof(int))) == NULL) {
        pg_target_rel_stmts_free(st);
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    snprintf(st->name, sizeof(st->name), "sl_%d", ++ex->stmt_counter);
    char *sql = pg_target_sql_stmt(r, st, pg_pipe_skips_missing(ex->pipe));
    pg_pipe_tag_t tag = {.table = r->display};
    *err =
        sql == NULL ? ERR_RUNTIME : pg_pipe_prepare(ex->pipe, st->name, sql, &tag, errbuf, errsize);
    if (sql == NULL)
        snprintf(errbuf, errsize, "out of memory");
    free(sql);
    if (*err != ERR_OK) {
        pg_target_rel_stmts_free(st);
        return NULL;
    }
    st->next = r->stmts;
    r->stmts = st;
    return st;
}

/* The statement for row's shape, built on first use. *override is set when
 * it sets a GENERATED ALWAYS identity column: the switch to BY DEFAULT is then
 * queued before it (and before its PREPARE), and the caller switches back. */
static pg_target_stmt_t *pg_target_exec_stmt(pg_target_exec_t *ex, pg_target_rel_t *r,
                                             const change_row_t *row, int *override, char *errbuf,
                                             size_t errsize, err_t *err)
{
    char stack[256];
    char *shape =
        r->rel->ncols + 2 <= (int)sizeof(stack) ? stack : malloc((size_t)r->rel->ncols + 2);
    if (shape == NULL) {
        *err = ERR_RUNTIME;
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    pg_target_sql_shape(row, shape);
    pg_identity_shape(r->always, r->rel, row->old_tuple, row->new_tuple, shape);
    /* large values go first, outside the pipeline: see pg_large */
    *err = pg_large_mark(row, ex->large_value, shape) > 0
               ? pg_large_stage(ex->pipe, row, shape, r->display, errbuf, errsize)
               : ERR_OK;
    pg_target_stmt_t *st = r->stmts;
    while (st != NULL && strcmp(st->shape, shape) != 0)
        st = st->next;
    *override = shape[0] != 'I' && pg_identity_sets(r->always, r->rel, shape + 1, '1', 1);
    if (*err == ERR_OK && *override)
        *err = pg_identity_override(ex->pipe, r->target, r->always, r->qcols, r->rel->ncols, 1,
                                    r->display, row->lsn, errbuf, errsize);
    if (*err != ERR_OK)
        st = NULL;
    else if (st == NULL)
        st = pg_target_exec_stmt_build(ex, r, shape, errbuf, errsize, err);
    if (shape != stack)
        free(shape);
    return st;
}

/* Grows the per-row parameter arrays and text scratch. */
static int pg_target_exec_scratch(pg_target_exec_t *ex, int nparams, size_t text)
{
    if (nparams > ex->params_cap) {
        int cap = nparams * 2;
        const char **v = realloc(ex->values, (size_t)cap * sizeof(*v));
        if (v != NULL)
            ex->values = v;
        int *l = realloc(ex->lengths, (size_t)cap * sizeof(*l));
        if (l != NULL)
            ex->lengths = l;
        int *f = realloc(ex->formats, (size_t)cap * sizeof(*f));
        if (f != NULL)
            ex->formats = f;
        if (v == NULL || l == NULL || f == NULL)
            return -1;
        ex->params_cap = cap;
    }
    if (text > ex->text_cap) {
        char *t = realloc(ex->text, text * 2);
        if (t == NULL)
            return -1;
        ex->text = t;
        ex->text_cap = text * 2;
    }
    return 0;
}

static const change_value_t *pg_target_exec_param_value(const change_row_t *row,
                                                        const pg_target_stmt_t *st, int i)
{
    const change_tuple_t *t = st->param_old[i] ? row->old_tuple : row->new_tuple;
    int col = st->param_col[i];
    return (t != NULL && col < t->ncols) ? &t->values[col] : NULL;
}

/* A text value's bytes in the text scratch: none when it ends with a NUL
 * already (decoded in place, change_value_t.nul), so that a large value is
 * not copied once more on its way to libpq. */
static size_t pg_target_exec_text_need(const change_value_t *v)
{
    return v->kind == CHANGE_TEXT && !v->nul ? (size_t)v->len + 1 : 0;
}

/* Points values[k] at v: NULL, its bytes, or (text without a NUL) a copy with
 * one at *p, which moves on. */
static void pg_target_exec_put(pg_target_exec_t *ex, int k, const change_value_t *v, char **p)
{
    ex->formats[k] = v->kind == CHANGE_BINARY;
    ex->lengths[k] = (int)v->len;
    ex->values[k] = v->kind == CHANGE_NULL ? NULL : v->data;
    if (pg_target_exec_text_need(v) > 0) {
        memcpy(*p, v->data, v->len);
        (*p)[v->len] = '\0';
        ex->values[k] = *p;
        *p += v->len + 1;
    }
}

/* Fills values/lengths/formats for one row; text values get a NUL in scratch. */
static err_t pg_target_exec_bind(pg_target_exec_t *ex, const pg_target_rel_t *r,
                                 const change_row_t *row, const pg_target_stmt_t *st, char *errbuf,
                                 size_t errsize)
{
    size_t text = 1;
    for (int i = 0; i < st->nparams; i++) {
        const change_value_t *v = pg_target_exec_param_value(row, st, i);
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
        text += pg_target_exec_text_need(v);
    }
    if (pg_target_exec_scratch(ex, st->nparams, text) != 0) {
        snprintf(errbuf, errsize, "out of memory binding a row of %s", r->display);
        return ERR_RUNTIME;
    }
    char *p = ex->text;
    for (int i = 0; i < st->nparams; i++)
        pg_target_exec_put(ex, i, pg_target_exec_param_value(row, st, i), &p);
    return ERR_OK;
}

err_t pg_target_exec_row(pg_target_exec_t *ex, pg_target_rel_t *r, const change_row_t *row,
                         char *errbuf, size_t errsize)
{
    if (r->trel != NULL)
        return pg_target_transform_apply(r->trel, ex->pipe, &ex->stmt_counter, row, errbuf,
                                         errsize);
    err_t err;
    int override = 0;
    pg_target_stmt_t *st = pg_target_exec_stmt(ex, r, row, &override, errbuf, errsize, &err);
    if (st == NULL)
        return err;
    err = pg_target_exec_bind(ex, r, row, st, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    char key[256];
    change_key_text(r->rel, row->old_tuple ? row->old_tuple : row->new_tuple, key, sizeof(key));
    pg_pipe_tag_t tag = {.op = (char)row->op,
                         .check_rows = row->op != CHANGE_INSERT,
                         .table = r->display,
                         .lsn = row->lsn};
    err = pg_pipe_exec_prepared(ex->pipe, st->name, st->nparams, (const char *const *)ex->values,
                                ex->lengths, ex->formats, &tag, key, errbuf, errsize);
    if (err == ERR_OK && override)
        err = pg_identity_override(ex->pipe, r->target, r->always, r->qcols, r->rel->ncols, 0,
                                   r->display, row->lsn, errbuf, errsize);
    return err;
}

/* Largest power of two <= n, capped so one statement binds at most ~30,000 values. */
static int pg_target_exec_chunk(int n, int per_row)
{
    int cap = per_row > 0 ? 30000 / per_row : 256;
    int m = 1;
    while (m * 2 <= n && m * 2 <= 256 && m * 2 <= cap)
        m *= 2;
    return m;
}

/* Binds the chunk's rows in pg_bulk_sql_columns order; text values get a NUL. */
static err_t pg_target_exec_bind_bulk(pg_target_exec_t *ex, const change_row_t *rows, int m,
                                      const int *cols, int per_row, char op, char *errbuf,
                                      size_t errsize)
{
    size_t text = 1;
    for (int r = 0; r < m; r++) {
        const change_tuple_t *t = op == 'D' ? rows[r].old_tuple : rows[r].new_tuple;
        for (int i = 0; i < per_row; i++)
            text += pg_target_exec_text_need(&t->values[cols[i]]);
    }
    if (pg_target_exec_scratch(ex, m * per_row, text) != 0) {
        snprintf(errbuf, errsize, "out of memory binding rows");
        return ERR_RUNTIME;
    }
    char *p = ex->text;
    for (int r = 0, k = 0; r < m; r++) {
        const change_tuple_t *t = op == 'D' ? rows[r].old_tuple : rows[r].new_tuple;
        for (int i = 0; i < per_row; i++, k++)
            pg_target_exec_put(ex, k, &t->values[cols[i]], &p);
    }
    return ERR_OK;
}

/* The prepared statement for m rows of this shape (*out), built on first
 * use. A lost connection stays ERR_CONNECT, so the caller retries. */
static err_t pg_target_exec_bulk_stmt(pg_target_exec_t *ex, pg_target_rel_t *r, char op,
                                      const char *present, int m, int per_row,
                                      pg_target_stmt_t **out, char *errbuf, size_t errsize)
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
    char *sql = pg_target_sql_bulk(r, op, present, m, pg_pipe_skips_missing(ex->pipe));
    st = calloc(1, sizeof(*st));
    err_t err = ERR_RUNTIME;
    if (sql != NULL && st != NULL) {
        st->shape = shape;
        shape = NULL;
        st->nparams = m * per_row;
        snprintf(st->name, sizeof(st->name), "sl_%d", ++ex->stmt_counter);
        pg_pipe_tag_t tag = {.table = r->display};
        err = pg_pipe_prepare(ex->pipe, st->name, sql, &tag, errbuf, errsize);
    }
    free(sql);
    free(shape);
    if (err != ERR_OK) {
        if (err == ERR_RUNTIME && errbuf[0] == '\0')
            snprintf(errbuf, errsize, "out of memory");
        pg_target_rel_stmts_free(st);
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
 * only when the target's encoding converts (ex->converts): a window of
 * statements in flight holds up to 256 rows' keys each.
 */
typedef struct pg_target_exec_diag {
    const change_relation_t *rel; /* borrowed: lives as long as the statement's table name */
    int m, per_row;
    lsn_t *lsn;          /* per row */
    change_tuple_t *key; /* per row: the key columns' values, the others NULL */
    change_value_t *values;
    char *bytes; /* the key values' data */
} pg_target_exec_diag_t;

static void pg_target_exec_diag_free(void *p)
{
    pg_target_exec_diag_t *d = p;
    if (d == NULL)
        return;
    free(d->lsn);
    free(d->key);
    free(d->values);
    free(d->bytes);
    free(d);
}

static void pg_target_exec_diag_explain(PGconn *conn, void *p, char *errbuf, size_t errsize)
{
    pg_target_exec_diag_t *d = p;
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
    pg_target_exec_diag_free(d);
}

/* Copies what pg_target_exec_diag_explain needs of m rows; NULL when out of
 * memory (the error then names the statement's first row only). */
static pg_target_exec_diag_t *pg_target_exec_diag_new(const change_relation_t *rel,
                                                      const change_row_t *rows, int m, char op,
                                                      int per_row)
{
    int ncols = rel->ncols;
    size_t bytes = 1;
    for (int r = 0; r < m; r++) {
        const change_tuple_t *t = op == 'D' ? rows[r].old_tuple : rows[r].new_tuple;
        for (int c = 0; c < ncols && c < t->ncols; c++)
            bytes += rel->cols[c].is_key ? t->values[c].len : 0;
    }
    pg_target_exec_diag_t *d = calloc(1, sizeof(*d));
    if (d == NULL || (d->lsn = calloc((size_t)m, sizeof(lsn_t))) == NULL ||
        (d->key = calloc((size_t)m, sizeof(change_tuple_t))) == NULL ||
        (d->values = calloc((size_t)m * (size_t)ncols + 1, sizeof(change_value_t))) == NULL ||
        (d->bytes = malloc(bytes)) == NULL) {
        pg_target_exec_diag_free(d);
        return NULL;
    }
    *d = (pg_target_exec_diag_t){rel, m, per_row, d->lsn, d->key, d->values, d->bytes};
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

static err_t pg_target_exec_bulk_chunk(pg_target_exec_t *ex, pg_target_rel_t *r,
                                       const change_row_t *rows, int m, char op,
                                       const char *present, const int *cols, int per_row,
                                       char *errbuf, size_t errsize)
{
    pg_target_stmt_t *st;
    /* a collapsed UPDATE sets its non-key columns: one may be GENERATED ALWAYS */
    int override = op == 'U' && pg_identity_sets(r->always, r->rel, present, 1, 0);
    err_t err = override
                    ? pg_identity_override(ex->pipe, r->target, r->always, r->qcols, r->rel->ncols,
                                           1, r->display, rows[0].lsn, errbuf, errsize)
                    : ERR_OK;
    if (err == ERR_OK)
        err = pg_target_exec_bulk_stmt(ex, r, op, present, m, per_row, &st, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    err = pg_target_exec_bind_bulk(ex, rows, m, cols, per_row, op, errbuf, errsize);
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
        .diag = ex->converts ? pg_target_exec_diag_new(r->rel, rows, m, op, per_row) : NULL,
        .diag_free = pg_target_exec_diag_free,
        .diag_explain = pg_target_exec_diag_explain};
    err = pg_pipe_exec_prepared(ex->pipe, st->name, st->nparams, (const char *const *)ex->values,
                                ex->lengths, ex->formats, &tag, key, errbuf, errsize);
    if (err == ERR_OK && override)
        err = pg_identity_override(ex->pipe, r->target, r->always, r->qcols, r->rel->ncols, 0,
                                   r->display, rows[m - 1].lsn, errbuf, errsize);
    return err;
}

/* How many of the m rows may go in one multi-row statement: a row with a
 * large value goes alone, on the single-row path that stages it (pg_large). */
static int pg_target_exec_plain(const pg_target_exec_t *ex, const change_row_t *rows, int m,
                                int per_row)
{
    int plain = 0;
    while (ex->large_value > 0 && plain < m && !pg_large_any(&rows[plain], ex->large_value))
        plain++;
    if (ex->large_value == 0 || plain == m)
        return m;
    return plain == 0 ? 1 : pg_target_exec_chunk(plain, per_row);
}

/* The COPY format (pg_target_copy_fits) the n inserts go in as one COPY, 0
 * for statements: too few, a table that does not take COPY as it takes
 * INSERT, mixed values, or a large one (pg_large stages it and keeps
 * libpq's buffers small). */
static int pg_target_exec_copies(const pg_target_exec_t *ex, const pg_target_rel_t *r,
                                 const change_row_t *rows, int n, const int *cols, int per_row)
{
    if (!r->copyable || n < PG_TARGET_COPY_MIN_ROWS)
        return 0;
    for (int i = 0; ex->large_value > 0 && i < n; i++) {
        if (pg_large_any(&rows[i], ex->large_value))
            return 0;
    }
    return pg_target_copy_fits(rows, n, cols, per_row);
}

err_t pg_target_exec_rows(pg_target_exec_t *ex, pg_target_rel_t *r, const change_row_t *rows, int n,
                          char *errbuf, size_t errsize)
{
    int ncols = r->rel->ncols;
    char *present = calloc((size_t)ncols + 1, 1);
    int *cols = calloc((size_t)ncols * 2 + 1, sizeof(int));
    err_t err = ERR_OK;
    if (present == NULL || cols == NULL) {
        for (int i = 0; i < n && err == ERR_OK; i++) /* the plain path, row by row */
            err = pg_target_exec_row(ex, r, &rows[i], errbuf, errsize);
        free(present);
        free(cols);
        return err;
    }
    char op = rows[0].op == CHANGE_INSERT ? 'I' : rows[0].op == CHANGE_DELETE ? 'D' : 'U';
    for (int c = 0; c < ncols; c++)
        present[c] = op != 'D' && c < rows[0].new_tuple->ncols &&
                     rows[0].new_tuple->values[c].kind != CHANGE_UNCHANGED;
    pg_bulk_sql_rel_t b = {
        .rel = r->rel, .target = r->target, .qcols = r->qcols, .types = r->ttypes};
    int per_row = pg_bulk_sql_columns(&b, op, present, cols);
    int copy = op == 'I' ? pg_target_exec_copies(ex, r, rows, n, cols, per_row) : 0;
    if (copy) {
        err = pg_target_copy_rows(ex->pipe, r->target, r->qcols, r->display, rows, n, cols, per_row,
                                  copy, errbuf, errsize);
        ex->copied += err == ERR_OK ? (unsigned long long)n : 0;
    }
    for (int done = 0; !copy && done < n && err == ERR_OK;) {
        int m = pg_target_exec_chunk(n - done, per_row);
        m = pg_target_exec_plain(ex, rows + done, m, per_row);
        err = m == 1 ? pg_target_exec_row(ex, r, &rows[done], errbuf, errsize)
                     : pg_target_exec_bulk_chunk(ex, r, rows + done, m, op, present, cols, per_row,
                                                 errbuf, errsize);
        done += m;
    }
    free(present);
    free(cols);
    return err;
}

void pg_target_exec_clear(pg_target_exec_t *ex)
{
    free(ex->values);
    free(ex->lengths);
    free(ex->formats);
    free(ex->text);
    *ex = (pg_target_exec_t){0};
}
