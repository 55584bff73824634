/*
 * cli_lag: the `lag` command: source, confirmed and applied positions, lag in
 * bytes and seconds, and an exit code scripts can gate on (ERR_LAG above the
 * limits given). Measurement lives in connectors/pg/pg_lag.c.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "kafka/kafka_lag.h"
#include "core/log.h"
#include "core/lsn.h"
#include "pg/pg_lag.h"

typedef struct lag_opts {
    long long max_bytes; /* -1: no limit */
    double max_seconds;  /* < 0: no limit */
    int json;
    int watch;
} lag_opts_t;

/* Kafka mode: apply's consumer lag in messages. */
typedef struct lag_kafka {
    int on;    /* the configuration has a kafka block */
    int known; /* 0: unknown (broker unreachable); the LSN lag still counts */
    kafka_lag_report_t r;
} lag_kafka_t;

static int lag_exceeded(const lag_opts_t *o, const pg_lag_sample_t *s)
{
    return (o->max_bytes >= 0 && s->lag_bytes > (uint64_t)o->max_bytes) ||
           (o->max_seconds >= 0 && s->lag_seconds > o->max_seconds);
}

/* " kafka_messages_behind=N" and one " kafka_gap=..." per gap. */
static void lag_kafka_text(const kafka_lag_report_t *r, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, " kafka_messages_behind=%lld", (long long)r->behind);
    for (int i = 0; i < r->ngaps && i < KAFKA_LAG_MAX_GAPS && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n,
                              " kafka_gap=partition:%d,stored_offset:%lld,low_watermark:%lld",
                              (int)r->gaps[i].partition, (long long)r->gaps[i].stored_offset,
                              (long long)r->gaps[i].low_watermark);
}

static json_t *lag_kafka_gaps_json(const kafka_lag_report_t *r)
{
    json_t *a = json_array();
    for (int i = 0; i < r->ngaps && i < KAFKA_LAG_MAX_GAPS; i++)
        json_array_append_new(a,
                              json_pack("{s:i, s:I, s:I}", "partition", (int)r->gaps[i].partition,
                                        "stored_offset", (json_int_t)r->gaps[i].stored_offset,
                                        "low_watermark", (json_int_t)r->gaps[i].low_watermark));
    return a;
}

static void lag_print_text(const config_t *cfg, const pg_lag_sample_t *s, const lag_kafka_t *k,
                           int over)
{
    char a[LSN_STRLEN], b[LSN_STRLEN], c[LSN_STRLEN], km[64 + 80 * KAFKA_LAG_MAX_GAPS] = "";
    if (k->on && k->known)
        lag_kafka_text(&k->r, km, sizeof(km));
    else if (k->on)
        snprintf(km, sizeof(km), " kafka_messages_behind=?");
    printf("name=%s source_lsn=%s confirmed_lsn=%s applied_lsn=%s lag_bytes=%llu "
           "lag_seconds=%.1f%s%s%s\n",
           cfg->name, lsn_format(s->source_lsn, a, sizeof(a)),
           s->slot_exists ? lsn_format(s->confirmed_lsn, b, sizeof(b)) : "-",
           lsn_format(s->applied_lsn, c, sizeof(c)), (unsigned long long)s->lag_bytes,
           s->lag_seconds, km, s->slot_exists && !s->slot_active ? " slot=inactive" : "",
           over ? " over_limit=yes" : "");
}

