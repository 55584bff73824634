/*
 * transform: turns a "tables" entry's columns/exclude/where into a plan for
 * one source relation and one target table: which target column gets which
 * expression, which source columns each expression reads, and whether the
 * table needs the transformed path at all. Pure: runs no SQL; PostgreSQL
 * itself type-checks the expressions (see connectors/pg/pg_check.c).
 */
#ifndef SYNCLINE_TRANSFORM_H
#define SYNCLINE_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

/* One target column and what feeds it. */
typedef struct transform_col {
    char *target;  /* target column name, owned */
    char *expr;    /* SQL expression over source column names, owned (NULL for a rename) */
    int src_col;   /* a bare source column (rename): its index; -1 for an expression */
    uint8_t *refs; /* per source column, 1 when the expression may read it; owned */
} transform_col_t;

typedef struct transform_plan {
    int passthrough; /* no transform: same-named columns, no filter, fast path */
    int nsrc;
    transform_col_t *cols; /* owned, ncols entries */
    int ncols;
    char *where;         /* owned, NULL without a filter */
    uint8_t *where_refs; /* owned, nsrc entries, NULL without a filter */
} transform_plan_t;

/*
 * Builds the plan of entry t (NULL: no entry, passthrough) for a source
 * relation with columns src_cols and a target with columns tgt_cols.
 * `display` names the source table in errors. Returns NULL with errbuf set
 * ("table public.users: source column \"x\" maps nowhere ...").
 * Caller frees with transform_plan_free.
 */
transform_plan_t *transform_plan_new(const config_table_t *t, const char *const *src_cols, int nsrc,
                                     const char *const *tgt_cols, int ntgt, const char *display,
                                     char *errbuf, size_t errsize);

void transform_plan_free(transform_plan_t *plan);

/* Index of target column `name` in the plan, or -1. */
int transform_plan_find(const transform_plan_t *plan, const char *name);

/*
 * True when the expression cannot escape its slot in generated SQL: not
 * empty, parentheses balanced, literals and quoted identifiers closed, and
 * no ';' or comment outside them. Otherwise false with errbuf set.
 */
int transform_expr_ok(const char *expr, char *errbuf, size_t errsize);

/* Sets refs[i] = 1 for every source column the expression mentions
 * (unquoted words fold to lower case, as in SQL). An over-approximation:
 * a function named like a column counts too. */
void transform_expr_refs(const char *expr, const char *const *src_cols, int nsrc, uint8_t *refs);

/* The source column a bare identifier expression names, or -1. */
int transform_expr_column(const char *expr, const char *const *src_cols, int nsrc);

#endif
