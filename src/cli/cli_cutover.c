/*
 * cli_cutover: the cutover commands: `verify` (compare target with source),
 * `sequences` (carry sequence positions over), `cutover` (wait, fence, drain,
 * sequences, verify, report) and `unfence`. The work is in connectors
 * pg_lag, pg_fence, pg_seq and pg_verify; this file orders it and prints.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/lsn.h"
#include "pg/pg_fallback.h"
#include "pg/pg_fence.h"
#include "pg/pg_hold.h"
#include "pg/pg_lag.h"
#include "pg/pg_seq.h"
#include "pg/pg_verify.h"

#define CUTOVER_MAX_TABLES 256

typedef struct cut_opts {
    pg_verify_opts_t verify;
    char *tables[CUTOVER_MAX_TABLES]; /* --tables, pointing into tables_arg */
    char *tables_arg;                 /* owned copy of the --tables value */
    int fence;
    int fallback; /* --fallback: the reverse slot at the switch point */
    int back;     /* --fallback-back: switch back to the source */
    long long max_lag_bytes;
    int timeout_s;
} cut_opts_t;

/* ---- printing ----------------------------------------------------------- */

static void cut_print_table(void *arg, const pg_verify_result_t *r)
{
    (void)arg;
    if (r->match && r->incremental)
        printf("table %s -> %s: match (%lld rows, %d changed key range(s) re-checked, counts "
               "equal)\n",
               r->source, r->target, r->source_rows, r->rechecked);
    else if (r->match)
        printf("table %s -> %s: match (%lld rows, %d %s)\n", r->source, r->target, r->source_rows,
               r->chunks, r->keyed ? "key-range chunks" : "whole table, no primary key");
    else
        printf("table %s -> %s: DIFFERENT (source %lld rows, target %lld rows, %d of %d chunks "
               "differ)%s\n",
               r->source, r->target, r->source_rows, r->target_rows, r->bad_chunks, r->chunks,
               r->detail);
    fflush(stdout);
}

static void cut_print_sequence(void *arg, const pg_seq_result_t *r)
{
    (void)arg;
    if (r->action == PG_SEQ_MISSING)
        printf("sequence %s: MISSING on the target\n", r->source);
    else if (r->action == PG_SEQ_RAISED)
        printf("sequence %s -> %s: set to %lld (is_called=%s; target was %lld)\n", r->source,
               r->target, r->source_value, r->source_called ? "true" : "false", r->target_before);
    else
        printf("sequence %s -> %s: unchanged (target %lld, source %lld)\n", r->source, r->target,
               r->target_before, r->source_value);
    fflush(stdout);
}

/* ---- shared steps ------------------------------------------------------- */

static err_t cut_sequences(const config_t *cfg, pg_seq_stats_t *st, char *errbuf)
{
    err_t err = pg_seq_sync(cfg, cut_print_sequence, NULL, st, errbuf, CLI_ERRBUF_SIZE);
    if (err == ERR_OK && st->missing > 0) {
        snprintf(errbuf, CLI_ERRBUF_SIZE,
                 "%d source sequence(s) have no target sequence (create them on the target)",
                 st->missing);
        err = ERR_SCHEMA;
    }
    return err;
}

static err_t cut_verify(const config_t *cfg, const pg_verify_opts_t *vo, pg_verify_stats_t *st,
                        char *errbuf)
{
    err_t err = pg_verify_run(cfg, vo, cut_print_table, NULL, st, errbuf, CLI_ERRBUF_SIZE);
    char l[LSN_STRLEN];
    if (err == ERR_OK)
        printf("verify: %d table(s), %d differ, %lld source rows verified at lsn=%s%s%s\n",
               st->tables, st->differ, st->rows, lsn_format(st->lsn, l, sizeof(l)),
               st->fenced ? " (source fenced)" : "",
               st->online ? " (online: the source kept writing)" : "");
    if (err == ERR_OK && st->incremental)
        printf("verify: incremental: %d key range(s) re-checked (changed since the last verify) "
               "plus row counts; last full verify %.0f s ago (--full compares everything)\n",
               st->rechecked, st->full_age_s);
    else if (err == ERR_OK)
        printf("verify: full: %d chunk(s) compared%s\n", st->rechecked,
               st->base_set ? "; the next verify re-checks only what changes from here" : "");
    if (err == ERR_OK && st->differ > 0) {
        snprintf(errbuf, CLI_ERRBUF_SIZE, "%d table(s) differ between source and target",
                 st->differ);
        err = ERR_RUNTIME;
    }
    return err;
}

