/*
 * pg_verify: table comparison between source and target.
 *
 * Design. Each side computes, per chunk of primary-key range, count(*) and
 * sum(hashtextextended(ROW(columns)::text, 0)) (order-independent and exactly
 * additive, so a differing chunk always has a differing sub-chunk). Chunk
 * bounds are the keys of every chunk_rows-th source row; the first chunk is
 * open below and the last open above, so extra target rows outside the
 * source's key span are seen. A differing chunk is split in eight by the keys
 * of the side holding more rows, down to at most one row per side, which
 * names the row. Tables without a primary key are compared whole.
 *
 * Online consistency (source not fenced, an applier listening: pg_hold.h).
 * The applier pauses at a transaction boundary; a temporary logical slot
 * gives a consistent point C and a snapshot exported exactly at C (the
 * transactions committed before C), imported on the source; the applier
 * applies up to C and holds while the target's REPEATABLE READ snapshot is
 * taken, then goes on. Both sides then stand at C while the source takes
 * writes; lag grows only for the handshake. A new point is taken every
 * PG_VERIFY_POINT_S between chunks, so no snapshot stays open for hours.
 *
 * Fenced or stopped consistency. The source is read in one REPEATABLE READ transaction whose
 * snapshot is taken with pg_current_wal_lsn() = L; the target in another,
 * once its applied position covers L: either it reached L (run applies and
 * follows keepalives), or syncline is stopped and the slot holds no committed
 * transaction between applied and L (peeked, not consumed). Unless the source
 * database is fenced, the cluster's xid horizon must not have moved since
 * the source snapshot, or a transaction committed after it might already be on
 * the target: "source moving", retried. Rejected: comparing a moving pair
 * with row timestamps (needs schema changes) and exporting the snapshot to
 * parallel workers (not needed at these sizes yet).
 */
#include "pg/pg_verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "pg/pg_conn.h"
#include "pg/pg_hold.h"
#include "pg/pg_vmarks.h"
#include "pg/pg_version.h"
#include "pg/pg_synced_tables.h"
#include "pg/pg_transform_sql.h"
#include "core/transform.h"
#include "core/vmark.h"

#define PG_VERIFY_SPLIT 8      /* sub-chunks per narrowing step */
#define PG_VERIFY_MAX_REPORT 5 /* differing chunks narrowed and reported per table */
#define PG_VERIFY_MAX_KEYS 32
#define PG_VERIFY_ACK_MS 15000 /* how long the applier may take to reach a boundary */
#define PG_VERIFY_POINT_S 20   /* online: a new point after this long (source xmin horizon) */
#define PG_VERIFY_HOLD_EXPIRE_S 30

/* A growing string; oom sticks. */
typedef struct vbuf {
    char *s;
    size_t len, cap;
    int oom;
} vbuf_t;

typedef char **vbound_t; /* nkeys key values as text; NULL: unbounded */

typedef struct vstat {
    long long count;
    char sum[96];
} vstat_t;

/* One table being compared. */
typedef struct vtable {
    const pg_synced_tables_table_t *t;
    char display[600]; /* source name */
    char tdisplay[600];
    char *sq, *tq;  /* quoted names */
    char *rowexpr;  /* "ROW(c1, c2, ...)" */
    char *keylist;  /* quoted "k1, k2" */
    char *keynames; /* "k1, k2" for messages */
    int nkeys;
    /* per key column, the cast of its bound parameters, or NULL: a composite
     * key compared with an untyped parameter would be an anonymous record */
    char *keytype[PG_VERIFY_MAX_KEYS];
} vtable_t;

typedef struct pg_verify {
    const config_t *cfg;
    const pg_verify_opts_t *opts;
    PGconn *src;  /* the snapshot transaction */
    PGconn *src2; /* autocommit: horizon checks, slot peeks */
    PGconn *tgt;
    PGconn *tgt2; /* autocommit: the online hold protocol */
    lsn_t lsn;
    char xmax[32];
    char *xip;
    int fenced;
    int online;       /* the point came from the applier's hold (pg_hold) */
    int64_t point_ms; /* when the current point was taken */
    int points;       /* consistent points taken */
    lsn_t first;      /* the first point's LSN */
    int incremental;  /* compare only the key ranges marked since base */
    lsn_t base;
    int state_existed;           /* the applier was marking before this verify began */
    pg_vmarks_tracker_t tracker; /* the applier session marking (pid 0: none) */
    /* the servers' encodings differ: a row's text is hashed as its UTF-8
     * bytes (hex), the same on both sides, not as each server's own bytes */
    int utf8_hash;
    char *errbuf;
    size_t errsize;
} pg_verify_t;

__attribute__((format(printf, 2, 3))) static void vbuf_add(vbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->oom || n < 0)
        return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 256) + (size_t)n;
        char *s = realloc(b->s, cap);
        if (s == NULL) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void pg_verify_sleep_ms(const pg_verify_t *pv, int ms)
{
    for (int waited = 0; waited < ms && !*pv->opts->stop; waited += 50)
        nanosleep(&(struct timespec){.tv_nsec = 50000000}, NULL);
}

static void vbound_free(vbound_t b, int nkeys)
{
    for (int i = 0; b != NULL && i < nkeys; i++)
        free(b[i]);
    free(b);
}

static void vbounds_free(vbound_t *v, int n, int nkeys)
{
    for (int i = 0; v != NULL && i < n; i++)
        vbound_free(v[i], nkeys);
    free(v);
}

/* "(k1, k2) >= ($1, $2) AND (k1, k2) < ($3, $4)" for [lo, hi); params point
 * into lo and hi. */
static void pg_verify_where(const vtable_t *vt, vbound_t lo, vbound_t hi, vbuf_t *sql,
                            const char **params, int *np)
{
    const vbound_t b[2] = {lo, hi};
    int clauses = 0;
    for (int side = 0; side < 2; side++) {
        if (b[side] == NULL)
            continue;
        vbuf_add(sql, "%s(%s) %s (", clauses++ ? " AND " : " WHERE ", vt->keylist,
                 side == 0 ? ">=" : "<");
        for (int k = 0; k < vt->nkeys; k++) {
            params[*np] = b[side][k];
            vbuf_add(sql, "%s$%d%s%s", k ? ", " : "", ++*np, vt->keytype[k] ? "::" : "",
                     vt->keytype[k] ? vt->keytype[k] : "");
        }
        vbuf_add(sql, ")");
    }
}

/* Runs sql with params on conn, expecting rows; errors name the table. */
static PGresult *pg_verify_query(pg_verify_t *pv, PGconn *conn, const vtable_t *vt,
                                 const vbuf_t *sql, const char **params, int np)
{
    char what[700];
    snprintf(what, sizeof(what), "%s: verify table %s", conn == pv->tgt ? "target" : "source",
             conn == pv->tgt ? vt->tdisplay : vt->display);
    if (sql->oom) {
        snprintf(pv->errbuf, pv->errsize, "out of memory");
        return NULL;
    }
    return pg_conn_execp(conn, sql->s, np, params, PGRES_TUPLES_OK, what, pv->errbuf, pv->errsize);
}

/* The last result of the statement sent on the (unbounded) source, checked
 * for rows; NULL with errbuf set (unless err_set: an error is there already).
 * Always reads every result, so the connection is free again. */
static PGresult *pg_verify_collect(pg_verify_t *pv, const vtable_t *vt, int err_set)
{
    PGresult *last = NULL, *res;
    while ((res = PQgetResult(pv->src)) != NULL) {
        if (last != NULL && PQresultStatus(last) == PGRES_FATAL_ERROR) {
            PQclear(res);
            continue;
        }
        PQclear(last);
        last = res;
    }
    if (last != NULL && PQresultStatus(last) == PGRES_TUPLES_OK)
        return last;
    if (!err_set) {
        char m[512];
        const char *msg = last != NULL ? PQresultErrorMessage(last) : "";
        snprintf(pv->errbuf, pv->errsize, "source: verify table %s: %s", vt->display,
                 msg != NULL && msg[0] ? msg : pg_conn_message(pv->src, m, sizeof(m)));
    }
    PQclear(last);
    return NULL;
}

/*
 * Runs a statement on both sides at the same time: sent to the source, run
 * on the target, then the source's answer read. The two servers work in
 * parallel, so a pair costs the slower side, not the sum (the counts inside
 * the fence's write pause). ERR_OK with *sres and *tres (caller PQclears).
 */
