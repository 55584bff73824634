/*
 * pg_copy: the parallel initial copy.
 *
 * Design. The main thread describes every table once (columns on both sides,
 * size, whether binary COPY is safe) and cuts tables larger than a chunk
 * into ctid ranges (TID range scans, PostgreSQL 14+), so one big table keeps
 * every worker busy. Each worker opens its own source session, imports the
 * exported snapshot in a REPEATABLE READ transaction, and for each work item
 * pipes COPY (SELECT ...) TO STDOUT into COPY ... FROM STDIN on its own
 * target session, one target transaction per item. Tables are described as
 * the snapshot sees them, and the first worker locks them all as it starts
 * (pg_copy_guard_all), so DDL committed during the copy waits for its end and
 * reaches the stream after the snapshot. The first error stops
 * every worker; the caller then restarts the copy from scratch, which is the
 * only way to be sure nothing is half there.
 */
#include "pg/pg_copy.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/copy_progress.h"
#include "core/log.h"
#include "pg/pg_conn.h"
#include "pg/pg_index_defer.h"
#include "pg/pg_transform_sql.h"
#include "core/route.h"
#include "core/transform.h"

#define PG_COPY_DEFAULT_CHUNK_MB 128 /* heap per work item when the config says nothing */
#define PG_COPY_LOG_SECONDS 5.0      /* a progress log line this often (not a terminal) */
#define PG_COPY_DRAW_SECONDS 0.5     /* terminal redraw period */
#define PG_COPY_ROW_SECONDS 2.0      /* progress row update period on the target */

typedef struct pg_copy_desc {
    char *display; /* "schema.name" of the source */
    char *source;  /* quoted "schema"."name" of the source */
    char *target;  /* quoted "schema"."name" of the target */
    char *select;  /* COPY (<select>) TO STDOUT */
    char *copy_in; /* COPY target (cols) FROM STDIN ... */
    char *format;  /* "binary" or "text" */
    int filtered;  /* select has a WHERE already (a transform's filter) */
    int64_t pages;
    uint64_t est_bytes; /* pg_table_size of the table and its partitions */
    int partitioned;
    _Atomic uint64_t rows;  /* copied so far (rows in flight counted as sent) */
    _Atomic uint64_t bytes; /* COPY stream bytes so far */
    int items_left;         /* under the shared lock */
    double t_start, t_end;  /* under the shared lock; 0 = not yet */
    int reported;           /* main thread only: "table done" logged */
} pg_copy_desc_t;

typedef struct pg_copy_item {
    int table;
    int64_t lo, hi; /* ctid page range; hi < 0: whole table */
} pg_copy_item_t;

typedef struct pg_copy_shared {
    const config_t *cfg;
    const char *snapshot;
    volatile sig_atomic_t *stop;
    const pg_copy_table_t *tables; /* every table to copy: the first worker locks them all */
    int ntables;
    int workers; /* workers started (under lock) */
    pg_copy_desc_t *descs;
    pg_copy_item_t *items;
    int nitems;
    pthread_mutex_t lock;
    int next; /* next item to take */
    int done; /* items finished */
    int failed;
    err_t err;
    char errbuf[2048];
} pg_copy_shared_t;

static void pg_copy_fail(pg_copy_shared_t *sh, err_t err, const char *msg)
{
    pthread_mutex_lock(&sh->lock);
    if (!sh->failed) {
        sh->failed = 1;
        sh->err = err;
        snprintf(sh->errbuf, sizeof(sh->errbuf), "%s", msg);
    }
    pthread_mutex_unlock(&sh->lock);
}

/* ---- describing tables -------------------------------------------------- */

static void pg_copy_desc_free(pg_copy_desc_t *d)
{
    free(d->display);
    free(d->source);
    free(d->target);
    free(d->select);
    free(d->copy_in);
}

/* Appends to a malloc'd string; frees and returns NULL on failure. */
static char *pg_copy_cat(char *s, const char *add)
{
    if (s == NULL)
        return NULL;
    size_t a = strlen(s), b = strlen(add);
    char *n = realloc(s, a + b + 1);
    if (n == NULL) {
        free(s);
        return NULL;
    }
    memcpy(n + a, add, b + 1);
    return n;
}

/* A source table without columns copies as COPY t FROM STDIN (a column
 * list cannot be empty), which fills every target column: refused when the
 * target has one to fill, rather than loading empty text into it. rt is
 * pg_copy_columns's target query. */
static err_t pg_copy_no_columns(PGresult *rt, const char *display, char *errbuf, size_t errsize)
{
    for (int j = 0; j < PQntuples(rt); j++) {
        if (PQgetvalue(rt, j, 2)[0] != 't') {
            snprintf(errbuf, errsize,
                     "source table %s has no columns to copy but its target table has column "
                     "\"%s\"; the initial copy cannot fill it (drop the column or copy the "
                     "table yourself and run with --snapshot=never)",
                     display, PQgetvalue(rt, j, 0));
            return ERR_SCHEMA;
        }
    }
    return ERR_OK;
}

/* Column list shared by source and target: every non-generated source column.
 * Fails when the target lacks one. Sets *binary when all types match. */
