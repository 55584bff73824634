/*
 * cli: what the commands share: option parsing, configuration loading,
 * retries, the metrics endpoint and the start of a source stream.
 */
#include "cli/cli.h"

#include "core/log.h"
#include "core/metrics.h"
#include "http/metrics_http.h"
#include "pg/pg_source.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLI_MAX_LONGOPTS 32

static size_t cli_count_opts(const struct option *longopts)
{
    size_t n = 0;
    while (longopts != NULL && longopts[n].name != NULL)
        n++;
    return n;
}

err_t cli_parse(const cli_command_t *cmd, int argc, char **argv, const char *shortopts,
                const struct option *longopts,
                err_t (*on_opt)(int opt, const char *arg, void *state), void *state,
                const char **config, int *help)
{
    struct option all[CLI_MAX_LONGOPTS];
    char shorts[64];
    size_t n = cli_count_opts(longopts);
    if (n + 3 > CLI_MAX_LONGOPTS)
        return ERR_USAGE;
    if (n > 0) /* longopts may be NULL */
        memcpy(all, longopts, n * sizeof(*all));
    all[n++] = (struct option){"config", required_argument, NULL, 'c'};
    all[n++] = (struct option){"help", no_argument, NULL, 'h'};
    all[n] = (struct option){NULL, 0, NULL, 0};
    snprintf(shorts, sizeof(shorts), "+c:h%s", shortopts ? shortopts : "");
    *help = 0;
    optind = 1;
    opterr = 1;
    int c;
    while ((c = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
        if (c == 'c') {
            *config = optarg;
        } else if (c == 'h') {
            fputs(cmd->usage, stdout);
            *help = 1;
            return ERR_OK;
        } else if (c == '?' || c == ':' || on_opt == NULL || on_opt(c, optarg, state) != ERR_OK) {
            fprintf(stderr, "%s", cmd->usage);
            return ERR_USAGE;
        }
    }
    if (optind < argc || *config == NULL) {
        fprintf(stderr, "syncline %s: %s\n%s", cmd->name,
                optind < argc ? "unexpected argument" : "-c FILE is required", cmd->usage);
        return ERR_USAGE;
    }
    return ERR_OK;
}

config_t *cli_load_config_source(cli_ctx_t *ctx, const char *path)
{
    config_err_t cerr;
    return config_load(path, &cerr, ctx->errbuf, sizeof(ctx->errbuf));
}

config_t *cli_load_config(cli_ctx_t *ctx, const char *path)
{
    config_t *cfg = cli_load_config_source(ctx, path);
    if (cfg != NULL && config_require_target(cfg, ctx->errbuf, sizeof(ctx->errbuf)) != 0) {
        config_free(cfg);
        return NULL;
    }
    if (cfg != NULL && ctx->fallback) { /* the same command on the fallback direction */
        err_t err;
        config_t *rev = cli_fallback_config(ctx, cfg, 1, &err);
        config_free(cfg);
        cfg = rev;
    }
    if (cfg != NULL)
        memcpy(cfg->session_key, ctx->session_key, sizeof(cfg->session_key));
    return cfg;
}

void cli_sleep_ms(const cli_ctx_t *ctx, int ms)
{
    for (int waited = 0; waited < ms && !*ctx->stop; waited += 50)
        nanosleep(&(struct timespec){.tv_nsec = 50000000}, NULL);
}

err_t cli_retry(cli_ctx_t *ctx, const char *what,
                err_t (*session)(void *state, cli_ctx_t *ctx, int *started), void *state)
{
    int started = 0, seen = 0, delay = 1;
    for (;;) {
        err_t err = session(state, ctx, &started);
        if (err != ERR_CONNECT || !started || *ctx->stop)
            return err;
        if (started > seen)
            delay = 1;
        seen = started;
        log_warn("%s%sconnection lost, retrying in %ds: %s", what ? what : "", what ? ": " : "",
                 delay, ctx->errbuf);
        cli_sleep_ms(ctx, delay * 1000);
        if (*ctx->stop)
            return ERR_OK;
        delay = delay < 30 ? delay * 2 : 30;
    }
}

err_t cli_with_metrics(const char *cmd, const char *addr,
                       err_t (*body)(void *state, metrics_t *metrics, cli_ctx_t *ctx), void *state,
                       cli_ctx_t *ctx)
{
    if (addr == NULL)
        return body(state, NULL, ctx);
    err_t err = ERR_RUNTIME;
    metrics_t *m = metrics_new();
    metrics_http_t *http =
        m ? metrics_http_start(addr, m, &err, ctx->errbuf, sizeof(ctx->errbuf)) : NULL;
    if (http != NULL) {
        log_info("metrics serving addr=%s path=/metrics", addr);
        err = body(state, m, ctx);
    } else if (m == NULL) {
        snprintf(ctx->errbuf, sizeof(ctx->errbuf), "out of memory");
    } else if (err == ERR_USAGE) {
        fprintf(stderr, "syncline %s: %s\n", cmd, ctx->errbuf); /* main prints no usage errors */
    }
    metrics_http_stop(http);
    metrics_free(m);
    return err;
}

err_t cli_stream_start(const config_t *cfg, pg_source_t *ps, lsn_t start,
                       volatile sig_atomic_t *stop, metrics_t *metrics, stream_opts_t *opts,
                       char *errbuf)
{
    err_t err = pg_source_partitions(ps, errbuf, CLI_ERRBUF_SIZE); /* PG 12: leaves -> roots */
    if (err == ERR_OK)
        err = pg_source_start(ps, start, errbuf, CLI_ERRBUF_SIZE);
    *opts =
        (stream_opts_t){.applied_lsn = start,
                        .batch_rows = cfg->batch_rows,
                        .batch_ms = cfg->batch_ms,
                        .status_interval_ms = cfg->status_interval_ms,
                        .progress_interval_ms = 1000,
                        .silence_timeout_ms = stream_silence_timeout_ms(cfg->status_interval_ms),
                        .stop = stop,
                        .metrics = metrics,
                        .parts = pg_source_partmap(ps)};
    return err;
}
