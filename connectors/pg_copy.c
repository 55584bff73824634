/*
 * pg_copy: the parallel initial copy.
 *
 * Design. The main thread describes every table once (columns on both sides,
 * size, whether binary COPY is safe) and cuts tables larger than a chunk
 * into ctid ranges (TID range scans, PostgreSQL 14+), so one big table keeps
 * every worker busy. Each worker opens its own source session, imports the
 * exported snapshot in a REPEATABLE READ transaction, and for each work item
 * pipes COPY (SELECT ...) TO STDOUT into COPY ... FROM STDIN on its own
 * target session, one target transaction per item. The first error stops
 * every worker; the caller then restarts the copy from scratch, which is the
 * only way to be sure nothing is half there.
 */
#include "pg_copy.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pg_conn.h"
#include "route.h"

#define PG_COPY_CHUNK_PAGES 16384 /* 128 MB of heap per work item */

typedef struct pg_copy_desc {
    char *display; /* "schema.name" of the source */
    char *select;  /* COPY (<select>) TO STDOUT */
    char *copy_in; /* COPY target (cols) FROM STDIN ... */
    char *format;  /* "binary" or "text" */
    int64_t pages;
    int partitioned;
} pg_copy_desc_t;

typedef struct pg_copy_item {
    int table;
    int64_t lo, hi; /* ctid page range; hi < 0: whole table */
} pg_copy_item_t;

