/*
 * cli_run: the `run` command: connect both sides, create publication, slot
 * and progress row when absent, copy existing rows on the first run, then
 * stream and apply until stopped. Retries lost connections while streaming.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/collapse.h"
#include "core/log.h"
#include "core/lsn.h"
#include "core/metrics.h"
#include "http/metrics_http.h"
#include "pg/pg_copy.h"
#include "pg/pg_ddl.h"
#include "pg/pg_hold.h"
#include "pg/pg_index_defer.h"
#include "pg/pg_origin.h"
#include "pg/pg_source.h"
#include "pg/pg_progress.h"
#include "pg/pg_reap.h"
#include "pg/pg_target.h"
#include "core/stream.h"

typedef enum snapshot_mode {
    SNAPSHOT_AUTO,   /* copy when the target has no progress row */
    SNAPSHOT_ALWAYS, /* truncate the targets and copy again */
    SNAPSHOT_NEVER,  /* stream only */
} snapshot_mode_t;

typedef struct run_opts {
    snapshot_mode_t snapshot;
    int yes;
    const char *metrics_addr; /* --metrics ADDR:PORT, NULL: no endpoint */
    lsn_t ddl_applied;        /* --ddl-applied LSN: that DDL was applied by hand */
    metrics_t *metrics;       /* the registry served there, NULL: none */
} run_opts_t;

/* What one run works on: both sides and the published tables. */
typedef struct run_ctx {
    const config_t *cfg;
    const run_opts_t *opts;
    volatile sig_atomic_t *stop;
    pg_source_t *ps;
    pg_target_t *pt;
    pg_copy_table_t *tables; /* published tables, owned */
    int ntables;
    int pub_created;
    char *errbuf;
} run_ctx_t;

/* Every published table must have its target before anything starts. */
static err_t run_check_tables(run_ctx_t *rc)
{
    char **schemas = NULL, **names = NULL;
    int n = 0;
    err_t err =
        pg_source_published_tables(rc->ps, &schemas, &names, &n, rc->errbuf, CLI_ERRBUF_SIZE);
    if (err == ERR_OK && (rc->tables = calloc((size_t)n + 1, sizeof(*rc->tables))) == NULL) {
        snprintf(rc->errbuf, CLI_ERRBUF_SIZE, "out of memory");
        err = ERR_RUNTIME;
    }
    for (int i = 0; err == ERR_OK && i < n; i++) {
        rc->tables[i] = (pg_copy_table_t){.schema = schemas[i], .name = names[i]};
        schemas[i] = names[i] = NULL;
        rc->ntables++;
        err = pg_target_check_table(rc->pt, rc->tables[i].schema, rc->tables[i].name, rc->errbuf,
                                    CLI_ERRBUF_SIZE);
    }
    pg_source_free_names(schemas, n);
    pg_source_free_names(names, n);
    return err;
}

static void run_ctx_clear(run_ctx_t *rc)
{
    for (int i = 0; i < rc->ntables; i++) {
        free(rc->tables[i].schema);
        free(rc->tables[i].name);
    }
    free(rc->tables);
    pg_target_free(rc->pt);
    pg_source_free(rc->ps);
}

/* The schemas fit the configuration. When DDL is followed and streaming has
 * begun before, a difference may be DDL still in the stream (a stop before
 * it, a crash): warned, and the stream applies it or stops at a row that
 * does not fit. */
static err_t run_check(run_ctx_t *rc)
{
    err_t err = cli_check_before_run(rc->cfg, rc->errbuf, CLI_ERRBUF_SIZE);
    if (err != ERR_SCHEMA || !pg_ddl_supported(pg_source_version(rc->ps)) ||
        !config_ddl_followed(rc->cfg))
        return err;
    pg_progress_t prog;
    char eb[256];
    if (pg_progress_read(pg_target_conn(rc->pt), rc->cfg, &prog, eb, sizeof(eb)) != ERR_OK ||
        !prog.exists || prog.copying)
        return err;
    log_warn("%s; going on: DDL is followed, and DDL not applied yet may explain it", rc->errbuf);
    return ERR_OK;
}

