/*
 * cli_status: the `status` and `drop` commands: report slot, positions and
 * lag (with a kafka block, apply's consumer lag and gaps too); remove what
 * `run` created (slot, its publication, the progress row).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/copy_progress.h"
#include "core/log.h"
#include "core/lsn.h"
#include "pg/pg_copy.h"
#include "pg/pg_fallback.h"
#include "pg/pg_source.h"
#include "pg/pg_progress.h"
#include "pg/pg_target.h"
#include "kafka/kafka_lag.h"

typedef struct status_info {
    pg_source_slot_t slot;
    pg_progress_t prog;
    pg_copy_status_t copy; /* read only while the initial copy runs */
    lsn_t current;
    int kafka_known; /* a kafka block, and the broker answered */
    kafka_lag_report_t kafka;
} status_info_t;

/* Kafka mode: apply's consumer lag and gaps; a broker that does not answer
 * only leaves them out (logged). */
static void status_read_kafka(const config_t *cfg, pg_target_t *pt, status_info_t *si)
{
    char errbuf[CLI_ERRBUF_SIZE];
    sink_offset_t *stored = NULL;
    int n = 0;
    err_t err;
    kafka_lag_t *kl = kafka_lag_open(cfg, &err, errbuf, sizeof(errbuf));
    if (kl != NULL)
        err = pg_target_read_offsets(pt, cfg->kafka.topic, &stored, &n, errbuf, sizeof(errbuf));
    if (kl != NULL && err == ERR_OK)
        err = kafka_lag_behind(kl, stored, n, &si->kafka, errbuf, sizeof(errbuf));
    si->kafka_known = kl != NULL && err == ERR_OK;
    if (!si->kafka_known)
        log_warn("status: kafka consumer lag unknown: %s", errbuf);
    free(stored);
    kafka_lag_free(kl);
}

static void status_print_kafka(const config_t *cfg, const status_info_t *si)
{
    if (cfg->kafka.brokers == NULL)
        return;
    if (!si->kafka_known) {
        printf("kafka:           topic=%s messages_behind=?\n", cfg->kafka.topic);
        return;
    }
    printf("kafka:           topic=%s partitions=%d messages_behind=%lld\n", cfg->kafka.topic,
           si->kafka.partitions, (long long)si->kafka.behind);
    for (int i = 0; i < si->kafka.ngaps && i < KAFKA_LAG_MAX_GAPS; i++)
        printf("kafka_gap:       partition=%d stored_offset=%lld low_watermark=%lld (deleted "
               "before apply read them: the target must be copied again)\n",
               (int)si->kafka.gaps[i].partition, (long long)si->kafka.gaps[i].stored_offset,
               (long long)si->kafka.gaps[i].low_watermark);
}

static json_t *status_kafka_json(const config_t *cfg, const status_info_t *si)
{
    if (cfg->kafka.brokers == NULL)
        return json_null();
    json_t *k = json_object(), *gaps = json_array();
    json_object_set_new(k, "topic", json_string(cfg->kafka.topic));
    json_object_set_new(k, "messages_behind",
                        si->kafka_known ? json_integer((json_int_t)si->kafka.behind) : json_null());
    for (int i = 0; si->kafka_known && i < si->kafka.ngaps && i < KAFKA_LAG_MAX_GAPS; i++)
        json_array_append_new(
            gaps, json_pack("{s:i, s:I, s:I}", "partition", (int)si->kafka.gaps[i].partition,
                            "stored_offset", (json_int_t)si->kafka.gaps[i].stored_offset,
                            "low_watermark", (json_int_t)si->kafka.gaps[i].low_watermark));
    json_object_set_new(k, "gaps", gaps);
    return k;
}

