/*
 * kafka_order: where a change message goes and what it follows, shared by
 * both capture layouts: the partition of a key, and per partition the chain
 * of source transactions produced into it this session (each message names
 * its predecessor, so apply can tell a gap from a re-send).
 */
#ifndef SYNCLINE_KAFKA_ORDER_H
#define SYNCLINE_KAFKA_ORDER_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "core/lsn.h"

/* Per partition: the transactions produced into it in this session. */
typedef struct kafka_order_chain {
    lsn_t last; /* commit LSN of the newest; 0: none yet */
    lsn_t prev; /* the one before it; 0: none in this session */
} kafka_order_chain_t;

/* The partition of key among partitions of rkt (murmur2, as the Java
 * client); 0 for a NULL key or a single partition. */
int32_t kafka_order_partition(rd_kafka_topic_t *rkt, int partitions, const char *key,
                              size_t keylen);

/* The predecessor of transaction commit_lsn in chain c (0: none in this
 * session), noting it as the newest. */
lsn_t kafka_order_step(kafka_order_chain_t *c, lsn_t commit_lsn);

#endif
