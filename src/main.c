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

#include "config.h"
#include "err.h"
#include "log.h"
#include "lsn.h"
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

typedef struct cli_opts {
    const char *config_path;
    int json;
} cli_opts_t;

static const char usage_text[] =
    "usage: syncline [--help] [--version] COMMAND [options]\n"
    "\n"
    "Keeps a PostgreSQL target continuously in sync with a PostgreSQL source\n"
    "(logical replication, pgoutput) until cutover.\n"
    "\n"
    "commands:\n"
    "  run     -c FILE          create publication, slot and progress table if absent,\n"
    "                           then stream and apply until SIGINT/SIGTERM\n"
    "  status  -c FILE [--json] slot, confirmed and applied positions, lag in bytes\n"
    "  drop    -c FILE          remove the slot, the publication syncline created and\n"
    "                           the progress row\n"
    "\n"
    "Run 'syncline COMMAND --help' for a command's options. Exit codes: 0 ok, 1 runtime\n"
    "failure, 2 usage, 3 configuration, 4 connection, 5 source precondition, 6 target\n"
    "schema mismatch.\n";

static void cmd_usage(FILE *out, const char *cmd)
{
    if (strcmp(cmd, "status") == 0)
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
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
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
        case 'h':
            cmd_usage(stdout, cmd);
            exit(ERR_OK);
        default:
            cmd_usage(stderr, cmd);
            return ERR_USAGE;
        }
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

/* Publication, slot and progress row: creates what is absent and returns
 * where streaming must start. */
static err_t run_prepare(const config_t *cfg, pg_source_t *ps, pg_target_t *pt, lsn_t *start,
                         char *errbuf)
{
    int pub_created = 0;
    pg_source_slot_t slot;
    pg_target_progress_t prog;
    err_t err = pg_source_check_wal_level(ps, errbuf, ERRBUF_SIZE);
    if (err == ERR_OK)
        err = pg_target_read_progress(pt, &prog, errbuf, ERRBUF_SIZE);
    if (err == ERR_OK)
        err = pg_source_ensure_publication(ps, &pub_created, errbuf, ERRBUF_SIZE);
    if (err == ERR_OK)
        err = pg_source_slot_info(ps, &slot, errbuf, ERRBUF_SIZE);
    if (err == ERR_OK && slot.exists)
        err = pg_source_check_slot(ps, &slot, errbuf, ERRBUF_SIZE);
    if (err != ERR_OK)
        return err;
    if (!slot.exists) {
        err = pg_source_create_slot(ps, &slot.confirmed_flush, errbuf, ERRBUF_SIZE);
        if (err != ERR_OK)
            return err;
        if (prog.exists) {
            snprintf(errbuf, ERRBUF_SIZE,
                     "target has progress for '%s' but the source slot %s did not exist: the "
                     "changes in between are gone; run 'syncline drop -c FILE' and resync",
                     cfg->name, cfg->slot);
            return ERR_SOURCE;
        }
    }
    if (prog.exists && prog.applied_lsn < slot.confirmed_flush) {
        char a[LSN_STRLEN], b[LSN_STRLEN];
        snprintf(errbuf, ERRBUF_SIZE,
                 "target progress %s is behind slot %s confirmed position %s: the target lost "
                 "changes the source no longer has (restored from a backup?); resync it",
                 lsn_format(prog.applied_lsn, a, sizeof(a)), cfg->slot,
                 lsn_format(slot.confirmed_flush, b, sizeof(b)));
        return ERR_SOURCE;
    }
    *start = prog.exists ? prog.applied_lsn : slot.confirmed_flush;
    err = pg_target_ensure_progress_table(pt, errbuf, ERRBUF_SIZE);
    if (err == ERR_OK && !prog.exists)
        err = pg_target_init_progress(pt, *start, pub_created, errbuf, ERRBUF_SIZE);
    return err;
}

/* Every published table must have its target before anything streams. */
static err_t run_check_tables(pg_source_t *ps, pg_target_t *pt, char *errbuf)
{
    char **schemas = NULL, **names = NULL;
    int n = 0;
    err_t err = pg_source_published_tables(ps, &schemas, &names, &n, errbuf, ERRBUF_SIZE);
    for (int i = 0; err == ERR_OK && i < n; i++)
        err = pg_target_check_table(pt, schemas[i], names[i], errbuf, ERRBUF_SIZE);
    pg_source_free_names(schemas, n);
    pg_source_free_names(names, n);
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

static err_t cmd_run(const config_t *cfg, char *errbuf)
{
    err_t err;
    lsn_t start = 0;
    pg_target_t *pt = NULL;
    pg_source_t *ps = pg_source_open(cfg, &err, errbuf, ERRBUF_SIZE);
    if (ps != NULL)
        pt = pg_target_open(cfg, &err, errbuf, ERRBUF_SIZE);
    if (pt != NULL)
        err = run_check_tables(ps, pt, errbuf);
    if (pt != NULL && err == ERR_OK)
        err = run_prepare(cfg, ps, pt, &start, errbuf);
    if (pt != NULL && err == ERR_OK)
        err = run_stream(cfg, ps, pt, start, errbuf);
    pg_target_free(pt);
    pg_source_free(ps);
    return err;
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
            err = cmd_run(cfg, errbuf);
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
