/*
 * cli_kafka: the Kafka transport commands. `capture` streams the source slot
 * into a Kafka topic (pg_source -> stream -> kafka_sink); `apply` reads the
 * topic into the target (kafka_source -> pg_target). Wiring only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/metrics.h"
#include "kafka/kafka_sink.h"
#include "kafka/kafka_dbz_source.h"
#include "kafka/kafka_source.h"
#include "core/log.h"
#include "pg/pg_ddl.h"
#include "pg/pg_source.h"
#include "pg/pg_hold.h"
#include "pg/pg_progress.h"
#include "pg/pg_reap.h"
#include "pg/pg_target.h"
#include "core/stream.h"

/* ---- shared ------------------------------------------------------------- */

static err_t kafka_cli_check(const config_t *cfg, const char *cmd, char *errbuf)
{
    if (cfg->kafka.brokers == NULL) {
        snprintf(errbuf, CLI_ERRBUF_SIZE, "%s needs a \"kafka\" block with \"brokers\"", cmd);
        return ERR_CONFIG;
    }
    return ERR_OK;
}

/* ---- capture ------------------------------------------------------------ */

typedef struct capture_state {
    const config_t *cfg;
    int partitions;
    const char *metrics_addr; /* --metrics, NULL: no endpoint */
    metrics_t *metrics;       /* the registry the apply loop fills, NULL: none */
} capture_state_t;

/* Where the stream starts: the slot's confirmed position (created if absent). */
static err_t capture_slot(pg_source_t *ps, lsn_t *start, char *errbuf)
{
    pg_source_slot_t slot;
    err_t err = pg_source_slot_info(ps, &slot, errbuf, CLI_ERRBUF_SIZE);
    if (err == ERR_OK && slot.exists)
        err = pg_source_check_slot(ps, &slot, errbuf, CLI_ERRBUF_SIZE);
    if (err != ERR_OK)
        return err;
    *start = slot.confirmed_flush;
    if (!slot.exists) {
        err = pg_source_create_slot(ps, start, NULL, 0, errbuf, CLI_ERRBUF_SIZE);
        char l[LSN_STRLEN];
        if (err == ERR_OK)
            log_info("slot created lsn=%s", lsn_format(*start, l, sizeof(l)));
    }
    return err;
}

static err_t capture_prepare(pg_source_t *ps, lsn_t *start, char *errbuf)
{
    int created = 0;
    err_t err = pg_source_check_wal_level(ps, errbuf, CLI_ERRBUF_SIZE);
    if (err == ERR_OK)
        err = pg_source_check_features(ps, errbuf, CLI_ERRBUF_SIZE);
    if (err == ERR_OK)
        err = pg_source_ensure_publication(ps, &created, errbuf, CLI_ERRBUF_SIZE);
    if (err == ERR_OK)
        err = pg_source_end_publication(ps, 1, errbuf, CLI_ERRBUF_SIZE);
    if (err == ERR_OK) /* before the slot: DDL from its start on is in the stream */
        err = pg_source_ddl_trigger(ps, 1, errbuf, CLI_ERRBUF_SIZE);
    return err == ERR_OK ? capture_slot(ps, start, errbuf) : err;
}

static err_t capture_stream(const config_t *cfg, pg_source_t *ps, kafka_sink_t *ks, lsn_t start,
                            metrics_t *metrics, cli_ctx_t *ctx)
{
    stream_opts_t opts;
    err_t err = cli_stream_start(cfg, ps, start, ctx->stop, metrics, &opts, ctx->errbuf);
    if (err != ERR_OK)
        return err;
    source_t inner = pg_source_stream(ps);
    source_t src = kafka_sink_source(ks, &inner);
    sink_t snk = kafka_sink_sink(ks);
    stream_stats_t stats;
    char l[LSN_STRLEN];
    log_info(
        "capture streaming layout=%s topic=%s format=%s partitioning=%s from=%s", cfg->kafka.layout,
        strcmp(cfg->kafka.layout, "debezium") == 0 ? cfg->kafka.topic_prefix : cfg->kafka.topic,
        cfg->kafka.format, cfg->kafka.partitioning, lsn_format(start, l, sizeof(l)));
    err = stream_run(&src, &snk, &opts, &stats, ctx->errbuf, CLI_ERRBUF_SIZE);
    log_info("capture stopped confirmed_lsn=%s transactions=%llu rows=%llu batches=%llu",
             lsn_format(stats.applied_lsn, l, sizeof(l)), (unsigned long long)stats.txns,
             (unsigned long long)stats.rows, (unsigned long long)stats.batches);
    return err;
}