static void lag_print_json(const config_t *cfg, const pg_lag_sample_t *s, const lag_kafka_t *k,
                           int over)
{
    char a[LSN_STRLEN], b[LSN_STRLEN], c[LSN_STRLEN];
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(cfg->name));
    json_object_set_new(o, "source_lsn", json_string(lsn_format(s->source_lsn, a, sizeof(a))));
    json_object_set_new(o, "confirmed_lsn",
                        s->slot_exists ? json_string(lsn_format(s->confirmed_lsn, b, sizeof(b)))
                                       : json_null());
    json_object_set_new(o, "slot_active", json_boolean(s->slot_active));
    json_object_set_new(o, "applied_lsn", json_string(lsn_format(s->applied_lsn, c, sizeof(c))));
    json_object_set_new(o, "lag_bytes", json_integer((json_int_t)s->lag_bytes));
    json_object_set_new(o, "lag_seconds", json_real(s->lag_seconds));
    json_object_set_new(o, "last_commit",
                        s->commit_time[0] ? json_string(s->commit_time) : json_null());
    if (k->on) {
        json_t *kj = json_object();
        json_object_set_new(kj, "topic", json_string(cfg->kafka.topic));
        json_object_set_new(kj, "partitions", json_integer(k->known ? k->r.partitions : 0));
        json_object_set_new(kj, "messages_behind",
                            k->known ? json_integer((json_int_t)k->r.behind) : json_null());
        json_object_set_new(kj, "gaps", k->known ? lag_kafka_gaps_json(&k->r) : json_null());
        json_object_set_new(o, "kafka", kj);
    }
    json_object_set_new(o, "verify_full_age_seconds",
                        s->verify_full_age_s >= 0 ? json_real(s->verify_full_age_s) : json_null());
    json_object_set_new(o, "verify_dirty_ranges",
                        s->verify_dirty >= 0 ? json_integer((json_int_t)s->verify_dirty)
                                             : json_null());
    json_object_set_new(o, "within_limits", json_boolean(!over));
    char *text = json_dumps(o, JSON_COMPACT);
    if (text != NULL)
        printf("%s\n", text);
    free(text);
    json_decref(o);
}

/* Kafka mode: messages in the topic past the offsets the target stored
 * (read after the positions). */
static err_t lag_kafka(pg_lag_t *pl, kafka_lag_t *kl, const config_t *cfg, lag_kafka_t *k,
                       char *errbuf)
{
    sink_offset_t *stored = NULL;
    int n = 0;
    err_t err = pg_lag_kafka_offsets(pl, cfg->kafka.topic, &stored, &n, errbuf, CLI_ERRBUF_SIZE);
    if (err == ERR_OK)
        err = kafka_lag_behind(kl, stored, n, &k->r, errbuf, CLI_ERRBUF_SIZE);
    k->known = err == ERR_OK;
    free(stored);
    return err;
}

/* One measurement, printed; ERR_LAG when over a limit. */
static err_t lag_once(pg_lag_t *pl, kafka_lag_t *kl, const config_t *cfg, const lag_opts_t *o,
                      char *errbuf)
{
    pg_lag_sample_t s;
    lag_kafka_t k = {.on = kl != NULL};
    err_t err = pg_lag_sample(pl, &s, errbuf, CLI_ERRBUF_SIZE);
    if (err != ERR_OK)
        return err;
    if (kl != NULL && lag_kafka(pl, kl, cfg, &k, errbuf) != ERR_OK) {
        /* informational only: the LSN lag above already says whether apply keeps up */
        log_warn("lag: kafka consumer lag unknown: %s", errbuf);
    }
    int over = lag_exceeded(o, &s);
    if (o->json)
        lag_print_json(cfg, &s, &k, over);
    else
        lag_print_text(cfg, &s, &k, over);
    fflush(stdout);
    if (k.known && k.r.ngaps > 0) {
        snprintf(errbuf, CLI_ERRBUF_SIZE,
                 "kafka gap topic=%s partition=%d stored_offset=%lld low_watermark=%lld (%d "
                 "partitions): messages apply never read were deleted; the target must be "
                 "copied again",
                 cfg->kafka.topic, (int)k.r.gaps[0].partition, (long long)k.r.gaps[0].stored_offset,
                 (long long)k.r.gaps[0].low_watermark, k.r.ngaps);
        return ERR_SOURCE;
    }
    return over ? ERR_LAG : ERR_OK;
}

