/*
 * pg_target: the PostgreSQL applier as a sink_t. Maps source relations to
 * target tables (pg_target_rel), queues their rows (pg_target_exec) and
 * brackets them in target transactions that also write the progress row
 * (pg_progress). Knows nothing of the replication protocol.
 */
#include "pg/pg_target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/route.h"
#include "core/sbuf.h"
#include "pg/pg_conn.h"
#include "pg/pg_ddl.h"
#include "pg/pg_offsets.h"
#include "pg/pg_pipe.h"
#include "pg/pg_progress.h"
#include "pg/pg_target_exec.h"
#include "pg/pg_target_rel.h"
#include "pg/pg_vmarks.h"

#define PG_TARGET_WINDOW 1000

struct pg_target {
    const config_t *cfg;
    PGconn *conn;
    pg_pipe_t *pipe;
    pg_target_rel_t *rels;
    pg_target_transform_types_t types; /* user-defined source types seen on the stream */
    int replica_role;                  /* session_replication_role = replica is in force */
    pg_progress_stmts_t progress;      /* progress statements prepared */
    pg_target_exec_t ex;               /* row sending state */
    lsn_t ddl_applied;                 /* a DDL applied by hand (--ddl-applied), 0 = none */
    pg_ddl_key_t ddl_key;              /* checks the source's DDL messages */
    int marks_prepared;                /* incremental verify's marks statement (pg_vmarks) */
};