static err_t pg_copy_columns(PGconn *src, PGconn *tgt, const char *sq, const char *tq,
                             const char *display, char **cols, int *binary, char *errbuf,
                             size_t errsize)
{
    static const char *const q = "SELECT attname, format_type(atttypid, atttypmod), "
                                 "attgenerated <> '' FROM pg_attribute WHERE attrelid = "
                                 "$1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum";
    const char *p1[1] = {sq}, *p2[1] = {tq};
    PGresult *rs = pg_conn_execp(src, q, 1, p1, PGRES_TUPLES_OK, "source", errbuf, errsize);
    PGresult *rt =
        rs ? pg_conn_execp(tgt, q, 1, p2, PGRES_TUPLES_OK, "target", errbuf, errsize) : NULL;
    err_t err = rt ? ERR_OK : ERR_RUNTIME;
    *cols = strdup("");
    *binary = 1;
    for (int i = 0; err == ERR_OK && i < PQntuples(rs); i++) {
        if (PQgetvalue(rs, i, 2)[0] == 't')
            continue; /* generated on the source: computed again on the target */
        int j = 0;
        while (j < PQntuples(rt) && strcmp(PQgetvalue(rt, j, 0), PQgetvalue(rs, i, 0)) != 0)
            j++;
        if (j == PQntuples(rt) || PQgetvalue(rt, j, 2)[0] == 't') {
            snprintf(errbuf, errsize, "target table of %s has no%s column \"%s\"", display,
                     j == PQntuples(rt) ? "" : " writable", PQgetvalue(rs, i, 0));
            err = ERR_SCHEMA;
            break;
        }
        *binary &= strcmp(PQgetvalue(rt, j, 1), PQgetvalue(rs, i, 1)) == 0;
        char *id = PQescapeIdentifier(src, PQgetvalue(rs, i, 0), strlen(PQgetvalue(rs, i, 0)));
        *cols = pg_copy_cat(pg_copy_cat(*cols, (*cols && **cols) ? ", " : ""), id ? id : "");
        PQfreemem(id);
        if (*cols == NULL || id == NULL) {
            snprintf(errbuf, errsize, "out of memory");
            err = ERR_RUNTIME;
        }
    }
    if (err == ERR_OK && (*cols)[0] == '\0')
        err = pg_copy_no_columns(rt, display, errbuf, errsize);
    PQclear(rs);
    PQclear(rt);
    if (err != ERR_OK) {
        free(*cols);
        *cols = NULL;
    }
    return err;
}

static err_t pg_copy_size(PGconn *src, const char *sq, pg_copy_desc_t *d, char *errbuf,
                          size_t errsize)
{
    const char *p[1] = {sq};
    PGresult *res =
        pg_conn_execp(src,
                      "SELECT relkind = 'p', greatest(relpages, "
                      "pg_relation_size(oid) / current_setting('block_size')::int), "
                      "coalesce((SELECT sum(pg_table_size(relid)) FROM pg_partition_tree(c.oid)), "
                      "pg_table_size(c.oid)) "
                      "FROM pg_class c WHERE oid = $1::regclass",
                      1, p, PGRES_TUPLES_OK, "source", errbuf, errsize);
    if (res == NULL)
        return ERR_RUNTIME;
    d->partitioned = PQgetvalue(res, 0, 0)[0] == 't';
    d->pages = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    d->est_bytes = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
    PQclear(res);
    return ERR_OK;
}

/* Column names of a table (not dropped, not generated), quoted or not. */
static char **pg_copy_names(PGconn *conn, const char *table, int quote, int *n)
{
    const char *p[1] = {table};
    PGresult *res = pg_conn_query(conn,
                                  "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass "
                                  "AND attnum > 0 AND NOT attisdropped AND attgenerated = '' "
                                  "ORDER BY attnum",
                                  1, p);
    int rows = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : -1;
    char **v = rows >= 0 ? calloc((size_t)rows + 1, sizeof(char *)) : NULL;
    for (int i = 0; v != NULL && i < rows; i++) {
        const char *name = PQgetvalue(res, i, 0);
        char *q = quote ? PQescapeIdentifier(conn, name, strlen(name)) : NULL;
        v[i] = strdup(quote ? (q ? q : "") : name);
        PQfreemem(q);
    }
    PQclear(res);
    *n = v ? rows : 0;
    return v;
}

