/*
 * kafka_conf: librdkafka client setup shared by the Kafka sink (capture) and
 * the Kafka source (apply). The file's properties come after syncline's
 * defaults so that an operator can override any of them, kcat-style.
 */
#include "kafka/kafka_conf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

static void kafka_conf_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    log_write(level <= 3 ? LOG_ERROR : level <= 4 ? LOG_WARN : LOG_INFO, "kafka %s: %s", fac, buf);
}

static void kafka_conf_error(rd_kafka_t *rk, int kerr, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    log_warn("kafka error=%s reason=%s", rd_kafka_err2name((rd_kafka_resp_err_t)kerr), reason);
}

static int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errbuf,
                          size_t errsize)
{
    char kerr[512];
    if (rd_kafka_conf_set(conf, key, value, kerr, sizeof(kerr)) == RD_KAFKA_CONF_OK)
        return 0;
    snprintf(errbuf, errsize, "kafka.properties: %s", kerr);
    return -1;
}

/* syncline's own settings per role; the file's properties override them. */
static int kafka_conf_defaults(rd_kafka_conf_t *conf, const config_t *cfg, kafka_conf_role_t role,
                               char *errbuf, size_t errsize)
{
    char group[300];
    snprintf(group, sizeof(group), "syncline.%s", cfg->name);
    /* keepalives: a dead broker host is noticed on an idle connection too */
    static const char *const producer[] = {"enable.idempotence",      "true", "acks",      "all",
                                           "compression.codec",       "lz4",  "linger.ms", "5",
                                           "socket.keepalive.enable", "true", NULL};
    /* Layout syncline: one request in flight keeps the partition's order
     * across retries, and apply drops a message a retry wrote twice (by
     * commit LSN and seq, as what a restarted capture sends again). Not the
     * idempotent producer: librdkafka 2.0 counts its messages against its 5
     * requests in flight, so with 5 messages out it sends nothing more and
     * its broker thread polls without sleeping until the broker answers
     * (bench/README.md, issue 18). The debezium layout keeps it: a Debezium
     * transaction counts its changes, which a copy would throw off. */
    static const char *const producer_syncline[] = {"enable.idempotence",
                                                    "false",
                                                    "max.in.flight",
                                                    "1",
                                                    "acks",
                                                    "all",
                                                    "compression.codec",
                                                    "lz4",
                                                    "linger.ms",
                                                    "5",
                                                    "socket.keepalive.enable",
                                                    "true",
                                                    NULL};
    /* auto.offset.reset "error": a stored offset deleted from the topic is a
     * gap apply reports, never a jump to either end.
     * fetch.error.backoff.ms is also the pause after reaching a partition's
     * end: librdkafka's 500 ms would hold apply back whenever it caught up */
    static const char *const consumer[] = {"enable.auto.commit",
                                           "false",
                                           "enable.auto.offset.store",
                                           "false",
                                           "auto.offset.reset",
                                           "error",
                                           "session.timeout.ms",
                                           "10000",
                                           "enable.partition.eof",
                                           "false",
                                           "socket.keepalive.enable",
                                           "true",
                                           "fetch.error.backoff.ms",
                                           "10",
                                           NULL};
    int syncline_layout = cfg->kafka.layout == NULL || strcmp(cfg->kafka.layout, "syncline") == 0;
    const char *const *kv = role == KAFKA_CONF_CONSUMER ? consumer
                            : syncline_layout           ? producer_syncline
                                                        : producer;
    if (kafka_conf_set(conf, "bootstrap.servers", cfg->kafka.brokers, errbuf, errsize) != 0)
        return -1;
    if (role == KAFKA_CONF_CONSUMER && kafka_conf_set(conf, "group.id", group, errbuf, errsize))
        return -1;
    for (int i = 0; kv[i] != NULL; i += 2) {
        if (kafka_conf_set(conf, kv[i], kv[i + 1], errbuf, errsize) != 0)
            return -1;
    }
    return 0;
}