static err_t pg_verify_query_both(pg_verify_t *pv, const vtable_t *vt, const vbuf_t *ssql,
                                  const vbuf_t *tsql, const char **params, int np, PGresult **sres,
                                  PGresult **tres)
{
    const char *const none[1] = {NULL};
    *sres = *tres = NULL;
    if (ssql->oom || tsql->oom) {
        snprintf(pv->errbuf, pv->errsize, "out of memory");
        return ERR_RUNTIME;
    }
    if (!PQsendQueryParams(pv->src, ssql->s, np, NULL, np > 0 ? params : none, NULL, NULL, 0)) {
        char m[512];
        snprintf(pv->errbuf, pv->errsize, "source: verify table %s: %s", vt->display,
                 pg_conn_message(pv->src, m, sizeof(m)));
        return pg_conn_classify(pv->src);
    }
    *tres = pg_verify_query(pv, pv->tgt, vt, tsql, params, np);
    *sres = pg_verify_collect(pv, vt, *tres == NULL);
    if (*sres != NULL && *tres != NULL)
        return ERR_OK;
    err_t err = pg_conn_classify(*tres == NULL ? pv->tgt : pv->src);
    PQclear(*sres);
    PQclear(*tres);
    *sres = *tres = NULL;
    return err;
}

/* The statement of pg_verify_stat for one side (conn: pv->src or pv->tgt). */
static void pg_verify_stat_sql(pg_verify_t *pv, PGconn *conn, const vtable_t *vt, vbound_t lo,
                               vbound_t hi, vbuf_t *sql, const char **params, int *np)
{
    if (pv->opts->mode == PG_VERIFY_COUNT)
        vbuf_add(sql, "SELECT count(*), '0'");
    else if (pv->utf8_hash)
        vbuf_add(
            sql,
            "SELECT count(*), coalesce(sum(hashtextextended(convert_to(%s::text, 'UTF8')::text, "
            "0)::numeric), 0)",
            vt->rowexpr);
    else
        vbuf_add(sql, "SELECT count(*), coalesce(sum(hashtextextended(%s::text, 0)::numeric), 0)",
                 vt->rowexpr);
    vbuf_add(sql, " FROM %s", conn == pv->tgt ? vt->tq : vt->sq);
    pg_verify_where(vt, lo, hi, sql, params, np);
}

static void vstat_from(PGresult *res, vstat_t *out)
{
    out->count = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    snprintf(out->sum, sizeof(out->sum), "%s", PQgetvalue(res, 0, 1));
}

/* count and checksum of [lo, hi) on both sides, computed at the same time. */
static err_t pg_verify_stats(pg_verify_t *pv, const vtable_t *vt, vbound_t lo, vbound_t hi,
                             vstat_t *s, vstat_t *t)
{
    vbuf_t ssql = {0}, tsql = {0};
    const char *params[2 * PG_VERIFY_MAX_KEYS];
    int np = 0;
    pg_verify_stat_sql(pv, pv->src, vt, lo, hi, &ssql, params, &np);
    np = 0;
    pg_verify_stat_sql(pv, pv->tgt, vt, lo, hi, &tsql, params, &np);
    PGresult *sres, *tres;
    err_t err = pg_verify_query_both(pv, vt, &ssql, &tsql, params, np, &sres, &tres);
    free(ssql.s);
    free(tsql.s);
    if (err != ERR_OK)
        return err;
    vstat_from(sres, s);
    vstat_from(tres, t);
    PQclear(sres);
    PQclear(tres);
    return ERR_OK;
}

static int vstat_same(const vstat_t *a, const vstat_t *b)
{
    return a->count == b->count && strcmp(a->sum, b->sum) == 0;
}

/* Keys of every `every`-th row of [lo, hi) on conn, after the first row. */
static err_t pg_verify_bounds(pg_verify_t *pv, PGconn *conn, const vtable_t *vt, vbound_t lo,
                              vbound_t hi, long long every, vbound_t **out, int *n)
{
    vbuf_t sql = {0};
    const char *params[2 * PG_VERIFY_MAX_KEYS];
    int np = 0;
    *out = NULL;
    *n = 0;
    vbuf_add(&sql,
             "SELECT * FROM (SELECT %s, row_number() OVER (ORDER BY %s) AS syncline_rn FROM %s",
             vt->keylist, vt->keylist, conn == pv->tgt ? vt->tq : vt->sq);
    pg_verify_where(vt, lo, hi, &sql, params, &np);
    vbuf_add(&sql, ") s WHERE syncline_rn > 1 AND (syncline_rn - 1) %% %lld = 0 ORDER BY %s", every,
             vt->keylist);
    PGresult *res = pg_verify_query(pv, conn, vt, &sql, params, np);
    free(sql.s);
    if (res == NULL)
        return sql.oom ? ERR_RUNTIME : pg_conn_classify(conn);
    int rows = PQntuples(res), oom = 0;
    *out = calloc((size_t)rows + 1, sizeof(vbound_t));
    oom = *out == NULL;
    for (int i = 0; i < rows && !oom; i++) {
        (*out)[i] = calloc((size_t)vt->nkeys, sizeof(char *));
        oom = (*out)[i] == NULL;
        for (int k = 0; k < vt->nkeys && !oom; k++)
            oom = ((*out)[i][k] = strdup(PQgetvalue(res, i, k))) == NULL;
        *n = i + 1;
    }
    PQclear(res);
    if (oom) {
        vbounds_free(*out, *n, vt->nkeys);
        *out = NULL;
        *n = 0;
        snprintf(pv->errbuf, pv->errsize, "out of memory");
        return ERR_RUNTIME;
    }
    return ERR_OK;
}

/* "(k) >= (v1) AND (k) < (v2)" for messages. */
static void pg_verify_describe(const vtable_t *vt, vbound_t lo, vbound_t hi, vbuf_t *out)
{
    const vbound_t b[2] = {lo, hi};
    int clauses = 0;
    for (int side = 0; side < 2; side++) {
        if (b[side] == NULL)
            continue;
        vbuf_add(out, "%s(%s) %s (", clauses++ ? " AND " : "", vt->keynames,
                 side == 0 ? ">=" : "<");
        for (int k = 0; k < vt->nkeys; k++)
            vbuf_add(out, "%s%s", k ? ", " : "", b[side][k]);
        vbuf_add(out, ")");
    }
    if (clauses == 0)
        vbuf_add(out, "all keys");
}

