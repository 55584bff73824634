/*
 * kafka_lag: watermark queries on a consumer client that never subscribes
 * nor commits, so it does not disturb the apply group.
 */
#include "kafka/kafka_lag.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka/kafka_conf.h"

#define KAFKA_LAG_TIMEOUT_MS 5000

struct kafka_lag {
    const config_t *cfg;
    rd_kafka_t *rk;
};

kafka_lag_t *kafka_lag_open(const config_t *cfg, err_t *err, char *errbuf, size_t errsize)
{
    kafka_lag_t *kl = calloc(1, sizeof(*kl));
    if (kl == NULL) {
        *err = ERR_RUNTIME;
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    kl->cfg = cfg;
    kl->rk = kafka_conf_client(cfg, KAFKA_CONF_CONSUMER, kl, NULL, err, errbuf, errsize);
    if (kl->rk == NULL) {
        free(kl);
        return NULL;
    }
    return kl;
}

void kafka_lag_free(kafka_lag_t *kl)
{
    if (kl == NULL)
        return;
    rd_kafka_destroy(kl->rk);
    free(kl);
}

static int64_t kafka_lag_stored(const sink_offset_t *stored, int n, int32_t partition)
{
    for (int i = 0; i < n; i++) {
        if (stored[i].partition == partition)
            return stored[i].next_offset;
    }
    return -1;
}

static void kafka_lag_add_gap(kafka_lag_report_t *r, int32_t partition, int64_t stored, int64_t low)
{
    if (r->ngaps < KAFKA_LAG_MAX_GAPS)
        r->gaps[r->ngaps] = (kafka_lag_gap_t){partition, stored, low};
    r->ngaps++;
}

err_t kafka_lag_behind(kafka_lag_t *kl, const sink_offset_t *stored, int nstored,
                       kafka_lag_report_t *r, char *errbuf, size_t errsize)
{
    const char *topic = kl->cfg->kafka.topic;
    memset(r, 0, sizeof(*r));
    err_t err = kafka_conf_partitions(kl->rk, topic, &r->partitions, errbuf, errsize);
    for (int32_t p = 0; err == ERR_OK && p < r->partitions; p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t kerr =
            rd_kafka_query_watermark_offsets(kl->rk, topic, p, &lo, &hi, KAFKA_LAG_TIMEOUT_MS);
        if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(errbuf, errsize, "kafka watermarks topic=%s partition=%d: %s", topic, (int)p,
                     rd_kafka_err2str(kerr));
            return kafka_conf_classify(kerr);
        }
        int64_t next = kafka_lag_stored(stored, nstored, p);
        if (next >= 0 && next < lo)
            kafka_lag_add_gap(r, p, next, lo);
        else if (next < lo)
            next = lo;
        if (hi > next)
            r->behind += hi - next;
    }
    return err;
}