/* Samples the lag until done(sample) holds, the deadline passes or a stop. */
static err_t cut_wait(cli_ctx_t *ctx, pg_lag_t *pl, int64_t deadline,
                      int (*done)(const pg_lag_sample_t *s, const void *arg), const void *arg,
                      const char *what, pg_lag_sample_t *s)
{
    for (;;) {
        err_t err = pg_lag_sample(pl, s, ctx->errbuf, CLI_ERRBUF_SIZE);
        if (err != ERR_OK || done(s, arg))
            return err;
        if (*ctx->stop || clock_ms() > deadline) {
            char a[LSN_STRLEN];
            snprintf(ctx->errbuf, CLI_ERRBUF_SIZE,
                     "%s while waiting for %s: applied_lsn=%s lag_bytes=%llu%s",
                     *ctx->stop ? "interrupted" : "timed out", what,
                     lsn_format(s->applied_lsn, a, sizeof(a)), (unsigned long long)s->lag_bytes,
                     s->slot_active ? "" : " (the slot is not in use: is 'syncline run' running?)");
            return ERR_LAG;
        }
        cli_sleep_ms(ctx, 200);
    }
}

static int cut_lag_small(const pg_lag_sample_t *s, const void *arg)
{
    return s->lag_bytes <= (uint64_t) * (const long long *)arg;
}

static int cut_applied_reached(const pg_lag_sample_t *s, const void *arg)
{
    return s->applied_lsn >= *(const lsn_t *)arg;
}

/* ---- cutover ------------------------------------------------------------ */

typedef struct cut_run {
    cli_ctx_t *ctx;
    const config_t *cfg;
    const cut_opts_t *o;
    pg_lag_t *pl;
    pg_fence_t *pf;
    int fenced; /* the fence may be up: lift it on failure */
    pg_fence_info_t fi;
    int64_t fenced_ms;
    int64_t deadline;
    lsn_t final_lsn;
    double prepass_seconds; /* online verifies before the fence */
    int prepasses;
    double fence_seconds; /* the fence up and the older sessions gone */
    double drain_seconds;
    double seq_seconds;
    double verify_seconds;
    pg_seq_stats_t seq;
    pg_verify_stats_t ver;
    config_t *rev; /* --fallback: the fallback configuration, owned */
    lsn_t fallback_lsn;
    const config_t *back; /* --fallback-back: the forward configuration (cfg is the fallback's) */
    lsn_t rearm_lsn;
} cut_run_t;

static err_t cut_fence(cut_run_t *cr)
{
    char l[LSN_STRLEN];
    cr->fenced = 1;
    cr->fenced_ms = clock_ms();
    err_t err = pg_fence_on(cr->pf, &cr->fi, cr->ctx->errbuf, CLI_ERRBUF_SIZE);
    if (err != ERR_OK)
        return err;
    cr->final_lsn = cr->fi.final_lsn;
    cr->fence_seconds = (double)(clock_ms() - cr->fenced_ms) / 1000.0;
    log_info("cutover: fenced database=%s at=%s sessions_terminated=%d final_lsn=%s",
             pg_fence_database(cr->pf), cr->fi.fenced_at, cr->fi.terminated,
             lsn_format(cr->final_lsn, l, sizeof(l)));
    return ERR_OK;
}

/*
 * Before the fence: online verifies while the source still writes (only when
 * an applier holds for them), each re-checking what changed during the one
 * before, so the fenced verify inside the write pause re-checks only what
 * changed during the last one. Up to 3 passes, fewer once one takes under a
 * second; a failure or a difference only logs (the fenced verify decides).
 * They compare the marked ranges only: the row counts, a scan of each table,
 * are taken once, by the fenced verify (which proves the counts at the final
 * LSN either way), so the last pass is short and leaves few ranges to it.
 */