pg_target_t *pg_target_open(const config_t *cfg, err_t *err, char *errbuf, size_t errsize)
{
    pg_target_t *pt = calloc(1, sizeof(*pt));
    if (pt == NULL) {
        *err = ERR_RUNTIME;
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    pt->cfg = cfg;
    pt->conn = pg_conn_open_bounded(cfg->target_conninfo, PG_CONN_SQL, "target",
                                    cfg->target_timeout_s * 1000, err, errbuf, errsize);
    if (pt->conn == NULL) {
        free(pt);
        return NULL;
    }
    const char *enc = PQparameterStatus(pt->conn, "server_encoding");
    pt->ex.converts = enc == NULL || (strcmp(enc, "UTF8") != 0 && strcmp(enc, "SQL_ASCII") != 0);
    /* Replayed rows must not fire ordinary triggers or FK checks a second time.
     * Needs superuser (or the right grant); without it, say so and go on. */
    PGresult *res = pg_conn_query(pt->conn, "SET session_replication_role = replica", 0, NULL);
    pt->replica_role = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!pt->replica_role)
        log_warn("target: cannot set session_replication_role=replica (needs superuser); "
                 "triggers and foreign keys on the target will fire on replayed rows");
    PQclear(res);
    /* a commit must be durable before its LSN is confirmed to the source */
    res = pg_conn_exec(pt->conn, "SET synchronous_commit = on", PGRES_COMMAND_OK, "target", errbuf,
                       errsize);
    if (res == NULL) {
        *err = pg_conn_classify(pt->conn);
        pg_target_free(pt);
        return NULL;
    }
    PQclear(res);
    pt->pipe = pg_pipe_new(pt->conn, PG_TARGET_WINDOW, cfg->on_missing_row_skip);
    if (pt->pipe == NULL) {
        pg_target_free(pt);
        *err = ERR_RUNTIME;
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    pt->ex.pipe = pt->pipe;
    pt->ex.large_value = (size_t)cfg->large_value_mb << 20;
    return pt;
}

void pg_target_free(pg_target_t *pt)
{
    if (pt == NULL)
        return;
    while (pt->rels != NULL) {
        pg_target_rel_t *next = pt->rels->next;
        pg_target_rel_free(pt->rels);
        pt->rels = next;
    }
    pg_pipe_free(pt->pipe);
    pg_progress_stmts_clear(&pt->progress);
    pg_target_transform_types_clear(&pt->types);
    PQfinish(pt->conn);
    pg_target_exec_clear(&pt->ex);
    free(pt);
}

err_t pg_target_read_offsets(pg_target_t *pt, const char *topic, sink_offset_t **offsets, int *n,
                             char *errbuf, size_t errsize)
{
    *offsets = NULL;
    *n = 0;
    err_t err = pg_pipe_leave(pt->pipe, errbuf, errsize); /* plain queries from here */
    if (err != ERR_OK)
        return err;
    err = pg_offsets_read(pt->conn, pt->cfg->name, topic, offsets, n, errbuf, errsize);
    if (err == ERR_OK && pg_progress_saw(&pt->progress, topic, *offsets, *n) != 0) {
        free(*offsets);
        *offsets = NULL;
        *n = 0;
        snprintf(errbuf, errsize, "out of memory");
        err = ERR_RUNTIME;
    }
    return err;
}

err_t pg_target_check_table(pg_target_t *pt, const char *schema, const char *name, char *errbuf,
                            size_t errsize)
{
    const char *ts, *tn;
    route_result_t route = route_target(pt->cfg, schema, name, &ts, &tn);
    if (route == ROUTE_UNLISTED) {
        snprintf(errbuf, errsize,
                 "source table %s.%s is published but not listed in tables (add it, or an "
                 "entry with \"skip\": true)",
                 schema, name);
        return ERR_CONFIG;
    }
    if (route == ROUTE_SKIP)
        return ERR_OK;
    char *q = pg_conn_qualified(pt->conn, ts, tn);
    int exists = q ? pg_conn_table_exists(pt->conn, q, errbuf, errsize) : -1;
    free(q);
    if (exists < 0)
        return pg_conn_classify(pt->conn);
    if (!exists) {
        snprintf(errbuf, errsize, "target table %s.%s does not exist (source table %s.%s)", ts, tn,
                 schema, name);
        return ERR_SCHEMA;
    }
    return ERR_OK;
}

const char *pg_target_unusable(pg_target_t *pt, uint32_t relid)
{
    const pg_target_rel_t *r = pg_target_rel_find(pt->rels, relid);
    return r != NULL ? r->unusable : NULL;
}

unsigned long long pg_target_rows_copied(const pg_target_t *pt)
{
    return pt->ex.copied;
}

static err_t pg_target_relation(void *ctx, const change_relation_t *rel, lsn_t lsn, char *errbuf,
                                size_t errsize)
{
    pg_target_t *pt = ctx;
    /* statements of the old shape may still be in flight: finish them first */
    err_t err = pg_pipe_leave(pt->pipe, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    pg_target_rel_forget(&pt->rels, pt->conn, rel->relid);
    pg_target_rel_t *r = pg_target_rel_new(pt->conn, rel);
    if (r == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    err = pg_target_rel_describe(pt->conn, pt->cfg, &pt->types, pt->replica_role, r, lsn, errbuf,
                                 errsize);
    if (err != ERR_OK) {
        pg_target_rel_free(r);
        return err;
    }
    r->next = pt->rels;
    pt->rels = r;
    return pg_pipe_enter(pt->pipe, errbuf, errsize);
}

static err_t pg_target_row(void *ctx, const change_row_t *row, char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    pg_target_rel_t *r = pg_target_rel_find(pt->rels, row->rel->relid);
    if (r == NULL) {
        snprintf(errbuf, errsize, "relation %u was never described", row->rel->relid);
        return ERR_RUNTIME;
    }
    if (r->skip)
        return ERR_OK;
    if (r->unusable != NULL)
        return pg_target_rel_usable(r, row->lsn, errbuf, errsize);
    return pg_target_exec_row(&pt->ex, r, row, errbuf, errsize);
}

/* Several rows of one collapsible table, one op, one column set, distinct keys. */
static err_t pg_target_rows(void *ctx, const change_row_t *rows, int n, char *errbuf,
                            size_t errsize)
{
    pg_target_t *pt = ctx;
    pg_target_rel_t *r = n > 0 ? pg_target_rel_find(pt->rels, rows[0].rel->relid) : NULL;
    if (r != NULL && r->collapsible && r->trel == NULL)
        return pg_target_exec_rows(&pt->ex, r, rows, n, errbuf, errsize);
    err_t err = ERR_OK;
    for (int i = 0; i < n && err == ERR_OK; i++) /* the plain path, row by row */
        err = pg_target_row(pt, &rows[i], errbuf, errsize);
    return err;
}

static err_t pg_target_truncate(void *ctx, const change_relation_t *const *rels, int nrels,
                                uint8_t options, lsn_t lsn, char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    sbuf_t s = {0};
    int n = 0;
    const char *first = NULL;
    sbuf_add(&s, "TRUNCATE ");
    for (int i = 0; i < nrels; i++) {
        pg_target_rel_t *r = pg_target_rel_find(pt->rels, rels[i]->relid);
        if (r == NULL || r->skip)
            continue;
        if (r->unusable != NULL) {
            sbuf_clear(&s);
            return pg_target_rel_usable(r, lsn, errbuf, errsize);
        }
        sbuf_add(&s, n++ ? ", " : "");
        sbuf_add(&s, r->target);
        first = first ? first : r->display;
    }
    if (options & 2) /* RESTART IDENTITY */
        sbuf_add(&s, " RESTART IDENTITY");
    if (options & 1) /* CASCADE */
        sbuf_add(&s, " CASCADE");
    err_t err = ERR_OK;
    if (s.oom) {
        snprintf(errbuf, errsize, "out of memory");
        err = ERR_RUNTIME;
    } else if (n > 0) {
        pg_pipe_tag_t tag = {.op = 'T', .table = first, .lsn = lsn};
        err = pg_pipe_exec(pt->pipe, s.s, &tag, errbuf, errsize);
    }
    free(s.s);
    return err;
}

/*
 * Every sink operation ends here: after a failure, the statement that failed
 * may be a transformed row whose values were kept; the pipeline is aborted
 * and its mappings are evaluated one by one to name the failing column.
 */
static err_t pg_target_failed(pg_target_t *pt, err_t err, char *errbuf, size_t errsize)
{
    void (*explain)(PGconn * conn, void *diag, char *errbuf, size_t errsize) = NULL;
    void *diag = err != ERR_OK ? pg_pipe_take_failed(pt->pipe, &explain) : NULL;
    if (diag != NULL) {
        pg_pipe_abort(pt->pipe);
        explain(pt->conn, diag, errbuf, errsize);
    }
    return err;
}

static err_t pg_target_begin(void *ctx, char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    pg_pipe_tag_t tag = {.op = 'X', .table = "BEGIN"};
    err_t err = pg_pipe_enter(pt->pipe, errbuf, errsize);
    if (err == ERR_OK)
        err = pg_pipe_exec(pt->pipe, "BEGIN", &tag, errbuf, errsize);
    return pg_target_failed(pt, err, errbuf, errsize);
}

/* Queues progress, offsets and COMMIT (tagged 'C' with the end LSN), then
 * waits until it is durable (wait) or only sends it. */
static err_t pg_target_send_commit(pg_target_t *pt, const sink_position_t *pos, int wait,
                                   char *errbuf, size_t errsize)
{
    pg_pipe_tag_t tag = {.op = 'C', .table = "COMMIT", .lsn = pos->end_lsn};
    err_t err = pg_progress_queue(pt->pipe, &pt->progress, pt->cfg->name, pos->end_lsn,
                                  pos->commit_time, errbuf, errsize);
    for (int i = 0; err == ERR_OK && i < pos->noffsets; i++)
        err = pg_progress_queue_offset(pt->pipe, &pt->progress, pt->cfg->name, &pos->offsets[i],
                                       pos->end_lsn, errbuf, errsize);
    if (err == ERR_OK && pos->nmarks > 0)
        err = pg_vmarks_queue(pt->pipe, &pt->marks_prepared, pt->cfg->name, pos, errbuf, errsize);
    if (err == ERR_OK)
        err = pg_pipe_exec(pt->pipe, "COMMIT", &tag, errbuf, errsize);
    if (err == ERR_OK)
        err = wait ? pg_pipe_drain(pt->pipe, errbuf, errsize)
                   : pg_pipe_flush(pt->pipe, errbuf, errsize);
    return pg_target_failed(pt, err, errbuf, errsize);
}

static err_t pg_target_commit(void *ctx, const sink_position_t *pos, char *errbuf, size_t errsize)
{
    return pg_target_send_commit(ctx, pos, 1, errbuf, errsize);
}

static err_t pg_target_commit_async(void *ctx, const sink_position_t *pos, char *errbuf,
                                    size_t errsize)
{
    return pg_target_send_commit(ctx, pos, 0, errbuf, errsize);
}

static err_t pg_target_durable(void *ctx, lsn_t *lsn, char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    err_t err = pg_pipe_poll(pt->pipe, errbuf, errsize);
    *lsn = pg_pipe_committed(pt->pipe);
    return pg_target_failed(pt, err, errbuf, errsize);
}

static err_t pg_target_drain(void *ctx, char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    return pg_target_failed(pt, pg_pipe_drain(pt->pipe, errbuf, errsize), errbuf, errsize);
}

static void pg_target_rollback(void *ctx)
{
    pg_target_t *pt = ctx;
    pg_pipe_abort(pt->pipe);
}

static err_t pg_target_advance(void *ctx, lsn_t lsn, char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    err_t err = pg_progress_queue(pt->pipe, &pt->progress, pt->cfg->name, lsn, 0, errbuf, errsize);
    if (err == ERR_OK)
        err = pg_pipe_drain(pt->pipe, errbuf, errsize);
    return pg_target_failed(pt, err, errbuf, errsize);
}

static void pg_target_on_wait(void *ctx, void (*hook)(void *arg, int stalled), void *arg)
{
    pg_target_t *pt = ctx;
    pg_conn_set_wait_hook(pt->conn, hook, arg);
}

static err_t pg_target_type(void *ctx, uint32_t oid, const char *nspname, const char *typname,
                            char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    if (pg_target_transform_types_put(&pt->types, pt->conn, oid, nspname, typname) != 0) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    return ERR_OK;
}

static int pg_target_collapsible(void *ctx, uint32_t relid)
{
    pg_target_t *pt = ctx;
    pg_target_rel_t *r = pg_target_rel_find(pt->rels, relid);
    return r != NULL && r->collapsible && r->trel == NULL && !r->skip && r->unusable == NULL;
}

static err_t pg_target_op_rows(void *ctx, const change_row_t *rows, int n, char *errbuf,
                               size_t errsize)
{
    return pg_target_failed(ctx, pg_target_rows(ctx, rows, n, errbuf, errsize), errbuf, errsize);
}

static err_t pg_target_op_row(void *ctx, const change_row_t *row, char *errbuf, size_t errsize)
{
    return pg_target_failed(ctx, pg_target_row(ctx, row, errbuf, errsize), errbuf, errsize);
}

static err_t pg_target_op_relation(void *ctx, const change_relation_t *rel, lsn_t lsn, char *errbuf,
                                   size_t errsize)
{
    return pg_target_failed(ctx, pg_target_relation(ctx, rel, lsn, errbuf, errsize), errbuf,
                            errsize);
}

static err_t pg_target_op_truncate(void *ctx, const change_relation_t *const *rels, int nrels,
                                   uint8_t options, lsn_t lsn, char *errbuf, size_t errsize)
{
    err_t err = pg_target_truncate(ctx, rels, nrels, options, lsn, errbuf, errsize);
    return pg_target_failed(ctx, err, errbuf, errsize);
}

/* DDL between rows: what was queued before it is finished first, and the
 * Relation message the source sends after a schema change re-describes the
 * table (statements of the old shape are then dropped). */
static err_t pg_target_ddl(void *ctx, const sink_ddl_t *ddl, char *errbuf, size_t errsize)
{
    pg_target_t *pt = ctx;
    err_t err = pg_pipe_leave(pt->pipe, errbuf, errsize);
    if (err == ERR_OK)
        err = pg_ddl_apply(pt->conn, pt->cfg, pt->ddl_applied, &pt->ddl_key, ddl, errbuf, errsize);
    if (err == ERR_OK)
        err = pg_pipe_enter(pt->pipe, errbuf, errsize);
    return pg_target_failed(pt, err, errbuf, errsize);
}

void pg_target_fence(pg_target_t *pt, lsn_t applied)
{
    pt->progress.fenced = 1;
    pt->progress.fence = applied;
}

void pg_target_set_ddl_applied(pg_target_t *pt, lsn_t lsn)
{
    pt->ddl_applied = lsn;
}

void pg_target_set_ddl_key(pg_target_t *pt, const pg_ddl_key_t *key)
{
    pt->ddl_key = *key;
}

static err_t pg_target_op_offsets(void *ctx, const char *topic, sink_offset_t **offsets, int *n,
                                  char *errbuf, size_t errsize)
{
    return pg_target_read_offsets(ctx, topic, offsets, n, errbuf, errsize);
}

static const sink_ops_t pg_target_ops = {
    .collapsible = pg_target_collapsible,
    .rows = pg_target_op_rows,
    .relation = pg_target_op_relation,
    .type = pg_target_type,
    .begin = pg_target_begin,
    .row = pg_target_op_row,
    .truncate = pg_target_op_truncate,
    .commit = pg_target_commit,
    .commit_async = pg_target_commit_async,
    .durable = pg_target_durable,
    .drain = pg_target_drain,
    .rollback = pg_target_rollback,
    .advance = pg_target_advance,
    .offsets = pg_target_op_offsets,
    .on_wait = pg_target_on_wait,
    .ddl = pg_target_ddl,
};

sink_t pg_target_sink(pg_target_t *pt)
{
    sink_t s = {.ops = &pg_target_ops, .ctx = pt};
    return s;
}

int pg_target_server_version(const pg_target_t *pt)
{
    return PQserverVersion(pt->conn);
}

PGconn *pg_target_conn(pg_target_t *pt)
{
    return pt->conn;
}