/* The key of the one row in [lo, hi) on conn as "(v1, v2)", or "" when none. */
static err_t pg_verify_row_key(pg_verify_t *pv, PGconn *conn, const vtable_t *vt, vbound_t lo,
                               vbound_t hi, char *key, size_t keysize)
{
    vbuf_t sql = {0};
    const char *params[2 * PG_VERIFY_MAX_KEYS];
    int np = 0;
    vbuf_add(&sql, "SELECT ROW(%s)::text FROM %s", vt->keylist, conn == pv->tgt ? vt->tq : vt->sq);
    pg_verify_where(vt, lo, hi, &sql, params, &np);
    vbuf_add(&sql, " ORDER BY %s LIMIT 1", vt->keylist);
    PGresult *res = pg_verify_query(pv, conn, vt, &sql, params, np);
    free(sql.s);
    if (res == NULL)
        return sql.oom ? ERR_RUNTIME : pg_conn_classify(conn);
    snprintf(key, keysize, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return ERR_OK;
}

/* What the at-most-one-row range [lo, hi) shows. */
static err_t pg_verify_name_row(pg_verify_t *pv, const vtable_t *vt, vbound_t lo, vbound_t hi,
                                vbuf_t *detail)
{
    char sk[512], tk[512];
    err_t err = pg_verify_row_key(pv, pv->src, vt, lo, hi, sk, sizeof(sk));
    if (err == ERR_OK)
        err = pg_verify_row_key(pv, pv->tgt, vt, lo, hi, tk, sizeof(tk));
    if (err != ERR_OK)
        return err;
    if (sk[0] && tk[0] && strcmp(sk, tk) == 0)
        vbuf_add(detail, "row (%s)=%s differs", vt->keynames, sk);
    else if (sk[0] && tk[0])
        vbuf_add(detail, "source has row (%s)=%s, target has row (%s)=%s", vt->keynames, sk,
                 vt->keynames, tk);
    else if (sk[0])
        vbuf_add(detail, "row (%s)=%s is missing on the target", vt->keynames, sk);
    else
        vbuf_add(detail, "row (%s)=%s is on the target only", vt->keynames, tk);
    return ERR_OK;
}

/* The first differing sub-chunk of [*lo, *hi): narrows *lo, *hi, *s, *t to
 * it. The new bounds are owned by *owned (freed by the caller). */
static err_t pg_verify_split(pg_verify_t *pv, const vtable_t *vt, vbound_t *lo, vbound_t *hi,
                             vstat_t *s, vstat_t *t, vbound_t **owned, int *nowned, int *found)
{
    long long most = s->count > t->count ? s->count : t->count;
    PGconn *side = s->count >= t->count ? pv->src : pv->tgt;
    vbound_t *sub;
    int n;
    *found = 0;
    err_t err = pg_verify_bounds(pv, side, vt, *lo, *hi,
                                 (most + PG_VERIFY_SPLIT - 1) / PG_VERIFY_SPLIT, &sub, &n);
    for (int j = 0; err == ERR_OK && j <= n && !*found; j++) {
        vbound_t a = j == 0 ? *lo : sub[j - 1], b = j == n ? *hi : sub[j];
        vstat_t ss, ts;
        err = pg_verify_stats(pv, vt, a, b, &ss, &ts);
        if (err == ERR_OK && !vstat_same(&ss, &ts)) {
            *lo = a, *hi = b, *s = ss, *t = ts;
            *found = 1;
        }
    }
    *owned = sub;
    *nowned = n;
    return err;
}

/* Appends "range ...: source N rows, target M rows; <the row>" for a differing chunk. */
static err_t pg_verify_narrow(pg_verify_t *pv, const vtable_t *vt, vbound_t lo, vbound_t hi,
                              vstat_t s, vstat_t t, vbuf_t *detail)
{
    vbound_t *held[64];
    int nheld[64], levels = 0, found = 1;
    err_t err = ERR_OK;
    vbuf_add(detail, "\n  key range ");
    pg_verify_describe(vt, lo, hi, detail);
    vbuf_add(detail, ": source %lld rows, target %lld rows", s.count, t.count);
    while (err == ERR_OK && found && (s.count > 1 || t.count > 1) && levels < 64) {
        err = pg_verify_split(pv, vt, &lo, &hi, &s, &t, &held[levels], &nheld[levels], &found);
        levels++;
    }
    if (err == ERR_OK && s.count <= 1 && t.count <= 1) {
        vbuf_add(detail, "\n    narrowed to ");
        pg_verify_describe(vt, lo, hi, detail);
        vbuf_add(detail, ": ");
        err = pg_verify_name_row(pv, vt, lo, hi, detail);
    }
    while (levels-- > 0)
        vbounds_free(held[levels], nheld[levels], vt->nkeys);
    return err;
}

static err_t pg_verify_refresh(pg_verify_t *pv);

/* Chunked comparison of a table with a primary key. */
static err_t pg_verify_keyed(pg_verify_t *pv, const vtable_t *vt, pg_verify_result_t *r,
                             vbuf_t *detail)
{
    vbound_t *b;
    int n;
    err_t err = pg_verify_bounds(pv, pv->src, vt, NULL, NULL, pv->opts->chunk_rows, &b, &n);
    for (int i = 0; err == ERR_OK && i <= n; i++) {
        vbound_t lo = i == 0 ? NULL : b[i - 1], hi = i == n ? NULL : b[i];
        vstat_t s, t;
        if (*pv->opts->stop) {
            snprintf(pv->errbuf, pv->errsize, "verify interrupted at table %s", vt->display);
            err = ERR_RUNTIME;
            break;
        }
        err = pg_verify_refresh(pv);
        if (err == ERR_OK)
            err = pg_verify_stats(pv, vt, lo, hi, &s, &t);
        if (err != ERR_OK)
            break;
        r->chunks++;
        r->source_rows += s.count;
        r->target_rows += t.count;
        if (!vstat_same(&s, &t) && ++r->bad_chunks <= PG_VERIFY_MAX_REPORT)
            err = pg_verify_narrow(pv, vt, lo, hi, s, t, detail);
    }
    vbounds_free(b, n, vt->nkeys);
    return err;
}

static err_t pg_verify_whole(pg_verify_t *pv, const vtable_t *vt, pg_verify_result_t *r,
                             vbuf_t *detail)
{
    vstat_t s, t;
    err_t err = pg_verify_stats(pv, vt, NULL, NULL, &s, &t);
    if (err != ERR_OK)
        return err;
    r->chunks = 1;
    r->source_rows = s.count;
    r->target_rows = t.count;
    if (!vstat_same(&s, &t)) {
        r->bad_chunks = 1;
        vbuf_add(detail,
                 "\n  no primary key: whole table compared: source %lld rows, target %lld "
                 "rows%s",
                 s.count, t.count, s.count == t.count ? ", contents differ" : "");
    }
    return ERR_OK;
}

/* Quoted "a, b" (and the plain "a, b" when plain != NULL) from column 0 of res. */
static int pg_verify_names(PGconn *conn, PGresult *res, vbuf_t *quoted, vbuf_t *plain)
{
    for (int i = 0; i < PQntuples(res); i++) {
        const char *name = PQgetvalue(res, i, 0);
        char *q = PQescapeIdentifier(conn, name, strlen(name));
        if (q == NULL)
            return -1;
        vbuf_add(quoted, "%s%s", i ? ", " : "", q);
        if (plain != NULL)
            vbuf_add(plain, "%s%s", i ? ", " : "", name);
        PQfreemem(q);
    }
    return quoted->oom || (plain && plain->oom) ? -1 : 0;
}

/* vt->keytype from column 1 of the key query k; -1 when out of memory. */
static int vtable_keytypes(vtable_t *vt, PGresult *k)
{
    for (int i = 0; i < PQntuples(k) && i < PG_VERIFY_MAX_KEYS; i++) {
        if (!PQgetisnull(k, i, 1) && (vt->keytype[i] = strdup(PQgetvalue(k, i, 1))) == NULL)
            return -1;
    }
    return 0;
}

static void vtable_clear(vtable_t *vt)
{
    free(vt->sq);
    free(vt->tq);
    free(vt->rowexpr);
    free(vt->keylist);
    free(vt->keynames);
    for (int k = 0; k < PG_VERIFY_MAX_KEYS; k++)
        free(vt->keytype[k]);
    memset(vt, 0, sizeof(*vt));
}

/* Column `col` of every row of res, as a NULL-terminated array (borrowed
 * strings, owned array). */
static const char **pg_verify_column(PGresult *res, int col)
{
    int n = PQntuples(res);
    const char **v = calloc((size_t)n + 1, sizeof(char *));
    for (int i = 0; v != NULL && i < n; i++)
        v[i] = PQgetvalue(res, i, col);
    return v;
}

/* The catalog a transformed table needs: source columns (name, quoted,
 * whether the table is partitioned), target columns (name, quoted, built-in
 * type or NULL) and target primary key. NULLs on error (errbuf set). */
static err_t vtable_catalog(pg_verify_t *pv, const vtable_t *vt, PGresult **sc, PGresult **tc,
                            PGresult **tk)
{
    const char *ps[1] = {vt->sq}, *pt[1] = {vt->tq};
    char what[700];
    snprintf(what, sizeof(what), "columns of %s", vt->display);
    *sc = pg_conn_execp(
        pv->src,
        "SELECT attname, quote_ident(attname), (SELECT relkind = 'p' FROM pg_class WHERE oid = "
        "$1::regclass) FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT "
        "attisdropped AND attgenerated = '' ORDER BY attnum",
        1, ps, PGRES_TUPLES_OK, what, pv->errbuf, pv->errsize);
    if (*sc == NULL)
        return pg_conn_classify(pv->src);
    *tc = pg_conn_execp(pv->tgt,
                        "SELECT a.attname, quote_ident(a.attname), CASE WHEN t.typnamespace = "
                        "'pg_catalog'::regnamespace THEN format_type(a.atttypid, a.atttypmod) "
                        "END FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid WHERE "
                        "a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND "
                        "a.attgenerated = '' ORDER BY a.attnum",
                        1, pt, PGRES_TUPLES_OK, what, pv->errbuf, pv->errsize);
    *tk = *tc == NULL ? NULL
                      : pg_conn_execp(pv->tgt,
                                      "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON "
                                      "a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                                      "WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER "
                                      "BY array_position(i.indkey::int2[], a.attnum)",
                                      1, pt, PGRES_TUPLES_OK, what, pv->errbuf, pv->errsize);
    return *tk == NULL ? pg_conn_classify(pv->tgt) : ERR_OK;
}

/*
 * The source side of a transformed table into *from: the mapped query of
 * the initial copy (pg_transform_sql_copy: SELECT (expr), ... FROM [ONLY] source AS s
 * WHERE (filter)) as a derived table named by the target columns, each cast
 * to the target column's type when that is a built-in type (so both sides
 * print the same text); *row gets ROW(<the plan's target columns>).
 */
static err_t vtable_mapped(const vtable_t *vt, const transform_plan_t *plan, PGresult *sc,
                           PGresult *tc, vbuf_t *from, vbuf_t *row)
{
    const char **sq = pg_verify_column(sc, 1), **tn = pg_verify_column(tc, 0);
    char **tq = calloc((size_t)plan->ncols + 1, sizeof(char *)), *select = NULL, *cols = NULL;
    int ok = sq && tn && tq;
    for (int c = 0; ok && c < plan->ncols; c++) {
        int at = -1;
        for (int i = 0; i < PQntuples(tc) && at < 0; i++)
            at = strcmp(tn[i], plan->cols[c].target) == 0 ? i : -1;
        ok = at >= 0 && (tq[c] = strdup(PQgetvalue(tc, at, 1))) != NULL;
        if (ok) {
            vbuf_add(row, "%s%s", c ? ", " : "ROW(", tq[c]);
            vbuf_add(from, "%sv.%s", c ? ", " : "(SELECT ", tq[c]);
            if (!PQgetisnull(tc, at, 2))
                vbuf_add(from, "::%s", PQgetvalue(tc, at, 2));
            vbuf_add(from, " AS %s", tq[c]);
        }
    }
    int only = PQntuples(sc) > 0 && PQgetvalue(sc, 0, 2)[0] != 't';
    ok =
        ok && pg_transform_sql_copy(plan, (char *const *)sq, tq, vt->sq, only, &select, &cols) == 0;
    if (ok) {
        vbuf_add(row, ")");
        vbuf_add(from, " FROM (%s) AS v(%s)) AS syncline_v", select, cols);
    }
    for (int c = 0; tq != NULL && c < plan->ncols; c++)
        free(tq[c]);
    free(tq);
    free(sq);
    free(tn);
    free(select);
    free(cols);
    return ok && !row->oom && !from->oom ? ERR_OK : ERR_RUNTIME;
}

/*
 * A table whose entry has columns/exclude/where is compared through its
 * mapping: the target against the mapped source query (vtable_mapped),
 * chunked by the target's primary key, evaluated on the source through the
 * mapping. Target columns the mapping does not feed are not compared.
 */
static err_t vtable_transformed(pg_verify_t *pv, const config_table_t *entry, vtable_t *vt)
{
    PGresult *sc = NULL, *tc = NULL, *tk = NULL;
    transform_plan_t *plan = NULL;
    vbuf_t from = {0}, row = {0}, keys = {0}, names = {0};
    err_t err = vtable_catalog(pv, vt, &sc, &tc, &tk);
    const char **sn = err == ERR_OK ? pg_verify_column(sc, 0) : NULL;
    const char **tn = err == ERR_OK ? pg_verify_column(tc, 0) : NULL;
    if (err == ERR_OK && (sn == NULL || tn == NULL))
        err = ERR_RUNTIME;
    if (err == ERR_OK) {
        plan = transform_plan_new(entry, sn, PQntuples(sc), tn, PQntuples(tc), vt->display,
                                  pv->errbuf, pv->errsize);
        err = plan ? ERR_OK : ERR_SCHEMA;
    }
    for (int k = 0; err == ERR_OK && k < PQntuples(tk); k++) {
        if (transform_plan_find(plan, PQgetvalue(tk, k, 0)) < 0) {
            snprintf(pv->errbuf, pv->errsize,
                     "table %s: target key column \"%s\" is not fed by the mapping", vt->display,
                     PQgetvalue(tk, k, 0));
            err = ERR_SCHEMA;
        }
    }
    if (err == ERR_OK)
        err = vtable_mapped(vt, plan, sc, tc, &from, &row);
    if (err == ERR_OK && pg_verify_names(pv->tgt, tk, &keys, &names) != 0)
        err = ERR_RUNTIME;
    if (err == ERR_OK) {
        free(vt->sq);
        vt->sq = from.s;
        vt->rowexpr = row.s;
        vt->keylist = keys.s;
        vt->keynames = names.s;
        vt->nkeys = PQntuples(tk) <= PG_VERIFY_MAX_KEYS ? PQntuples(tk) : 0;
        from.s = row.s = keys.s = names.s = NULL;
    } else if (err == ERR_RUNTIME && pv->errbuf[0] == '\0') {
        snprintf(pv->errbuf, pv->errsize, "out of memory");
    }
    free(sn);
    free(tn);
    free(from.s);
    free(row.s);
    free(keys.s);
    free(names.s);
    transform_plan_free(plan);
    PQclear(sc);
    PQclear(tc);
    PQclear(tk);
    return err;
}

/* Names, the row expression over the source's columns and the primary key. */
static err_t vtable_prepare(pg_verify_t *pv, const pg_synced_tables_table_t *t, vtable_t *vt)
{
    vbuf_t cols = {0}, keys = {0}, names = {0};
    vt->t = t;
    snprintf(vt->display, sizeof(vt->display), "%s.%s", t->schema, t->name);
    snprintf(vt->tdisplay, sizeof(vt->tdisplay), "%s.%s", t->tschema, t->tname);
    vt->sq = pg_conn_qualified(pv->src, t->schema, t->name);
    vt->tq = pg_conn_qualified(pv->tgt, t->tschema, t->tname);
    if (vt->sq == NULL || vt->tq == NULL) {
        snprintf(pv->errbuf, pv->errsize, "out of memory");
        return ERR_RUNTIME;
    }
    const config_table_t *entry = config_find_table(pv->cfg, t->schema, t->name);
    if (entry != NULL && (entry->ncolumns > 0 || entry->nexclude > 0 || entry->where != NULL)) {
        pv->errbuf[0] = '\0';
        return vtable_transformed(pv, entry, vt);
    }
    const char *params[1] = {vt->sq};
    char what[700];
    snprintf(what, sizeof(what), "source: columns of %s", vt->display);
    PGresult *c = pg_conn_execp(pv->src,
                                "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass "
                                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                                1, params, PGRES_TUPLES_OK, what, pv->errbuf, pv->errsize);
    PGresult *k = c ? pg_conn_execp(pv->src,
                                    "SELECT a.attname, CASE WHEN t.typtype = 'c' THEN "
                                    "format_type(a.atttypid, NULL) END FROM pg_index i JOIN "
                                    "pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = "
                                    "ANY(i.indkey) JOIN pg_type t ON t.oid = a.atttypid WHERE "
                                    "i.indrelid = $1::regclass AND i.indisprimary ORDER BY "
                                    "array_position(i.indkey::int2[], a.attnum)",
                                    1, params, PGRES_TUPLES_OK, what, pv->errbuf, pv->errsize)
                    : NULL;
    err_t err = k ? ERR_OK : pg_conn_classify(pv->src);
    if (err == ERR_OK && (pg_verify_names(pv->src, c, &cols, NULL) != 0 ||
                          pg_verify_names(pv->src, k, &keys, &names) != 0)) {
        snprintf(pv->errbuf, pv->errsize, "out of memory");
        err = ERR_RUNTIME;
    }
    if (err == ERR_OK && vtable_keytypes(vt, k) != 0) {
        snprintf(pv->errbuf, pv->errsize, "out of memory");
        err = ERR_RUNTIME;
    }
    if (err == ERR_OK) {
        vt->nkeys = PQntuples(k) <= PG_VERIFY_MAX_KEYS ? PQntuples(k) : 0;
        vbuf_t row = {0};
        vbuf_add(&row, "ROW(%s)", cols.s ? cols.s : "");
        vt->rowexpr = row.s;
        vt->keylist = keys.s;
        vt->keynames = names.s;
        keys.s = names.s = NULL;
    }
    free(cols.s);
    free(keys.s);
    free(names.s);
    PQclear(c);
    PQclear(k);
    return err;
}

/* ---- incremental ------------------------------------------------------- */

/* The row counts of vt on both sides, computed at the same time. */
static err_t pg_verify_counts(pg_verify_t *pv, const vtable_t *vt, long long *sc, long long *tc)
{
    vbuf_t ssql = {0}, tsql = {0};
    vbuf_add(&ssql, "SELECT count(*) FROM %s", vt->sq);
    vbuf_add(&tsql, "SELECT count(*) FROM %s", vt->tq);
    PGresult *sres, *tres;
    err_t err = pg_verify_query_both(pv, vt, &ssql, &tsql, NULL, 0, &sres, &tres);
    free(ssql.s);
    free(tsql.s);
    if (err != ERR_OK)
        return err;
    *sc = strtoll(PQgetvalue(sres, 0, 0), NULL, 10);
    *tc = strtoll(PQgetvalue(tres, 0, 0), NULL, 10);
    PQclear(sres);
    PQclear(tres);
    return ERR_OK;
}

/* 1 when the applier's buckets (vmark_bucket) are key ranges of vt: an
 * untransformed table whose primary key, its replica identity, is one
 * int2/int4/int8 column. */
static err_t pg_verify_bucketable(pg_verify_t *pv, const vtable_t *vt, int *ok)
{
    const config_table_t *e = config_find_table(pv->cfg, vt->t->schema, vt->t->name);
    *ok = 0;
    if (vt->nkeys != 1 || (e != NULL && (e->ncolumns > 0 || e->nexclude > 0 || e->where != NULL)))
        return ERR_OK;
    const char *p[1] = {vt->sq};
    PGresult *res = pg_conn_execp(
        pv->src,
        "SELECT c.relreplident = 'd' AND (SELECT count(*) = 1 AND bool_and(a.atttypid IN (20, 21, "
        "23)) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = "
        "ANY(i.indkey) WHERE i.indrelid = c.oid AND i.indisprimary) FROM pg_class c WHERE c.oid = "
        "$1::regclass",
        1, p, PGRES_TUPLES_OK, "source: key type", pv->errbuf, pv->errsize);
    if (res == NULL)
        return pg_conn_classify(pv->src);
    *ok = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return ERR_OK;
}

/* The buckets of vt marked since the base, ascending, read in the target's
 * snapshot (so exactly those of the transactions it holds). */
static PGresult *pg_verify_marks(pg_verify_t *pv, const vtable_t *vt)
{
    char l[LSN_STRLEN];
    const char *p[4] = {pv->cfg->name, vt->t->schema, vt->t->name,
                        lsn_format(pv->base, l, sizeof(l))};
    return pg_conn_execp(pv->tgt,
                         "SELECT bucket FROM syncline.verify_marks WHERE name = $1 AND "
                         "schema_name = $2 AND table_name = $3 AND lsn >= $4::pg_lsn ORDER BY 1",
                         4, p, PGRES_TUPLES_OK, "target: verify marks", pv->errbuf, pv->errsize);
}

/* The statement giving, per marked bucket of vt on conn ($1: the buckets):
 * bucket, count(*) and the checksum, ascending (buckets without rows are
 * absent). */
static void pg_verify_bucket_sql(pg_verify_t *pv, PGconn *conn, const vtable_t *vt, vbuf_t *sql)
{
    vbuf_add(sql, "SELECT u.syncline_bucket, count(*), ");
    if (pv->opts->mode == PG_VERIFY_COUNT)
        vbuf_add(sql, "'0'");
    else if (pv->utf8_hash)
        vbuf_add(sql,
                 "coalesce(sum(hashtextextended(convert_to(%s::text, 'UTF8')::text, "
                 "0)::numeric), 0)",
                 vt->rowexpr);
    else
        vbuf_add(sql, "coalesce(sum(hashtextextended(%s::text, 0)::numeric), 0)", vt->rowexpr);
    vbuf_add(sql,
             " FROM unnest($1::bigint[]) AS u(syncline_bucket) JOIN %s ON %s >= "
             "u.syncline_bucket * %d AND %s < (u.syncline_bucket + 1) * %d GROUP BY 1 ORDER BY 1",
             conn == pv->tgt ? vt->tq : vt->sq, vt->keylist, VMARK_WIDTH, vt->keylist, VMARK_WIDTH);
}

/* Row i of a bucket stats result as a vstat, when it is bucket b (else empty). */
static void pg_verify_bucket_row(PGresult *res, int *i, long long b, vstat_t *out)
{
    *out = (vstat_t){.count = 0, .sum = "0"};
    if (*i < PQntuples(res) && strtoll(PQgetvalue(res, *i, 0), NULL, 10) == b) {
        out->count = strtoll(PQgetvalue(res, *i, 1), NULL, 10);
        snprintf(out->sum, sizeof(out->sum), "%s", PQgetvalue(res, *i, 2));
        (*i)++;
    }
}

/* The marked buckets of a bucketable table: one statement per side, then
 * each differing bucket narrowed to the row. */
static err_t pg_verify_buckets(pg_verify_t *pv, const vtable_t *vt, PGresult *marks,
                               pg_verify_result_t *r, vbuf_t *detail)
{
    int n = PQntuples(marks);
    if (n == 0)
        return ERR_OK;
    vbuf_t arr = {0};
    for (int i = 0; i < n; i++)
        vbuf_add(&arr, "%s%s", i ? "," : "{", PQgetvalue(marks, i, 0));
    vbuf_add(&arr, "}");
    err_t err = arr.oom ? ERR_RUNTIME : pg_verify_refresh(pv);
    PGresult *sres = NULL, *tres = NULL;
    vbuf_t ssql = {0}, tsql = {0};
    const char *params[1] = {arr.s};
    pg_verify_bucket_sql(pv, pv->src, vt, &ssql);
    pg_verify_bucket_sql(pv, pv->tgt, vt, &tsql);
    if (err == ERR_OK)
        err = pg_verify_query_both(pv, vt, &ssql, &tsql, params, 1, &sres, &tres);
    free(ssql.s);
    free(tsql.s);
    free(arr.s);
    for (int i = 0, si = 0, ti = 0; err == ERR_OK && i < n; i++) {
        long long b = strtoll(PQgetvalue(marks, i, 0), NULL, 10);
        vstat_t ss, ts;
        pg_verify_bucket_row(sres, &si, b, &ss);
        pg_verify_bucket_row(tres, &ti, b, &ts);
        r->rechecked++;
        if (vstat_same(&ss, &ts) || ++r->bad_chunks > PG_VERIFY_MAX_REPORT)
            continue;
        char lo[32], hi[32];
        snprintf(lo, sizeof(lo), "%lld", b * VMARK_WIDTH);
        snprintf(hi, sizeof(hi), "%lld", (b + 1) * VMARK_WIDTH);
        char *lov[1] = {lo}, *hiv[1] = {hi};
        err = pg_verify_narrow(pv, vt, lov, hiv, ss, ts, detail);
    }
    PQclear(sres);
    PQclear(tres);
    return err;
}

/*
 * Compares what changed since the base: the marked key ranges, and the row
 * counts of the whole table on both sides. A table whose marks are not key
 * ranges (another key, a transform, a truncate) is compared whole when it
 * has a mark; counts that differ although the ranges match (a change made on
 * the target directly) send the table to a full comparison, which names it.
 */
static err_t pg_verify_incremental(pg_verify_t *pv, const vtable_t *vt, pg_verify_result_t *r,
                                   vbuf_t *detail)
{
    int bucketable = 0, whole = 0;
    long long sc = 0, tc = 0;
    PGresult *marks = pg_verify_marks(pv, vt);
    err_t err =
        marks != NULL ? pg_verify_bucketable(pv, vt, &bucketable) : pg_conn_classify(pv->tgt);
    for (int i = 0; err == ERR_OK && i < PQntuples(marks); i++)
        whole |= strcmp(PQgetvalue(marks, i, 0), "-1") == 0;
    if (err == ERR_OK && PQntuples(marks) > 0 && (whole || !bucketable)) {
        PQclear(marks);
        r->rechecked = 1;
        return vt->nkeys > 0 ? pg_verify_keyed(pv, vt, r, detail)
                             : pg_verify_whole(pv, vt, r, detail);
    }
    int64_t t0 = clock_ms();
    if (err == ERR_OK)
        err = pg_verify_buckets(pv, vt, marks, r, detail);
    PQclear(marks);
    int64_t t1 = clock_ms();
    if (err == ERR_OK && !pv->opts->ranges_only)
        err = pg_verify_counts(pv, vt, &sc, &tc);
    if (err != ERR_OK)
        return err;
    log_info("verify: table=%s ranges=%d ranges_ms=%lld counts_ms=%lld", vt->display, r->rechecked,
             (long long)(t1 - t0), (long long)(clock_ms() - t1));
    r->incremental = 1;
    r->source_rows = sc;
    r->target_rows = tc;
    if (sc == tc)
        return ERR_OK;
    detail->len = 0; /* the whole comparison reports every differing range */
    if (detail->s != NULL)
        detail->s[0] = '\0';
    log_info("verify: table=%s counts differ outside the changed key ranges (source %lld, target "
             "%lld): comparing it whole",
             vt->display, sc, tc);
    r->incremental = 0;
    r->chunks = r->bad_chunks = 0;
    r->source_rows = r->target_rows = 0;
    return vt->nkeys > 0 ? pg_verify_keyed(pv, vt, r, detail) : pg_verify_whole(pv, vt, r, detail);
}

/* Compares one table and reports it. */
static err_t pg_verify_table(pg_verify_t *pv, const pg_synced_tables_table_t *t,
                             void (*report)(void *arg, const pg_verify_result_t *r), void *arg,
                             pg_verify_stats_t *stats)
{
    vtable_t vt = {0};
    vbuf_t detail = {0};
    int64_t started = clock_ms();
    err_t err = vtable_prepare(pv, t, &vt);
    pg_verify_result_t r = {.source = vt.display, .target = vt.tdisplay, .keyed = vt.nkeys > 0};
    if (err == ERR_OK && pv->incremental)
        err = pg_verify_incremental(pv, &vt, &r, &detail);
    else if (err == ERR_OK)
        err = vt.nkeys > 0 ? pg_verify_keyed(pv, &vt, &r, &detail)
                           : pg_verify_whole(pv, &vt, &r, &detail);
    if (err == ERR_OK) {
        r.keyed = vt.nkeys > 0;
        r.match = r.bad_chunks == 0;
        r.detail = detail.s ? detail.s : "";
        stats->tables++;
        stats->differ += !r.match;
        stats->rows += r.source_rows;
        stats->rechecked += r.incremental ? r.rechecked : r.chunks;
        log_info("verified table=%s rows=%lld chunks=%d differing_chunks=%d seconds=%.1f",
                 vt.display, r.source_rows, r.chunks, r.bad_chunks,
                 (double)(clock_ms() - started) / 1000.0);
        if (report != NULL)
            report(arg, &r);
    }
    free(detail.s);
    vtable_clear(&vt);
    return err;
}

/* ---- consistency ------------------------------------------------------- */

static err_t pg_verify_exec(pg_verify_t *pv, PGconn *conn, const char *sql)
{
    return pg_conn_run(conn, sql, 0, NULL, PGRES_COMMAND_OK, conn == pv->tgt ? "target" : "source",
                       pv->errbuf, pv->errsize);
}

/* The snapshot and its horizon: pg_snapshot and xid8 from 13, txid_snapshot
 * and bigint on 12 (XMAX, XIP and SNAP name the functions). */
#define PG_VERIFY_SNAPSHOT_SQL(SNAP, XMAX, XIP)                                                    \
    "SELECT pg_current_wal_lsn(), " XMAX "(" SNAP "())::text, "                                    \
    "(SELECT coalesce(array_agg(x), '{}')::text FROM " XIP "(" SNAP "()) "                         \
    "x), " PG_VERIFY_FENCED_SQL
#define PG_VERIFY_FENCED_SQL                                                                       \
    "EXISTS (SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = "                    \
    "s.setdatabase, unnest(s.setconfig) c WHERE d.datname = current_database() AND "               \
    "s.setrole = 0 AND c IN ('default_transaction_read_only=on', "                                 \
    "'default_transaction_read_only=true', 'default_transaction_read_only=1'))"
#define PG_VERIFY_STILL_SQL(SNAP, XMAX, TYPE, STATUS)                                              \
    "SELECT " XMAX "(" SNAP "()) = $1::" TYPE " AND NOT EXISTS (SELECT 1 FROM unnest($2::" TYPE    \
    "[]) x WHERE " STATUS "(x) <> 'in progress')"

/* Opens the source snapshot: L, the xid horizon, and whether it is fenced. */
static err_t pg_verify_source_snapshot(pg_verify_t *pv)
{
    err_t err = pg_verify_exec(pv, pv->src, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (err != ERR_OK)
        return err;
    PGresult *res = pg_conn_exec(
        pv->src,
        pg_version_has_xid8(PQserverVersion(pv->src))
            ? PG_VERIFY_SNAPSHOT_SQL("pg_current_snapshot", "pg_snapshot_xmax", "pg_snapshot_xip")
            : PG_VERIFY_SNAPSHOT_SQL("txid_current_snapshot", "txid_snapshot_xmax",
                                     "txid_snapshot_xip"),
        PGRES_TUPLES_OK, "source: snapshot", pv->errbuf, pv->errsize);
    if (res == NULL)
        return pg_conn_classify(pv->src);
    lsn_parse(PQgetvalue(res, 0, 0), &pv->lsn);
    snprintf(pv->xmax, sizeof(pv->xmax), "%s", PQgetvalue(res, 0, 1));
    free(pv->xip);
    pv->xip = strdup(PQgetvalue(res, 0, 2));
    pv->fenced = PQgetvalue(res, 0, 3)[0] == 't';
    PQclear(res);
    if (pv->xip == NULL) {
        snprintf(pv->errbuf, pv->errsize, "out of memory");
        return ERR_RUNTIME;
    }
    return ERR_OK;
}

/* *covered = 1 when the target holds everything committed up to pv->lsn:
 * applied >= L, or the slot is idle and has no commit in (applied, L]. */
static err_t pg_verify_covered(pg_verify_t *pv, int *covered, lsn_t *applied)
{
    const char *p1[1] = {pv->cfg->name};
    PGresult *res =
        pg_conn_execp(pv->tgt, "SELECT applied_lsn FROM syncline.progress WHERE name = $1", 1, p1,
                      PGRES_TUPLES_OK, "target: read progress", pv->errbuf, pv->errsize);
    if (res == NULL)
        return pg_conn_classify(pv->tgt);
    int exists = PQntuples(res) > 0;
    if (exists)
        lsn_parse(PQgetvalue(res, 0, 0), applied);
    PQclear(res);
    if (!exists) {
        snprintf(pv->errbuf, pv->errsize,
                 "target has no progress row for '%s': nothing to verify "
                 "against (start 'syncline run' first)",
                 pv->cfg->name);
        return ERR_SOURCE;
    }
    *covered = *applied >= pv->lsn;
    if (*covered)
        return ERR_OK;
    char a[LSN_STRLEN], l[LSN_STRLEN];
    char *pub = PQescapeIdentifier(pv->src2, pv->cfg->publication, strlen(pv->cfg->publication));
    const char *p2[4] = {pv->cfg->slot, lsn_format(pv->lsn, l, sizeof(l)), pub,
                         lsn_format(*applied, a, sizeof(a))};
    /* A stopped syncline: peek (not consume) the slot for commits still to
     * apply. A slot in use cannot be peeked (error): wait for applied instead.
     * Only transactions with a row change (I, U, D, T) count: before 15
     * pgoutput also sends empty ones (catalog-only, such as autovacuum's). */
    res = pub ? PQexecParams(pv->src2,
                             "SELECT count(*) FROM (SELECT c.xid FROM "
                             "pg_logical_slot_peek_binary_changes($1, $2::pg_lsn, NULL, "
                             "'proto_version', '1', 'publication_names', $3) c GROUP BY c.xid "
                             "HAVING bool_or(substr(c.data, 1, 1) IN ('\\x49'::bytea, "
                             "'\\x55'::bytea, '\\x44'::bytea, '\\x54'::bytea)) AND "
                             "bool_or(substr(c.data, 1, 1) = '\\x43'::bytea AND c.lsn > "
                             "$4::pg_lsn AND c.lsn <= $2::pg_lsn)) t",
                             4, NULL, p2, NULL, NULL, 0)
              : NULL;
    PQfreemem(pub);
    *covered = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
               strcmp(PQgetvalue(res, 0, 0), "0") == 0;
    PQclear(res);
    return ERR_OK;
}

/* 1 when no transaction completed on the source cluster since the snapshot:
 * the horizon (latest completed xid + 1) is unchanged and every xid in
 * progress at the snapshot still is. */
static err_t pg_verify_still(pg_verify_t *pv, int *still)
{
    const char *params[2] = {pv->xmax, pv->xip};
    PGresult *res =
        pg_conn_execp(pv->src2,
                      pg_version_has_xid8(PQserverVersion(pv->src2))
                          ? PG_VERIFY_STILL_SQL("pg_current_snapshot", "pg_snapshot_xmax", "xid8",
                                                "pg_xact_status")
                          : PG_VERIFY_STILL_SQL("txid_current_snapshot", "txid_snapshot_xmax",
                                                "bigint", "txid_status"),
                      2, params, PGRES_TUPLES_OK, "source: horizon", pv->errbuf, pv->errsize);
    if (res == NULL)
        return pg_conn_classify(pv->src2);
    *still = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return ERR_OK;
}

/* Waits until the target covers the source snapshot's LSN. */
static err_t pg_verify_wait_covered(pg_verify_t *pv, int64_t deadline, lsn_t *applied)
{
    for (;;) {
        int covered = 0;
        err_t err = pg_verify_covered(pv, &covered, applied);
        if (err != ERR_OK || covered)
            return err;
        if (*pv->opts->stop || clock_ms() > deadline) {
            char a[LSN_STRLEN], l[LSN_STRLEN];
            snprintf(pv->errbuf, pv->errsize,
                     "target applied_lsn %s did not reach the source snapshot lsn=%s within %d s "
                     "(is 'syncline run' running?)",
                     lsn_format(*applied, a, sizeof(a)), lsn_format(pv->lsn, l, sizeof(l)),
                     pv->opts->timeout_s);
            return *pv->opts->stop ? ERR_RUNTIME : ERR_LAG;
        }
        pg_verify_sleep_ms(pv, 200);
    }
}

/* ---- online: a point the applier holds at --------------------------- */

/* Opens pv->src on a temporary logical slot's exported snapshot: the source
 * as of exactly the transactions committed before the slot's consistent
 * point, which becomes pv->lsn (the slot goes with the connection). */
static err_t pg_verify_source_at_slot(pg_verify_t *pv)
{
    err_t err;
    PGconn *repl = pg_conn_open(pv->cfg->source_conninfo, PG_CONN_REPLICATION, "source", &err,
                                pv->errbuf, pv->errsize);
    if (repl == NULL)
        return err;
    char sql[200];
    snprintf(sql, sizeof(sql),
             "CREATE_REPLICATION_SLOT syncline_verify_%d_%lld TEMPORARY LOGICAL "
             "pgoutput %s",
             (int)getpid(), (long long)clock_ms(),
             PQserverVersion(repl) >= 150000 ? "(SNAPSHOT 'export')" : "EXPORT_SNAPSHOT");
    PGresult *res = pg_conn_exec(repl, sql, PGRES_TUPLES_OK, "source: temporary slot for verify",
                                 pv->errbuf, pv->errsize);
    char *snap = NULL;
    err = res == NULL ? pg_conn_classify(repl) : ERR_OK;
    if (err == ERR_OK) {
        lsn_parse(PQgetvalue(res, 0, 1), &pv->lsn);
        snap = PQescapeLiteral(pv->src, PQgetvalue(res, 0, 2), strlen(PQgetvalue(res, 0, 2)));
        err = pg_verify_exec(pv, pv->src, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    }
    if (err == ERR_OK && snap != NULL) {
        snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT %s", snap);
        err = pg_verify_exec(pv, pv->src, sql);
    }
    PQfreemem(snap);
    PQclear(res);
    PQfinish(repl);
    return err;
}

/* Fixes the target snapshot with a first read (while the applier holds). */
static err_t pg_verify_target_snapshot(pg_verify_t *pv)
{
    const char *p[1] = {pv->cfg->name};
    err_t err = pg_verify_exec(pv, pv->tgt, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    PGresult *res = err != ERR_OK ? NULL
                                  : pg_conn_execp(pv->tgt,
                                                  "SELECT applied_lsn FROM syncline.progress "
                                                  "WHERE name = $1",
                                                  1, p, PGRES_TUPLES_OK, "target: snapshot",
                                                  pv->errbuf, pv->errsize);
    if (err == ERR_OK && res == NULL)
        err = pg_conn_classify(pv->tgt);
    PQclear(res);
    return err;
}

/* The handshake of pg_hold.h: pause the applier, take the source point C,
 * let the applier reach C, open the target snapshot, release. The applier
 * stands still only from the pause to the release. */
static err_t pg_verify_online_point(pg_verify_t *pv, int64_t deadline)
{
    const char *name = pv->cfg->name;
    int64_t id = 0, started = clock_ms();
    int64_t ack = started + PG_VERIFY_ACK_MS < deadline ? started + PG_VERIFY_ACK_MS : deadline;
    int answered = 0, paused = 0;
    err_t err =
        pg_hold_request(pv->tgt2, name, PG_VERIFY_HOLD_EXPIRE_S, &id, pv->errbuf, pv->errsize);
    if (err == ERR_OK)
        err = pg_hold_wait(pv->tgt2, name, id, 0, ack, pv->opts->stop, &paused, pv->errbuf,
                           pv->errsize);
    if (err == ERR_OK && paused)
        err = pg_verify_source_at_slot(pv);
    if (err == ERR_OK && paused)
        err = pg_hold_set_point(pv->tgt2, name, id, pv->lsn, pv->errbuf, pv->errsize);
    if (err == ERR_OK && paused)
        err = pg_hold_wait(pv->tgt2, name, id, pv->lsn, deadline, pv->opts->stop, &answered,
                           pv->errbuf, pv->errsize);
    if (err == ERR_OK && answered)
        err = pg_verify_target_snapshot(pv);
    char eb[256], l[LSN_STRLEN];
    if (id != 0 && pg_hold_release(pv->tgt2, name, id, eb, sizeof(eb)) != ERR_OK && err == ERR_OK) {
        snprintf(pv->errbuf, pv->errsize, "%s", eb);
        err = ERR_RUNTIME;
    }
    if (err == ERR_OK && !answered) {
        snprintf(pv->errbuf, pv->errsize,
                 "the applier for '%s' %s within %d s (is 'syncline run' or 'apply' keeping up?)",
                 name, paused ? "did not reach the source snapshot lsn" : "did not pause",
                 (int)((clock_ms() - started) / 1000));
        if (paused)
            snprintf(pv->errbuf + strlen(pv->errbuf), pv->errsize - strlen(pv->errbuf), " lsn=%s",
                     lsn_format(pv->lsn, l, sizeof(l)));
        err = *pv->opts->stop ? ERR_RUNTIME : ERR_LAG;
    }
    if (err == ERR_OK) {
        pv->points++;
        pv->point_ms = clock_ms();
        log_info("verify: online point lsn=%s applier_held_ms=%lld",
                 lsn_format(pv->lsn, l, sizeof(l)), (long long)(pv->point_ms - started));
    }
    return err;
}

/* Online: a new point once the current one is PG_VERIFY_POINT_S old, so
 * that no source snapshot stays open for the whole verify. */
static err_t pg_verify_refresh(pg_verify_t *pv)
{
    int point_s = pv->opts->point_s > 0 ? pv->opts->point_s : PG_VERIFY_POINT_S;
    if (!pv->online || clock_ms() - pv->point_ms < (int64_t)point_s * 1000)
        return ERR_OK;
    PQclear(pg_conn_query(pv->src, "ROLLBACK", 0, NULL));
    PQclear(pg_conn_query(pv->tgt, "ROLLBACK", 0, NULL));
    int64_t deadline = clock_ms() + (int64_t)pv->opts->timeout_s * 1000;
    return pg_verify_online_point(pv, deadline);
}

static err_t pg_verify_target_snapshot_cb(void *arg)
{
    return pg_verify_target_snapshot(arg);
}

/* Fenced, with an applier listening: it holds at the source snapshot's L
 * (every transaction committed before L applied and durable) while the
 * target snapshot opens, instead of a wait for its progress row to reach L,
 * which an idle applier writes at most once a second. *held 0: no applier,
 * or it did not get there in time (the caller waits for the row). */
static err_t pg_verify_fenced_hold(pg_verify_t *pv, int64_t deadline, int *held)
{
    int alive = 0;
    *held = 0;
    err_t err = pg_hold_applier_alive(pv->tgt2, pv->cfg->name, &alive, pv->errbuf, pv->errsize);
    if (err != ERR_OK || !alive)
        return err;
    int64_t started = clock_ms();
    err = pg_hold_at(pv->tgt2, pv->cfg->name, pv->lsn, deadline, pv->opts->stop,
                     pg_verify_target_snapshot_cb, pv, held, pv->errbuf, pv->errsize);
    if (err == ERR_OK && *held)
        log_info("verify: fenced, the applier held at lsn=%s after %lld ms",
                 lsn_format(pv->lsn, (char[LSN_STRLEN]){0}, LSN_STRLEN),
                 (long long)(clock_ms() - started));
    else if (err == ERR_OK) /* a failed snapshot attempt leaves nothing open */
        PQclear(pg_conn_query(pv->tgt, "ROLLBACK", 0, NULL));
    return err;
}

/* Online when the source is not fenced and an applier listens for holds. */
static err_t pg_verify_use_online(pg_verify_t *pv, int *online)
{
    PGresult *res = pg_conn_exec(pv->src2, "SELECT " PG_VERIFY_FENCED_SQL, PGRES_TUPLES_OK,
                                 "source: fence", pv->errbuf, pv->errsize);
    if (res == NULL)
        return pg_conn_classify(pv->src2);
    int fenced = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    *online = 0;
    return fenced ? ERR_OK
                  : pg_hold_applier_alive(pv->tgt2, pv->cfg->name, online, pv->errbuf, pv->errsize);
}

/* Both snapshots open at one consistent point, or an error. */
static err_t pg_verify_consistent(pg_verify_t *pv)
{
    int64_t deadline = clock_ms() + (int64_t)pv->opts->timeout_s * 1000;
    err_t err = pg_verify_use_online(pv, &pv->online);
    if (err != ERR_OK || pv->online)
        return err != ERR_OK ? err : pg_verify_online_point(pv, deadline);
    if (pv->opts->online_only) {
        snprintf(pv->errbuf, pv->errsize,
                 "no online verify: the source is fenced or no applier listens for holds");
        return ERR_LAG;
    }
    for (;;) {
        lsn_t applied = 0;
        int still = 1;
        err = pg_verify_source_snapshot(pv);
        if (err == ERR_OK && pv->fenced) {
            int held = 0;
            err = pg_verify_fenced_hold(pv, deadline, &held);
            if (err != ERR_OK || held)
                return err;
        }
        if (err == ERR_OK)
            err = pg_verify_wait_covered(pv, deadline, &applied);
        if (err == ERR_OK)
            err = pg_verify_exec(pv, pv->tgt, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        if (err == ERR_OK) /* the first read fixes the target's snapshot */
            err = pg_verify_covered(pv, &still, &applied);
        if (err == ERR_OK && !pv->fenced)
            err = pg_verify_still(pv, &still);
        if (err != ERR_OK || still)
            return err;
        PQclear(PQexec(pv->src, "ROLLBACK"));
        PQclear(pg_conn_query(pv->tgt, "ROLLBACK", 0, NULL));
        char l[LSN_STRLEN];
        if (clock_ms() > deadline || *pv->opts->stop) {
            snprintf(pv->errbuf, pv->errsize,
                     "source moving: transactions kept committing on the source for %d s, so no "
                     "consistent point was found (stop the writers, or use 'syncline cutover "
                     "--fence')",
                     pv->opts->timeout_s);
            return *pv->opts->stop ? ERR_RUNTIME : ERR_LAG;
        }
        log_info("verify: source moving since snapshot lsn=%s; retrying",
                 lsn_format(pv->lsn, l, sizeof(l)));
        pg_verify_sleep_ms(pv, 1000);
    }
}

/* ---- incremental bookkeeping -------------------------------------------- */

static int pg_verify_same_tracker(const pg_vmarks_tracker_t *a, const pg_vmarks_tracker_t *b)
{
    return a->pid != 0 && a->pid == b->pid && strcmp(a->started, b->started) == 0;
}

/* Incremental when the last verify left a base and the applier session that
 * has marked since is still the one applying (a restart, or an applier that
 * does not mark, could have applied unmarked changes): else full. Asks the
 * applier to mark from now on. */
static err_t pg_verify_plan(pg_verify_t *pv, pg_verify_stats_t *stats)
{
    pg_vmarks_state_t vs;
    err_t err = pg_vmarks_ensure(pv->tgt2, pv->errbuf, pv->errsize);
    if (err == ERR_OK)
        err = pg_vmarks_state(pv->tgt2, pv->cfg->name, &vs, pv->errbuf, pv->errsize);
    if (err == ERR_OK)
        err = pg_vmarks_tracker(pv->tgt2, pv->cfg->name, &pv->tracker, pv->errbuf, pv->errsize);
    if (err != ERR_OK)
        return err;
    stats->full_age_s = vs.full_age_s;
    pv->state_existed = vs.exists;
    if (!pv->opts->full && vs.base_lsn != 0) {
        pv->incremental = pg_verify_same_tracker(&vs.tracker, &pv->tracker);
        pv->base = vs.base_lsn;
        if (!pv->incremental)
            log_info("verify: full: the applier that marked changes since the last verify is "
                     "not the one running now");
    }
    if (pv->tracker.pid != 0 && !vs.exists)
        err = pg_vmarks_start(pv->tgt2, pv->cfg->name, pv->errbuf, pv->errsize);
    return err;
}

/* Everything matched: the next verify may start from this one's first point,
 * if the same applier session marked all along (and was already marking at
 * that point: this verify's handshake proves it, or an earlier verify's). */
static err_t pg_verify_set_base(pg_verify_t *pv, pg_verify_stats_t *stats)
{
    pg_vmarks_tracker_t now;
    err_t err = pg_vmarks_tracker(pv->tgt2, pv->cfg->name, &now, pv->errbuf, pv->errsize);
    if (err != ERR_OK || !pg_verify_same_tracker(&pv->tracker, &now) ||
        (!pv->online && !pv->state_existed))
        return err;
    err = pg_vmarks_set_base(pv->tgt2, pv->cfg->name, pv->first, !pv->incremental, &now, pv->errbuf,
                             pv->errsize);
    stats->base_set = err == ERR_OK;
    if (err == ERR_OK && !pv->incremental)
        stats->full_age_s = 0;
    return err;
}

/* ---- entry point ------------------------------------------------------- */

/* JIT off on the reading sessions: the marked-bucket join is estimated at
 * millions of rows, so the server compiled it (inlining and optimisation:
 * about 0.7 s per side at pgbench scale 100) to read a few thousand; that
 * cost sat inside the fence's write pause. */
static err_t pg_verify_no_jit(pg_verify_t *pv)
{
    err_t err = pg_verify_exec(pv, pv->src, "SET jit = off");
    return err == ERR_OK ? pg_verify_exec(pv, pv->tgt, "SET jit = off") : err;
}

/* 1 when t is selected by opts->tables (all when none given). */
static int pg_verify_selected(const pg_verify_opts_t *opts, const pg_synced_tables_table_t *t,
                              int *used)
{
    if (opts->ntables == 0)
        return 1;
    for (int i = 0; i < opts->ntables; i++) {
        config_qname_t q;
        if (!config_parse_qname(opts->tables[i], &q))
            continue;
        int hit = strcmp(q.schema, t->schema) == 0 && strcmp(q.name, t->name) == 0;
        free(q.schema);
        free(q.name);
        if (hit) {
            used[i] = 1;
            return 1;
        }
    }
    return 0;
}

static err_t pg_verify_all(pg_verify_t *pv, void (*report)(void *arg, const pg_verify_result_t *r),
                           void *arg, pg_verify_stats_t *stats)
{
    pg_synced_tables_t synced;
    int used[256] = {0};
    if (pv->opts->ntables > 256) {
        snprintf(pv->errbuf, pv->errsize, "--tables: at most 256 tables");
        return ERR_USAGE;
    }
    err_t err = pg_synced_tables_list(pv->src, pv->cfg, &synced, pv->errbuf, pv->errsize);
    if (err != ERR_OK)
        return err;
    for (int i = 0; i < synced.ntables && err == ERR_OK; i++) {
        if (pg_verify_selected(pv->opts, &synced.tables[i], used))
            err = pg_verify_table(pv, &synced.tables[i], report, arg, stats);
    }
    for (int i = 0; i < pv->opts->ntables && err == ERR_OK; i++) {
        if (!used[i]) {
            snprintf(pv->errbuf, pv->errsize, "--tables: %s is not a synced source table",
                     pv->opts->tables[i]);
            err = ERR_USAGE;
        }
    }
    pg_synced_tables_clear(&synced);
    return err;
}

err_t pg_verify_run(const config_t *cfg, const pg_verify_opts_t *opts,
                    void (*report)(void *arg, const pg_verify_result_t *r), void *arg,
                    pg_verify_stats_t *stats, char *errbuf, size_t errsize)
{
    err_t err;
    pg_verify_t pv = {.cfg = cfg, .opts = opts, .errbuf = errbuf, .errsize = errsize};
    memset(stats, 0, sizeof(*stats));
    pv.src = pg_conn_open(cfg->source_conninfo, PG_CONN_SQL, "source", &err, errbuf, errsize);
    if (pv.src != NULL)
        pv.src2 = pg_conn_open(cfg->source_conninfo, PG_CONN_SQL, "source", &err, errbuf, errsize);
    if (pv.src2 != NULL)
        pv.tgt = pg_conn_open_bounded(cfg->target_conninfo, PG_CONN_SQL, "target",
                                      cfg->target_timeout_s * 1000, &err, errbuf, errsize);
    if (pv.tgt != NULL)
        pv.tgt2 = pg_conn_open_bounded(cfg->target_conninfo, PG_CONN_SQL, "target",
                                       cfg->target_timeout_s * 1000, &err, errbuf, errsize);
    if (pv.tgt2 != NULL) {
        const char *se = PQparameterStatus(pv.src, "server_encoding");
        const char *te = PQparameterStatus(pv.tgt, "server_encoding");
        pv.utf8_hash = se == NULL || te == NULL || strcmp(se, te) != 0;
        err = pg_verify_no_jit(&pv);
        if (err == ERR_OK)
            err = pg_verify_plan(&pv, stats);
        if (err == ERR_OK)
            err = pg_verify_consistent(&pv);
        pv.first = pv.lsn;
    }
    if (pv.tgt2 != NULL && err == ERR_OK) {
        char l[LSN_STRLEN];
        stats->lsn = pv.lsn;
        stats->fenced = pv.fenced;
        log_info("verify: consistent point lsn=%s fenced=%s online=%s",
                 lsn_format(pv.lsn, l, sizeof(l)), pv.fenced ? "yes" : "no",
                 pv.online ? "yes" : "no");
        err = pg_verify_all(&pv, report, arg, stats);
        stats->lsn = pv.lsn;
        stats->online = pv.online;
        stats->points = pv.points;
        stats->incremental = pv.incremental;
    }
    if (err == ERR_OK && stats->differ == 0 && opts->ntables == 0)
        err = pg_verify_set_base(&pv, stats);
    free(pv.xip);
    PQfinish(pv.src);
    PQfinish(pv.src2);
    PQfinish(pv.tgt);
    PQfinish(pv.tgt2);
    return err;
}