/* --watch: every second until Ctrl-C; the exit code is the last sample's. */
static err_t lag_run(cli_ctx_t *ctx, const config_t *cfg, const lag_opts_t *o)
{
    err_t err;
    pg_lag_t *pl = pg_lag_open(cfg, &err, ctx->errbuf, CLI_ERRBUF_SIZE);
    if (pl == NULL)
        return err;
    kafka_lag_t *kl = NULL;
    if (cfg->kafka.brokers != NULL &&
        (kl = kafka_lag_open(cfg, &err, ctx->errbuf, CLI_ERRBUF_SIZE)) == NULL) {
        pg_lag_free(pl);
        return err;
    }
    do {
        err = lag_once(pl, kl, cfg, o, ctx->errbuf);
        if (o->watch && (err == ERR_OK || err == ERR_LAG))
            cli_sleep_ms(ctx, 1000);
    } while (o->watch && !*ctx->stop && (err == ERR_OK || err == ERR_LAG));
    kafka_lag_free(kl);
    pg_lag_free(pl);
    return err;
}

static err_t lag_on_opt(int opt, const char *arg, void *state)
{
    lag_opts_t *o = state;
    char *end = NULL;
    switch (opt) {
    case 'b':
        o->max_bytes = strtoll(arg, &end, 10);
        break;
    case 's':
        o->max_seconds = strtod(arg, &end);
        break;
    case 'j':
        o->json = 1;
        return ERR_OK;
    case 'w':
        o->watch = 1;
        return ERR_OK;
    default:
        return ERR_USAGE;
    }
    if (end == arg || *end != '\0' || (opt == 'b' ? o->max_bytes < 0 : o->max_seconds < 0)) {
        fprintf(stderr, "syncline lag: --max-%s takes a non-negative number\n",
                opt == 'b' ? "bytes" : "seconds");
        return ERR_USAGE;
    }
    return ERR_OK;
}

static err_t cli_lag(cli_ctx_t *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {{"max-bytes", required_argument, NULL, 'b'},
                                             {"max-seconds", required_argument, NULL, 's'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"watch", no_argument, NULL, 'w'},
                                             {NULL, 0, NULL, 0}};
    lag_opts_t o = {.max_bytes = -1, .max_seconds = -1};
    const char *path = NULL;
    int help;
    err_t err = cli_parse(&cli_lag_command, argc, argv, "", longopts, lag_on_opt, &o, &path, &help);
    if (err != ERR_OK || help)
        return err;
    config_t *cfg = cli_load_config(ctx, path);
    if (cfg == NULL)
        return ERR_CONFIG;
    err = lag_run(ctx, cfg, &o);
    config_free(cfg);
    return err;
}

const cli_command_t cli_lag_command = {
    .name = "lag",
    .summary = "lag in bytes and seconds; exit 7 above --max-bytes/--max-seconds",
    .usage =
        "usage: syncline lag -c FILE [--max-bytes N] [--max-seconds S] [--json] [--watch]\n"
        "  Prints the source WAL position, the slot's confirmed position, the target's applied\n"
        "  position, the lag in bytes (source - applied) and in seconds (age of the oldest\n"
        "  source commit not applied yet; 0 when nothing is pending).\n"
        "  --max-bytes N     exit 7 when the lag is more than N bytes\n"
        "  --max-seconds S   exit 7 when the lag is more than S seconds\n"
        "  --json            one JSON object per measurement\n"
        "  --watch           measure every second until Ctrl-C (exit code of the last one)\n"
        "  With a \"kafka\" block it also prints apply's consumer lag in messages (topic\n"
        "  high watermarks - offsets stored in the target); not part of the limits; and\n"
        "  each partition whose stored offset is below its low watermark (kafka_gap=...:\n"
        "  messages apply never read were deleted; the target must be copied again).\n"
        "  Exit codes: 0 within the limits, 7 above, 4 connection, 5 no progress row or a\n"
        "  Kafka gap.\n",
    .run = cli_lag,
    .takes_fallback = 1,
};
