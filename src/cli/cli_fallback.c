/*
 * cli_fallback: the `fallback` command (after `cutover --fence --fallback`,
 * streams the new database back into the old one with run's machinery and
 * the roles swapped), and the fallback steps other commands share: the guard
 * that keeps the forward direction off, the slot made at the switch point.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "pg/pg_fallback.h"
#include "pg/pg_source.h"

config_t *cli_fallback_config(cli_ctx_t *ctx, const config_t *cfg, int with_tables, err_t *err)
{
    return pg_fallback_config(cfg, with_tables, err, ctx->errbuf, CLI_ERRBUF_SIZE);
}

/* Whether the fallback slot of rev exists on the new database. */
static err_t fallback_slot(const config_t *rev, pg_source_slot_t *slot, char *errbuf,
                           size_t errsize)
{
    err_t err;
    pg_source_t *ps = pg_source_open(rev, &err, errbuf, errsize);
    if (ps == NULL)
        return err;
    err = pg_source_slot_info(ps, slot, errbuf, errsize);
    pg_source_free(ps);
    return err;
}

err_t cli_fallback_guard(const config_t *cfg, char *errbuf, size_t errsize)
{
    err_t err;
    pg_source_slot_t slot;
    config_t *rev = pg_fallback_config(cfg, 0, &err, errbuf, errsize);
    if (rev == NULL)
        return err;
    err = fallback_slot(rev, &slot, errbuf, errsize);
    if (err == ERR_OK && slot.exists && !slot.other_database) {
        snprintf(errbuf, errsize,
                 "'%s' was cut over with --fallback: the fallback slot %s exists on the target, "
                 "so the target is where the application writes and the source receives "
                 "(syncline fallback); the forward direction must not run now. To resume it, "
                 "switch back first (syncline cutover -c FILE --fallback-back), stop fallback, "
                 "then syncline drop -c FILE --fallback",
                 cfg->name, rev->slot);
        err = ERR_SOURCE;
    }
    config_free(rev);
    return err;
}

static void fallback_log(void *arg, int warning, const char *message)
{
    (void)arg;
    log_write(warning ? LOG_WARN : LOG_ERROR, "check: %s", message);
}

/* The fallback direction fits the schemas: run's check on it, and every
 * column of the old tables fed back. */
static err_t fallback_check(const config_t *rev, char *errbuf, size_t errsize)
{
    int problems = 0;
    err_t err = cli_check_before_run(rev, errbuf, errsize);
    if (err == ERR_OK)
        err = pg_fallback_check_fed(rev, fallback_log, NULL, &problems, errbuf, errsize);
    if (err == ERR_OK && problems > 0) {
        snprintf(errbuf, errsize,
                 "the fallback direction does not fit the schemas: %d problem(s), logged above "
                 "(syncline check -c FILE --fallback lists them)",
                 problems);
        err = ERR_SCHEMA;
    }
    return err;
}

/* Prefixes errbuf's message with what needed it. */
static void fallback_prefix(char *errbuf, size_t errsize, const char *prefix)
{
    char m[CLI_ERRBUF_SIZE];
    snprintf(m, sizeof(m), "%s", errbuf);
    snprintf(errbuf, errsize, "%s%s", prefix, m);
}

err_t cli_fallback_prepare(const config_t *cfg, config_t **rev, char *errbuf, size_t errsize)
{
    err_t err;
    pg_source_slot_t slot = {0};
    *rev = pg_fallback_config(cfg, 1, &err, errbuf, errsize);
    pg_source_t *ps = *rev != NULL ? pg_source_open(*rev, &err, errbuf, errsize) : NULL;
    if (ps == NULL)
        return err;
    err = pg_source_check_wal_level(ps, errbuf, errsize);
    if (err != ERR_OK)
        fallback_prefix(errbuf, errsize, "--fallback streams the target back, so the target ");
    if (err == ERR_OK)
        err = pg_source_slot_info(ps, &slot, errbuf, errsize);
    if (err == ERR_OK && slot.exists) {
        snprintf(errbuf, errsize,
                 "--fallback: the fallback slot %s already exists on the target (an earlier "
                 "cutover?); remove it with syncline drop -c FILE --fallback",
                 (*rev)->slot);
        err = ERR_SOURCE;
    }
    pg_source_free(ps);
    if (err == ERR_OK)
        err = fallback_check(*rev, errbuf, errsize);
    return err;
}