/* kafka_sink_opts_t.primary_key, from the source's catalog. */
static err_t capture_primary_key(void *ctx, uint32_t relid, char ***cols, int *n, char *errbuf,
                                 size_t errsize)
{
    return pg_source_primary_key(ctx, relid, cols, n, errbuf, errsize);
}

static err_t capture_session(void *state, cli_ctx_t *ctx, int *started)
{
    capture_state_t *cs = state;
    err_t err;
    lsn_t start = 0;
    kafka_sink_t *ks = NULL;
    pg_source_t *ps = pg_source_open(cs->cfg, &err, ctx->errbuf, CLI_ERRBUF_SIZE);
    if (ps != NULL)
        err = pg_source_lock(ps, ctx->errbuf, CLI_ERRBUF_SIZE);
    if (ps != NULL && err == ERR_OK)
        err = capture_prepare(ps, &start, ctx->errbuf);
    if (ps != NULL && err == ERR_OK) {
        kafka_sink_opts_t ko = {.partitions = cs->partitions,
                                .stop = ctx->stop,
                                .primary_key = capture_primary_key,
                                .primary_key_ctx = ps};
        ks = kafka_sink_new(cs->cfg, &ko, &err, ctx->errbuf, CLI_ERRBUF_SIZE);
    }
    if (ks != NULL) {
        (*started)++;
        err = capture_stream(cs->cfg, ps, ks, start, cs->metrics, ctx);
    }
    kafka_sink_free(ks);
    pg_source_free(ps);
    return err;
}

static err_t capture_on_opt(int opt, const char *arg, void *state)
{
    capture_state_t *cs = state;
    char *end;
    if (opt == 'M') {
        cs->metrics_addr = arg;
        return ERR_OK;
    }
    long n = opt == 'p' ? strtol(arg, &end, 10) : 0;
    if (opt != 'p' || *end != '\0' || n < 1 || n > 10000) {
        fprintf(stderr, "syncline capture: --partitions takes a number from 1 to 10000\n");
        return ERR_USAGE;
    }
    cs->partitions = (int)n;
    return ERR_OK;
}

static err_t capture_body(void *state, metrics_t *metrics, cli_ctx_t *ctx)
{
    capture_state_t *cs = state;
    cs->metrics = metrics;
    return cli_retry(ctx, "capture", capture_session, cs);
}

static err_t cli_capture(cli_ctx_t *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {{"partitions", required_argument, NULL, 'p'},
                                             {"metrics", required_argument, NULL, 'M'},
                                             {NULL, 0, NULL, 0}};
    capture_state_t cs = {.partitions = 6};
    const char *path = NULL;
    int help;
    err_t err = cli_parse(&cli_capture_command, argc, argv, "", longopts, capture_on_opt, &cs,
                          &path, &help);
    if (err != ERR_OK || help)
        return err;
    config_t *cfg = cli_load_config_source(ctx, path);
    if (cfg == NULL)
        return ERR_CONFIG;
    cs.cfg = cfg;
    err = kafka_cli_check(cfg, "capture", ctx->errbuf);
    if (err == ERR_OK && cfg->binary) {
        snprintf(ctx->errbuf, CLI_ERRBUF_SIZE,
                 "apply.binary: capture writes text values; set it to false");
        err = ERR_CONFIG;
    }
    if (err == ERR_OK)
        err = cli_with_metrics("capture", cs.metrics_addr, capture_body, &cs, ctx);
    config_free(cfg);
    return err;
}

const cli_command_t cli_capture_command = {
    .name = "capture",
    .summary = "stream the source's changes into a Kafka topic until SIGINT/SIGTERM",
    .usage = "usage: syncline capture -c FILE [--partitions N] [--metrics [ADDR:]PORT]\n"
             "  Creates the publication and slot when absent and streams every committed\n"
             "  transaction into kafka.topic (acks=all; docs/kafka.md). The slot is\n"
             "  confirmed only up to what the broker acknowledged. No initial copy.\n"
             "  -c, --config FILE   configuration (JSON) with a \"kafka\" block\n"
             "  --partitions N      partitions of the topic when capture creates it and\n"
             "                      kafka.partitioning is table or key (default 6)\n"
             "  --metrics ADDR:PORT serve Prometheus metrics at http://ADDR:PORT/metrics\n"
             "                      (127.0.0.1 when only a port is given)\n",
    .run = cli_capture,
};

/* ---- apply -------------------------------------------------------------- */

typedef struct apply_state {
    const config_t *cfg;
    kafka_source_opts_t opts;
    const char *metrics_addr; /* --metrics, NULL: no endpoint */
    lsn_t ddl_applied;        /* --ddl-applied LSN: that DDL was applied by hand */
} apply_state_t;

