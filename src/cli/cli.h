/*
 * cli: what every syncline command shares: the command table entry type,
 * the context handed to commands (stop flag, error buffer), option parsing
 * of "-c FILE", configuration loading, retries, the metrics endpoint and the
 * start of a source stream. Commands live in cli_<family>.c.
 */
#ifndef SYNCLINE_CLI_H
#define SYNCLINE_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdio.h>

#include "core/config.h"
#include "core/err.h"
#include "core/lsn.h"
#include "core/stream.h"

#define CLI_ERRBUF_SIZE 2048

typedef struct cli_ctx {
    volatile sig_atomic_t *stop; /* set by SIGINT/SIGTERM */
    int fallback;                /* --fallback: cli_load_config loads the fallback direction */
    int32_t session_key[2];      /* this process's; cli_load_config copies it (pg_reap.h) */
    char errbuf[CLI_ERRBUF_SIZE];
} cli_ctx_t;

typedef struct cli_command {
    const char *name;
    const char *summary; /* one line for `syncline --help` */
    const char *usage;   /* full text for `syncline NAME --help` */
    /* argv[0] is the command name. Returns the exit code; errors in ctx->errbuf. */
    err_t (*run)(cli_ctx_t *ctx, int argc, char **argv);
    int takes_fallback; /* main takes --fallback out of argv and sets ctx->fallback */
} cli_command_t;

/*
 * getopt_long over argv with the command's own options plus -c/--config and
 * -h/--help, which it handles: --help prints cmd->usage and sets *help.
 * For every other option it calls on_opt(opt, optarg, state), which returns
 * ERR_OK or ERR_USAGE (with a message printed). *config gets the -c value.
 */
err_t cli_parse(const cli_command_t *cmd, int argc, char **argv, const char *shortopts,
                const struct option *longopts,
                err_t (*on_opt)(int opt, const char *arg, void *state), void *state,
                const char **config, int *help);

/* Loads the configuration or returns NULL with ctx->errbuf set (ERR_CONFIG);
 * target.conninfo must be set (or SYNCLINE_TARGET). With ctx->fallback, the
 * fallback configuration derived from it (cli_fallback_config, with tables). */
config_t *cli_load_config(cli_ctx_t *ctx, const char *path);

/* The same without the target: for `capture`, which never opens it. */
config_t *cli_load_config_source(cli_ctx_t *ctx, const char *path);

typedef struct metrics metrics_t;

/*
 * Runs body(state, metrics, ctx). With addr (--metrics [ADDR:]PORT) set, it
 * first creates a registry served over HTTP at addr and hands it to body
 * (NULL otherwise); the endpoint stops when body returns.
 */
err_t cli_with_metrics(const char *cmd, const char *addr,
                       err_t (*body)(void *state, metrics_t *metrics, cli_ctx_t *ctx), void *state,
                       cli_ctx_t *ctx);

typedef struct pg_source pg_source_t;

/*
 * Loads the source's partition map (PG 12), starts streaming ps from start
 * and fills *opts for stream_run from cfg (no hold point: opts->hold NULL).
 * Errors in errbuf (CLI_ERRBUF_SIZE).
 */
err_t cli_stream_start(const config_t *cfg, pg_source_t *ps, lsn_t start,
                       volatile sig_atomic_t *stop, metrics_t *metrics, stream_opts_t *opts,
                       char *errbuf);

/* Sleeps up to ms milliseconds, waking early when a stop was requested. */
void cli_sleep_ms(const cli_ctx_t *ctx, int ms);

/*
 * Runs session() until it succeeds, fails before it ever started, or fails
 * with something other than a lost connection (ERR_CONNECT), which is logged
 * ("<what>: connection lost, retrying ...", no prefix when what is NULL) and
 * retried with backoff from 1 s to 30 s, back to 1 s once a session got
 * started again. session() counts its starts in *started. A stop requested
 * while waiting returns ERR_OK.
 */
err_t cli_retry(cli_ctx_t *ctx, const char *what,
                err_t (*session)(void *state, cli_ctx_t *ctx, int *started), void *state);

/* The commands, defined in their cli_*.c files. */
extern const cli_command_t cli_run_command;
extern const cli_command_t cli_status_command;
extern const cli_command_t cli_drop_command;
extern const cli_command_t cli_capture_command;
extern const cli_command_t cli_apply_command;
extern const cli_command_t cli_check_command;
extern const cli_command_t cli_lag_command;
extern const cli_command_t cli_verify_command;
extern const cli_command_t cli_sequences_command;
extern const cli_command_t cli_cutover_command;
extern const cli_command_t cli_unfence_command;

extern const cli_command_t cli_fallback_command;

/* `run`'s streaming with the fallback configuration rev (cli_fallback.c builds
 * it): no copy, the slot made by cutover --fallback (cli_run.c). */
err_t cli_run_fallback(const config_t *rev, const char *metrics_addr, cli_ctx_t *ctx);

/* ERR_SOURCE when the fallback slot of cfg exists on the target: the forward
 * direction must not run then (cli_fallback.c). */
err_t cli_fallback_guard(const config_t *cfg, char *errbuf, size_t errsize);

/* cutover --fallback, before the fence: the fallback configuration (*rev,
 * caller frees), wal_level=logical on the target, no fallback slot yet. */
err_t cli_fallback_prepare(const config_t *cfg, config_t **rev, char *errbuf, size_t errsize);

/* cutover --fallback, fenced and drained: creates the fallback publication
 * and slot on the target; *lsn is where the fallback stream starts. */
err_t cli_fallback_create(const config_t *rev, lsn_t *lsn, char *errbuf, size_t errsize);

/* --fallback of lag, status, verify, check, drop, unfence: the fallback
 * configuration of cfg (with_tables: its tables too), or NULL with
 * ctx->errbuf set and *err. Caller frees. */
config_t *cli_fallback_config(cli_ctx_t *ctx, const config_t *cfg, int with_tables, err_t *err);

/* The configuration check `run` performs before it starts (cli_check.c). */
err_t cli_check_before_run(const config_t *cfg, char *errbuf, size_t errsize);

#endif