typedef struct pg_copy_shared {
    const config_t *cfg;
    const char *snapshot;
    volatile sig_atomic_t *stop;
    pg_copy_desc_t *descs;
    pg_copy_item_t *items;
    int nitems;
    pthread_mutex_t lock;
    int next; /* next item to take */
    int done; /* items finished */
    int failed;
    err_t err;
    char errbuf[2048];
    _Atomic uint64_t rows;
    _Atomic uint64_t bytes;
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
    PGresult *res = pg_conn_execp(src,
                                  "SELECT relkind = 'p', greatest(relpages, "
                                  "pg_relation_size(oid) / current_setting('block_size')::int) "
                                  "FROM pg_class WHERE oid = $1::regclass",
                                  1, p, PGRES_TUPLES_OK, "source", errbuf, errsize);
    if (res == NULL)
        return ERR_RUNTIME;
    d->partitioned = PQgetvalue(res, 0, 0)[0] == 't';
    d->pages = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    return ERR_OK;
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
    if (err == ERR_OK) {
        snprintf(d->display, dlen, "%s.%s", t->schema, t->name);
        err = pg_copy_columns(src, tgt, sq, tq, d->display, &cols, &binary, errbuf, errsize);
    }
    if (err == ERR_OK)
        err = pg_copy_size(src, sq, d, errbuf, errsize);
    if (err == ERR_OK) {
        size_t n = strlen(cols) * 2 + strlen(sq) + strlen(tq) + 128;
        d->select = malloc(n);
        d->copy_in = malloc(n);
        d->format = binary ? "binary" : "text";
        if (d->select && d->copy_in) {
            snprintf(d->select, n, "SELECT %s FROM %s%s", cols, d->partitioned ? "" : "ONLY ", sq);
            snprintf(d->copy_in, n, "COPY %s (%s) FROM STDIN WITH (FORMAT %s)", tq, cols,
                     d->format);
        } else {
            err = ERR_RUNTIME;
        }
    }
    if (err == ERR_RUNTIME && errbuf[0] == '\0')
        snprintf(errbuf, errsize, "out of memory");
    free(sq);
    free(tq);
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
    PGresult *res = pg_conn_exec(src, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
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
    PGconn *tgt =
        pg_conn_open(sh->cfg->target_conninfo, PG_CONN_SQL, "target", &err, errbuf, errsize);
    if (tgt != NULL)
        PQclear(PQexec(tgt, "SET session_replication_role = replica"));
    return tgt;
}

/* Pumps one COPY OUT into one COPY IN. */
static err_t pg_copy_pump(pg_copy_shared_t *sh, PGconn *src, PGconn *tgt, char *errbuf,
                          size_t errsize)
{
    char *buf;
    int n;
    uint64_t bytes = 0;
    while ((n = PQgetCopyData(src, &buf, 0)) > 0) {
        int ok = PQputCopyData(tgt, buf, n) == 1;
        PQfreemem(buf);
        bytes += (uint64_t)n;
        if (!ok) {
            snprintf(errbuf, errsize, "target: %s", PQerrorMessage(tgt));
            return ERR_RUNTIME;
        }
        if (bytes >= (1u << 20)) {
            atomic_fetch_add(&sh->bytes, bytes);
            bytes = 0;
            if (*sh->stop || sh->failed)
                break;
        }
    }
    atomic_fetch_add(&sh->bytes, bytes);
    if (n == -2) {
        snprintf(errbuf, errsize, "source: %s", PQerrorMessage(src));
        return ERR_RUNTIME;
    }
    return ERR_OK;
}

static err_t pg_copy_finish(PGconn *conn, const char *what, uint64_t *rows, char *errbuf,
                            size_t errsize)
{
    PGresult *res;
    err_t err = ERR_OK;
    while ((res = PQgetResult(conn)) != NULL) {
        if (PQresultStatus(res) == PGRES_COMMAND_OK && rows != NULL)
            *rows = strtoull(PQcmdTuples(res), NULL, 10);
        else if (PQresultStatus(res) != PGRES_COMMAND_OK && err == ERR_OK) {
            snprintf(errbuf, errsize, "%s: %s", what, PQresultErrorMessage(res));
            err = ERR_RUNTIME;
        }
        PQclear(res);
    }
    return err;
}

static err_t pg_copy_item_run(pg_copy_shared_t *sh, PGconn *src, PGconn *tgt,
                              const pg_copy_item_t *it, char *errbuf, size_t errsize)
{
    const pg_copy_desc_t *d = &sh->descs[it->table];
    size_t n = strlen(d->select) + 128;
    char *sql = malloc(n);
    if (sql == NULL)
        return ERR_RUNTIME;
    int m = snprintf(sql, n, "COPY (%s", d->select);
    if (it->hi >= 0)
        m += snprintf(sql + m, n - (size_t)m,
                      " WHERE ctid >= '(%lld,0)'::tid AND ctid < '(%lld,0)'::tid",
                      (long long)it->lo, (long long)it->hi);
    snprintf(sql + m, n - (size_t)m, ") TO STDOUT WITH (FORMAT %s)", d->format);
    PGresult *out = pg_conn_exec(src, sql, PGRES_COPY_OUT, "source: copy", errbuf, errsize);
    free(sql);
    PGresult *in =
        out ? pg_conn_exec(tgt, d->copy_in, PGRES_COPY_IN, "target: copy", errbuf, errsize) : NULL;
    PQclear(out);
    PQclear(in);
    if (in == NULL)
        return ERR_RUNTIME;
    err_t err = pg_copy_pump(sh, src, tgt, errbuf, errsize);
    uint64_t rows = 0;
    PQputCopyEnd(tgt, err == ERR_OK && !*sh->stop ? NULL : "copy interrupted");
    err_t e1 = pg_copy_finish(src, "source: copy", NULL, errbuf, errsize);
    err_t e2 = pg_copy_finish(tgt, "target: copy", &rows, errbuf, errsize);
    atomic_fetch_add(&sh->rows, rows);
    return err != ERR_OK ? err : (e1 != ERR_OK ? e1 : e2);
}

static void *pg_copy_worker(void *arg)
{
    pg_copy_shared_t *sh = arg;
    char errbuf[1024] = "";
    PGconn *src = pg_copy_source_session(sh, errbuf, sizeof(errbuf));
    PGconn *tgt = src ? pg_copy_target_session(sh, errbuf, sizeof(errbuf)) : NULL;
    if (tgt == NULL)
        pg_copy_fail(sh, ERR_CONNECT, errbuf);
    while (tgt != NULL) {
        pthread_mutex_lock(&sh->lock);
        int i = (sh->failed || *sh->stop || sh->next >= sh->nitems) ? -1 : sh->next++;
        pthread_mutex_unlock(&sh->lock);
        if (i < 0)
            break;
        errbuf[0] = '\0';
        if (pg_copy_item_run(sh, src, tgt, &sh->items[i], errbuf, sizeof(errbuf)) != ERR_OK) {
            char msg[1400];
            snprintf(msg, sizeof(msg), "copy of %s failed: %s",
                     sh->descs[sh->items[i].table].display, errbuf);
            pg_copy_fail(sh, ERR_RUNTIME, msg);
            break;
        }
        pthread_mutex_lock(&sh->lock);
        sh->done++;
        pthread_mutex_unlock(&sh->lock);
    }
    PQfinish(tgt);
    PQfinish(src);
    return NULL;
}

/* ---- orchestration ------------------------------------------------------ */

static int pg_copy_plan(pg_copy_shared_t *sh, int ntables)
{
    int n = 0;
    for (int t = 0; t < ntables; t++)
        n += sh->descs[t].pages > 2 * PG_COPY_CHUNK_PAGES
                 ? (int)(sh->descs[t].pages / PG_COPY_CHUNK_PAGES + 1)
                 : 1;
    sh->items = calloc((size_t)n + 1, sizeof(*sh->items));
    if (sh->items == NULL)
        return -1;
    for (int t = 0; t < ntables; t++) {
        const pg_copy_desc_t *d = &sh->descs[t];
        if (d->pages <= 2 * PG_COPY_CHUNK_PAGES || d->partitioned) {
            sh->items[sh->nitems++] = (pg_copy_item_t){.table = t, .lo = 0, .hi = -1};
            continue;
        }
        /* the last range is open-ended: the table may have grown since relpages */
        for (int64_t lo = 0; lo < d->pages; lo += PG_COPY_CHUNK_PAGES) {
            int64_t hi =
                lo + PG_COPY_CHUNK_PAGES >= d->pages ? INT32_MAX : lo + PG_COPY_CHUNK_PAGES;
            sh->items[sh->nitems++] = (pg_copy_item_t){.table = t, .lo = lo, .hi = hi};
        }
    }
    return 0;
}

static double pg_copy_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pg_copy_watch(pg_copy_shared_t *sh, double started)
{
    double last = started;
    for (;;) {
        pthread_mutex_lock(&sh->lock);
        int finished = sh->done >= sh->nitems || sh->failed;
        int done = sh->done;
        pthread_mutex_unlock(&sh->lock);
        if (finished || *sh->stop)
            return;
        nanosleep(&(struct timespec){.tv_nsec = 200000000}, NULL);
        double now = pg_copy_now();
        if (now - last >= 5.0) {
            double mb = (double)atomic_load(&sh->bytes) / 1048576.0;
            log_info("copy progress items=%d/%d rows=%llu mb=%.1f rate_mb_s=%.1f", done, sh->nitems,
                     (unsigned long long)atomic_load(&sh->rows), mb, mb / (now - started));
            last = now;
        }
    }
}

static err_t pg_copy_describe_all(pg_copy_shared_t *sh, const pg_copy_table_t *tables, int ntables,
                                  char *errbuf, size_t errsize)
{
    err_t err;
    PGconn *src =
        pg_conn_open(sh->cfg->source_conninfo, PG_CONN_SQL, "source", &err, errbuf, errsize);
    PGconn *tgt =
        src ? pg_conn_open(sh->cfg->target_conninfo, PG_CONN_SQL, "target", &err, errbuf, errsize)
            : NULL;
    for (int t = 0; tgt != NULL && t < ntables && err == ERR_OK; t++)
        err = pg_copy_describe(src, tgt, sh->cfg, &tables[t], &sh->descs[t], errbuf, errsize);
    PQfinish(src);
    PQfinish(tgt);
    return err;
}

static err_t pg_copy_workers(pg_copy_shared_t *sh, char *errbuf, size_t errsize)
{
    int nworkers = sh->cfg->snapshot_workers > 0 ? sh->cfg->snapshot_workers : 1;
    if (nworkers > sh->nitems)
        nworkers = sh->nitems > 0 ? sh->nitems : 1;
    pthread_t threads[64];
    int started = 0;
    double t0 = pg_copy_now();
    for (; started < nworkers && started < 64; started++) {
        if (pthread_create(&threads[started], NULL, pg_copy_worker, sh) != 0) {
            pg_copy_fail(sh, ERR_RUNTIME, "cannot start a copy worker thread");
            break;
        }
    }
    pg_copy_watch(sh, t0);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    if (sh->failed) {
        snprintf(errbuf, errsize, "%s", sh->errbuf);
        return sh->err;
    }
    if (*sh->stop) {
        snprintf(errbuf, errsize,
                 "copy interrupted by a stop request; it restarts on the next run");
        return ERR_RUNTIME;
    }
    return ERR_OK;
}

err_t pg_copy_run(const config_t *cfg, const char *snapshot, const pg_copy_table_t *tables,
                  int ntables, volatile sig_atomic_t *stop, pg_copy_stats_t *stats, char *errbuf,
                  size_t errsize)
{
    pg_copy_shared_t sh = {.cfg = cfg, .snapshot = snapshot, .stop = stop};
    memset(stats, 0, sizeof(*stats));
    sh.descs = calloc((size_t)ntables + 1, sizeof(*sh.descs));
    if (sh.descs == NULL || pthread_mutex_init(&sh.lock, NULL) != 0) {
        free(sh.descs);
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    double t0 = pg_copy_now();
    errbuf[0] = '\0';
    err_t err = pg_copy_describe_all(&sh, tables, ntables, errbuf, errsize);
    if (err == ERR_OK && pg_copy_plan(&sh, ntables) != 0) {
        snprintf(errbuf, errsize, "out of memory");
        err = ERR_RUNTIME;
    }
    if (err == ERR_OK)
        err = pg_copy_workers(&sh, errbuf, errsize);
    stats->rows = atomic_load(&sh.rows);
    stats->bytes = atomic_load(&sh.bytes);
    stats->tables = ntables;
    stats->seconds = pg_copy_now() - t0;
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
    PGconn *tgt = pg_conn_open(cfg->target_conninfo, PG_CONN_SQL, "target", &err, errbuf, errsize);
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
    PGconn *tgt = pg_conn_open(cfg->target_conninfo, PG_CONN_SQL, "target", &err, errbuf, errsize);
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
