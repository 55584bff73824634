/*
 * kafka_consumer: what apply's two consumers (kafka_source,
 * kafka_dbz_source) do alike: stored offsets and gaps, the offsets a commit
 * covers, assignment and rebalances, one message read with its consumer
 * errors, a decoded change to the sink.
 */
#include "kafka/kafka_consumer.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "kafka/kafka_conf.h"

int64_t kafka_consumer_stored_in(const sink_offset_t *stored, int n, int32_t partition)
{
    for (int i = 0; i < n; i++) {
        if (stored[i].partition == partition)
            return stored[i].next_offset;
    }
    return -1;
}

err_t kafka_consumer_stored(const sink_t *target, const char *topic, int32_t partition,
                            int64_t *next, char *errbuf, size_t errsize)
{
    sink_offset_t *stored;
    int n;
    *next = -1;
    err_t err = target->ops->offsets(target->ctx, topic, &stored, &n, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    *next = kafka_consumer_stored_in(stored, n, partition);
    free(stored);
    return ERR_OK;
}

/* Jumping to the low watermark (what auto.offset.reset would do) would hide
 * the loss, so apply stops. */
err_t kafka_consumer_gap(const char *topic, int32_t partition, int64_t stored, int64_t low,
                         char *errbuf, size_t errsize)
{
    snprintf(errbuf, errsize,
             "kafka gap topic=%s partition=%d stored_offset=%lld low_watermark=%lld: the "
             "messages from the stored offset on were deleted from the topic (retention or "
             "deleteRecords) before apply read them, so the target misses their changes; no "
             "offset is reset: the target must be copied again",
             topic, (int)partition, (long long)stored, (long long)low);
    return ERR_SOURCE;
}

err_t kafka_consumer_check(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t stored,
                           int64_t *low, char *errbuf, size_t errsize)
{
    int64_t hi;
    rd_kafka_resp_err_t kerr =
        rd_kafka_query_watermark_offsets(rk, topic, partition, low, &hi, 10000);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errbuf, errsize, "kafka watermarks topic=%s partition=%d: %s", topic,
                 (int)partition, rd_kafka_err2str(kerr));
        return kafka_conf_classify(kerr);
    }
    if (stored >= 0 && stored < *low)
        return kafka_consumer_gap(topic, partition, stored, *low, errbuf, errsize);
    return ERR_OK;
}

err_t kafka_consumer_offsets(sink_offset_t **offs, int n, kafka_consumer_offset_fn at,
                             const void *arg, sink_position_t *pos, char *errbuf, size_t errsize)
{
    sink_offset_t *o = realloc(*offs, (size_t)(n + 1) * sizeof(*o));
    if (o == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    *offs = o;
    int k = 0;
    for (int i = 0; i < n; i++)
        k += at(arg, i, &o[k]);
    pos->offsets = o;
    pos->noffsets = k;
    return ERR_OK;
}

/* A message carrying a consumer error (kafka_consumer_poll); stored: where
 * the partition stood, -1: m's offset. */
static err_t kafka_consumer_error(rd_kafka_t *rk, const rd_kafka_message_t *m, int64_t stored,
                                  rd_kafka_resp_err_t *last, char *errbuf, size_t errsize)
{
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
        const char *topic = m->rkt != NULL ? rd_kafka_topic_name(m->rkt) : "?";
        int64_t lo = -1, hi;
        if (m->rkt != NULL)
            rd_kafka_query_watermark_offsets(rk, topic, m->partition, &lo, &hi, 10000);
        return kafka_consumer_gap(topic, m->partition, stored >= 0 ? stored : m->offset, lo, errbuf,
                                  errsize);
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || m->err == *last)
        return ERR_OK;
    *last = m->err;
    log_warn("kafka consumer error=%s reason=%s", rd_kafka_err2name(m->err),
             rd_kafka_message_errstr(m));
    return ERR_OK;
}