/* Copies every table as of the slot's snapshot, then marks the row streaming. */
static err_t run_copy(run_ctx_t *rc, const char *snapshot, lsn_t start, int truncate)
{
    pg_copy_stats_t stats;
    err_t err = ERR_OK;
    if (truncate)
        err =
            pg_copy_truncate_targets(rc->cfg, rc->tables, rc->ntables, rc->errbuf, CLI_ERRBUF_SIZE);
    log_info("copy started tables=%d workers=%d snapshot=%s", rc->ntables,
             rc->cfg->snapshot_workers, snapshot);
    if (err == ERR_OK)
        err = pg_copy_run(rc->cfg, snapshot, rc->tables, rc->ntables, rc->stop, &stats, rc->errbuf,
                          CLI_ERRBUF_SIZE);
    if (err != ERR_OK) { /* the copy is the state of the source at the slot's start */
        char l[LSN_STRLEN];
        size_t n = strlen(rc->errbuf);
        snprintf(rc->errbuf + n, n < CLI_ERRBUF_SIZE ? CLI_ERRBUF_SIZE - n : 0,
                 " (initial copy as of lsn=%s)", lsn_format(start, l, sizeof(l)));
        return err;
    }
    if (stats.interrupted) { /* SIGINT/SIGTERM: stop cleanly; the row still says copying */
        log_warn("copy interrupted by a stop request after %llu rows; the next run starts it "
                 "again",
                 (unsigned long long)stats.rows);
        return ERR_OK;
    }
    if (rc->opts->metrics != NULL) /* metrics */
        metrics_copy_rows(rc->opts->metrics, stats.rows);
    log_info("copy done tables=%d rows=%llu mb=%.1f seconds=%.1f", stats.tables,
             (unsigned long long)stats.rows, (double)stats.bytes / 1048576.0, stats.seconds);
    return pg_progress_copy_done(pg_target_conn(rc->pt), rc->cfg, rc->errbuf, CLI_ERRBUF_SIZE);
}

/* Fails when the initial copy would land on rows already there. */
static err_t run_require_empty(run_ctx_t *rc)
{
    int idx;
    err_t err =
        pg_copy_find_nonempty(rc->cfg, rc->tables, rc->ntables, &idx, rc->errbuf, CLI_ERRBUF_SIZE);
    if (err == ERR_OK && idx >= 0) {
        snprintf(rc->errbuf, CLI_ERRBUF_SIZE,
                 "target table for %s.%s is not empty and there is no progress row, so an initial "
                 "copy would duplicate rows: empty it, run with --snapshot=always --yes to "
                 "truncate and copy, or --snapshot=never to stream only",
                 rc->tables[idx].schema, rc->tables[idx].name);
        err = ERR_SCHEMA;
    }
    return err;
}

/* Forgets an unfinished or unwanted state: slot and progress row. */
static err_t run_reset(run_ctx_t *rc, pg_source_slot_t *slot, pg_progress_t *prog)
{
    err_t err = ERR_OK;
    if (slot->exists)
        err = pg_source_drop(rc->ps, PG_SOURCE_PUB_KEEP, NULL, rc->errbuf, CLI_ERRBUF_SIZE);
    if (err == ERR_OK && prog->exists)
        err = pg_progress_delete(pg_target_conn(rc->pt), rc->cfg, rc->errbuf, CLI_ERRBUF_SIZE);
    rc->pub_created |= prog->publication_created;
    slot->exists = prog->exists = 0;
    return err;
}

