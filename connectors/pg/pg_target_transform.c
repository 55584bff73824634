/*
 * pg_target_transform: applying changes to a transformed table.
 *
 * Source values are bound as text to typed parameters (the source's own
 * column types), so expressions see exactly the source row. An unchanged
 * TOAST value ('u') is replaced by the old row's value when the source sends
 * one (REPLICA IDENTITY FULL); otherwise a target column whose expression
 * reads only unchanged columns is left alone (its value cannot have
 * changed), and one that mixes changed and unchanged columns stops the
 * apply with the table, column and LSN: it would need REPLICA IDENTITY FULL.
 */
#include "pg/pg_target_transform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_conn.h"
#include "pg/pg_transform_sql.h"
#include "core/transform.h"
#include "pg/pg_rowcheck.h"

#define PG_TARGET_TRANSFORM_FIRST_USER_OID 16384

typedef struct pg_target_transform_stmt {
    char *shape; /* op + mask, owned */
    char name[24];
    struct pg_target_transform_stmt *next;
} pg_target_transform_stmt_t;

struct pg_target_transform {
    transform_plan_t *plan;
    char *target;  /* quoted, owned */
    char *display; /* source schema.name, owned */
    int nsrc;
    char **src_q;    /* owned */
    char **src_type; /* owned */
    char **tcol_q;   /* owned, per plan column */
    int *key;        /* owned, plan column indexes of the target key */
    int nkey;
    pg_transform_sql_rel_t sql;
    pg_target_transform_stmt_t *stmts;
    int trigger_skips; /* a trigger may skip an UPDATE or DELETE on purpose */
    /* per-row scratch */
    change_value_t *eff; /* effective new values */
    const char **values;
    int *lengths, *formats;
    char *text;
    size_t text_cap;
};

int pg_target_transform_types_put(pg_target_transform_types_t *types, PGconn *conn, uint32_t oid,
                                  const char *nsp, const char *name)
{
    char *q = NULL;
    char *a = PQescapeIdentifier(conn, nsp, strlen(nsp));
    char *b = PQescapeIdentifier(conn, name, strlen(name));
    if (a && b && (q = malloc(strlen(a) + strlen(b) + 2)) != NULL)
        sprintf(q, "%s.%s", a, b);
    PQfreemem(a);
    PQfreemem(b);
    if (q == NULL)
        return -1;
    for (int i = 0; i < types->n; i++) {
        if (types->oids[i] == oid) {
            free(types->names[i]);
            types->names[i] = q;
            return 0;
        }
    }
    if (types->n == types->cap) {
        int cap = types->cap ? types->cap * 2 : 16;
        uint32_t *o = realloc(types->oids, (size_t)cap * sizeof(*o));
        if (o != NULL)
            types->oids = o;
        char **n = realloc(types->names, (size_t)cap * sizeof(*n));
        if (n != NULL)
            types->names = n;
        if (o == NULL || n == NULL) {
            free(q);
            return -1;
        }
        types->cap = cap;
    }
    types->oids[types->n] = oid;
    types->names[types->n++] = q;
    return 0;
}

void pg_target_transform_types_clear(pg_target_transform_types_t *types)
{
    for (int i = 0; i < types->n; i++)
        free(types->names[i]);
    free(types->oids);
    free(types->names);
    memset(types, 0, sizeof(*types));
}