int kafka_consumer_poll(rd_kafka_t *rk, kafka_consumer_reader_t *r, int wait_ms, err_t *err,
                        char *errbuf, size_t errsize)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, wait_ms);
    if (*r->cb_err != ERR_OK) {
        *err = *r->cb_err;
    } else if (m != NULL && m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        int64_t stored = m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ? r->stored(r->arg, m) : -1;
        *err = kafka_consumer_error(rk, m, stored, &r->last_err, errbuf, errsize);
    } else if (m != NULL) {
        *err = r->handle(r->arg, m);
    }
    if (m != NULL) {
        rd_kafka_message_destroy(m);
        if (r->quiet_since != NULL)
            *r->quiet_since = 0;
    }
    return *err != ERR_OK ? -1 : m != NULL;
}

/* A failed query leaves BEGINNING as it was. */
static void kafka_consumer_resolve_beginning(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *list)
{
    for (int i = 0; i < list->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &list->elems[i];
        int64_t lo, hi;
        if (tp->offset == RD_KAFKA_OFFSET_BEGINNING &&
            rd_kafka_query_watermark_offsets(rk, tp->topic, tp->partition, &lo, &hi, 5000) ==
                RD_KAFKA_RESP_ERR_NO_ERROR)
            tp->offset = lo;
    }
}

err_t kafka_consumer_assign(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *list, int *first_done,
                            int timestamps, char *errbuf, size_t errsize)
{
    if (!*first_done && timestamps)
        rd_kafka_offsets_for_times(rk, list, 10000);
    *first_done = 1;
    kafka_consumer_resolve_beginning(rk, list);
    for (int i = 0; i < list->cnt; i++)
        log_info("kafka assigned topic=%s partition=%d offset=%lld", list->elems[i].topic,
                 (int)list->elems[i].partition, (long long)list->elems[i].offset);
    rd_kafka_resp_err_t kerr = rd_kafka_assign(rk, list);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errbuf, errsize, "kafka assign topic=%s: %s",
                 list->cnt > 0 ? list->elems[0].topic : "-", rd_kafka_err2str(kerr));
        return ERR_RUNTIME;
    }
    return ERR_OK;
}

static void kafka_consumer_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t kerr,
                                     rd_kafka_topic_partition_list_t *list, void *opaque)
{
    kafka_consumer_rebalance_t *rb = opaque;
    (void)rk;
    if (kerr == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS && *rb->cb_err == ERR_OK)
        *rb->cb_err = rb->assign(rb->arg, list);
    else
        rb->revoke(rb->arg);
}

void kafka_consumer_setup(rd_kafka_conf_t *conf)
{
    rd_kafka_conf_set_rebalance_cb(conf, kafka_consumer_rebalance);
}

const change_relation_t *kafka_consumer_relation(relcache_t *rels, const sink_t *snk, event_t *ev,
                                                 lsn_t lsn, err_t *err, char *errbuf,
                                                 size_t errsize)
{
    uint32_t relid = ev->rel->relid;
    const change_relation_t *cur = relcache_get(rels, relid);
    *err = ERR_OK;
    if (cur != NULL && event_relation_equal(cur, ev->rel))
        return cur;
    const char *twice = change_relation_duplicate(ev->rel);
    if (twice != NULL) { /* the readers would each pick one of its values */
        snprintf(errbuf, errsize,
                 "the message describes table %s.%s with column \"%s\" twice: no table has "
                 "that; nothing of its transaction is applied",
                 ev->rel->nspname, ev->rel->relname, twice);
        *err = ERR_SCHEMA;
        return NULL;
    }
    change_relation_t *old = NULL;
    int rc = relcache_replace(rels, ev->rel, &old);
    ev->rel = NULL;
    if (rc != 0) {
        snprintf(errbuf, errsize, "out of memory");
        *err = ERR_RUNTIME;
        return NULL;
    }
    cur = relcache_get(rels, relid);
    *err = snk->ops->relation(snk->ctx, cur, lsn, errbuf, errsize);
    change_relation_free(old); /* after: the sink (collapse) may still hold rows of it */
    return *err == ERR_OK ? cur : NULL;
}

void kafka_consumer_applied(const batch_t *b, lsn_t *applied_lsn, metrics_t *metrics)
{
    *applied_lsn = b->durable;
    if (metrics == NULL) /* metrics */
        return;
    /* as seen from the stream: nothing consumed is pending after a commit */
    int64_t t = b->commit_time;
    double age = t ? (double)(lsn_pgtime_now() - t) / 1e6 : 0;
    metrics_position(metrics, b->durable, 0, age);
}
