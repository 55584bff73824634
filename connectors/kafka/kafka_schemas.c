/*
 * kafka_schemas: reading <topic>.schemas.
 *
 * Design. One consumer per apply session stays assigned to every partition
 * of the topic from its beginning; a refresh queries each partition's high
 * watermark and consumes until the partition's next offset reaches it.
 * Whatever capture published before the message that sent us here is below
 * that mark, because capture waits for the broker's acknowledgement of a
 * schema before it produces a message using it. Compaction never removes a
 * partition's last record, so the mark is always reached. Reading on from
 * where the last refresh stopped keeps a stream of new relations (each one
 * an unknown fingerprint) linear in the topic's size.
 *
 * A fetch waits at most KAFKA_SCHEMAS_FETCH_WAIT on the broker for data: a
 * broker answers the requests of one connection in order, so the watermark
 * query of the next refresh would otherwise wait behind a fetch parked for
 * librdkafka's default fetch.wait.max.ms (500 ms), which stalled apply at
 * every new relation.
 *
 * Between refreshes the partitions are paused: otherwise the consumer would
 * go on fetching every KAFKA_SCHEMAS_FETCH_WAIT ms for as long as apply runs,
 * about 50 empty fetches a second (measured: 9% of a core of the broker's
 * CPU for one idle apply). A refresh resumes them, and fetching goes on
 * from where the last one stopped.
 */
#include "kafka/kafka_schemas.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "kafka/kafka_conf.h"
#include "core/log.h"

#define KAFKA_SCHEMAS_TIMEOUT_MS 30000
#define KAFKA_SCHEMAS_FETCH_WAIT "20" /* ms a fetch may wait on the broker for data */

struct kafka_schemas {
    rd_kafka_t *rk;
    char topic[300];
    int npartitions; /* assigned; 0 until the topic exists */
    int64_t *next;   /* per partition: the offset after the last record read */
    int total;       /* schemas added so far */
};

void kafka_schemas_topic(const char *topic, char *out, size_t size)
{
    snprintf(out, size, "%s.schemas", topic);
}

static void kafka_schemas_setup(rd_kafka_conf_t *conf)
{
    char kerr[256];
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", kerr, sizeof(kerr));
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", KAFKA_SCHEMAS_FETCH_WAIT, kerr, sizeof(kerr));
}

kafka_schemas_t *kafka_schemas_new(const config_t *cfg, err_t *err, char *errbuf, size_t errsize)
{
    kafka_schemas_t *ksc = calloc(1, sizeof(*ksc));
    if (ksc == NULL) {
        *err = ERR_RUNTIME;
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    kafka_schemas_topic(cfg->kafka.topic, ksc->topic, sizeof(ksc->topic));
    ksc->rk = kafka_conf_client(cfg, KAFKA_CONF_CONSUMER, NULL, kafka_schemas_setup, err, errbuf,
                                errsize);
    if (ksc->rk == NULL) {
        free(ksc);
        return NULL;
    }
    return ksc;
}

void kafka_schemas_free(kafka_schemas_t *ksc)
{
    if (ksc == NULL)
        return;
    rd_kafka_consumer_close(ksc->rk);
    rd_kafka_destroy(ksc->rk);
    free(ksc->next);
    free(ksc);
}

/* One record: key = fingerprint (16 hex digits), value = schema JSON. */
static int kafka_schemas_add(kafka_schemas_t *ksc, event_codec_t *codec,
                             const rd_kafka_message_t *m)
{
    char key[17], why[256], *end;
    event_avro_ref_t ref = {0};
    if (m->key_len == 16 && m->payload != NULL) {
        memcpy(key, m->key, 16);
        key[16] = '\0';
        ref.fingerprint = strtoull(key, &end, 16);
        if (*end == '\0' &&
            event_codec_add_schema(codec, m->payload, m->len, &ref, why, sizeof(why)) == 0)
            return 1;
    } else {
        snprintf(why, sizeof(why), "key is not a fingerprint (16 hex digits) or value is empty");
    }
    log_warn("schema record skipped topic=%s partition=%d offset=%lld reason=%s", ksc->topic,
             (int)m->partition, (long long)m->offset, why);
    return 0;
}

/* Partitions 0..n-1 of the topic, each at offset; NULL when out of memory.
 * The caller destroys it. */
static rd_kafka_topic_partition_list_t *kafka_schemas_list(const kafka_schemas_t *ksc, int n,
                                                           int64_t offset)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; list != NULL && p < n; p++)
        rd_kafka_topic_partition_list_add(list, ksc->topic, p)->offset = offset;
    return list;
}