err_t cli_fallback_create(const config_t *rev, lsn_t *lsn, char *errbuf, size_t errsize)
{
    err_t err;
    int created = 0;
    pg_source_t *ps = pg_source_open(rev, &err, errbuf, errsize);
    if (ps == NULL)
        return err;
    err = pg_source_lock(ps, errbuf, errsize);
    if (err == ERR_OK) {
        err = pg_source_ensure_publication(ps, &created, errbuf, errsize);
        char eb[256];
        if (pg_source_end_publication(ps, err == ERR_OK, eb, sizeof(eb)) != ERR_OK &&
            err == ERR_OK) {
            snprintf(errbuf, errsize, "%s", eb);
            err = ERR_CONNECT;
        }
    }
    if (err == ERR_OK)
        err = pg_source_create_slot(ps, lsn, NULL, 0, errbuf, errsize);
    pg_source_free(ps);
    return err;
}

/* ---- the fallback command ------------------------------------------------ */

/* Holds the forward direction's lock on the old database while fallback
 * runs (a forward run then says "already running"), checks the fallback slot
 * exists, then streams with run's machinery. */
static err_t fallback_run(cli_ctx_t *ctx, const config_t *cfg, const char *metrics_addr)
{
    err_t err;
    pg_source_slot_t slot;
    config_t *rev = cli_fallback_config(ctx, cfg, 1, &err);
    pg_source_t *fwd = rev != NULL ? pg_source_open(cfg, &err, ctx->errbuf, CLI_ERRBUF_SIZE) : NULL;
    if (fwd != NULL)
        err = pg_source_lock(fwd, ctx->errbuf, CLI_ERRBUF_SIZE);
    if (fwd != NULL && err == ERR_OK)
        err = fallback_slot(rev, &slot, ctx->errbuf, CLI_ERRBUF_SIZE);
    if (fwd != NULL && err == ERR_OK && !slot.exists) {
        snprintf(ctx->errbuf, CLI_ERRBUF_SIZE,
                 "no fallback slot %s on the target: it is made by syncline cutover -c FILE "
                 "--fence --fallback, at the switch point",
                 rev->slot);
        err = ERR_SOURCE;
    }
    if (fwd != NULL && err == ERR_OK)
        err = fallback_check(rev, ctx->errbuf, CLI_ERRBUF_SIZE);
    if (fwd != NULL && err == ERR_OK) {
        log_info("fallback: streaming the target back into the source slot=%s origin=%s", rev->slot,
                 rev->apply_origin);
        err = cli_run_fallback(rev, metrics_addr, ctx);
    }
    pg_source_free(fwd);
    config_free(rev);
    return err;
}

static err_t fallback_on_opt(int opt, const char *arg, void *state)
{
    if (opt != 'M')
        return ERR_USAGE;
    *(const char **)state = arg;
    return ERR_OK;
}

static err_t cli_fallback(cli_ctx_t *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {{"metrics", required_argument, NULL, 'M'},
                                             {NULL, 0, NULL, 0}};
    const char *path = NULL, *metrics_addr = NULL;
    int help;
    err_t err = cli_parse(&cli_fallback_command, argc, argv, "", longopts, fallback_on_opt,
                          &metrics_addr, &path, &help);
    if (err != ERR_OK || help)
        return err;
    config_t *cfg = cli_load_config(ctx, path);
    if (cfg == NULL)
        return ERR_CONFIG;
    err = fallback_run(ctx, cfg, metrics_addr);
    config_free(cfg);
    return err;
}

const cli_command_t cli_fallback_command = {
    .name = "fallback",
    .summary = "after cutover --fallback: stream the target back into the source",
    .usage = "usage: syncline fallback -c FILE [--metrics [ADDR:]PORT]\n"
             "  Streams the target (the new database) back into the source (the old one) from\n"
             "  the slot 'cutover --fence --fallback' made at the switch point, with run's\n"
             "  guarantees (progress in the source in the same transaction, exactly once,\n"
             "  restart after a crash). The source stays fenced for applications; syncline's\n"
             "  sessions write through the fence. Refused while the forward 'run' runs, and\n"
             "  the other way round (exit 5). Stops on SIGINT/SIGTERM, exit 0.\n",
    .run = cli_fallback,
};