static void cut_prepass(cut_run_t *cr)
{
    char eb[CLI_ERRBUF_SIZE];
    for (int pass = 1; pass <= 3 && cr->o->verify.ntables == 0 && !*cr->ctx->stop; pass++) {
        pg_verify_opts_t vo = cr->o->verify;
        pg_verify_stats_t st;
        vo.online_only = 1;
        vo.ranges_only = 1; /* the counts are taken once, at the fence */
        vo.timeout_s = 60;
        int64_t t0 = clock_ms();
        err_t err = pg_verify_run(cr->cfg, &vo, NULL, NULL, &st, eb, sizeof(eb));
        double secs = (double)(clock_ms() - t0) / 1000.0;
        if (err != ERR_OK) {
            log_info("cutover: no online verify before the fence: %s", eb);
            return;
        }
        log_info("cutover: online verify before the fence pass=%d mode=%s ranges=%d differ=%d "
                 "seconds=%.1f",
                 pass, st.incremental ? "incremental" : "full", st.rechecked, st.differ, secs);
        cr->prepass_seconds += secs;
        cr->prepasses = pass;
        if (st.differ > 0 || secs < 1.0)
            return;
    }
}

static err_t cut_steps(cut_run_t *cr)
{
    pg_lag_sample_t s;
    char l[LSN_STRLEN];
    err_t err = cut_wait(cr->ctx, cr->pl, cr->deadline, cut_lag_small, &cr->o->max_lag_bytes,
                         "the lag to fall under --max-lag-bytes", &s);
    if (err != ERR_OK)
        return err;
    log_info("cutover: lag_bytes=%llu <= %lld", (unsigned long long)s.lag_bytes,
             cr->o->max_lag_bytes);
    if (cr->o->fence) {
        cut_prepass(cr);
        err = cut_fence(cr);
    } else
        cr->final_lsn = s.source_lsn;
    int64_t drain_start = clock_ms();
    int held = 0; /* fenced: the applier holds at the final LSN, without its idle progress write */
    if (err == ERR_OK && cr->o->fence)
        err = pg_hold_drain(cr->cfg, cr->final_lsn, cr->deadline, cr->ctx->stop, &held,
                            cr->ctx->errbuf, CLI_ERRBUF_SIZE);
    if (err == ERR_OK && !held)
        err = cut_wait(cr->ctx, cr->pl, cr->deadline, cut_applied_reached, &cr->final_lsn,
                       "the target to apply the final LSN", &s);
    if (err != ERR_OK)
        return err;
    cr->drain_seconds = (double)(clock_ms() - drain_start) / 1000.0;
    log_info("cutover: target applied final_lsn=%s in %.1f s",
             lsn_format(cr->final_lsn, l, sizeof(l)), cr->drain_seconds);
    int64_t step = clock_ms();
    err = cut_sequences(cr->cfg, &cr->seq, cr->ctx->errbuf);
    cr->seq_seconds = (double)(clock_ms() - step) / 1000.0;
    if (err != ERR_OK)
        return err;
    pg_verify_opts_t vo = cr->o->verify;
    int64_t left = (cr->deadline - clock_ms()) / 1000;
    vo.timeout_s = left > 1 ? (int)left : 1;
    step = clock_ms();
    err = cut_verify(cr->cfg, &vo, &cr->ver, cr->ctx->errbuf);
    cr->verify_seconds = (double)(clock_ms() - step) / 1000.0;
    return err;
}

