/*
 * main: the syncline command line. Parses arguments, loads the configuration,
 * wires connectors to the core and turns error codes into exit codes. The
 * only place that exits; the only global is the stop flag set by signals.
 */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "lsn.h"
#include "pg_copy.h"
#include "pg_source.h"
#include "pg_target.h"
#include "pipeline.h"

#define ERRBUF_SIZE 2048

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef enum snapshot_mode {
    SNAPSHOT_AUTO,   /* copy when the target has no progress row */
    SNAPSHOT_ALWAYS, /* truncate the targets and copy again */
    SNAPSHOT_NEVER,  /* stream only */
} snapshot_mode_t;

typedef struct cli_opts {
    const char *config_path;
    int json;
    snapshot_mode_t snapshot;
    int yes;
} cli_opts_t;

static const char usage_text[] =
    "usage: syncline [--help] [--version] COMMAND [options]\n"
    "\n"
    "Keeps a PostgreSQL target continuously in sync with a PostgreSQL source\n"
    "(logical replication, pgoutput) until cutover.\n"
    "\n"
    "commands:\n"
    "  run     -c FILE [--snapshot=auto|always|never] [--yes]\n"
    "                           create publication, slot and progress table if absent,\n"
    "                           copy existing rows (first run), then stream and apply\n"
    "                           until SIGINT/SIGTERM\n"
    "  status  -c FILE [--json] slot, confirmed and applied positions, lag in bytes\n"
    "  drop    -c FILE          remove the slot, the publication syncline created and\n"
    "                           the progress row\n"
    "\n"
    "Run 'syncline COMMAND --help' for a command's options. Exit codes: 0 ok, 1 runtime\n"
    "failure, 2 usage, 3 configuration, 4 connection, 5 source precondition, 6 target\n"
    "schema mismatch.\n";

static void cmd_usage(FILE *out, const char *cmd)
{
    if (strcmp(cmd, "run") == 0)
        fprintf(out,
                "usage: syncline run -c FILE [--snapshot=auto|always|never] [--yes]\n"
                "  -c, --config FILE   configuration (JSON)\n"
                "  --snapshot=auto     copy every table first when the target has no progress\n"
                "                      row (target tables must be empty), then stream (default)\n"
                "  --snapshot=always   truncate the target tables and copy again (needs --yes)\n"
                "  --snapshot=never    stream only, from the slot's position\n");
    else if (strcmp(cmd, "status") == 0)
        fprintf(out, "usage: syncline status -c FILE [--json]\n"
                     "  Prints the slot, the source WAL position, the confirmed and applied\n"
                     "  positions and the lag in bytes; --json prints one JSON object.\n");
    else
        fprintf(out, "usage: syncline %s -c FILE\n  -c, --config FILE   configuration (JSON)\n",
                cmd);
}

/* Parses "-c FILE" and "--json" after the command word. */
static err_t cli_parse(int argc, char **argv, const char *cmd, cli_opts_t *opts)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},   {"json", no_argument, NULL, 'j'},
        {"snapshot", required_argument, NULL, 's'}, {"yes", no_argument, NULL, 'y'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            opts->config_path = optarg;
            break;
        case 'j':
            opts->json = 1;
            break;
        case 's':
            if (strcmp(optarg, "auto") == 0)
                opts->snapshot = SNAPSHOT_AUTO;
            else if (strcmp(optarg, "always") == 0)
                opts->snapshot = SNAPSHOT_ALWAYS;
            else if (strcmp(optarg, "never") == 0)
                opts->snapshot = SNAPSHOT_NEVER;
            else {
                fprintf(stderr, "syncline %s: --snapshot takes auto, always or never\n", cmd);
                return ERR_USAGE;
            }
            break;
        case 'y':
            opts->yes = 1;
            break;
        case 'h':
            cmd_usage(stdout, cmd);
            exit(ERR_OK);
        default:
            cmd_usage(stderr, cmd);
            return ERR_USAGE;
        }
    }
    if (opts->snapshot == SNAPSHOT_ALWAYS && !opts->yes) {
        fprintf(stderr, "syncline %s: --snapshot=always truncates the target tables; add --yes\n",
                cmd);
        return ERR_USAGE;
    }
    if (optind < argc || opts->config_path == NULL) {
        fprintf(stderr, "syncline %s: %s\n", cmd,
                optind < argc ? "unexpected argument" : "-c FILE is required");
        cmd_usage(stderr, cmd);
        return ERR_USAGE;
    }
    return ERR_OK;
}