static void pg_target_transform_strv_free(char **v, int n)
{
    for (int i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}

void pg_target_transform_free(pg_target_transform_t *tr, PGconn *conn)
{
    if (tr == NULL)
        return;
    while (tr->stmts != NULL) {
        pg_target_transform_stmt_t *next = tr->stmts->next;
        if (conn != NULL) {
            char sql[64];
            snprintf(sql, sizeof(sql), "DEALLOCATE %s", tr->stmts->name);
            PQclear(pg_conn_query(conn, sql, 0, NULL));
        }
        free(tr->stmts->shape);
        free(tr->stmts);
        tr->stmts = next;
    }
    pg_target_transform_strv_free(tr->src_q, tr->nsrc);
    pg_target_transform_strv_free(tr->src_type, tr->nsrc);
    pg_target_transform_strv_free(tr->tcol_q, tr->plan ? tr->plan->ncols : 0);
    transform_plan_free(tr->plan);
    free(tr->target);
    free(tr->display);
    free(tr->key);
    free(tr->eff);
    free(tr->values);
    free(tr->lengths);
    free(tr->formats);
    free(tr->text);
    free(tr);
}

/* ---- describing ---------------------------------------------------------- */

/* Target columns (and which are key) as malloc'd arrays. */
static err_t pg_target_transform_target_columns(PGconn *conn, const char *target, char ***names,
                                                int **is_key, int *n, char *errbuf, size_t errsize)
/* is_key[i]: 1 = primary key column, 2 = NOT NULL without default, 3 = both */
{
    const char *p[1] = {target};
    PGresult *res = pg_conn_query(
        conn,
        "SELECT a.attname, coalesce(a.attnum = ANY (i.indkey::int2[]), false), "
        "a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' "
        "FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary "
        "WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped "
        "AND a.attgenerated = '' ORDER BY a.attnum",
        1, p);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(errbuf, errsize, "target: %s", PQresultErrorMessage(res));
        PQclear(res);
        return pg_conn_classify(conn); /* a lost connection is retried */
    }
    *n = PQntuples(res);
    *names = calloc((size_t)*n + 1, sizeof(char *));
    *is_key = calloc((size_t)*n + 1, sizeof(int));
    int ok = *names && *is_key;
    for (int i = 0; ok && i < *n; i++) {
        ok = ((*names)[i] = strdup(PQgetvalue(res, i, 0))) != NULL;
        (*is_key)[i] = (PQgetvalue(res, i, 1)[0] == 't') | (PQgetvalue(res, i, 2)[0] == 't') << 1;
    }
    PQclear(res);
    if (!ok) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    return ERR_OK;
}

/* SQL type of one source column: built-in OIDs are the same on every server. */
static char *pg_target_transform_type_sql(PGconn *conn, const change_column_t *col,
                                          const pg_target_transform_types_t *types)
{
    if (col->type_oid >= PG_TARGET_TRANSFORM_FIRST_USER_OID) {
        for (int i = 0; types != NULL && i < types->n; i++) {
            if (types->oids[i] == col->type_oid)
                return strdup(types->names[i]);
        }
        return NULL;
    }
    char oid[16], mod[16];
    snprintf(oid, sizeof(oid), "%u", col->type_oid);
    snprintf(mod, sizeof(mod), "%d", col->typmod);
    const char *p[2] = {oid, mod};
    PGresult *res = pg_conn_query(conn, "SELECT format_type($1::oid, $2::int)", 2, p);
    char *out = PQresultStatus(res) == PGRES_TUPLES_OK ? strdup(PQgetvalue(res, 0, 0)) : NULL;
    PQclear(res);
    return out;
}

static err_t pg_target_transform_sources(pg_target_transform_t *tr, PGconn *conn,
                                         const change_relation_t *rel,
                                         const pg_target_transform_types_t *types, char *errbuf,
                                         size_t errsize)
{
    tr->nsrc = rel->ncols;
    tr->src_q = calloc((size_t)rel->ncols + 1, sizeof(char *));
    tr->src_type = calloc((size_t)rel->ncols + 1, sizeof(char *));
    if (tr->src_q == NULL || tr->src_type == NULL)
        return ERR_RUNTIME;
    for (int i = 0; i < rel->ncols; i++) {
        const change_column_t *c = &rel->cols[i];
        char *q = PQescapeIdentifier(conn, c->name, strlen(c->name));
        tr->src_q[i] = q ? strdup(q) : NULL;
        PQfreemem(q);
        tr->src_type[i] = pg_target_transform_type_sql(conn, c, types);
        if (tr->src_q[i] == NULL)
            return ERR_RUNTIME;
        if (tr->src_type[i] == NULL) {
            snprintf(errbuf, errsize,
                     "table %s column \"%s\": unknown source type (oid %u): it must exist on the "
                     "target under the same name",
                     tr->display, c->name, c->type_oid);
            return ERR_SCHEMA;
        }
    }
    return ERR_OK;
}