/* DDL events (layout syncline): checked under the source's signing key,
 * read from the source when apply may connect to it (docs/kafka.md#ddl). */
static err_t apply_ddl_setup(apply_state_t *as, pg_target_t *pt, char *errbuf)
{
    pg_ddl_key_t key;
    memset(&key, 0, sizeof(key));
    err_t err = config_ddl_followed(as->cfg)
                    ? pg_ddl_key_fetch(as->cfg, &key, errbuf, CLI_ERRBUF_SIZE)
                    : ERR_OK;
    if (err == ERR_OK) {
        pg_target_set_ddl_key(pt, &key);
        pg_target_set_ddl_applied(pt, as->ddl_applied);
    }
    return err;
}

static err_t apply_session(void *state, cli_ctx_t *ctx, int *started)
{
    apply_state_t *as = state;
    err_t err;
    pg_progress_t prog = {0};
    pg_target_t *pt = pg_target_open(as->cfg, &err, ctx->errbuf, CLI_ERRBUF_SIZE);
    if (pt != NULL) /* before any write: a stalled session's locks go */
        err = pg_reap_claim(pg_target_conn(pt), as->cfg, ctx->errbuf, CLI_ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK)
        err = pg_progress_ensure_tables(pg_target_conn(pt), ctx->errbuf, CLI_ERRBUF_SIZE);
    if (pt != NULL && err != ERR_OK && err != ERR_CONNECT) {
        /* two apply processes of one group starting together race on CREATE SCHEMA */
        cli_sleep_ms(ctx, 500);
        err = pg_progress_ensure_tables(pg_target_conn(pt), ctx->errbuf, CLI_ERRBUF_SIZE);
    }
    if (pt != NULL && err == ERR_OK)
        err = pg_progress_read(pg_target_conn(pt), as->cfg, &prog, ctx->errbuf, CLI_ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK && !prog.exists)
        err = pg_progress_init(pg_target_conn(pt), as->cfg, 0, 0, 0, ctx->errbuf, CLI_ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK) {
        kafka_source_stats_t st;
        char l[LSN_STRLEN];
        (*started)++;
        as->opts.stop = ctx->stop;
        sink_t target = pg_target_sink(pt);
        if (strcmp(as->cfg->kafka.layout, "debezium") == 0) { /* topics per table, no hold */
            err = kafka_dbz_source_run(as->cfg, &as->opts, &target, prog.applied_lsn, &st,
                                       ctx->errbuf, CLI_ERRBUF_SIZE);
        } else {
            /* online verify: one partition only (one order of transactions) */
            pg_hold_t *ph =
                strcmp(as->cfg->kafka.partitioning, "none") == 0
                    ? pg_hold_open(as->cfg, as->opts.metrics, &err, ctx->errbuf, CLI_ERRBUF_SIZE)
                    : NULL;
            hold_verifier_t hold = ph != NULL ? pg_hold_stream(ph) : (hold_verifier_t){0};
            as->opts.hold = ph != NULL ? &hold : NULL;
            if (err == ERR_OK)
                err = apply_ddl_setup(as, pt, ctx->errbuf);
            if (err == ERR_OK)
                err = kafka_source_run(as->cfg, &as->opts, &target, prog.applied_lsn, &st,
                                       ctx->errbuf, CLI_ERRBUF_SIZE);
            else
                memset(&st, 0, sizeof(st));
            as->opts.hold = NULL;
            pg_hold_free(ph);
        }
        as->opts.from = KAFKA_SOURCE_FROM_STORED; /* a retry resumes from the target */
        log_info("apply stopped applied_lsn=%s messages=%llu rows=%llu skipped=%llu "
                 "dead_lettered=%llu target_commits=%llu rows_copied=%llu",
                 lsn_format(st.applied_lsn, l, sizeof(l)), (unsigned long long)st.messages,
                 (unsigned long long)st.rows, (unsigned long long)st.skipped,
                 (unsigned long long)st.dead, (unsigned long long)st.batches,
                 pg_target_rows_copied(pt));
    }
    pg_target_free(pt);
    return err;
}