/* The target tables are this configuration's alone (pg_progress_claim). */
static err_t run_claim_tables(run_ctx_t *rc)
{
    const char **schemas = calloc((size_t)rc->ntables + 1, sizeof(char *));
    const char **names = calloc((size_t)rc->ntables + 1, sizeof(char *));
    err_t err = ERR_RUNTIME;
    if (schemas != NULL && names != NULL) {
        for (int i = 0; i < rc->ntables; i++) {
            schemas[i] = rc->tables[i].schema;
            names[i] = rc->tables[i].name;
        }
        err = pg_progress_claim(pg_target_conn(rc->pt), rc->cfg, schemas, names, rc->ntables,
                                rc->errbuf, CLI_ERRBUF_SIZE);
    } else {
        snprintf(rc->errbuf, CLI_ERRBUF_SIZE, "out of memory");
    }
    free(schemas);
    free(names);
    return err;
}

/* Slot and progress row: creates what is absent, copies when asked, and
 * returns where streaming must start. */
static err_t run_prepare(run_ctx_t *rc, lsn_t *start)
{
    pg_source_slot_t slot;
    pg_progress_t prog;
    char snapshot[128] = "";
    err_t err =
        pg_progress_read(pg_target_conn(rc->pt), rc->cfg, &prog, rc->errbuf, CLI_ERRBUF_SIZE);
    if (err == ERR_OK)
        err = pg_source_slot_info(rc->ps, &slot, rc->errbuf, CLI_ERRBUF_SIZE);
    if (err == ERR_OK && slot.exists)
        err = pg_source_check_slot(rc->ps, &slot, rc->errbuf, CLI_ERRBUF_SIZE);
    if (err != ERR_OK)
        return err;
    if (prog.exists && prog.copying && rc->opts->snapshot == SNAPSHOT_NEVER) {
        snprintf(rc->errbuf, CLI_ERRBUF_SIZE,
                 "the initial copy did not finish, so the target is incomplete: "
                 "--snapshot=never would stream onto it; run without it (the copy restarts)");
        return ERR_USAGE;
    }
    int truncate = rc->opts->snapshot == SNAPSHOT_ALWAYS || (prog.exists && prog.copying);
    if (prog.exists && prog.copying)
        log_warn("the previous initial copy did not finish: starting it again");
    int copy = (!prog.exists || truncate) && rc->opts->snapshot != SNAPSHOT_NEVER;
    if (!copy) { /* indexes dropped by an interrupted copy are rebuilt in any case */
        int restored = 0;
        err = pg_index_defer_restore(rc->cfg, &restored, rc->errbuf, CLI_ERRBUF_SIZE);
        if (err != ERR_OK)
            return err;
    }
    if (copy && !truncate)
        err = run_require_empty(rc);
    if (err == ERR_OK && copy) /* a copy needs a slot made with its snapshot */
        err = run_reset(rc, &slot, &prog);
    if (err != ERR_OK)
        return err;
    if (!slot.exists) {
        err = pg_source_create_slot(rc->ps, &slot.confirmed_flush, copy ? snapshot : NULL,
                                    sizeof(snapshot), rc->errbuf, CLI_ERRBUF_SIZE);
        if (err == ERR_OK && prog.exists) {
            snprintf(rc->errbuf, CLI_ERRBUF_SIZE,
                     "target has progress for '%s' but the source slot %s did not exist: the "
                     "changes in between are gone; run 'syncline run --snapshot=always --yes' "
                     "to copy again",
                     rc->cfg->name, rc->cfg->slot);
            err = ERR_SOURCE;
        }
    } else if (prog.exists && prog.applied_lsn < slot.confirmed_flush) {
        char a[LSN_STRLEN], b[LSN_STRLEN];
        snprintf(rc->errbuf, CLI_ERRBUF_SIZE,
                 "target progress %s is behind slot %s confirmed position %s: the target lost "
                 "changes the source no longer has (restored from a backup?); run 'syncline run "
                 "--snapshot=always --yes' to copy again",
                 lsn_format(prog.applied_lsn, a, sizeof(a)), rc->cfg->slot,
                 lsn_format(slot.confirmed_flush, b, sizeof(b)));
        err = ERR_SOURCE;
    }
    if (err != ERR_OK)
        return err;
    *start = prog.exists ? prog.applied_lsn : slot.confirmed_flush;
    err = pg_progress_ensure_tables(pg_target_conn(rc->pt), rc->errbuf, CLI_ERRBUF_SIZE);
    if (err == ERR_OK)
        err = run_claim_tables(rc);
    if (err == ERR_OK && !prog.exists)
        err = pg_progress_init(pg_target_conn(rc->pt), rc->cfg, *start, rc->pub_created, copy,
                               rc->errbuf, CLI_ERRBUF_SIZE);
    if (err == ERR_OK && copy)
        err = run_copy(rc, snapshot, *start, truncate);
    return err;
}