/* The target key: its primary key, each column fed from source key columns only. */
static err_t pg_target_transform_key(pg_target_transform_t *tr, const change_relation_t *rel,
                                     char **tnames, const int *tkey, int ntgt, char *errbuf,
                                     size_t errsize)
{
    tr->key = calloc((size_t)ntgt + 1, sizeof(int));
    if (tr->key == NULL)
        return ERR_RUNTIME;
    for (int i = 0; i < ntgt; i++) {
        if ((tkey[i] & 2) && transform_plan_find(tr->plan, tnames[i]) < 0) {
            snprintf(errbuf, errsize,
                     "table %s: target column \"%s\" is NOT NULL without a default and nothing "
                     "feeds it: map it in \"columns\"",
                     tr->display, tnames[i]);
            return ERR_SCHEMA;
        }
        if (!(tkey[i] & 1))
            continue;
        int c = transform_plan_find(tr->plan, tnames[i]);
        if (c < 0) {
            snprintf(errbuf, errsize,
                     "table %s: target key column \"%s\" is not fed by the mapping", tr->display,
                     tnames[i]);
            return ERR_SCHEMA;
        }
        for (int s = 0; s < rel->ncols; s++) {
            if (tr->plan->cols[c].refs[s] && !rel->cols[s].is_key) {
                snprintf(errbuf, errsize,
                         "table %s: target key column \"%s\" is computed from source column "
                         "\"%s\", which is not part of the source key (replica identity): the "
                         "target row of an UPDATE or DELETE could not be found",
                         tr->display, tnames[i], rel->cols[s].name);
                return ERR_SCHEMA;
            }
        }
        tr->key[tr->nkey++] = c;
    }
    if (tr->nkey == 0) {
        snprintf(errbuf, errsize, "table %s: a transformed target table needs a primary key",
                 tr->display);
        return ERR_SCHEMA;
    }
    return ERR_OK;
}

static err_t pg_target_transform_finish(pg_target_transform_t *tr, PGconn *conn,
                                        const change_relation_t *rel)
{
    int n = tr->plan->ncols;
    tr->tcol_q = calloc((size_t)n + 1, sizeof(char *));
    tr->eff = calloc((size_t)rel->ncols + 1, sizeof(*tr->eff));
    tr->values = calloc((size_t)rel->ncols * 2 + 1, sizeof(*tr->values));
    tr->lengths = calloc((size_t)rel->ncols * 2 + 1, sizeof(int));
    tr->formats = calloc((size_t)rel->ncols * 2 + 1, sizeof(int));
    if (!tr->tcol_q || !tr->eff || !tr->values || !tr->lengths || !tr->formats)
        return ERR_RUNTIME;
    for (int c = 0; c < n; c++) {
        const char *t = tr->plan->cols[c].target;
        char *q = PQescapeIdentifier(conn, t, strlen(t));
        tr->tcol_q[c] = q ? strdup(q) : NULL;
        PQfreemem(q);
        if (tr->tcol_q[c] == NULL)
            return ERR_RUNTIME;
    }
    tr->sql = (pg_transform_sql_rel_t){.target = tr->target,
                                       .nsrc = tr->nsrc,
                                       .src_q = tr->src_q,
                                       .src_type = tr->src_type,
                                       .plan = tr->plan,
                                       .tcol_q = tr->tcol_q,
                                       .key = tr->key,
                                       .nkey = tr->nkey};
    return ERR_OK;
}

/* Lets PostgreSQL parse and type-check every statement of the mapping now,
 * so a bad expression or an unassignable type is reported before any row. */
static err_t pg_target_transform_validate(pg_target_transform_t *tr, PGconn *conn, char *errbuf,
                                          size_t errsize)
{
    static const pg_transform_sql_op_t ops[] = {PG_TRANSFORM_SQL_INSERT, PG_TRANSFORM_SQL_DELETE,
                                                PG_TRANSFORM_SQL_UPDATE};
    uint8_t *all = malloc((size_t)tr->plan->ncols + 1);
    err_t err = all ? ERR_OK : ERR_RUNTIME;
    if (all != NULL)
        memset(all, 1, (size_t)tr->plan->ncols + 1);
    size_t nops = sizeof(ops) / sizeof(ops[0]) + (tr->plan->where != NULL);
    for (size_t i = 0; err == ERR_OK && i < nops; i++) {
        pg_transform_sql_op_t op = i == 3 ? PG_TRANSFORM_SQL_PARTIAL
                                   : ops[i] == PG_TRANSFORM_SQL_UPDATE && tr->plan->where
                                       ? PG_TRANSFORM_SQL_UPSERT
                                       : ops[i];
        char *sql = pg_transform_sql_build(&tr->sql, op, all);
        PGresult *res = sql ? PQprepare(conn, "", sql, 0, NULL) : NULL;
        if (res == NULL) {
            err = ERR_RUNTIME;
        } else if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
            const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
            snprintf(errbuf, errsize, "table %s: the mapping does not fit the target: %s%s%s",
                     tr->display, primary ? primary : PQresultErrorMessage(res),
                     hint ? " (hint: " : "", hint ? hint : "");
            if (hint != NULL && strlen(errbuf) + 2 < errsize)
                strcat(errbuf, ")");
            err = ERR_SCHEMA;
        }
        PQclear(res);
        free(sql);
    }
    free(all);
    return err;
}