rd_kafka_t *kafka_conf_client(const config_t *cfg, kafka_conf_role_t role, void *opaque,
                              void (*setup)(rd_kafka_conf_t *conf), err_t *err, char *errbuf,
                              size_t errsize)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    *err = ERR_CONFIG;
    int rc = kafka_conf_defaults(conf, cfg, role, errbuf, errsize);
    for (int i = 0; rc == 0 && i < cfg->kafka.nproperties; i++) {
        /* a reset would skip deleted messages silently: apply stops on that gap */
        if (strcmp(cfg->kafka.property_keys[i], "auto.offset.reset") == 0) {
            snprintf(errbuf, errsize,
                     "kafka.properties.auto.offset.reset: syncline never resets offsets "
                     "automatically (apply stops on missing messages); remove it");
            rc = -1;
            break;
        }
        rc = kafka_conf_set(conf, cfg->kafka.property_keys[i], cfg->kafka.property_values[i],
                            errbuf, errsize);
    }
    if (rc != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, kafka_conf_log);
    rd_kafka_conf_set_error_cb(conf, kafka_conf_error);
    rd_kafka_conf_set_opaque(conf, opaque);
    if (setup != NULL)
        setup(conf);
    char kerr[512];
    rd_kafka_t *rk =
        rd_kafka_new(role == KAFKA_CONF_PRODUCER ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, conf,
                     kerr, sizeof(kerr));
    if (rk == NULL) { /* conf is still ours on failure */
        rd_kafka_conf_destroy(conf);
        snprintf(errbuf, errsize, "kafka client: %s", kerr);
        return NULL;
    }
    *err = ERR_OK;
    return rk;
}

err_t kafka_conf_classify(rd_kafka_resp_err_t kerr)
{
    switch (kerr) {
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
        return ERR_CONNECT;
    default:
        return ERR_RUNTIME;
    }
}

err_t kafka_conf_partitions(rd_kafka_t *rk, const char *topic, int *npartitions, char *errbuf,
                            size_t errsize)
{
    const struct rd_kafka_metadata *md;
    /* all topics: asking for one would auto-create it on brokers that allow that */
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    *npartitions = 0;
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errbuf, errsize, "kafka metadata (topic %s): %s", topic, rd_kafka_err2str(kerr));
        return ERR_CONNECT;
    }
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, topic) == 0 &&
            md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            *npartitions = md->topics[i].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    return ERR_OK;
}

static err_t kafka_conf_create(rd_kafka_t *rk, const char *topic, int partitions, int compact,
                               char *errbuf, size_t errsize)
{
    char kerr[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, -1, kerr, sizeof(kerr));
    if (nt == NULL) {
        snprintf(errbuf, errsize, "kafka create topic %s: %s", topic, kerr);
        return ERR_RUNTIME;
    }
    if (compact)
        rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    err_t err = ERR_OK;
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    size_t n = 0;
    const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
    rd_kafka_resp_err_t terr = ev == NULL ? RD_KAFKA_RESP_ERR__TIMED_OUT
                               : n > 0    ? rd_kafka_topic_result_error(tr[0])
                                          : rd_kafka_event_error(ev);
    if (terr != RD_KAFKA_RESP_ERR_NO_ERROR && terr != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        snprintf(errbuf, errsize, "kafka create topic %s: %s", topic, rd_kafka_err2str(terr));
        err = kafka_conf_classify(terr);
    } else if (terr == RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_info("kafka topic created topic=%s partitions=%d%s", topic, partitions,
                 compact ? " cleanup.policy=compact" : "");
    }
    if (ev != NULL)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return err;
}

err_t kafka_conf_ensure_topic(rd_kafka_t *rk, const char *topic, int partitions, int compact,
                              int *npartitions, char *errbuf, size_t errsize)
{
    err_t err = kafka_conf_partitions(rk, topic, npartitions, errbuf, errsize);
    if (err != ERR_OK || *npartitions > 0)
        return err;
    err = kafka_conf_create(rk, topic, partitions, compact, errbuf, errsize);
    /* the new topic's metadata reaches the brokers' caches a moment later */
    for (int i = 0; err == ERR_OK && *npartitions == 0 && i < 100; i++) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        err = kafka_conf_partitions(rk, topic, npartitions, errbuf, errsize);
    }
    if (err == ERR_OK && *npartitions == 0) {
        snprintf(errbuf, errsize, "kafka topic %s: created but not visible after 10 s", topic);
        err = ERR_CONNECT;
    }
    return err;
}