/* ms since 1970, or an ISO 8601 UTC time "YYYY-MM-DDTHH:MM:SS[Z]". */
static int apply_parse_time(const char *arg, int64_t *ms)
{
    char *end;
    long long n = strtoll(arg, &end, 10);
    if (*end == '\0' && n >= 0) {
        *ms = n;
        return 0;
    }
    struct tm tm = {0};
    char z[2] = "";
    int got = sscanf(arg, "%4d-%2d-%2dT%2d:%2d:%2d%1s", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, z);
    if (got < 6 || (got == 7 && strcmp(z, "Z") != 0))
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

static err_t apply_on_opt(int opt, const char *arg, void *state)
{
    apply_state_t *as = state;
    char *end = NULL;
    switch (opt) {
    case 'b':
        as->opts.from = KAFKA_SOURCE_FROM_BEGINNING;
        return ERR_OK;
    case 'o':
        as->opts.from = KAFKA_SOURCE_FROM_OFFSET;
        as->opts.from_value = strtoll(arg, &end, 10);
        if (*end == '\0' && as->opts.from_value >= 0)
            return ERR_OK;
        fprintf(stderr, "syncline apply: --from-offset takes a non-negative offset\n");
        return ERR_USAGE;
    case 't':
        as->opts.from = KAFKA_SOURCE_FROM_TIMESTAMP;
        if (apply_parse_time(arg, &as->opts.from_value) == 0)
            return ERR_OK;
        fprintf(stderr, "syncline apply: --from-timestamp takes ms since 1970 or "
                        "YYYY-MM-DDTHH:MM:SS[Z] (UTC)\n");
        return ERR_USAGE;
    case 'd':
        as->opts.dead_letter = arg;
        return ERR_OK;
    case 'M':
        as->metrics_addr = arg;
        return ERR_OK;
    case 'D':
        if (lsn_parse(arg, &as->ddl_applied) && as->ddl_applied != 0)
            return ERR_OK;
        fprintf(stderr, "syncline apply: --ddl-applied takes an LSN such as 0/16B3748\n");
        return ERR_USAGE;
    }
    return ERR_USAGE;
}

static err_t apply_body(void *state, metrics_t *metrics, cli_ctx_t *ctx)
{
    apply_state_t *as = state;
    as->opts.metrics = metrics;
    return cli_retry(ctx, "apply", apply_session, as);
}

static err_t cli_apply(cli_ctx_t *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {{"from-beginning", no_argument, NULL, 'b'},
                                             {"from-offset", required_argument, NULL, 'o'},
                                             {"from-timestamp", required_argument, NULL, 't'},
                                             {"dead-letter", required_argument, NULL, 'd'},
                                             {"metrics", required_argument, NULL, 'M'},
                                             {"ddl-applied", required_argument, NULL, 'D'},
                                             {NULL, 0, NULL, 0}};
    apply_state_t as = {.opts = {.from = KAFKA_SOURCE_FROM_STORED}};
    const char *path = NULL;
    int help;
    err_t err =
        cli_parse(&cli_apply_command, argc, argv, "", longopts, apply_on_opt, &as, &path, &help);
    if (err != ERR_OK || help)
        return err;
    config_t *cfg = cli_load_config(ctx, path);
    if (cfg == NULL)
        return ERR_CONFIG;
    as.cfg = cfg;
    err = kafka_cli_check(cfg, "apply", ctx->errbuf);
    if (err == ERR_OK)
        err = cli_with_metrics("apply", as.metrics_addr, apply_body, &as, ctx);
    config_free(cfg);
    return err;
}

const cli_command_t cli_apply_command = {
    .name = "apply",
    .summary = "apply the Kafka change stream to the target until SIGINT/SIGTERM",
    .usage = "usage: syncline apply -c FILE [--from-beginning | --from-offset N |\n"
             "                      --from-timestamp T] [--dead-letter TOPIC]\n"
             "                      [--metrics [ADDR:]PORT] [--ddl-applied LSN]\n"
             "  Reads kafka.topic and applies whole source transactions to the target,\n"
             "  storing the consumer offsets in syncline.kafka_offsets in the same\n"
             "  transaction; starts from the offsets stored in the target.\n"
             "  -c, --config FILE      configuration (JSON) with a \"kafka\" block\n"
             "  --from-beginning       start every partition at its first message\n"
             "  --from-offset N        start every partition at offset N\n"
             "  --from-timestamp T     start at the first message at or after T (ms since\n"
             "                         1970, or YYYY-MM-DDTHH:MM:SS[Z] UTC)\n"
             "                         (the --from options apply to this start only; changes\n"
             "                         at or below the applied LSN are still skipped when\n"
             "                         kafka.partitioning is none)\n"
             "  --dead-letter TOPIC    copy undecodable messages there and go on (their\n"
             "                         changes are lost on the target); without it apply\n"
             "                         stops on them with exit code 1\n"
             "  --metrics ADDR:PORT    serve Prometheus metrics at http://ADDR:PORT/metrics\n"
             "  --ddl-applied LSN      the DDL event at LSN (named by a stop on it) was\n"
             "                         applied on the target by hand: skip it (docs/ddl.md)\n",
    .run = cli_apply,
};