/* Assigns every partition from its beginning once the topic exists. */
static err_t kafka_schemas_assign(kafka_schemas_t *ksc, char *errbuf, size_t errsize)
{
    int n = 0;
    err_t err = kafka_conf_partitions(ksc->rk, ksc->topic, &n, errbuf, errsize);
    if (err != ERR_OK || n == 0)
        return err;
    ksc->next = calloc((size_t)n, sizeof(*ksc->next));
    rd_kafka_topic_partition_list_t *list = kafka_schemas_list(ksc, n, RD_KAFKA_OFFSET_BEGINNING);
    if (ksc->next == NULL || list == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        err = ERR_RUNTIME;
    }
    rd_kafka_resp_err_t kerr = err == ERR_OK ? rd_kafka_assign(ksc->rk, list) : 0;
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errbuf, errsize, "kafka assign topic=%s: %s", ksc->topic, rd_kafka_err2str(kerr));
        err = ERR_RUNTIME;
    }
    if (err == ERR_OK)
        ksc->npartitions = n;
    if (list != NULL)
        rd_kafka_topic_partition_list_destroy(list);
    return err;
}

/* The high watermarks, into high[]; the number of partitions not read up to theirs. */
static err_t kafka_schemas_marks(kafka_schemas_t *ksc, int64_t *high, int *behind, char *errbuf,
                                 size_t errsize)
{
    *behind = 0;
    for (int p = 0; p < ksc->npartitions; p++) {
        int64_t lo = 0;
        rd_kafka_resp_err_t kerr =
            rd_kafka_query_watermark_offsets(ksc->rk, ksc->topic, p, &lo, &high[p], 10000);
        if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(errbuf, errsize, "kafka watermarks topic=%s partition=%d: %s", ksc->topic, p,
                     rd_kafka_err2str(kerr));
            return kafka_conf_classify(kerr);
        }
        if (ksc->next[p] < lo)
            ksc->next[p] = lo; /* compacted or expired below lo */
        *behind += ksc->next[p] < high[p];
    }
    return ERR_OK;
}

/* Consumes until every partition's next offset reached high[]. */
static err_t kafka_schemas_consume(kafka_schemas_t *ksc, event_codec_t *codec, const int64_t *high,
                                   int behind, int *added, char *errbuf, size_t errsize)
{
    int64_t deadline = clock_ms() + KAFKA_SCHEMAS_TIMEOUT_MS;
    while (behind > 0) {
        if (clock_ms() > deadline) {
            snprintf(errbuf, errsize, "kafka topic=%s: not read to its end within %d s", ksc->topic,
                     KAFKA_SCHEMAS_TIMEOUT_MS / 1000);
            return ERR_CONNECT;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(ksc->rk, 200);
        if (m == NULL)
            continue;
        int p = m->partition;
        bool ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR,
             eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
        if ((ok || eof) && p >= 0 && p < ksc->npartitions) {
            bool was_behind = ksc->next[p] < high[p];
            if (ok)
                *added += kafka_schemas_add(ksc, codec, m);
            ksc->next[p] = ok ? m->offset + 1 : m->offset;
            behind -= was_behind && ksc->next[p] >= high[p];
        } else if (!ok && !eof) {
            log_warn("kafka consumer topic=%s error=%s", ksc->topic, rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    return ERR_OK;
}

/* Pauses (pause = 1) or resumes the fetching of every assigned partition. */
static err_t kafka_schemas_pause(kafka_schemas_t *ksc, int pause, char *errbuf, size_t errsize)
{
    rd_kafka_topic_partition_list_t *list =
        kafka_schemas_list(ksc, ksc->npartitions, RD_KAFKA_OFFSET_INVALID);
    if (list == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    rd_kafka_resp_err_t kerr = pause ? rd_kafka_pause_partitions(ksc->rk, list)
                                     : rd_kafka_resume_partitions(ksc->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errbuf, errsize, "kafka %s topic=%s: %s", pause ? "pause" : "resume", ksc->topic,
                 rd_kafka_err2str(kerr));
        return ERR_RUNTIME;
    }
    return ERR_OK;
}

err_t kafka_schemas_refresh(kafka_schemas_t *ksc, event_codec_t *codec, char *errbuf,
                            size_t errsize)
{
    int added = 0, behind = 0;
    err_t err = ksc->npartitions == 0 ? kafka_schemas_assign(ksc, errbuf, errsize)
                                      : kafka_schemas_pause(ksc, 0, errbuf, errsize);
    if (err != ERR_OK || ksc->npartitions == 0) {
        if (err == ERR_OK)
            log_info("kafka schemas read topic=%s schemas=0 (no such topic yet)", ksc->topic);
        return err;
    }
    int64_t *high = calloc((size_t)ksc->npartitions, sizeof(*high));
    if (high == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    err = kafka_schemas_marks(ksc, high, &behind, errbuf, errsize);
    if (err == ERR_OK)
        err = kafka_schemas_consume(ksc, codec, high, behind, &added, errbuf, errsize);
    if (err == ERR_OK) /* nothing fetched until the next refresh */
        err = kafka_schemas_pause(ksc, 1, errbuf, errsize);
    free(high);
    ksc->total += added;
    if (err == ERR_OK)
        log_info("kafka schemas read topic=%s schemas=%d new=%d", ksc->topic, ksc->total, added);
    return err;
}