/* "3/9 tables, 1234567 rows, 1.2 GB of about 3.4 GB (35%)" */
static void status_print_copy(const pg_copy_status_t *cs)
{
    char done[32], total[32];
    if (!cs->known) {
        printf("copy:            starting\n");
        return;
    }
    copy_progress_size((uint64_t)cs->bytes, done, sizeof(done));
    copy_progress_size((uint64_t)cs->total_bytes, total, sizeof(total));
    printf("copy:            %d/%d tables, %lld rows, %s of about %s (%d%%)\n", cs->tables_done,
           cs->tables_total, cs->rows, done, total,
           copy_progress_percent((uint64_t)cs->bytes, (uint64_t)cs->total_bytes));
}

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
        printf("state:           %s\n", si->prog.copying ? "copying" : "streaming");
        if (si->prog.copying)
            status_print_copy(&si->copy);
        printf("applied_lsn:     %s\n", lsn_format(si->prog.applied_lsn, a, sizeof(a)));
        printf("lag_bytes:       %llu\n",
               (unsigned long long)lsn_diff(si->current, si->prog.applied_lsn));
        printf("last_commit:     %s\n", si->prog.commit_time[0] ? si->prog.commit_time : "-");
        printf("updated_at:      %s\n", si->prog.updated_at);
    } else {
        printf("applied_lsn:     - (no progress row on the target)\n");
    }
    status_print_kafka(cfg, si);
}

/* {"rows": .., "bytes": .., "total_bytes": .., "tables_done": .., "tables_total": ..}
 * while copying, else null. */
static json_t *status_copy_json(const status_info_t *si)
{
    if (!si->prog.exists || !si->prog.copying || !si->copy.known)
        return json_null();
    json_t *c = json_object();
    json_object_set_new(c, "rows", json_integer(si->copy.rows));
    json_object_set_new(c, "bytes", json_integer(si->copy.bytes));
    json_object_set_new(c, "total_bytes", json_integer(si->copy.total_bytes));
    json_object_set_new(c, "tables_done", json_integer(si->copy.tables_done));
    json_object_set_new(c, "tables_total", json_integer(si->copy.tables_total));
    return c;
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
    json_object_set_new(o, "state",
                        si->prog.exists ? json_string(si->prog.copying ? "copying" : "streaming")
                                        : json_null());
    json_object_set_new(o, "copy", status_copy_json(si));
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
    json_object_set_new(o, "kafka", status_kafka_json(cfg, si));
    char *s = json_dumps(o, JSON_COMPACT);
    if (s != NULL)
        printf("%s\n", s);
    free(s);
    json_decref(o);
}