static void cut_report(const cut_run_t *cr)
{
    char l[LSN_STRLEN];
    const char *db = pg_fence_database(cr->pf);
    printf("cutover report\n");
    printf("  final_lsn:           %s\n", lsn_format(cr->final_lsn, l, sizeof(l)));
    if (cr->o->fence) {
        printf("  fenced_at:           %s (source clock)\n", cr->fi.fenced_at);
        printf("  writes_stopped_at:   %s (source clock; older sessions ended)\n",
               cr->fi.writes_stopped_at);
        printf("  sessions_terminated: %d\n", cr->fi.terminated);
    }
    if (cr->o->fence)
        printf("  online_verify:       %d pass(es) before the fence, %.1f s (not in the pause)\n",
               cr->prepasses, cr->prepass_seconds);
    if (cr->o->fence)
        printf("  fence_seconds:       %.2f (fence up, older sessions ended)\n", cr->fence_seconds);
    printf("  drain_seconds:       %.2f\n", cr->drain_seconds);
    printf("  sequences_seconds:   %.2f\n", cr->seq_seconds);
    printf("  verify_seconds:      %.2f\n", cr->verify_seconds);
    printf("  sequences:           %d set, %d unchanged\n", cr->seq.raised, cr->seq.unchanged);
    printf("  tables_verified:     %d (all match)\n", cr->ver.tables);
    printf("  rows_verified:       %lld\n", cr->ver.rows);
    if (cr->ver.incremental)
        printf("  verify:              incremental, %d changed key range(s) re-checked plus row "
               "counts; last full verify %.0f s before\n",
               cr->ver.rechecked, cr->ver.full_age_s);
    else
        printf("  verify:              full (%d chunks; run 'syncline verify' during the sync "
               "first to make this incremental)\n",
               cr->ver.rechecked);
    if (cr->rev != NULL) /* --fallback */
        printf("  fallback_slot:       %s at lsn=%s (publication %s, on the target)\n",
               cr->rev->slot, lsn_format(cr->fallback_lsn, l, sizeof(l)), cr->rev->publication);
    if (cr->back != NULL)
        printf("  forward_resumes_at:  lsn=%s (the forward slot and progress moved past what "
               "fallback wrote)\n",
               lsn_format(cr->rearm_lsn, l, sizeof(l)));
    if (cr->back != NULL) {
        printf("  write_pause_seconds: %.1f (fence to this report)\n",
               (double)(clock_ms() - cr->fenced_ms) / 1000.0);
        printf("SWITCHED BACK: the target database \"%s\" stays read-only for new sessions; the\n"
               "source database is writable again. Point the application at the source, stop\n"
               "syncline fallback, then run syncline drop -c FILE --fallback; syncline run then\n"
               "resumes the forward stream. To make the target writable: syncline unfence -c\n"
               "FILE --fallback.\n",
               db);
    } else if (cr->o->fence) {
        printf("  write_pause_seconds: %.1f (fence to this report; the fence stays)\n",
               (double)(clock_ms() - cr->fenced_ms) / 1000.0);
        printf("  write_pause_ms:      %lld\n", (long long)(clock_ms() - cr->fenced_ms));
        printf("SAFE TO SWITCH: the source database \"%s\" stays read-only for new sessions.\n"
               "Point the application at the target, then stop syncline. To make the source\n"
               "writable again: syncline unfence -c FILE (or ALTER DATABASE \"%s\" RESET "
               "default_transaction_read_only).\n",
               db, db);
        if (cr->rev != NULL)
            printf("FALLBACK READY: stop syncline run, then start syncline fallback -c FILE: it\n"
                   "streams what the application writes to the target back into the source from\n"
                   "the switch point (the source stays fenced for applications).\n");
    } else {
        printf("SAFE TO SWITCH at final_lsn %s, provided nothing wrote to the source since "
               "(no --fence).\n",
               l);
    }
}

/* After a failure, timeout or Ctrl-C: the source must be writable again. */
static void cut_unfence(cut_run_t *cr)
{
    char eb[CLI_ERRBUF_SIZE];
    const char *db = pg_fence_database(cr->pf);
    if (pg_fence_off(cr->pf, eb, sizeof(eb)) == ERR_OK) {
        log_warn("cutover: failed; fence lifted: source database %s is writable again", db);
        printf("cutover FAILED; the fence was lifted: source database \"%s\" is writable "
               "again.\n",
               db);
    } else {
        log_error("cutover: failed and the fence could NOT be lifted (%s); run: ALTER DATABASE "
                  "\"%s\" RESET default_transaction_read_only",
                  eb, db);
    }
}

/* --fallback-back, fenced, drained and verified: the forward direction
 * re-armed past what fallback wrote, then the source (old) unfenced. */
static err_t cut_switch_back(cut_run_t *cr)
{
    char *errbuf = cr->ctx->errbuf;
    err_t err = pg_fallback_rearm(cr->back, &cr->rearm_lsn, errbuf, CLI_ERRBUF_SIZE);
    pg_fence_t *old = err == ERR_OK ? pg_fence_open(cr->back, &err, errbuf, CLI_ERRBUF_SIZE) : NULL;
    if (old != NULL) {
        err = pg_fence_off(old, errbuf, CLI_ERRBUF_SIZE);
        if (err == ERR_OK)
            log_info("cutover: switched back: source database %s unfenced", pg_fence_database(old));
    }
    pg_fence_free(old);
    return err;
}

