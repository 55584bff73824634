/*
 * kafka_consumer: the consumer parts both `apply` feeds share (kafka_source
 * for the syncline layout, kafka_dbz_source for the debezium layout): offsets
 * stored in the target and those a commit covers, the low-watermark gap
 * check, assignment, the rebalance callback, one message read with its
 * consumer errors, and a decoded change to the sink.
 */
#ifndef SYNCLINE_KAFKA_CONSUMER_H
#define SYNCLINE_KAFKA_CONSUMER_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"
#include "core/change.h"
#include "core/err.h"
#include "core/lsn.h"
#include "core/metrics.h"
#include "core/relcache.h"
#include "core/sink.h"
#include "event/event.h"

/* ---- offsets and gaps ------------------------------------------------------ */

/* The offset stored[0..n) holds for partition; -1: none. */
int64_t kafka_consumer_stored_in(const sink_offset_t *stored, int n, int32_t partition);

/* The offset the target stored for (topic, partition) into *next (-1: none). */
err_t kafka_consumer_stored(const sink_t *target, const char *topic, int32_t partition,
                            int64_t *next, char *errbuf, size_t errsize);

/* A stored offset below the partition's low watermark: the messages from it
 * on were deleted before apply read them. Always ERR_SOURCE, errbuf says so. */
err_t kafka_consumer_gap(const char *topic, int32_t partition, int64_t stored, int64_t low,
                         char *errbuf, size_t errsize);

/* Queries the partition's low watermark into *low; a stored offset (>= 0;
 * -1: none) below it is a gap (kafka_consumer_gap). */
err_t kafka_consumer_check(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t stored,
                           int64_t *low, char *errbuf, size_t errsize);

/* The offsets a commit covers, into pos: entry i of n (at: 1 with *o set
 * when its offset moved and is known, else 0) into *offs, grown here (the
 * caller frees it; pos points into it until the next call). */
typedef int (*kafka_consumer_offset_fn)(const void *arg, int i, sink_offset_t *o);
err_t kafka_consumer_offsets(sink_offset_t **offs, int n, kafka_consumer_offset_fn at,
                             const void *arg, sink_position_t *pos, char *errbuf, size_t errsize);

/* ---- assignment ------------------------------------------------------------- */

/*
 * Assigns list, its offsets chosen: on the first assignment (*first_done 0,
 * set here) of --from-timestamp (timestamps), turns them from times into
 * offsets; "the beginning" is
 * resolved to the low watermark here (left to librdkafka, the query is often
 * made before the partition's leader is known and retried only 500 ms
 * later); each partition is logged.
 */
err_t kafka_consumer_assign(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *list, int *first_done,
                            int timestamps, char *errbuf, size_t errsize);

/* What a group consumer does when partitions come and go. */
typedef struct kafka_consumer_rebalance {
    err_t (*assign)(void *arg, rd_kafka_topic_partition_list_t *list);
    void (*revoke)(void *arg); /* sets *cb_err itself, and unassigns */
    void *arg;
    err_t *cb_err; /* the first error inside the callback; none is assigned after it */
} kafka_consumer_rebalance_t;

/* Sets the rebalance callback; the client's opaque is a
 * kafka_consumer_rebalance_t (kafka_conf_client's opaque). */
void kafka_consumer_setup(rd_kafka_conf_t *conf);

/* ---- reading ---------------------------------------------------------------- */

/* A feed's part in kafka_consumer_poll. */
typedef struct kafka_consumer_reader {
    /* Handles m, which carries no consumer error (errbuf says why not). */
    err_t (*handle)(void *arg, const rd_kafka_message_t *m);
    /* Where m's partition stood (its next offset to store; -1: unknown), to
     * name a gap from when its offset is out of range. */
    int64_t (*stored)(void *arg, const rd_kafka_message_t *m);
    void *arg;
    const err_t *cb_err;          /* the rebalance callback's error: returned as it is */
    int64_t *quiet_since;         /* NULL, or set to 0 when a message arrives */
    rd_kafka_resp_err_t last_err; /* the consumer error logged last (logged once) */
} kafka_consumer_reader_t;

/*
 * Waits up to wait_ms for one message and hands it to r (applier_feed_t's
 * poll): 1 handled, 0 nothing arrived, -1 error (*err, errbuf). A consumer
 * error is not the feed's: an offset out of range (auto.offset.reset is
 * "error": messages deleted under apply while it ran) is a gap from where the
 * partition stood; anything else is logged once and apply goes on.
 */
int kafka_consumer_poll(rd_kafka_t *rk, kafka_consumer_reader_t *r, int wait_ms, err_t *err,
                        char *errbuf, size_t errsize);

/* ---- applying -------------------------------------------------------------- */

/* The relation as the sink knows it; describes it again (at lsn) when it
 * changed. Takes ev->rel. */
const change_relation_t *kafka_consumer_relation(relcache_t *rels, const sink_t *snk, event_t *ev,
                                                 lsn_t lsn, err_t *err, char *errbuf,
                                                 size_t errsize);

/* The target made durable up to b->durable: the applied position and, with
 * metrics, the lag (the age of the newest applied source commit). */
void kafka_consumer_applied(const batch_t *b, lsn_t *applied_lsn, metrics_t *metrics);

#endif