static err_t run_stream(const config_t *cfg, pg_source_t *ps, pg_target_t *pt, lsn_t start,
                        volatile sig_atomic_t *stop, metrics_t *metrics, char *errbuf)
{
    stream_opts_t opts;
    err_t err = cli_stream_start(cfg, ps, start, stop, metrics, &opts, errbuf);
    if (err != ERR_OK)
        return err;
    pg_target_fence(pt, start); /* what run_prepare read or wrote */
    source_t src = pg_source_stream(ps);
    sink_t snk = pg_target_sink(pt);
    collapse_t *cl = cfg->collapse ? collapse_new(snk, 64u << 20) : NULL;
    if (cl != NULL)
        snk = collapse_sink(cl);
    pg_hold_t *ph = pg_hold_open(cfg, metrics, &err, errbuf, CLI_ERRBUF_SIZE); /* online verify */
    hold_verifier_t hold = ph != NULL ? pg_hold_stream(ph) : (hold_verifier_t){0};
    opts.hold = ph != NULL ? &hold : NULL;
    stream_stats_t stats;
    if (ph != NULL)
        err = stream_run(&src, &snk, &opts, &stats, errbuf, CLI_ERRBUF_SIZE);
    else
        memset(&stats, 0, sizeof(stats));
    pg_hold_free(ph);
    char l[LSN_STRLEN];
    unsigned long long in = stats.rows, out = stats.rows;
    if (cl != NULL)
        collapse_counts(cl, &in, &out);
    log_info("stopped applied_lsn=%s transactions=%llu rows=%llu target_commits=%llu "
             "rows_written=%llu rows_copied=%llu",
             lsn_format(stats.applied_lsn, l, sizeof(l)), (unsigned long long)stats.txns,
             (unsigned long long)stats.rows, (unsigned long long)stats.batches, out,
             pg_target_rows_copied(pt));
    (void)in;
    collapse_free(cl);
    return err;
}

/* One session: connect both sides, check, prepare (and copy), stream.
 * *streamed counts the sessions that began streaming (a later connection loss
 * is then worth retrying). */