static err_t status_show(const config_t *cfg, int json, char *errbuf)
{
    err_t err;
    status_info_t si;
    memset(&si, 0, sizeof(si));
    pg_target_t *pt = NULL;
    pg_source_t *ps = pg_source_open(cfg, &err, errbuf, CLI_ERRBUF_SIZE);
    if (ps != NULL)
        pt = pg_target_open(cfg, &err, errbuf, CLI_ERRBUF_SIZE);
    if (pt != NULL)
        err = pg_source_current_lsn(ps, &si.current, errbuf, CLI_ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK)
        err = pg_source_slot_info(ps, &si.slot, errbuf, CLI_ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK)
        err = pg_progress_read(pg_target_conn(pt), cfg, &si.prog, errbuf, CLI_ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK && si.prog.exists && si.prog.copying)
        err = pg_copy_read_status(cfg, &si.copy, errbuf, CLI_ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK && cfg->kafka.brokers != NULL)
        status_read_kafka(cfg, pt, &si);
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

static err_t drop_all(const config_t *cfg, char *errbuf)
{
    err_t err;
    pg_progress_t prog;
    pg_target_t *pt = NULL;
    pg_source_t *ps = pg_source_open(cfg, &err, errbuf, CLI_ERRBUF_SIZE);
    if (ps != NULL)
        pt = pg_target_open(cfg, &err, errbuf, CLI_ERRBUF_SIZE);
    if (pt != NULL)
        err = pg_progress_read(pg_target_conn(pt), cfg, &prog, errbuf, CLI_ERRBUF_SIZE);
    int pub_dropped = 0;
    if (pt != NULL && err == ERR_OK)
        err = pg_source_drop(ps,
                             prog.publication_created ? PG_SOURCE_PUB_DROP : PG_SOURCE_PUB_IF_OURS,
                             &pub_dropped, errbuf, CLI_ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK)
        err = pg_source_ddl_trigger(ps, 0, errbuf, CLI_ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK)
        err = pg_progress_delete(pg_target_conn(pt), cfg, errbuf, CLI_ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK)
        err = pg_progress_unclaim(pg_target_conn(pt), cfg, errbuf, CLI_ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK && cfg->apply_origin[0] != '\0') /* fallback's applier */
        err = pg_fallback_drop_origin(cfg, errbuf, CLI_ERRBUF_SIZE);
    if (pt != NULL && err == ERR_OK)
        log_info("dropped slot=%s publication=%s", cfg->slot,
                 pub_dropped ? cfg->publication : "(kept: not created by syncline)");
    pg_target_free(pt);
    pg_source_free(ps);
    return err;
}

/* A plain drop removes the fallback direction too, when cutover --fallback
 * made its slot on the target. */
static err_t drop_fallback(const config_t *cfg, char *errbuf)
{
    err_t err;
    pg_source_slot_t slot = {0};
    config_t *rev = pg_fallback_config(cfg, 0, &err, errbuf, CLI_ERRBUF_SIZE);
    pg_source_t *ps = rev != NULL ? pg_source_open(rev, &err, errbuf, CLI_ERRBUF_SIZE) : NULL;
    if (ps != NULL)
        err = pg_source_slot_info(ps, &slot, errbuf, CLI_ERRBUF_SIZE);
    pg_source_free(ps);
    if (ps != NULL && err == ERR_OK && slot.exists && !slot.other_database)
        err = drop_all(rev, errbuf);
    config_free(rev);
    return err;
}

static err_t status_on_opt(int opt, const char *arg, void *state)
{
    (void)arg;
    if (opt != 'j')
        return ERR_USAGE;
    *(int *)state = 1;
    return ERR_OK;
}

static err_t cli_status(cli_ctx_t *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    const char *path = NULL;
    int json = 0, help;
    err_t err = cli_parse(&cli_status_command, argc, argv, "", longopts, status_on_opt, &json,
                          &path, &help);
    if (err != ERR_OK || help)
        return err;
    config_t *cfg = cli_load_config(ctx, path);
    if (cfg == NULL)
        return ERR_CONFIG;
    err = status_show(cfg, json, ctx->errbuf);
    config_free(cfg);
    return err;
}

static err_t cli_drop(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *path = NULL;
    int help;
    err_t err = cli_parse(&cli_drop_command, argc, argv, "", NULL, NULL, NULL, &path, &help);
    if (err != ERR_OK || help)
        return err;
    config_t *cfg = cli_load_config(ctx, path);
    if (cfg == NULL)
        return ERR_CONFIG;
    err = drop_all(cfg, ctx->errbuf);
    if (err == ERR_OK && cfg->apply_origin[0] == '\0')
        err = drop_fallback(cfg, ctx->errbuf);
    config_free(cfg);
    return err;
}

const cli_command_t cli_status_command = {
    .name = "status",
    .summary = "slot, source, confirmed and applied positions, lag in bytes",
    .usage = "usage: syncline status -c FILE [--json]\n"
             "  Prints the slot, the source WAL position, the confirmed and applied positions\n"
             "  and the lag in bytes; --json prints one JSON object.\n",
    .run = cli_status,
    .takes_fallback = 1,
};

const cli_command_t cli_drop_command = {
    .name = "drop",
    .summary = "remove the slot, the publication syncline created and the progress row",
    .usage = "usage: syncline drop -c FILE\n"
             "  Removes the replication slot, the publication if syncline created it, and this\n"
             "  configuration's progress row on the target, and the fallback slot and\n"
             "  publication on the target when 'cutover --fallback' made them. Stop `run`\n"
             "  (and `fallback`) first. With --fallback: the fallback direction's only (its\n"
             "  slot and publication on the target, progress row and origin on the source).\n",
    .run = cli_drop,
    .takes_fallback = 1,
};
