/*
 * cli_check: the `check` command: validates the configuration against both
 * live schemas without changing anything, one line per problem; and the same
 * check as `run` performs it before starting.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "core/log.h"
#include "pg/pg_check.h"
#include "pg/pg_fallback.h"
#include "pg/pg_source.h"

static void check_print(void *arg, int warning, const char *message)
{
    fprintf((FILE *)arg, "%s: %s\n", warning ? "warning" : "problem", message);
}

static void check_log(void *arg, int warning, const char *message)
{
    (void)arg;
    log_write(warning ? LOG_WARN : LOG_ERROR, "check: %s", message);
}

err_t cli_check_before_run(const config_t *cfg, char *errbuf, size_t errsize)
{
    int problems = 0, tables = 0;
    err_t err = pg_check_run(cfg, check_log, NULL, &problems, &tables, errbuf, errsize);
    if (err == ERR_OK && problems > 0) {
        snprintf(errbuf, errsize,
                 "the configuration does not fit the schemas: %d problem(s), logged above "
                 "(run 'syncline check -c FILE' to list them)",
                 problems);
        return ERR_SCHEMA;
    }
    return err;
}

/* check --fallback: the target (the fallback's source) needs wal_level=logical. */
static void check_fallback_wal_level(const config_t *rev, int *problems)
{
    err_t err;
    char eb[CLI_ERRBUF_SIZE];
    pg_source_t *ps = pg_source_open(rev, &err, eb, sizeof(eb));
    if (ps != NULL)
        err = pg_source_check_wal_level(ps, eb, sizeof(eb));
    if (err != ERR_OK) {
        printf("problem: fallback streams from the target: %s\n", eb);
        (*problems)++;
    }
    pg_source_free(ps);
}

static err_t cli_check(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *path = NULL;
    int help, problems = 0, tables = 0;
    err_t err = cli_parse(&cli_check_command, argc, argv, "", NULL, NULL, NULL, &path, &help);
    if (err != ERR_OK || help)
        return err;
    config_t *cfg = cli_load_config(ctx, path);
    if (cfg == NULL)
        return ERR_CONFIG;
    int fallback_problems = 0;
    if (ctx->fallback) /* the fallback streams from the target */
        check_fallback_wal_level(cfg, &fallback_problems);
    if (ctx->fallback)
        err = pg_fallback_check_fed(cfg, check_print, stdout, &fallback_problems, ctx->errbuf,
                                    sizeof(ctx->errbuf));
    if (err == ERR_OK)
        err = pg_check_run(cfg, check_print, stdout, &problems, &tables, ctx->errbuf,
                           sizeof(ctx->errbuf));
    problems += fallback_problems;
    if (err == ERR_OK) {
        printf("%s: %d table(s) checked, %d problem(s)\n", problems ? "FAILED" : "ok", tables,
               problems);
        if (problems > 0) {
            snprintf(ctx->errbuf, sizeof(ctx->errbuf), "%d problem(s)", problems);
            err = ERR_SCHEMA;
        }
    }
    config_free(cfg);
    return err;
}

const cli_command_t cli_check_command = {
    .name = "check",
    .summary = "validate the configuration against both live schemas (changes nothing)",
    .usage = "usage: syncline check -c FILE\n"
             "  Checks, for every table the configuration syncs, that the target table and\n"
             "  columns exist, every source column is mapped or excluded, expressions and\n"
             "  filters parse and type-check (PostgreSQL prepares the statements), NOT NULL\n"
             "  target columns are fed, the target key derives from the source key, and the\n"
             "  source replica identity allows UPDATE and DELETE. One line per problem;\n"
             "  exit 0 only when clean, 6 otherwise. With --fallback, the same for the\n"
             "  fallback direction (target -> source, tables inverted), plus wal_level=logical\n"
             "  on the target and every source column fed back; a table that maps columns\n"
             "  without a \"fallback\" block is refused (exit 3).\n",
    .run = cli_check,
    .takes_fallback = 1,
};