static config_t *load_config(const char *path, err_t *err, char *errbuf)
{
    config_err_t cerr;
    config_t *cfg = config_load(path, &cerr, errbuf, ERRBUF_SIZE);
    *err = cfg ? ERR_OK : ERR_CONFIG;
    return cfg;
}

/* What one run works on: both sides and the published tables. */
typedef struct run_ctx {
    const config_t *cfg;
    const cli_opts_t *opts;
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
    err_t err = pg_source_published_tables(rc->ps, &schemas, &names, &n, rc->errbuf, ERRBUF_SIZE);
    if (err == ERR_OK && (rc->tables = calloc((size_t)n + 1, sizeof(*rc->tables))) == NULL) {
        snprintf(rc->errbuf, ERRBUF_SIZE, "out of memory");
        err = ERR_RUNTIME;
    }
    for (int i = 0; err == ERR_OK && i < n; i++) {
        rc->tables[i] = (pg_copy_table_t){.schema = schemas[i], .name = names[i]};
        schemas[i] = names[i] = NULL;
        rc->ntables++;
        err = pg_target_check_table(rc->pt, rc->tables[i].schema, rc->tables[i].name, rc->errbuf,
                                    ERRBUF_SIZE);
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

/* Copies every table as of the slot's snapshot, then marks the row streaming. */
static err_t run_copy(run_ctx_t *rc, const char *snapshot, int truncate)
{
    pg_copy_stats_t stats;
    err_t err = ERR_OK;
    if (truncate)
        err = pg_copy_truncate_targets(rc->cfg, rc->tables, rc->ntables, rc->errbuf, ERRBUF_SIZE);
    log_info("copy started tables=%d workers=%d snapshot=%s", rc->ntables,
             rc->cfg->snapshot_workers, snapshot);
    if (err == ERR_OK)
        err = pg_copy_run(rc->cfg, snapshot, rc->tables, rc->ntables, &stop_requested, &stats,
                          rc->errbuf, ERRBUF_SIZE);
    if (err != ERR_OK)
        return err;
    log_info("copy done tables=%d rows=%llu mb=%.1f seconds=%.1f", stats.tables,
             (unsigned long long)stats.rows, (double)stats.bytes / 1048576.0, stats.seconds);
    return pg_target_copy_done(rc->pt, rc->errbuf, ERRBUF_SIZE);
}

/* Fails when the initial copy would land on rows already there. */
static err_t run_require_empty(run_ctx_t *rc)
{
    int idx;
    err_t err =
        pg_copy_find_nonempty(rc->cfg, rc->tables, rc->ntables, &idx, rc->errbuf, ERRBUF_SIZE);
    if (err == ERR_OK && idx >= 0) {
        snprintf(rc->errbuf, ERRBUF_SIZE,
                 "target table for %s.%s is not empty and there is no progress row, so an initial "
                 "copy would duplicate rows: empty it, run with --snapshot=always --yes to "
                 "truncate and copy, or --snapshot=never to stream only",
                 rc->tables[idx].schema, rc->tables[idx].name);
        err = ERR_SCHEMA;
    }
    return err;
}

/* Forgets an unfinished or unwanted state: slot and progress row. */
static err_t run_reset(run_ctx_t *rc, pg_source_slot_t *slot, pg_target_progress_t *prog)
{
    err_t err = ERR_OK;
    if (slot->exists)
        err = pg_source_drop(rc->ps, 0, rc->errbuf, ERRBUF_SIZE);
    if (err == ERR_OK && prog->exists)
        err = pg_target_delete_progress(rc->pt, rc->errbuf, ERRBUF_SIZE);
    rc->pub_created |= prog->publication_created;
    slot->exists = prog->exists = 0;
    return err;
}

/* Slot and progress row: creates what is absent, copies when asked, and
 * returns where streaming must start. */
static err_t run_prepare(run_ctx_t *rc, lsn_t *start)
{
    pg_source_slot_t slot;
    pg_target_progress_t prog;
    char snapshot[128] = "";
    err_t err = pg_target_read_progress(rc->pt, &prog, rc->errbuf, ERRBUF_SIZE);
    if (err == ERR_OK)
        err = pg_source_slot_info(rc->ps, &slot, rc->errbuf, ERRBUF_SIZE);
    if (err == ERR_OK && slot.exists)
        err = pg_source_check_slot(rc->ps, &slot, rc->errbuf, ERRBUF_SIZE);
    if (err != ERR_OK)
        return err;
    int truncate = rc->opts->snapshot == SNAPSHOT_ALWAYS || (prog.exists && prog.copying);
    if (prog.exists && prog.copying)
        log_warn("the previous initial copy did not finish: starting it again");
    int copy = (!prog.exists || truncate) && rc->opts->snapshot != SNAPSHOT_NEVER;
    if (copy && !truncate)
        err = run_require_empty(rc);
    if (err == ERR_OK && copy) /* a copy needs a slot made with its snapshot */
        err = run_reset(rc, &slot, &prog);
    if (err != ERR_OK)
        return err;
    if (!slot.exists) {
        err = pg_source_create_slot(rc->ps, &slot.confirmed_flush, copy ? snapshot : NULL,
                                    sizeof(snapshot), rc->errbuf, ERRBUF_SIZE);
        if (err == ERR_OK && prog.exists) {
            snprintf(rc->errbuf, ERRBUF_SIZE,
                     "target has progress for '%s' but the source slot %s did not exist: the "
                     "changes in between are gone; run 'syncline run --snapshot=always --yes' "
                     "to copy again",
                     rc->cfg->name, rc->cfg->slot);
            err = ERR_SOURCE;
        }
    } else if (prog.exists && prog.applied_lsn < slot.confirmed_flush) {
        char a[LSN_STRLEN], b[LSN_STRLEN];
        snprintf(rc->errbuf, ERRBUF_SIZE,
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
    err = pg_target_ensure_progress_table(rc->pt, rc->errbuf, ERRBUF_SIZE);
    if (err == ERR_OK && !prog.exists)
        err =
            pg_target_init_progress(rc->pt, *start, rc->pub_created, copy, rc->errbuf, ERRBUF_SIZE);
    if (err == ERR_OK && copy)
        err = run_copy(rc, snapshot, truncate);
    return err;
}

static err_t run_stream(const config_t *cfg, pg_source_t *ps, pg_target_t *pt, lsn_t start,
                        char *errbuf)
{
    err_t err = pg_source_start(ps, start, errbuf, ERRBUF_SIZE);
    if (err != ERR_OK)
        return err;
    source_t src = pg_source_stream(ps);
    sink_t snk = pg_target_sink(pt);
    pipeline_opts_t opts = {.applied_lsn = start,
                            .batch_rows = cfg->batch_rows,
                            .batch_ms = cfg->batch_ms,
                            .status_interval_ms = cfg->status_interval_ms,
                            .progress_interval_ms = 1000,
                            .stop = &stop_requested};
    pipeline_stats_t stats;
    err = pipeline_run(&src, &snk, &opts, &stats, errbuf, ERRBUF_SIZE);
    char l[LSN_STRLEN];
    log_info("stopped applied_lsn=%s transactions=%llu rows=%llu target_commits=%llu",
             lsn_format(stats.applied_lsn, l, sizeof(l)), (unsigned long long)stats.txns,
             (unsigned long long)stats.rows, (unsigned long long)stats.batches);
    return err;
}

/* One session: connect both sides, check, prepare (and copy), stream.
 * *streamed tells whether streaming began (a later connection loss is then
 * worth retrying). */
static err_t run_session(const config_t *cfg, const cli_opts_t *opts, int *streamed, char *errbuf)
{
    err_t err;
    lsn_t start = 0;
    run_ctx_t rc = {.cfg = cfg, .opts = opts, .errbuf = errbuf};
    rc.ps = pg_source_open(cfg, &err, errbuf, ERRBUF_SIZE);
    if (rc.ps != NULL)
        rc.pt = pg_target_open(cfg, &err, errbuf, ERRBUF_SIZE);
    if (rc.pt != NULL)
        err = pg_source_check_wal_level(rc.ps, errbuf, ERRBUF_SIZE);
    if (rc.pt != NULL && err == ERR_OK) {
        err = pg_source_ensure_publication(rc.ps, &rc.pub_created, errbuf, ERRBUF_SIZE);
        if (err == ERR_OK)
            err = run_check_tables(&rc);
        char eb[256];
        if (pg_source_end_publication(rc.ps, err == ERR_OK, eb, sizeof(eb)) != ERR_OK &&
            err == ERR_OK) {
            snprintf(errbuf, ERRBUF_SIZE, "%s", eb);
            err = ERR_CONNECT;
        }
    }
    if (rc.pt != NULL && err == ERR_OK)
        err = run_prepare(&rc, &start);
    if (rc.pt != NULL && err == ERR_OK) {
        *streamed = 1;
        err = run_stream(cfg, rc.ps, rc.pt, start, errbuf);
    }
    run_ctx_clear(&rc);
    return err;
}

/* Sleeps up to seconds, waking early on a stop request. */
static void run_backoff(int seconds)
{
    for (int i = 0; i < seconds * 10 && !stop_requested; i++)
        nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
}

/* Failures before the first stream are reported at once (bad host, bad
 * password); a connection lost while streaming is retried with backoff. The
 * target's progress row says where to resume, so nothing is lost or doubled.
 * A retry never copies again: the first session settled that. */
/* Transforms are parsed but not applied yet: refuse rather than ignore them. */
static err_t run_refuse_transforms(const config_t *cfg, char *errbuf)
{
    for (int i = 0; i < cfg->ntables; i++) {
        const config_table_t *t = &cfg->tables[i];
        if (t->ncolumns > 0 || t->nexclude > 0 || t->where != NULL) {
            snprintf(errbuf, ERRBUF_SIZE,
                     "tables[%d]: \"columns\", \"exclude\" and \"where\" (schema transforms) are "
                     "not supported by this version; remove them",
                     i);
            return ERR_CONFIG;
        }
    }
    return ERR_OK;
}

static err_t cmd_run(const config_t *cfg, const cli_opts_t *opts, char *errbuf)
{
    if (run_refuse_transforms(cfg, errbuf) != ERR_OK)
        return ERR_CONFIG;
    int streamed = 0, delay = 1;
    cli_opts_t retry = *opts;
    for (;;) {
        err_t err = run_session(cfg, &retry, &streamed, errbuf);
        if (err != ERR_CONNECT || !streamed || stop_requested)
            return err;
        retry.snapshot = SNAPSHOT_AUTO;
        log_warn("connection lost, retrying in %ds: %s", delay, errbuf);
        run_backoff(delay);
        if (stop_requested)
            return ERR_OK;
        delay = delay < 30 ? delay * 2 : 30;
    }
}

typedef struct status_info {
    pg_source_slot_t slot;
    pg_target_progress_t prog;
    lsn_t current;
} status_info_t;

static void status_print_text(const config_t *cfg, const status_info_t *si)
{
    char c[LSN_STRLEN], f[LSN_STRLEN], a[LSN_STRLEN];
    printf("name:            %s\n", cfg->name);
    printf("slot:            %s (%s%s)\n", cfg->slot, si->slot.exists ? "exists" : "absent",
           si->slot.active_pid ? ", active" : "");
    if (si->slot.exists && si->slot.wal_status[0])
        printf("wal_status:      %s (retained %lld bytes)\n", si->slot.wal_status,
               (long long)si->slot.retained_bytes);
    printf("source_lsn:      %s\n", lsn_format(si->current, c, sizeof(c)));
    printf("confirmed_lsn:   %s\n", lsn_format(si->slot.confirmed_flush, f, sizeof(f)));
    if (si->prog.exists) {
        printf("applied_lsn:     %s\n", lsn_format(si->prog.applied_lsn, a, sizeof(a)));
        printf("lag_bytes:       %llu\n",
               (unsigned long long)lsn_diff(si->current, si->prog.applied_lsn));
        printf("last_commit:     %s\n", si->prog.commit_time[0] ? si->prog.commit_time : "-");
        printf("updated_at:      %s\n", si->prog.updated_at);
    } else {
        printf("applied_lsn:     - (no progress row on the target)\n");
    }
}

static void status_print_json(const config_t *cfg, const status_info_t *si)
{
    char c[LSN_STRLEN], f[LSN_STRLEN], a[LSN_STRLEN];
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(cfg->name));
    json_object_set_new(o, "slot", json_string(cfg->slot));
    json_object_set_new(o, "slot_exists", json_boolean(si->slot.exists));
    json_object_set_new(o, "slot_active", json_boolean(si->slot.active_pid != 0));
    json_object_set_new(o, "wal_status", json_string(si->slot.wal_status));
    json_object_set_new(o, "retained_bytes", json_integer(si->slot.retained_bytes));
    json_object_set_new(o, "source_lsn", json_string(lsn_format(si->current, c, sizeof(c))));
    json_object_set_new(o, "confirmed_lsn",
                        json_string(lsn_format(si->slot.confirmed_flush, f, sizeof(f))));
    if (si->prog.exists) {
        json_object_set_new(o, "applied_lsn",
                            json_string(lsn_format(si->prog.applied_lsn, a, sizeof(a))));
        json_object_set_new(o, "lag_bytes",
                            json_integer((json_int_t)lsn_diff(si->current, si->prog.applied_lsn)));
        json_object_set_new(o, "last_commit",
                            si->prog.commit_time[0] ? json_string(si->prog.commit_time)
                                                    : json_null());
    } else {
        json_object_set_new(o, "applied_lsn", json_null());
        json_object_set_new(o, "lag_bytes", json_null());
    }
    char *s = json_dumps(o, JSON_COMPACT);
    if (s != NULL)
        printf("%s\n", s);
    free(s);
    json_decref(o);
}

static err_t cmd_status(const config_t *cfg, int json, char *errbuf)
{
    err_t err;
    status_info_t si;
    memset(&si, 0, sizeof(si));
    pg_target_t *pt = NULL;
    pg_source_t *ps = pg_source_open(cfg, &err, errbuf, ERRBUF_SIZE);
    if (ps != NULL)
        pt = pg_target_open(cfg, &err, errbuf, ERRBUF_SIZE);
    if (pt != NULL)
        err = pg_source_current_lsn(ps, &si.current, errbuf, ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK)
        err = pg_source_slot_info(ps, &si.slot, errbuf, ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK)
        err = pg_target_read_progress(pt, &si.prog, errbuf, ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK) {
        if (json)
            status_print_json(cfg, &si);
        else
            status_print_text(cfg, &si);
    }
    pg_target_free(pt);
    pg_source_free(ps);
    return err;
}

static err_t cmd_drop(const config_t *cfg, char *errbuf)
{
    err_t err;
    pg_target_progress_t prog;
    pg_target_t *pt = NULL;
    pg_source_t *ps = pg_source_open(cfg, &err, errbuf, ERRBUF_SIZE);
    if (ps != NULL)
        pt = pg_target_open(cfg, &err, errbuf, ERRBUF_SIZE);
    if (pt != NULL)
        err = pg_target_read_progress(pt, &prog, errbuf, ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK)
        err = pg_source_drop(ps, prog.publication_created, errbuf, ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK)
        err = pg_target_delete_progress(pt, errbuf, ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK)
        log_info("dropped slot=%s publication=%s", cfg->slot,
                 prog.publication_created ? cfg->publication : "(kept: not created by syncline)");
    pg_target_free(pt);
    pg_source_free(ps);
    return err;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static err_t dispatch(const char *cmd, int argc, char **argv)
{
    cli_opts_t opts = {0};
    char errbuf[ERRBUF_SIZE] = "";
    int known = strcmp(cmd, "run") == 0 || strcmp(cmd, "status") == 0 || strcmp(cmd, "drop") == 0;
    if (!known) {
        fprintf(stderr, "syncline: unknown command '%s'\n\n%s", cmd, usage_text);
        return ERR_USAGE;
    }
    err_t err = cli_parse(argc, argv, cmd, &opts);
    if (err != ERR_OK)
        return err;
    config_t *cfg = load_config(opts.config_path, &err, errbuf);
    if (cfg != NULL) {
        install_signals();
        if (strcmp(cmd, "run") == 0)
            err = cmd_run(cfg, &opts, errbuf);
        else if (strcmp(cmd, "status") == 0)
            err = cmd_status(cfg, opts.json, errbuf);
        else
            err = cmd_drop(cfg, errbuf);
    }
    if (err != ERR_OK)
        log_error("%s failed (%s): %s", cmd, err_name(err), errbuf);
    config_free(cfg);
    return err;
}

int main(int argc, char **argv)
{
    setvbuf(stderr, NULL, _IOLBF, 0);
    if (argc < 2) {
        fputs(usage_text, stderr);
        return ERR_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text, stdout);
        return ERR_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("syncline %s\n", SYNCLINE_VERSION);
        return ERR_OK;
    }
    return (int)dispatch(argv[1], argc - 1, argv + 1);
}