static err_t pg_target_transform_build(pg_target_transform_t *tr, PGconn *conn,
                                       const config_table_t *entry, const change_relation_t *rel,
                                       const pg_target_transform_types_t *types, char *errbuf,
                                       size_t errsize)
{
    char **tnames = NULL;
    int *tkey = NULL, ntgt = 0;
    const char **snames = calloc((size_t)rel->ncols + 1, sizeof(char *));
    err_t err = snames ? pg_target_transform_target_columns(conn, tr->target, &tnames, &tkey, &ntgt,
                                                            errbuf, errsize)
                       : ERR_RUNTIME;
    for (int i = 0; snames && i < rel->ncols; i++)
        snames[i] = rel->cols[i].name;
    if (err == ERR_OK) {
        tr->plan = transform_plan_new(entry, snames, rel->ncols, (const char *const *)tnames, ntgt,
                                      tr->display, errbuf, errsize);
        err = tr->plan ? ERR_OK : ERR_SCHEMA;
    }
    if (err == ERR_OK && !tr->plan->passthrough)
        err = pg_target_transform_key(tr, rel, tnames, tkey, ntgt, errbuf, errsize);
    if (err == ERR_OK && !tr->plan->passthrough)
        err = pg_target_transform_sources(tr, conn, rel, types, errbuf, errsize);
    if (err == ERR_OK && !tr->plan->passthrough)
        err = pg_target_transform_finish(tr, conn, rel);
    if (err == ERR_OK && !tr->plan->passthrough)
        err = pg_target_transform_validate(tr, conn, errbuf, errsize);
    pg_target_transform_strv_free(tnames, ntgt);
    free(tkey);
    free(snames);
    return err;
}