static err_t run_session(const config_t *cfg, const run_opts_t *opts, cli_ctx_t *ctx, int *streamed)
{
    err_t err;
    lsn_t start = 0;
    char *errbuf = ctx->errbuf;
    run_ctx_t rc = {.cfg = cfg, .opts = opts, .stop = ctx->stop, .errbuf = errbuf};
    rc.ps = pg_source_open(cfg, &err, errbuf, CLI_ERRBUF_SIZE);
    if (rc.ps != NULL)
        rc.pt = pg_target_open(cfg, &err, errbuf, CLI_ERRBUF_SIZE);
    if (rc.pt != NULL)
        err = pg_source_lock(rc.ps, errbuf, CLI_ERRBUF_SIZE);
    if (rc.pt != NULL && err == ERR_OK) /* before any write: a stalled session's locks go */
        err = pg_reap_claim(pg_target_conn(rc.pt), cfg, errbuf, CLI_ERRBUF_SIZE);
    if (rc.pt != NULL && err == ERR_OK) /* the fallback direction's applier, or no fallback */
        err = cfg->apply_origin[0] != '\0'
                  ? pg_origin_session(pg_target_conn(rc.pt), cfg->apply_origin, errbuf,
                                      CLI_ERRBUF_SIZE)
                  : cli_fallback_guard(cfg, errbuf, CLI_ERRBUF_SIZE);
    if (rc.pt != NULL && err == ERR_OK)
        err = pg_source_check_wal_level(rc.ps, errbuf, CLI_ERRBUF_SIZE);
    if (rc.pt != NULL && err == ERR_OK)
        err = pg_source_check_features(rc.ps, errbuf, CLI_ERRBUF_SIZE);
    if (rc.pt != NULL && err == ERR_OK && !*streamed)
        err = run_check(&rc);
    if (rc.pt != NULL && err == ERR_OK) {
        err = pg_source_ensure_publication(rc.ps, &rc.pub_created, errbuf, CLI_ERRBUF_SIZE);
        if (err == ERR_OK)
            err = run_check_tables(&rc);
        char eb[256];
        if (pg_source_end_publication(rc.ps, err == ERR_OK, eb, sizeof(eb)) != ERR_OK &&
            err == ERR_OK) {
            snprintf(errbuf, CLI_ERRBUF_SIZE, "%s", eb);
            err = ERR_CONNECT;
        }
    }
    if (rc.pt != NULL && err == ERR_OK) /* before the slot: DDL from its start on is streamed */
        err = pg_source_ddl_trigger(rc.ps, 1, errbuf, CLI_ERRBUF_SIZE);
    if (rc.pt != NULL && err == ERR_OK) {
        pg_ddl_key_t key;
        err = pg_source_ddl_key(rc.ps, &key, errbuf, CLI_ERRBUF_SIZE);
        pg_target_set_ddl_key(rc.pt, &key);
    }
    if (rc.pt != NULL && err == ERR_OK) {
        pg_target_set_ddl_applied(rc.pt, opts->ddl_applied);
        err = run_prepare(&rc, &start);
    }
    if (rc.pt != NULL && err == ERR_OK && !*ctx->stop) { /* a stop during the copy ends here */
        (*streamed)++;
        err = run_stream(cfg, rc.ps, rc.pt, start, ctx->stop, opts->metrics, errbuf);
    }
    run_ctx_clear(&rc);
    return err;
}

typedef struct run_retry_state {
    const config_t *cfg;
    run_opts_t opts;
} run_retry_state_t;

/* A retry never copies again: the first session settled that. */
static err_t run_retry_session(void *state, cli_ctx_t *ctx, int *streamed)
{
    run_retry_state_t *rr = state;
    if (*streamed > 0)
        rr->opts.snapshot = SNAPSHOT_AUTO;
    return run_session(rr->cfg, &rr->opts, ctx, streamed);
}

/* Failures before the first stream are reported at once (bad host, bad
 * password); a connection lost while streaming is retried (cli_retry). The
 * target's progress row says where to resume, so nothing is lost or doubled. */
static err_t run_loop(const config_t *cfg, const run_opts_t *opts, cli_ctx_t *ctx)
{
    run_retry_state_t rr = {.cfg = cfg, .opts = *opts};
    return cli_retry(ctx, NULL, run_retry_session, &rr);
}

/* ---- metrics: --metrics ADDR:PORT serves a registry the apply loop fills ---- */

typedef struct run_body_state {
    const config_t *cfg;
    run_opts_t *opts;
} run_body_state_t;

static err_t run_body(void *state, metrics_t *metrics, cli_ctx_t *ctx)
{
    run_body_state_t *rb = state;
    rb->opts->metrics = metrics;
    err_t err = run_loop(rb->cfg, rb->opts, ctx);
    rb->opts->metrics = NULL;
    return err;
}

static err_t run_with_metrics(const config_t *cfg, run_opts_t *opts, cli_ctx_t *ctx)
{
    run_body_state_t rb = {.cfg = cfg, .opts = opts};
    return cli_with_metrics("run", opts->metrics_addr, run_body, &rb, ctx);
}