static err_t cut_switch(cli_ctx_t *ctx, const config_t *cfg, const cut_opts_t *o,
                        const config_t *back)
{
    err_t err;
    cut_run_t cr = {.ctx = ctx, .cfg = cfg, .o = o, .back = back};
    if (o->fallback && !o->fence) { /* the switch point exists only with the fence */
        fprintf(stderr, "syncline cutover: --fallback needs --fence\n");
        return ERR_USAGE;
    }
    cr.deadline = clock_ms() + (int64_t)o->timeout_s * 1000;
    cr.pl = pg_lag_open(cfg, &err, ctx->errbuf, CLI_ERRBUF_SIZE);
    if (cr.pl != NULL)
        cr.pf = pg_fence_open(cfg, &err, ctx->errbuf, CLI_ERRBUF_SIZE);
    if (cr.pf != NULL && o->fallback) /* before the fence: a target unfit for it stops here */
        err = cli_fallback_prepare(cfg, &cr.rev, ctx->errbuf, CLI_ERRBUF_SIZE);
    if (cr.pf != NULL && err == ERR_OK)
        err = cut_steps(&cr);
    if (cr.pf != NULL && err == ERR_OK && o->fallback) /* fenced, drained and verified */
        err = cli_fallback_create(cr.rev, &cr.fallback_lsn, ctx->errbuf, CLI_ERRBUF_SIZE);
    if (cr.pf != NULL && err == ERR_OK && back != NULL)
        err = cut_switch_back(&cr);
    if (cr.pf != NULL && err == ERR_OK)
        cut_report(&cr);
    else if (cr.pf != NULL && cr.fenced)
        cut_unfence(&cr);
    pg_fence_free(cr.pf);
    pg_lag_free(cr.pl);
    config_free(cr.rev);
    return err;
}

/* cutover --fallback-back: the cutover steps on the fallback direction (fence
 * the target, drain, sequences, verify), then back to the source. */
static err_t cut_fallback_back(cli_ctx_t *ctx, const config_t *cfg, const cut_opts_t *o)
{
    err_t err;
    config_t *rev = cli_fallback_config(ctx, cfg, 1, &err);
    if (rev == NULL)
        return err;
    cut_opts_t bo = *o;
    bo.fence = 1;
    bo.fallback = bo.back = 0;
    err = cut_switch(ctx, rev, &bo, cfg);
    config_free(rev);
    return err;
}

static err_t cut_cutover(cli_ctx_t *ctx, const config_t *cfg, const cut_opts_t *o)
{
    if (o->back && o->fallback) {
        fprintf(stderr, "syncline cutover: --fallback and --fallback-back exclude each other\n");
        return ERR_USAGE;
    }
    return o->back ? cut_fallback_back(ctx, cfg, o) : cut_switch(ctx, cfg, o, NULL);
}

/* ---- options and commands ----------------------------------------------- */