static void pg_copy_names_free(char **v, int n)
{
    for (int i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}

/* SELECT and COPY column list of a transformed table: the mapping's
 * expressions are evaluated on the source, inside the snapshot. */
static err_t pg_copy_transformed(PGconn *src, PGconn *tgt, const config_table_t *entry,
                                 const char *sq, const char *tq, pg_copy_desc_t *d, char *errbuf,
                                 size_t errsize)
{
    int ns = 0, nt = 0, nq = 0;
    char **snames = pg_copy_names(src, sq, 0, &ns), **squoted = pg_copy_names(src, sq, 1, &nq);
    char **tnames = pg_copy_names(tgt, tq, 0, &nt);
    char *select = NULL, *cols = NULL;
    err_t err = (snames && squoted && tnames) ? ERR_OK : ERR_RUNTIME;
    transform_plan_t *plan = NULL;
    if (err == ERR_OK) {
        plan = transform_plan_new(entry, (const char *const *)snames, ns,
                                  (const char *const *)tnames, nt, d->display, errbuf, errsize);
        err = plan ? ERR_OK : ERR_SCHEMA;
    }
    char **tq_cols = plan ? calloc((size_t)plan->ncols + 1, sizeof(char *)) : NULL;
    for (int c = 0; tq_cols != NULL && c < plan->ncols; c++)
        tq_cols[c] = PQescapeIdentifier(tgt, plan->cols[c].target, strlen(plan->cols[c].target));
    if (err == ERR_OK &&
        (tq_cols == NULL ||
         pg_transform_sql_copy(plan, squoted, tq_cols, sq, !d->partitioned, &select, &cols) != 0))
        err = ERR_RUNTIME;
    size_t n = err == ERR_OK ? strlen(cols) + strlen(tq) + 64 : 0;
    if (err == ERR_OK && (d->copy_in = malloc(n)) != NULL) {
        snprintf(d->copy_in, n, "COPY %s (%s) FROM STDIN WITH (FORMAT text)", tq, cols);
        d->select = select;
        d->format = "text";
        d->filtered = plan->where != NULL;
        select = NULL;
    } else if (err == ERR_OK) {
        err = ERR_RUNTIME;
    }
    for (int c = 0; tq_cols != NULL && c < plan->ncols; c++)
        PQfreemem(tq_cols[c]);
    free(tq_cols);
    free(select);
    free(cols);
    transform_plan_free(plan);
    pg_copy_names_free(snames, ns);
    pg_copy_names_free(squoted, nq);
    pg_copy_names_free(tnames, nt);
    return err;
}

static err_t pg_copy_describe(PGconn *src, PGconn *tgt, const config_t *cfg,
                              const pg_copy_table_t *t, pg_copy_desc_t *d, char *errbuf,
                              size_t errsize)
{
    const char *ts, *tn;
    route_target(cfg, t->schema, t->name, &ts, &tn);
    char *sq = pg_conn_qualified(src, t->schema, t->name);
    char *tq = pg_conn_qualified(tgt, ts, tn);
    char *cols = NULL;
    int binary = 0;
    size_t dlen = strlen(t->schema) + strlen(t->name) + 2;
    d->display = malloc(dlen);
    err_t err = (sq && tq && d->display) ? ERR_OK : ERR_RUNTIME;
    const config_table_t *entry = config_find_table(cfg, t->schema, t->name);
    int transformed =
        entry != NULL && (entry->ncolumns > 0 || entry->nexclude > 0 || entry->where != NULL);
    if (err == ERR_OK)
        snprintf(d->display, dlen, "%s.%s", t->schema, t->name);
    if (err == ERR_OK)
        err = pg_copy_size(src, sq, d, errbuf, errsize);
    if (err == ERR_OK && transformed)
        err = pg_copy_transformed(src, tgt, entry, sq, tq, d, errbuf, errsize);
    else if (err == ERR_OK)
        err = pg_copy_columns(src, tgt, sq, tq, d->display, &cols, &binary, errbuf, errsize);
    if (err == ERR_OK && !transformed) {
        size_t n = strlen(cols) * 2 + strlen(sq) + strlen(tq) + 128;
        d->select = malloc(n);
        d->copy_in = malloc(n);
        d->format = binary ? "binary" : "text";
        if (d->select && d->copy_in) {
            snprintf(d->select, n, "SELECT %s FROM %s%s", cols, d->partitioned ? "" : "ONLY ", sq);
            /* no columns: COPY t () would be a syntax error (pg_copy_no_columns) */
            snprintf(d->copy_in, n, "COPY %s%s%s%s FROM STDIN WITH (FORMAT %s)", tq,
                     cols[0] ? " (" : "", cols, cols[0] ? ")" : "", d->format);
        } else {
            err = ERR_RUNTIME;
        }
    }
    if (err == ERR_RUNTIME && errbuf[0] == '\0')
        snprintf(errbuf, errsize, "out of memory");
    d->source = sq;
    d->target = tq;
    free(cols);
    return err;
}

/* ---- the workers -------------------------------------------------------- */

static PGconn *pg_copy_source_session(pg_copy_shared_t *sh, char *errbuf, size_t errsize)
{
    err_t err;
    PGconn *src =
        pg_conn_open(sh->cfg->source_conninfo, PG_CONN_SQL, "source", &err, errbuf, errsize);
    if (src == NULL)
        return NULL;
    char *lit = PQescapeLiteral(src, sh->snapshot, strlen(sh->snapshot));
    char sql[256];
    snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT %s", lit ? lit : "''");
    PQfreemem(lit);
    /* no synchronized scans: the same query in the same snapshot then returns
     * rows in the same order, which pg_copy_locate relies on */
    PGresult *res = pg_conn_exec(src,
                                 "SET synchronize_seqscans = off; "
                                 "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                                 PGRES_COMMAND_OK, "source", errbuf, errsize);
    PQclear(res);
    res = res ? pg_conn_exec(src, sql, PGRES_COMMAND_OK, "source: import snapshot", errbuf, errsize)
              : NULL;
    if (res == NULL) {
        PQfinish(src);
        return NULL;
    }
    PQclear(res);
    return src;
}

static PGconn *pg_copy_target_session(pg_copy_shared_t *sh, char *errbuf, size_t errsize)
{
    err_t err;
    PGconn *tgt = pg_conn_open_bounded(sh->cfg->target_conninfo, PG_CONN_SQL, "target",
                                       sh->cfg->target_timeout_s * 1000, &err, errbuf, errsize);
    if (tgt != NULL)
        PQclear(pg_conn_query(tgt, "SET session_replication_role = replica", 0, NULL));
    return tgt;
}

/* Pumps one COPY OUT into one COPY IN. Each CopyData message is one row
 * (binary adds one trailer message); *sent counts them for live progress.
 * ERR_OK only when the source stream ended; otherwise the source session is
 * still in COPY OUT and only good for PQfinish. */
static err_t pg_copy_pump(pg_copy_shared_t *sh, pg_copy_desc_t *d, PGconn *src, PGconn *tgt,
                          uint64_t *sent, char *errbuf, size_t errsize)
{
    char *buf;
    int n;
    uint64_t bytes = 0, rows = 0;
    while ((n = PQgetCopyData(src, &buf, 0)) > 0) {
        err_t err = pg_conn_copy_put(tgt, "target", buf, (size_t)n, errbuf, errsize);
        PQfreemem(buf);
        bytes += (uint64_t)n;
        rows++;
        if (err != ERR_OK)
            return err;
        if (bytes >= (1u << 20)) {
            /* the target connection is nonblocking: wait (bounded) until it took the MB */
            if ((err = pg_conn_await(tgt, 1, errbuf, errsize)) != ERR_OK)
                return err;
            atomic_fetch_add(&d->bytes, bytes);
            atomic_fetch_add(&d->rows, rows);
            *sent += rows;
            bytes = rows = 0;
            if (*sh->stop || sh->failed) {
                snprintf(errbuf, errsize, "copy interrupted");
                return ERR_RUNTIME;
            }
        }
    }
    atomic_fetch_add(&d->bytes, bytes);
    atomic_fetch_add(&d->rows, rows);
    *sent += rows;
    if (n == -2) {
        snprintf(errbuf, errsize, "source: %s", PQerrorMessage(src));
        return ERR_RUNTIME;
    }
    return ERR_OK;
}

/* "<head>(<item's select><inner>)<tail>" into a malloc'd string; NULL when
 * out of memory. */
static char *pg_copy_item_sql(const pg_copy_desc_t *d, const pg_copy_item_t *it, const char *head,
                              const char *inner, const char *tail)
{
    size_t n = strlen(d->select) + strlen(head) + strlen(inner) + strlen(tail) + 128;
    char *sql = malloc(n);
    if (sql == NULL)
        return NULL;
    int m = snprintf(sql, n, "%s(%s", head, d->select);
    if (it->hi >= 0)
        m += snprintf(sql + m, n - (size_t)m,
                      " %s ctid >= '(%lld,0)'::tid AND ctid < '(%lld,0)'::tid",
                      d->filtered ? "AND" : "WHERE", (long long)it->lo, (long long)it->hi);
    snprintf(sql + m, n - (size_t)m, "%s)%s", inner, tail);
    return sql;
}

/* Locks table t of sh against DDL (ACCESS SHARE, held until the session's
 * transaction ends) and fails when a DDL rewrote it (ALTER COLUMN TYPE, ...)
 * after the copy's snapshot: its rows then look empty in the snapshot. */
static err_t pg_copy_guard(PGconn *src, const pg_copy_table_t *t, char *errbuf, size_t errsize)
{
    char *q = pg_conn_qualified(src, t->schema, t->name);
    if (q == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    char sql[1200];
    snprintf(sql, sizeof(sql), "LOCK TABLE %s IN ACCESS SHARE MODE", q);
    free(q);
    PGresult *res =
        pg_conn_exec(src, sql, PGRES_COMMAND_OK, "source: lock for the copy", errbuf, errsize);
    const char *params[2] = {t->schema, t->name};
    PQclear(res);
    res = res ? pg_conn_execp(src,
                              "SELECT c.relfilenode <> 0 AND pg_relation_filenode(c.oid) IS "
                              "DISTINCT FROM c.relfilenode FROM pg_class c JOIN pg_namespace n ON "
                              "n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
                              2, params, PGRES_TUPLES_OK, "source: check for DDL", errbuf, errsize)
              : NULL;
    if (res == NULL)
        return pg_conn_classify(src) == ERR_CONNECT ? ERR_CONNECT : ERR_RUNTIME;
    int rewritten = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!rewritten)
        return ERR_OK;
    snprintf(errbuf, errsize,
             "table %s.%s was rewritten by a DDL committed after the copy's snapshot, before "
             "the copy could lock it: its rows cannot be read in that snapshot; run again (the "
             "copy starts anew)",
             t->schema, t->name);
    return ERR_RUNTIME;
}

/* The first worker locks every table as it starts (pg_copy_guard), so a DDL
 * committed while the copy runs waits for the copy's end and reaches the
 * stream after the snapshot: applied after the copy, in order. It never asks
 * for a lock later, so it never waits behind a DDL queued for one (a wait
 * through this process PostgreSQL could not see as a deadlock); the other
 * workers lock each table as they take it, and the check catches a DDL that
 * committed before. */
static err_t pg_copy_guard_all(PGconn *src, const pg_copy_shared_t *sh, char *errbuf,
                               size_t errsize)
{
    err_t err = ERR_OK;
    for (int t = 0; t < sh->ntables && err == ERR_OK; t++)
        err = pg_copy_guard(src, &sh->tables[t], errbuf, errsize);
    return err;
}

static err_t pg_copy_item_run(pg_copy_shared_t *sh, PGconn *src, PGconn *tgt,
                              const pg_copy_item_t *it, char *errbuf, size_t errsize)
{
    pg_copy_desc_t *d = &sh->descs[it->table];
    err_t gerr = pg_copy_guard(src, &sh->tables[it->table], errbuf, errsize);
    if (gerr != ERR_OK)
        return gerr;
    char tail[64];
    snprintf(tail, sizeof(tail), " TO STDOUT WITH (FORMAT %s)", d->format);
    char *sql = pg_copy_item_sql(d, it, "COPY ", "", tail);
    if (sql == NULL)
        return ERR_RUNTIME;
    PGresult *out = pg_conn_exec(src, sql, PGRES_COPY_OUT, "source: copy", errbuf, errsize);
    free(sql);
    PGresult *in =
        out ? pg_conn_exec(tgt, d->copy_in, PGRES_COPY_IN, "target: copy", errbuf, errsize) : NULL;
    PQclear(out);
    PQclear(in);
    if (in == NULL)
        return ERR_RUNTIME;
    uint64_t rows = 0, sent = 0;
    err_t err = pg_copy_pump(sh, d, src, tgt, &sent, errbuf, errsize);
    err_t e2 = pg_conn_copy_finish(tgt, err == ERR_OK && !*sh->stop ? NULL : "copy interrupted",
                                   "target: copy", &rows, err, errbuf, errsize);
    if (err != ERR_OK) /* the source is mid COPY OUT: PQgetResult would never end */
        return err;
    err_t e1 = pg_conn_copy_results(src, "source: copy", NULL, errbuf, errsize);
    if (e1 == ERR_OK && e2 == ERR_OK)
        atomic_fetch_add(&d->rows, rows - sent); /* exact count; wraps back when sent > rows */
    return e1 != ERR_OK ? e1 : e2;
}

/* Key columns of the source table (replica identity index, else primary key)
 * as "a, b" (names) and "quoted_a::text, ..." (select list); 0 when found. */
static int pg_copy_key_columns(PGconn *src, const char *source, char *names, size_t nsize,
                               char *exprs, size_t esize)
{
    static const char *const q =
        "SELECT string_agg(a.attname, ', ' ORDER BY k.n), "
        "string_agg(quote_ident(a.attname) || '::text', ', ' ORDER BY k.n) "
        "FROM (SELECT indrelid, indkey FROM pg_index WHERE indrelid = $1::regclass "
        "AND (indisreplident OR indisprimary) ORDER BY indisreplident DESC LIMIT 1) i "
        "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum";
    const char *params[1] = {source};
    PGresult *res = pg_conn_query(src, q, 1, params);
    int ok =
        PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0);
    if (ok) {
        snprintf(names, nsize, "%s", PQgetvalue(res, 0, 0));
        snprintf(exprs, esize, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return ok ? 0 : -1;
}

/*
 * The key of the row on COPY line `line` (COPY counts rows, from 1) of item
 * it, as "(a, b)=(1, x)", read again on a fresh session importing the same
 * snapshot: the same query in the same snapshot yields the same rows in the
 * same order (no synchronized scans). Best effort: key stays "" when it cannot
 * tell (the snapshot no longer importable, a table without key).
 */
static void pg_copy_locate(pg_copy_shared_t *sh, const pg_copy_item_t *it, long line, char *key,
                           size_t size)
{
    const pg_copy_desc_t *d = &sh->descs[it->table];
    char eb[256], names[512], exprs[1024], tail[64];
    key[0] = '\0';
    PGconn *src = pg_copy_source_session(sh, eb, sizeof(eb));
    if (src == NULL ||
        pg_copy_key_columns(src, d->source, names, sizeof(names), exprs, sizeof(exprs)) != 0) {
        log_warn("copy: cannot read the key of the failing row table=%s line=%ld: %s", d->display,
                 line, src == NULL ? eb : "no replica identity index or primary key");
        PQfinish(src);
        return;
    }
    char head[1100];
    snprintf(head, sizeof(head), "SELECT concat_ws(', ', %s) FROM ", exprs);
    snprintf(tail, sizeof(tail), " s OFFSET %ld LIMIT 1", line - 1);
    /* OFFSET 0 keeps the item's own plan (the subquery is not flattened) */
    char *sql = pg_copy_item_sql(d, it, head, " OFFSET 0", tail);
    if (sql != NULL) {
        PGresult *res = pg_conn_query(src, sql, 0, NULL);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            snprintf(key, size, "(%s)=(%s)", names, PQgetvalue(res, 0, 0));
        else
            log_warn("copy: cannot read the key of the failing row table=%s line=%ld: %s",
                     d->display, line, pg_conn_message(src, eb, sizeof(eb)));
        PQclear(res);
    }
    free(sql);
    PQfinish(src);
}

/* A failed item's message, with the key of the failing row when the target
 * named its COPY line (a value it could not take: an untranslatable
 * character, a malformed value). */
static void pg_copy_item_failed(pg_copy_shared_t *sh, const pg_copy_item_t *it, const char *why)
{
    char msg[1700], key[600] = "";
    const char *ctx = strstr(why, "CONTEXT:  COPY ");
    const char *at = ctx != NULL ? strstr(ctx, ", line ") : NULL;
    if (at != NULL)
        pg_copy_locate(sh, it, strtol(at + 7, NULL, 10), key, sizeof(key));
    snprintf(msg, sizeof(msg), "copy of %s failed%s%s: %s", sh->descs[it->table].display,
             key[0] ? " at key " : "", key, why);
    pg_copy_fail(sh, ERR_RUNTIME, msg);
}

/* Index of the next work item, or -1 when none is left or the copy stops. */
static int pg_copy_take(pg_copy_shared_t *sh)
{
    pthread_mutex_lock(&sh->lock);
    int i = (sh->failed || *sh->stop || sh->next >= sh->nitems) ? -1 : sh->next++;
    if (i >= 0 && sh->descs[sh->items[i].table].t_start == 0.0)
        sh->descs[sh->items[i].table].t_start = clock_seconds();
    pthread_mutex_unlock(&sh->lock);
    return i;
}

static void pg_copy_item_done(pg_copy_shared_t *sh, int i)
{
    pthread_mutex_lock(&sh->lock);
    sh->done++;
    pg_copy_desc_t *d = &sh->descs[sh->items[i].table];
    if (--d->items_left == 0)
        d->t_end = clock_seconds();
    pthread_mutex_unlock(&sh->lock);
}

static void *pg_copy_worker(void *arg)
{
    pg_copy_shared_t *sh = arg;
    char errbuf[1024] = "";
    PGconn *src = pg_copy_source_session(sh, errbuf, sizeof(errbuf));
    PGconn *tgt = src ? pg_copy_target_session(sh, errbuf, sizeof(errbuf)) : NULL;
    err_t err = tgt != NULL ? ERR_OK : ERR_CONNECT;
    pthread_mutex_lock(&sh->lock);
    int first = sh->workers++ == 0;
    pthread_mutex_unlock(&sh->lock);
    if (err == ERR_OK && first)
        err = pg_copy_guard_all(src, sh, errbuf, sizeof(errbuf));
    if (err != ERR_OK) {
        pg_copy_fail(sh, err, errbuf);
        PQfinish(tgt);
        tgt = NULL;
    }
    while (tgt != NULL) {
        int i = pg_copy_take(sh);
        if (i < 0)
            break;
        errbuf[0] = '\0';
        if (pg_copy_item_run(sh, src, tgt, &sh->items[i], errbuf, sizeof(errbuf)) != ERR_OK) {
            if (*sh->stop)
                break; /* reported as a stop, not a failure */
            pg_copy_item_failed(sh, &sh->items[i], errbuf);
            break;
        }
        pg_copy_item_done(sh, i);
    }
    PQfinish(tgt);
    PQfinish(src);
    return NULL;
}

/* ---- orchestration ------------------------------------------------------ */

/* Heap pages per work item (8 kB pages, the PostgreSQL default). */
static int64_t pg_copy_chunk_pages(const config_t *cfg)
{
    int64_t mb = cfg->snapshot_chunk_mb > 0 ? cfg->snapshot_chunk_mb : PG_COPY_DEFAULT_CHUNK_MB;
    return mb * 128;
}

static int pg_copy_plan(pg_copy_shared_t *sh, int ntables)
{
    int64_t chunk = pg_copy_chunk_pages(sh->cfg);
    int n = 0;
    for (int t = 0; t < ntables; t++)
        n += sh->descs[t].pages > 2 * chunk ? (int)(sh->descs[t].pages / chunk + 1) : 1;
    sh->items = calloc((size_t)n + 1, sizeof(*sh->items));
    if (sh->items == NULL)
        return -1;
    for (int t = 0; t < ntables; t++) {
        pg_copy_desc_t *d = &sh->descs[t];
        if (d->pages <= 2 * chunk || d->partitioned) {
            sh->items[sh->nitems++] = (pg_copy_item_t){.table = t, .lo = 0, .hi = -1};
            d->items_left = 1;
            continue;
        }
        /* the last range is open-ended: the table may have grown since relpages */
        for (int64_t lo = 0; lo < d->pages; lo += chunk) {
            int64_t hi = lo + chunk >= d->pages ? INT32_MAX : lo + chunk;
            sh->items[sh->nitems++] = (pg_copy_item_t){.table = t, .lo = lo, .hi = hi};
            d->items_left++;
        }
    }
    return 0;
}

/* ---- progress: terminal, log, progress row ------------------------------ */

/* The main thread's view while the workers copy. */
typedef struct pg_copy_watch {
    pg_copy_shared_t *sh;
    int ntables;
    int tty;   /* stderr is a terminal: redraw a block in place */
    int drawn; /* lines of the block above the bar line */
    double started, last_log, last_draw, last_row;
    PGconn *tgt; /* progress row updates; NULL after a failure */
} pg_copy_watch_t;

static void pg_copy_sample(pg_copy_watch_t *w, double now, copy_progress_t *p)
{
    memset(p, 0, sizeof(*p));
    p->tables_total = w->ntables;
    p->seconds = now - w->started;
    pthread_mutex_lock(&w->sh->lock);
    for (int t = 0; t < w->ntables; t++) {
        pg_copy_desc_t *d = &w->sh->descs[t];
        p->rows += atomic_load(&d->rows);
        p->bytes += atomic_load(&d->bytes);
        p->est_bytes += d->est_bytes;
        p->tables_done += d->items_left == 0;
    }
    pthread_mutex_unlock(&w->sh->lock);
}

/* Terminal columns, 80 when unknown. */
static int pg_copy_columns_wide(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        return ws.ws_col;
    return 80;
}

/* Erases the block drawn last time; the cursor ends at its first column. */
static void pg_copy_erase(pg_copy_watch_t *w)
{
    if (!w->tty)
        return;
    if (w->drawn > 0)
        fprintf(stderr, "\r\033[%dA\033[J", w->drawn);
    else
        fprintf(stderr, "\r\033[J");
    w->drawn = 0;
}

/* One line per table being copied, then the overall bar, redrawn in place. */
static void pg_copy_draw(pg_copy_watch_t *w, const copy_progress_t *p, double now)
{
    int cols = pg_copy_columns_wide();
    char line[512];
    pg_copy_erase(w);
    pthread_mutex_lock(&w->sh->lock);
    for (int t = 0; t < w->ntables; t++) {
        pg_copy_desc_t *d = &w->sh->descs[t];
        if (d->t_start == 0.0 || d->items_left == 0)
            continue;
        copy_progress_table_t pt = {.name = d->display,
                                    .rows = atomic_load(&d->rows),
                                    .bytes = atomic_load(&d->bytes),
                                    .est_bytes = d->est_bytes,
                                    .seconds = now - d->t_start};
        copy_progress_table_line(&pt, line, sizeof(line));
        fprintf(stderr, "%.*s\n", cols - 1, line);
        w->drawn++;
    }
    pthread_mutex_unlock(&w->sh->lock);
    copy_progress_bar(p, 30, line, sizeof(line));
    fprintf(stderr, "%.*s", cols - 1, line);
    fflush(stderr);
}

/* Logs each table that finished since the last call. */
static void pg_copy_report_done(pg_copy_watch_t *w)
{
    pthread_mutex_lock(&w->sh->lock);
    for (int t = 0; t < w->ntables; t++) {
        pg_copy_desc_t *d = &w->sh->descs[t];
        if (d->reported || d->items_left != 0)
            continue;
        d->reported = 1;
        pg_copy_erase(w);
        log_info("copy table done table=%s rows=%llu mb=%.1f seconds=%.1f", d->display,
                 (unsigned long long)atomic_load(&d->rows),
                 (double)atomic_load(&d->bytes) / 1048576.0,
                 d->t_end > d->t_start ? d->t_end - d->t_start : 0.0);
    }
    pthread_mutex_unlock(&w->sh->lock);
}

/* Writes the counters into this configuration's progress row, for `status`.
 * Best effort: a failure is logged once and the copy goes on (a target that
 * went away fails the workers anyway). */
static void pg_copy_row_update(pg_copy_watch_t *w, const copy_progress_t *p)
{
    if (w->tgt == NULL)
        return;
    char v[5][32], errbuf[512];
    snprintf(v[0], sizeof(v[0]), "%llu", (unsigned long long)p->rows);
    snprintf(v[1], sizeof(v[1]), "%llu", (unsigned long long)p->bytes);
    snprintf(v[2], sizeof(v[2]), "%llu", (unsigned long long)p->est_bytes);
    snprintf(v[3], sizeof(v[3]), "%d", p->tables_done);
    snprintf(v[4], sizeof(v[4]), "%d", p->tables_total);
    const char *params[6] = {w->sh->cfg->name, v[0], v[1], v[2], v[3], v[4]};
    PGresult *res = pg_conn_execp(
        w->tgt,
        "UPDATE syncline.progress SET copy_rows = $2, copy_bytes = $3, copy_total_bytes = $4, "
        "copy_tables_done = $5, copy_tables_total = $6, updated_at = now() WHERE name = $1",
        6, params, PGRES_COMMAND_OK, "target: copy progress", errbuf, sizeof(errbuf));
    if (res == NULL) {
        pg_copy_erase(w);
        log_warn("copy progress not recorded on the target (status will not show it): %s", errbuf);
        PQfinish(w->tgt);
        w->tgt = NULL;
    }
    PQclear(res);
}

/* One tick: finished tables, terminal or log line, progress row. */
static void pg_copy_tick(pg_copy_watch_t *w, int force)
{
    double now = clock_seconds();
    copy_progress_t p;
    pg_copy_report_done(w);
    pg_copy_sample(w, now, &p);
    if (w->tty && (force || now - w->last_draw >= PG_COPY_DRAW_SECONDS)) {
        pg_copy_draw(w, &p, now);
        w->last_draw = now;
    } else if (!w->tty && now - w->last_log >= PG_COPY_LOG_SECONDS) {
        char line[512];
        copy_progress_log_line(&p, line, sizeof(line));
        log_info("%s", line);
        w->last_log = now;
    }
    if (force || now - w->last_row >= PG_COPY_ROW_SECONDS) {
        pg_copy_row_update(w, &p);
        w->last_row = now;
    }
}

static void pg_copy_watch(pg_copy_shared_t *sh, int ntables, double started)
{
    err_t err;
    char errbuf[512] = "";
    pg_copy_watch_t w = {.sh = sh,
                         .ntables = ntables,
                         .tty = isatty(STDERR_FILENO),
                         .started = started,
                         .last_log = started,
                         .last_draw = started,
                         .last_row = started};
    w.tgt = pg_conn_open_bounded(sh->cfg->target_conninfo, PG_CONN_SQL, "target",
                                 sh->cfg->target_timeout_s * 1000, &err, errbuf, sizeof(errbuf));
    if (w.tgt == NULL)
        log_warn("copy progress not recorded on the target: %s", errbuf);
    pg_copy_tick(&w, 1);
    for (;;) {
        pthread_mutex_lock(&sh->lock);
        int finished = sh->done >= sh->nitems || sh->failed;
        pthread_mutex_unlock(&sh->lock);
        if (finished || *sh->stop)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 200000000}, NULL);
        pg_copy_tick(&w, 0);
    }
    pg_copy_tick(&w, 1);
    pg_copy_erase(&w);
    PQfinish(w.tgt);
}

/* Describes the tables as the copy's snapshot sees them (a column added
 * since is not copied: the stream adds it after the copy), locked. */
static err_t pg_copy_describe_all(pg_copy_shared_t *sh, const pg_copy_table_t *tables, int ntables,
                                  char *errbuf, size_t errsize)
{
    err_t err = ERR_OK;
    PGconn *src = pg_copy_source_session(sh, errbuf, errsize);
    PGconn *tgt =
        src ? pg_conn_open_bounded(sh->cfg->target_conninfo, PG_CONN_SQL, "target",
                                   sh->cfg->target_timeout_s * 1000, &err, errbuf, errsize)
            : NULL;
    if (src == NULL)
        err = ERR_RUNTIME;
    for (int t = 0; tgt != NULL && t < ntables && err == ERR_OK; t++) {
        err = pg_copy_guard(src, &tables[t], errbuf, errsize);
        if (err == ERR_OK)
            err = pg_copy_describe(src, tgt, sh->cfg, &tables[t], &sh->descs[t], errbuf, errsize);
    }
    PQfinish(tgt);
    PQfinish(src);
    return err;
}

static err_t pg_copy_workers(pg_copy_shared_t *sh, int ntables, char *errbuf, size_t errsize)
{
    int nworkers = sh->cfg->snapshot_workers > 0 ? sh->cfg->snapshot_workers : 1;
    if (nworkers > sh->nitems)
        nworkers = sh->nitems > 0 ? sh->nitems : 1;
    pthread_t threads[64];
    int started = 0;
    double t0 = clock_seconds();
    for (; started < nworkers && started < 64; started++) {
        if (pthread_create(&threads[started], NULL, pg_copy_worker, sh) != 0) {
            pg_copy_fail(sh, ERR_RUNTIME, "cannot start a copy worker thread");
            break;
        }
    }
    pg_copy_watch(sh, ntables, t0);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    if (sh->failed) {
        snprintf(errbuf, errsize, "%s", sh->errbuf);
        return sh->err;
    }
    return ERR_OK; /* *sh->stop: the caller sees it and reports an interrupted copy */
}

/* Drops the target tables' secondary indexes (snapshot.defer_indexes). */
static err_t pg_copy_defer_indexes(pg_copy_shared_t *sh, int ntables, char *errbuf, size_t errsize)
{
    const char **names = calloc((size_t)ntables + 1, sizeof(*names));
    if (names == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    for (int t = 0; t < ntables; t++)
        names[t] = sh->descs[t].target;
    int n = 0;
    err_t err = pg_index_defer_drop(sh->cfg, names, ntables, &n, errbuf, errsize);
    free(names);
    if (err == ERR_OK)
        log_info("indexes deferred dropped=%d (recreated after the copy)", n);
    return err;
}

/* Builds the deferred indexes again once every row is in. */
static err_t pg_copy_restore_indexes(const config_t *cfg, char *errbuf, size_t errsize)
{
    int n = 0;
    double t0 = clock_seconds();
    err_t err = pg_index_defer_restore(cfg, &n, errbuf, errsize);
    if (err == ERR_OK && n > 0)
        log_info("indexes restored count=%d seconds=%.1f", n, clock_seconds() - t0);
    return err;
}

err_t pg_copy_run(const config_t *cfg, const char *snapshot, const pg_copy_table_t *tables,
                  int ntables, volatile sig_atomic_t *stop, pg_copy_stats_t *stats, char *errbuf,
                  size_t errsize)
{
    pg_copy_shared_t sh = {
        .cfg = cfg, .snapshot = snapshot, .stop = stop, .tables = tables, .ntables = ntables};
    memset(stats, 0, sizeof(*stats));
    sh.descs = calloc((size_t)ntables + 1, sizeof(*sh.descs));
    if (sh.descs == NULL || pthread_mutex_init(&sh.lock, NULL) != 0) {
        free(sh.descs);
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    double t0 = clock_seconds();
    errbuf[0] = '\0';
    err_t err = pg_copy_describe_all(&sh, tables, ntables, errbuf, errsize);
    if (err == ERR_OK && pg_copy_plan(&sh, ntables) != 0) {
        snprintf(errbuf, errsize, "out of memory");
        err = ERR_RUNTIME;
    }
    if (err == ERR_OK)
        log_info("copy plan tables=%d items=%d chunk_mb=%lld", ntables, sh.nitems,
                 (long long)pg_copy_chunk_pages(cfg) / 128);
    if (err == ERR_OK && cfg->snapshot_defer_indexes)
        err = pg_copy_defer_indexes(&sh, ntables, errbuf, errsize);
    if (err == ERR_OK)
        err = pg_copy_workers(&sh, ntables, errbuf, errsize);
    stats->interrupted = err == ERR_OK && *stop;
    /* also after a run without the option: an interrupted one may have saved some */
    if (err == ERR_OK && !stats->interrupted)
        err = pg_copy_restore_indexes(cfg, errbuf, errsize);
    for (int t = 0; t < ntables; t++) {
        stats->rows += atomic_load(&sh.descs[t].rows);
        stats->bytes += atomic_load(&sh.descs[t].bytes);
    }
    stats->tables = ntables;
    stats->seconds = clock_seconds() - t0;
    for (int t = 0; t < ntables; t++)
        pg_copy_desc_free(&sh.descs[t]);
    free(sh.descs);
    free(sh.items);
    pthread_mutex_destroy(&sh.lock);
    return err;
}

/* "a", "b", ... of the mapped, non-skipped target tables; NULL when none or on error. */
static char *pg_copy_target_list(PGconn *tgt, const config_t *cfg, const pg_copy_table_t *tables,
                                 int ntables)
{
    char *list = strdup("");
    for (int t = 0; list != NULL && t < ntables; t++) {
        const char *ts, *tn;
        if (route_target(cfg, tables[t].schema, tables[t].name, &ts, &tn) != ROUTE_SYNC)
            continue;
        char *q = pg_conn_qualified(tgt, ts, tn);
        list = pg_copy_cat(pg_copy_cat(list, list[0] ? ", " : ""), q ? q : "");
        free(q);
    }
    if (list != NULL && list[0] == '\0') {
        free(list);
        return NULL;
    }
    return list;
}

err_t pg_copy_truncate_targets(const config_t *cfg, const pg_copy_table_t *tables, int ntables,
                               char *errbuf, size_t errsize)
{
    err_t err;
    PGconn *tgt = pg_conn_open_bounded(cfg->target_conninfo, PG_CONN_SQL, "target",
                                       cfg->target_timeout_s * 1000, &err, errbuf, errsize);
    if (tgt == NULL)
        return err;
    char *list = pg_copy_target_list(tgt, cfg, tables, ntables);
    char *sql = list ? pg_copy_cat(strdup("TRUNCATE "), list) : NULL;
    PGresult *res =
        sql ? pg_conn_exec(tgt, sql, PGRES_COMMAND_OK, "target: truncate", errbuf, errsize) : NULL;
    err = (res != NULL || list == NULL) ? ERR_OK : ERR_RUNTIME;
    PQclear(res);
    free(sql);
    free(list);
    PQfinish(tgt);
    return err;
}

err_t pg_copy_find_nonempty(const config_t *cfg, const pg_copy_table_t *tables, int ntables,
                            int *nonempty, char *errbuf, size_t errsize)
{
    err_t err;
    *nonempty = -1;
    PGconn *tgt = pg_conn_open_bounded(cfg->target_conninfo, PG_CONN_SQL, "target",
                                       cfg->target_timeout_s * 1000, &err, errbuf, errsize);
    for (int t = 0; tgt != NULL && t < ntables && *nonempty < 0 && err == ERR_OK; t++) {
        const char *ts, *tn;
        if (route_target(cfg, tables[t].schema, tables[t].name, &ts, &tn) != ROUTE_SYNC)
            continue;
        char *q = pg_conn_qualified(tgt, ts, tn);
        char sql[1024];
        snprintf(sql, sizeof(sql), "SELECT EXISTS (SELECT 1 FROM %s)", q ? q : "");
        free(q);
        PGresult *res = pg_conn_exec(tgt, sql, PGRES_TUPLES_OK, "target", errbuf, errsize);
        if (res == NULL)
            err = ERR_SCHEMA;
        else if (PQgetvalue(res, 0, 0)[0] == 't')
            *nonempty = t;
        PQclear(res);
    }
    PQfinish(tgt);
    return err;
}

/* to_jsonb: a target whose progress table predates the copy columns reads as unknown. */
err_t pg_copy_read_status(const config_t *cfg, pg_copy_status_t *out, char *errbuf, size_t errsize)
{
    err_t err;
    memset(out, 0, sizeof(*out));
    PGconn *tgt = pg_conn_open_bounded(cfg->target_conninfo, PG_CONN_SQL, "target",
                                       cfg->target_timeout_s * 1000, &err, errbuf, errsize);
    if (tgt == NULL)
        return err;
    const char *params[1] = {cfg->name};
    PGresult *res =
        pg_conn_execp(tgt,
                      "SELECT j->>'copy_rows', j->>'copy_bytes', j->>'copy_total_bytes', "
                      "j->>'copy_tables_done', j->>'copy_tables_total' "
                      "FROM (SELECT to_jsonb(p) AS j FROM syncline.progress p WHERE name = $1) s",
                      1, params, PGRES_TUPLES_OK, "target: copy progress", errbuf, errsize);
    err = res ? ERR_OK : ERR_RUNTIME;
    if (res != NULL && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        out->known = 1;
        out->rows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        out->bytes = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        out->total_bytes = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        out->tables_done = atoi(PQgetvalue(res, 0, 3));
        out->tables_total = atoi(PQgetvalue(res, 0, 4));
    }
    PQclear(res);
    PQfinish(tgt);
    return err;
}