/* ---- end of metrics ------------------------------------------------------ */

err_t cli_run_fallback(const config_t *rev, const char *metrics_addr, cli_ctx_t *ctx)
{
    run_opts_t opts = {.snapshot = SNAPSHOT_NEVER, .metrics_addr = metrics_addr};
    return run_with_metrics(rev, &opts, ctx);
}

static err_t run_on_opt(int opt, const char *arg, void *state)
{
    run_opts_t *o = state;
    if (opt == 'M') { /* metrics */
        o->metrics_addr = arg;
        return ERR_OK;
    }
    if (opt == 'y') {
        o->yes = 1;
        return ERR_OK;
    }
    if (opt == 'D') {
        if (!lsn_parse(arg, &o->ddl_applied) || o->ddl_applied == 0) {
            fprintf(stderr, "syncline run: --ddl-applied takes an LSN such as 0/16B3748\n");
            return ERR_USAGE;
        }
        return ERR_OK;
    }
    if (opt != 's')
        return ERR_USAGE;
    if (strcmp(arg, "auto") == 0)
        o->snapshot = SNAPSHOT_AUTO;
    else if (strcmp(arg, "always") == 0)
        o->snapshot = SNAPSHOT_ALWAYS;
    else if (strcmp(arg, "never") == 0)
        o->snapshot = SNAPSHOT_NEVER;
    else {
        fprintf(stderr, "syncline run: --snapshot takes auto, always or never\n");
        return ERR_USAGE;
    }
    return ERR_OK;
}

static err_t cli_run(cli_ctx_t *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {{"snapshot", required_argument, NULL, 's'},
                                             {"yes", no_argument, NULL, 'y'},
                                             {"metrics", required_argument, NULL, 'M'},
                                             {"ddl-applied", required_argument, NULL, 'D'},
                                             {NULL, 0, NULL, 0}};
    run_opts_t opts = {.snapshot = SNAPSHOT_AUTO};
    const char *path = NULL;
    int help;
    err_t err =
        cli_parse(&cli_run_command, argc, argv, "", longopts, run_on_opt, &opts, &path, &help);
    if (err != ERR_OK || help)
        return err;
    if (opts.snapshot == SNAPSHOT_ALWAYS && !opts.yes) {
        fprintf(stderr, "syncline run: --snapshot=always truncates the target tables; add --yes\n");
        return ERR_USAGE;
    }
    config_t *cfg = cli_load_config(ctx, path);
    if (cfg == NULL)
        return ERR_CONFIG;
    err = run_with_metrics(cfg, &opts, ctx);
    config_free(cfg);
    return err;
}

const cli_command_t cli_run_command = {
    .name = "run",
    .summary = "copy (first run), then stream and apply until SIGINT/SIGTERM",
    .usage = "usage: syncline run -c FILE [--snapshot=auto|always|never] [--yes]\n"
             "                    [--metrics [ADDR:]PORT] [--ddl-applied LSN]\n"
             "  Creates the publication, slot and progress table when absent, copies every\n"
             "  table on the first run, then streams and applies until SIGINT/SIGTERM, which\n"
             "  finish the transaction in hand, record progress and exit 0.\n"
             "  -c, --config FILE   configuration (JSON)\n"
             "  --snapshot=auto     copy first when the target has no progress row (target\n"
             "                      tables must be empty), then stream (default)\n"
             "  --snapshot=always   truncate the target tables and copy again (needs --yes)\n"
             "  --snapshot=never    stream only, from the slot's position\n"
             "  --metrics ADDR:PORT serve Prometheus metrics at http://ADDR:PORT/metrics (a\n"
             "                      bare PORT binds 127.0.0.1)\n"
             "  --ddl-applied LSN   the DDL at LSN (named by a stop on it) was applied on the\n"
             "                      target by hand: skip it (docs/ddl.md)\n",
    .run = cli_run,
};