/* --tables a,b: split in place into o->tables. */
static err_t cut_set_tables(cut_opts_t *o, const char *arg)
{
    free(o->tables_arg);
    o->tables_arg = strdup(arg);
    o->verify.ntables = 0;
    if (o->tables_arg == NULL)
        return ERR_USAGE;
    char *save = NULL;
    for (char *t = strtok_r(o->tables_arg, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        if (o->verify.ntables == CUTOVER_MAX_TABLES)
            return ERR_USAGE;
        o->tables[o->verify.ntables++] = t;
    }
    o->verify.tables = o->tables;
    return o->verify.ntables > 0 ? ERR_OK : ERR_USAGE;
}

static err_t cut_number(const char *arg, long long min, long long *out)
{
    char *end = NULL;
    long long v = strtoll(arg, &end, 10);
    if (end == arg || *end != '\0' || v < min) {
        fprintf(stderr, "syncline: expected an integer >= %lld, got '%s'\n", min, arg);
        return ERR_USAGE;
    }
    *out = v;
    return ERR_OK;
}

static err_t cut_on_opt(int opt, const char *arg, void *state)
{
    cut_opts_t *o = state;
    long long v = 0;
    err_t err = ERR_OK;
    switch (opt) {
    case 't':
        return cut_set_tables(o, arg);
    case 'm':
        if (strcmp(arg, "count") != 0 && strcmp(arg, "checksum") != 0) {
            fprintf(stderr, "syncline: --mode takes count or checksum\n");
            return ERR_USAGE;
        }
        o->verify.mode = arg[1] == 'o' ? PG_VERIFY_COUNT : PG_VERIFY_CHECKSUM;
        return ERR_OK;
    case 'r':
        err = cut_number(arg, 1, &o->verify.chunk_rows);
        return err;
    case 'T':
        err = cut_number(arg, 1, &v);
        o->timeout_s = v > 86400 ? 86400 : (int)v;
        return err;
    case 'b':
        return cut_number(arg, 0, &o->max_lag_bytes);
    case 'u':
        o->verify.full = 1;
        return ERR_OK;
    case 'p':
        err = cut_number(arg, 1, &v);
        o->verify.point_s = v > 86400 ? 86400 : (int)v;
        return err;
    case 'f':
        o->fence = 1;
        return ERR_OK;
    case 'F':
        o->fallback = 1;
        return ERR_OK;
    case 'K':
        o->back = 1;
        return ERR_OK;
    }
    return ERR_USAGE;
}

static const struct option cut_longopts[] = {{"tables", required_argument, NULL, 't'},
                                             {"mode", required_argument, NULL, 'm'},
                                             {"chunk-rows", required_argument, NULL, 'r'},
                                             {"timeout", required_argument, NULL, 'T'},
                                             {"max-lag-bytes", required_argument, NULL, 'b'},
                                             {"fence", no_argument, NULL, 'f'},
                                             {"fallback", no_argument, NULL, 'F'},
                                             {"fallback-back", no_argument, NULL, 'K'},
                                             {"point-seconds", required_argument, NULL, 'p'},
                                             {"full", no_argument, NULL, 'u'},
                                             {NULL, 0, NULL, 0}};

/* Parses the shared options, loads the configuration and runs body. */
static err_t cut_main(const cli_command_t *cmd, cli_ctx_t *ctx, int argc, char **argv,
                      err_t (*body)(cli_ctx_t *ctx, const config_t *cfg, const cut_opts_t *o))
{
    cut_opts_t o = {.verify = {.mode = PG_VERIFY_CHECKSUM, .chunk_rows = 10000},
                    .max_lag_bytes = 16 * 1024 * 1024,
                    .timeout_s = cmd == &cli_cutover_command ? 300 : 60};
    const char *path = NULL;
    int help;
    err_t err = cli_parse(cmd, argc, argv, "", cut_longopts, cut_on_opt, &o, &path, &help);
    config_t *cfg = err == ERR_OK && !help ? cli_load_config(ctx, path) : NULL;
    if (err == ERR_OK && !help && cfg == NULL)
        err = ERR_CONFIG;
    if (cfg != NULL) {
        o.verify.timeout_s = o.timeout_s;
        o.verify.stop = ctx->stop;
        err = body(ctx, cfg, &o);
    }
    config_free(cfg);
    free(o.tables_arg);
    return err;
}

static err_t cut_verify_body(cli_ctx_t *ctx, const config_t *cfg, const cut_opts_t *o)
{
    pg_verify_stats_t st;
    return cut_verify(cfg, &o->verify, &st, ctx->errbuf);
}

static err_t cut_sequences_body(cli_ctx_t *ctx, const config_t *cfg, const cut_opts_t *o)
{
    (void)o;
    pg_seq_stats_t st;
    err_t err = cut_sequences(cfg, &st, ctx->errbuf);
    if (err == ERR_OK)
        printf("sequences: %d set, %d unchanged\n", st.raised, st.unchanged);
    return err;
}

static err_t cut_unfence_body(cli_ctx_t *ctx, const config_t *cfg, const cut_opts_t *o)
{
    (void)o;
    err_t err;
    pg_fence_t *pf = pg_fence_open(cfg, &err, ctx->errbuf, CLI_ERRBUF_SIZE);
    if (pf == NULL)
        return err;
    err = pg_fence_off(pf, ctx->errbuf, CLI_ERRBUF_SIZE);
    if (err == ERR_OK)
        printf("source database \"%s\": fence lifted (default_transaction_read_only reset); new "
               "sessions can write\n",
               pg_fence_database(pf));
    pg_fence_free(pf);
    return err;
}

static err_t cli_verify(cli_ctx_t *ctx, int argc, char **argv)
{
    return cut_main(&cli_verify_command, ctx, argc, argv, cut_verify_body);
}

static err_t cli_sequences(cli_ctx_t *ctx, int argc, char **argv)
{
    return cut_main(&cli_sequences_command, ctx, argc, argv, cut_sequences_body);
}

static err_t cli_cutover(cli_ctx_t *ctx, int argc, char **argv)
{

    return cut_main(&cli_cutover_command, ctx, argc, argv, cut_cutover);
}

static err_t cli_unfence(cli_ctx_t *ctx, int argc, char **argv)
{
    return cut_main(&cli_unfence_command, ctx, argc, argv, cut_unfence_body);
}

const cli_command_t cli_verify_command = {
    .name = "verify",
    .summary = "compare every synced target table with its source (counts, checksums)",
    .usage =
        "usage: syncline verify -c FILE [--tables a,b] [--mode count|checksum] [--chunk-rows N]\n"
        "                       [--timeout S] [--point-seconds S] [--full]\n"
        "  Compares each synced table at consistent points: a source snapshot at LSN L and\n"
        "  the target holding exactly the transactions before L. Per chunk of N primary-key\n"
        "  rows (default 10000) both servers compute count(*) and a checksum of the rows'\n"
        "  text; a differing chunk is narrowed down to the row. Tables without a primary key\n"
        "  are compared whole. Online, while 'run' streams and the source takes\n"
        "  writes: the applier holds a moment at L (a temporary slot's snapshot) while the\n"
        "  target snapshot is opened; a new point every --point-seconds (default 20).\n"
        "  With syncline stopped, the source must be idle (or fenced): verify retries until\n"
        "  --timeout (default 60 s), then exits 7.\n"
        "  Incremental: after a verify that matched everywhere, the applier marks the key\n"
        "  ranges it changes; the next verify re-checks only those plus row counts, as long as\n"
        "  the same applier session ran all along. --full compares everything.\n"
        "  Exit codes: 0 every table matches, 1 a table differs, 7 no consistent point.\n",
    .run = cli_verify,
    .takes_fallback = 1,
};

const cli_command_t cli_sequences_command = {
    .name = "sequences",
    .summary = "set target sequences to the source's positions (never lowers them)",
    .usage = "usage: syncline sequences -c FILE\n"
             "  For every source sequence of a synced table's schema, sets the target sequence\n"
             "  (the target column's own for serial/identity columns, else the same name in the\n"
             "  mapped schema) to the source's last_value and is_called, unless the target is\n"
             "  already at or past it. Exit 6 when a target sequence is missing.\n",
    .run = cli_sequences,
    .takes_fallback = 1,
};

const cli_command_t cli_cutover_command = {
    .name = "cutover",
    .summary = "wait, fence the source, drain, sync sequences, verify and report",
    .usage = "usage: syncline cutover -c FILE [--fence [--fallback] | --fallback-back]\n"
             "                        [--max-lag-bytes N]\n"
             "                        [--timeout S]\n"
             "                        [--tables a,b] [--mode count|checksum] [--chunk-rows N]\n"
             "                        [--full]\n"
             "  Needs 'syncline run' running. Waits until the lag is at most N bytes (default\n"
             "  16 MiB); with --fence makes the source database read-only for new sessions\n"
             "  (ALTER DATABASE ... SET default_transaction_read_only = on; superuser or owner)\n"
             "  and ends the client sessions opened before; waits until the target applied the\n"
             "  final source LSN, runs 'sequences' and 'verify' (incremental after an earlier\n"
             "  full online 'verify': only what changed since), and prints a report with each\n"
             "  step's duration and the write pause. Exit 0 means safe to switch; the fence then "
             "stays (lift it with\n"
             "  'syncline unfence'). On failure, timeout (default 300 s) or Ctrl-C the fence is\n"
             "  lifted. --fallback (with --fence) also creates, fenced and drained, a slot and\n"
             "  publication on the target for 'syncline fallback' (target needs\n"
             "  wal_level=logical). --fallback-back, with 'syncline fallback' running, switches\n"
             "  back: fences the target, drains, sets sequences, verifies, moves the forward\n"
             "  slot past what fallback wrote and lifts the source's fence.\n",
    .run = cli_cutover,
};

const cli_command_t cli_unfence_command = {
    .name = "unfence",
    .summary = "make the source database writable again after cutover --fence",
    .usage = "usage: syncline unfence -c FILE\n"
             "  ALTER DATABASE <source database> RESET default_transaction_read_only.\n",
    .run = cli_unfence,
    .takes_fallback = 1,
};
