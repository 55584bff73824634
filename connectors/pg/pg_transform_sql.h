/*
 * pg_transform_sql: SQL text of the statements that apply changes to a transformed
 * table. Source values enter as a derived table of typed parameters, so the
 * mapping's expressions are evaluated by PostgreSQL over source column names
 * and cannot see the target's columns. Builds text only; runs nothing.
 */
#ifndef SYNCLINE_PG_TSQL_H
#define SYNCLINE_PG_TSQL_H

#include <stdint.h>

#include "core/transform.h"

typedef struct pg_transform_sql_rel {
    const char *target; /* quoted "schema"."table" */
    int nsrc;
    char *const *src_q;    /* quoted source column names */
    char *const *src_type; /* SQL type of each source column */
    const transform_plan_t *plan;
    char *const *tcol_q; /* quoted target column per plan column */
    const int *key;      /* plan columns forming the target key */
    int nkey;
    int trigger_skips; /* a target trigger may skip an UPDATE: PARTIAL then accepts a row
                          that was there and stayed unchanged */
} pg_transform_sql_rel_t;

typedef enum pg_transform_sql_op {
    PG_TRANSFORM_SQL_INSERT = 'I', /* $1..$n: new values */
    PG_TRANSFORM_SQL_DELETE = 'D', /* $1..$n: old values (key columns at least) */
    PG_TRANSFORM_SQL_UPDATE = 'U', /* $1..$n new, $n+1..$2n old; sets plan columns with mask[c] */
    PG_TRANSFORM_SQL_UPSERT = 'F', /* filtered tables: $1..$n new, $n+1..$2n old */
    /* filtered tables, some inputs unchanged (TOAST): deletes the row when the new one
     * fails the filter, else updates the mask's columns; fails (PG_ROWCHECK_PARTIAL) when
     * the row qualifies but was not on the target (its unchanged values are unknown) */
    PG_TRANSFORM_SQL_PARTIAL = 'P',
} pg_transform_sql_op_t;

/* malloc'd SQL, NULL on allocation failure. mask is used by UPDATE only. */
char *pg_transform_sql_build(const pg_transform_sql_rel_t *r, pg_transform_sql_op_t op,
                             const uint8_t *mask);

/* SELECT (expr) FROM <typed values $1..$n> AS s for plan column c, or for
 * the filter when c == -1: evaluates one mapping alone (malloc'd). */
char *pg_transform_sql_probe(const pg_transform_sql_rel_t *r, int c);

/* EXISTS (SELECT 1 FROM target WHERE <key of the old row>) for the UPDATE or
 * DELETE of op, over the same parameters (malloc'd; NULL when out of memory):
 * the row was there, so a statement that changed none was skipped by a
 * trigger, not missing. */
char *pg_transform_sql_exists(const pg_transform_sql_rel_t *r, pg_transform_sql_op_t op);

/* Number of parameters the statement of op takes. */
int pg_transform_sql_nparams(const pg_transform_sql_rel_t *r, pg_transform_sql_op_t op);

/*
 * The initial copy of a transformed table, evaluated on the source:
 * SELECT (e1), ... FROM [ONLY] source AS s [WHERE (where)] into *select and
 * the target column list into *columns (both malloc'd). Returns -1 on
 * allocation failure.
 */
int pg_transform_sql_copy(const transform_plan_t *plan, char *const *src_q, char *const *tcol_q,
                          const char *source, int only, char **select, char **columns);
#endif
