/*
 * pg_bulk_sql: set-based statements for collapsed rows: many rows of one table,
 * one operation and one column set in a single INSERT ... VALUES (...), ...,
 * UPDATE ... FROM (VALUES ...) or DELETE ... WHERE key IN (VALUES ...).
 * Builds text only. The rows of one statement must have distinct keys,
 * which src/core/collapse.c guarantees.
 */
#ifndef SYNCLINE_PG_BULK_H
#define SYNCLINE_PG_BULK_H

#include "core/change.h"

typedef struct pg_bulk_sql_rel {
    const change_relation_t *rel;
    const char *target; /* quoted "schema"."table" */
    char *const *qcols; /* quoted target column per source column */
    char *const *types; /* target type (without typmod) per source column */
} pg_bulk_sql_rel_t;

/* Columns a row of op binds, in order, into cols (ncols of rel at most):
 * INSERT the present columns, DELETE the key, UPDATE the key then the
 * present non-key columns. present[c] != 0 when the new tuple carries c. */
int pg_bulk_sql_columns(const pg_bulk_sql_rel_t *b, char op, const char *present, int *cols);

/* The statement for nrows rows (malloc'd; NULL on allocation failure). */
char *pg_bulk_sql(const pg_bulk_sql_rel_t *b, char op, const char *present, int nrows);

#endif