err_t pg_target_transform_new(PGconn *conn, const config_table_t *entry,
                              const change_relation_t *rel, const char *target, const char *display,
                              const pg_target_transform_types_t *types, pg_target_transform_t **out,
                              char *errbuf, size_t errsize)
{
    *out = NULL;
    pg_target_transform_t *tr = calloc(1, sizeof(*tr));
    if (tr == NULL || (tr->target = strdup(target)) == NULL ||
        (tr->display = strdup(display)) == NULL) {
        pg_target_transform_free(tr, NULL);
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    errbuf[0] = '\0';
    err_t err = pg_target_transform_build(tr, conn, entry, rel, types, errbuf, errsize);
    if (err != ERR_OK || tr->plan->passthrough) {
        if (err == ERR_RUNTIME && errbuf[0] == '\0')
            snprintf(errbuf, errsize, "out of memory");
        pg_target_transform_free(tr, NULL);
        return err;
    }
    *out = tr;
    return ERR_OK;
}

/* ---- applying ------------------------------------------------------------ */

/* New values with unchanged TOAST values taken from the old row when sent. */
static void pg_target_transform_effective(pg_target_transform_t *tr, const change_row_t *row)
{
    const change_tuple_t *n = row->new_tuple, *o = row->old_tuple;
    for (int i = 0; i < tr->nsrc; i++) {
        change_value_t v = {.kind = CHANGE_NULL};
        if (n != NULL && i < n->ncols)
            v = n->values[i];
        if (v.kind == CHANGE_UNCHANGED && row->old_kind == 'O' && o != NULL && i < o->ncols &&
            o->values[i].kind != CHANGE_UNCHANGED)
            v = o->values[i];
        tr->eff[i] = v;
    }
}

/* UPDATE mask: 1 = set the column; 0 = its inputs did not change. */
static err_t pg_target_transform_mask(pg_target_transform_t *tr, const change_row_t *row,
                                      uint8_t *mask, char *errbuf, size_t errsize)
{
    for (int s = 0; tr->plan->where_refs != NULL && s < tr->nsrc; s++) {
        if (tr->plan->where_refs[s] && tr->eff[s].kind == CHANGE_UNCHANGED) {
            char l[LSN_STRLEN];
            snprintf(errbuf, errsize,
                     "table %s: the filter reads source column %s, which the UPDATE left "
                     "unchanged (TOAST) without sending it (lsn=%s); set REPLICA IDENTITY FULL "
                     "on the source table so the old value travels with the change",
                     tr->display, tr->src_q[s], lsn_format(row->lsn, l, sizeof(l)));
            return ERR_RUNTIME;
        }
    }
    for (int c = 0; c < tr->plan->ncols; c++) {
        int changed = 0, unchanged = 0;
        for (int s = 0; s < tr->nsrc; s++) {
            if (!tr->plan->cols[c].refs[s])
                continue;
            if (tr->eff[s].kind == CHANGE_UNCHANGED)
                unchanged = s + 1;
            else
                changed = 1;
        }
        mask[c] = !unchanged;
        if (unchanged && changed) {
            char l[LSN_STRLEN];
            snprintf(errbuf, errsize,
                     "table %s column \"%s\": the UPDATE left source column %s unchanged "
                     "(TOAST) and no copy of it was sent (lsn=%s); set REPLICA IDENTITY FULL on "
                     "the source table so the old value travels with the change",
                     tr->display, tr->plan->cols[c].target, tr->src_q[unchanged - 1],
                     lsn_format(row->lsn, l, sizeof(l)));
            return ERR_RUNTIME;
        }
    }
    return ERR_OK;
}

static int pg_target_transform_scratch(pg_target_transform_t *tr, size_t need)
{
    if (need <= tr->text_cap)
        return 0;
    char *t = realloc(tr->text, need * 2);
    if (t == NULL)
        return -1;
    tr->text = t;
    tr->text_cap = need * 2;
    return 0;
}

/* One parameter per source column from vals, starting at index first. */
static char *pg_target_transform_bind_set(pg_target_transform_t *tr, const change_value_t *vals,
                                          int first, char *p)
{
    for (int i = 0; i < tr->nsrc; i++) {
        const change_value_t *v = &vals[i];
        int k = first + i;
        tr->formats[k] = 0;
        tr->lengths[k] = 0;
        if (v->kind == CHANGE_NULL || v->kind == CHANGE_UNCHANGED) {
            tr->values[k] = NULL; /* unchanged: no expression reads it (mask) */
        } else {
            tr->formats[k] = v->kind == CHANGE_BINARY;
            tr->lengths[k] = (int)v->len;
            memcpy(p, v->data, v->len);
            p[v->len] = '\0';
            tr->values[k] = p;
            p += v->len + 1;
        }
    }
    return p;
}

static size_t pg_target_transform_size(const change_value_t *vals, int n)
{
    size_t size = 1;
    for (int i = 0; i < n; i++)
        size += vals[i].len + 1;
    return size;
}

/* The old values: the old tuple when sent, else the new tuple (same key). */
static const change_value_t *pg_target_transform_old(pg_target_transform_t *tr,
                                                     const change_row_t *row)
{
    if (row->old_tuple != NULL && row->old_tuple->ncols >= tr->nsrc)
        return row->old_tuple->values;
    return row->new_tuple != NULL ? tr->eff : NULL;
}

static err_t pg_target_transform_bind(pg_target_transform_t *tr, const change_row_t *row,
                                      pg_transform_sql_op_t op)
{
    const change_value_t *old = pg_target_transform_old(tr, row);
    if (op == PG_TRANSFORM_SQL_DELETE && old == NULL)
        return ERR_RUNTIME;
    size_t need = pg_target_transform_size(tr->eff, tr->nsrc) +
                  (old ? pg_target_transform_size(old, tr->nsrc) : 0);
    if (pg_target_transform_scratch(tr, need) != 0)
        return ERR_RUNTIME;
    char *p = tr->text;
    if (op == PG_TRANSFORM_SQL_DELETE) {
        pg_target_transform_bind_set(tr, old, 0, p);
        return ERR_OK;
    }
    p = pg_target_transform_bind_set(tr, tr->eff, 0, p);
    if (op != PG_TRANSFORM_SQL_INSERT)
        pg_target_transform_bind_set(tr, old, tr->nsrc, p);
    return ERR_OK;
}

void pg_target_transform_trigger_skips(pg_target_transform_t *tr, int skips)
{
    tr->trigger_skips = skips;
    tr->sql.trigger_skips = skips;
}

/* Whether a statement of op must find its row (pg_rowcheck): an UPDATE, and
 * a DELETE unless a filter may rightly have kept the row off the target. */
static int pg_target_transform_checked(const pg_target_transform_t *tr, pg_transform_sql_op_t op)
{
    return op == PG_TRANSFORM_SQL_UPDATE ||
           (op == PG_TRANSFORM_SQL_DELETE && tr->plan->where == NULL);
}

/* The prepared statement of this shape (*out), built on first use. A lost
 * connection stays ERR_CONNECT, so the caller retries. */
static err_t pg_target_transform_stmt(pg_target_transform_t *tr, pg_pipe_t *pipe, int *counter,
                                      pg_transform_sql_op_t op, const uint8_t *mask,
                                      pg_target_transform_stmt_t **out, char *errbuf,
                                      size_t errsize)
{
    char shape[1700];
    int n = tr->plan->ncols;
    shape[0] = (char)op;
    for (int c = 0; c < n && c + 2 < (int)sizeof(shape); c++)
        shape[c + 1] = (op == PG_TRANSFORM_SQL_UPDATE || op == PG_TRANSFORM_SQL_PARTIAL) && mask[c]
                           ? '1'
                           : '0';
    shape[n + 1 < (int)sizeof(shape) ? n + 1 : (int)sizeof(shape) - 1] = '\0';
    pg_target_transform_stmt_t *st = tr->stmts;
    while (st != NULL && strcmp(st->shape, shape) != 0)
        st = st->next;
    *out = st;
    if (st != NULL)
        return ERR_OK;
    char *sql = pg_transform_sql_build(&tr->sql, op, mask);
    if (sql != NULL && pg_target_transform_checked(tr, op)) {
        /* the row existed before the statement: a trigger skipped it, like 022's plain tables */
        char *exists = tr->trigger_skips ? pg_transform_sql_exists(&tr->sql, op) : NULL;
        char *checked = tr->trigger_skips && exists == NULL
                            ? NULL
                            : pg_rowcheck_wrap(sql, 1, exists, pg_pipe_skips_missing(pipe));
        free(exists);
        free(sql);
        sql = checked;
    }
    st = calloc(1, sizeof(*st));
    if (sql == NULL || st == NULL || (st->shape = strdup(shape)) == NULL) {
        free(sql);
        free(st);
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    snprintf(st->name, sizeof(st->name), "sl_%d", ++*counter);
    pg_pipe_tag_t tag = {.table = tr->display};
    err_t err = pg_pipe_prepare(pipe, st->name, sql, &tag, errbuf, errsize);
    free(sql);
    if (err != ERR_OK) {
        free(st->shape);
        free(st);
        return err;
    }
    st->next = tr->stmts;
    tr->stmts = st;
    *out = st;
    return ERR_OK;
}

static int pg_target_transform_all(const uint8_t *mask, int n)
{
    for (int i = 0; i < n; i++) {
        if (!mask[i])
            return 0;
    }
    return 1;
}

/* A failed row's values, kept with its statement until the result is in. */
typedef struct pg_target_transform_diag {
    const pg_target_transform_t *tr;
    int n;
    char **values; /* NULL entries are SQL NULLs */
} pg_target_transform_diag_t;

static void pg_target_transform_diag_free(void *p)
{
    pg_target_transform_diag_t *d = p;
    for (int i = 0; d != NULL && i < d->n; i++)
        free(d->values[i]);
    if (d != NULL)
        free(d->values);
    free(d);
}

/* Copies the first nsrc bound values (the row's new values, or the old ones
 * of a delete); NULL when out of memory (the explanation is then skipped). */
static pg_target_transform_diag_t *pg_target_transform_diag_new(const pg_target_transform_t *tr)
{
    pg_target_transform_diag_t *d = calloc(1, sizeof(*d));
    if (d == NULL || (d->values = calloc((size_t)tr->nsrc + 1, sizeof(char *))) == NULL) {
        free(d);
        return NULL;
    }
    d->tr = tr;
    d->n = tr->nsrc;
    for (int i = 0; i < tr->nsrc; i++) {
        if (tr->values[i] != NULL && !tr->formats[i])
            d->values[i] = strdup(tr->values[i]);
    }
    return d;
}

/* Runs one probe; fills why with the primary message on failure. */
static int pg_target_transform_probe_fails(PGconn *conn, const pg_target_transform_diag_t *d, int c,
                                           char *why, size_t size)
{
    char *sql = pg_transform_sql_probe(&d->tr->sql, c);
    if (sql == NULL)
        return 0;
    PGresult *res = pg_conn_query(conn, sql, d->n, (const char *const *)d->values);
    free(sql);
    int fails = PQresultStatus(res) != PGRES_TUPLES_OK;
    const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    snprintf(why, size, "%s", fails && m ? m : "");
    PQclear(res);
    return fails;
}

void pg_target_transform_explain(PGconn *conn, void *diag, char *errbuf, size_t errsize)
{
    pg_target_transform_diag_t *d = diag;
    if (d == NULL || PQstatus(conn) != CONNECTION_OK) {
        pg_target_transform_diag_free(d);
        return;
    }
    const transform_plan_t *plan = d->tr->plan;
    char why[512];
    for (int c = plan->where ? -1 : 0; c < plan->ncols; c++) {
        if (!pg_target_transform_probe_fails(conn, d, c, why, sizeof(why)))
            continue;
        size_t n = strlen(errbuf);
        snprintf(errbuf + n, n < errsize ? errsize - n : 0, "; %s%s%s fails for this row: %s",
                 c < 0 ? "the filter" : "column \"", c < 0 ? "" : plan->cols[c].target,
                 c < 0 ? "" : "\"", why);
        break;
    }
    pg_target_transform_diag_free(d);
}

static pg_transform_sql_op_t pg_target_transform_op(const pg_target_transform_t *tr, change_op_t op)
{
    if (op == CHANGE_INSERT)
        return PG_TRANSFORM_SQL_INSERT;
    if (op == CHANGE_DELETE)
        return PG_TRANSFORM_SQL_DELETE;
    return tr->plan->where ? PG_TRANSFORM_SQL_UPSERT : PG_TRANSFORM_SQL_UPDATE;
}

err_t pg_target_transform_apply(pg_target_transform_t *tr, pg_pipe_t *pipe, int *counter,
                                const change_row_t *row, char *errbuf, size_t errsize)
{
    uint8_t mask[1664];
    char key[256];
    pg_transform_sql_op_t op = pg_target_transform_op(tr, row->op);
    pg_target_transform_effective(tr, row);
    err_t err = ERR_OK;
    if (op == PG_TRANSFORM_SQL_UPDATE || op == PG_TRANSFORM_SQL_UPSERT)
        err = pg_target_transform_mask(tr, row, mask, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    if (op == PG_TRANSFORM_SQL_UPSERT && !pg_target_transform_all(mask, tr->plan->ncols))
        op = PG_TRANSFORM_SQL_PARTIAL; /* some values unknown: update what is known */
    pg_target_transform_stmt_t *st;
    err = pg_target_transform_stmt(tr, pipe, counter, op, mask, &st, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    if (pg_target_transform_bind(tr, row, op) != ERR_OK) {
        snprintf(errbuf, errsize, "out of memory binding a row of %s", tr->display);
        return ERR_RUNTIME;
    }
    change_key_text(row->rel, row->old_tuple ? row->old_tuple : row->new_tuple, key, sizeof(key));
    /* a filtered table may rightly have no row to change */
    pg_pipe_tag_t tag = {.diag = pg_target_transform_diag_new(tr),
                         .diag_free = pg_target_transform_diag_free,
                         .diag_explain = pg_target_transform_explain,
                         .op = (char)row->op,
                         .check_rows =
                             op == PG_TRANSFORM_SQL_PARTIAL || pg_target_transform_checked(tr, op),
                         .table = tr->display,
                         .lsn = row->lsn};
    return pg_pipe_exec_prepared(pipe, st->name, pg_transform_sql_nparams(&tr->sql, op),
                                 (const char *const *)tr->values, tr->lengths, tr->formats, &tag,
                                 key, errbuf, errsize);
}
