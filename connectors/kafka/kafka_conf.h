/*
 * kafka_conf: what capture and apply share about librdkafka: client
 * configuration (syncline's defaults, then the file's kafka.properties
 * verbatim), logging into syncline's log, topic creation, error classes.
 */
#ifndef SYNCLINE_KAFKA_CONF_H
#define SYNCLINE_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

/* Header of capture's idle heartbeat messages (no value): the source LSN
 * everything before it in its partition stays below. */
#define KAFKA_HEARTBEAT_HEADER "syncline.heartbeat"
/* Their key: a compacted topic refuses keyless messages, and compaction then
 * keeps the newest heartbeat. No change has it (change keys are JSON arrays).
 * Heartbeats without a key (older captures) are read too. */
#define KAFKA_HEARTBEAT_KEY "syncline.heartbeat"
/* Header of every change message (and heartbeat): the commit LSN of the
 * transaction capture produced into the same partition before this one, in
 * source order. Absent: capture (re)started and produced none there yet; its
 * stream starts at the slot, after everything Kafka acknowledged. apply
 * checks the chain to find a missing or reordered transaction (kafka_source). */
#define KAFKA_PREV_HEADER "syncline.prev"

typedef enum kafka_conf_role {
    KAFKA_CONF_PRODUCER, /* acks=all, one request in flight */
    KAFKA_CONF_CONSUMER, /* group syncline.<name>, no auto commit */
} kafka_conf_role_t;

/* A new client of the given role; opaque is handed to its callbacks. NULL
 * with errbuf naming the offending property (ERR_CONFIG) on failure. */
rd_kafka_t *kafka_conf_client(const config_t *cfg, kafka_conf_role_t role, void *opaque,
                              void (*setup)(rd_kafka_conf_t *conf), err_t *err, char *errbuf,
                              size_t errsize);

/* Makes sure topic exists (creating it with partitions partitions, compacted
 * when compact) and returns its partition count in *npartitions. */
err_t kafka_conf_ensure_topic(rd_kafka_t *rk, const char *topic, int partitions, int compact,
                              int *npartitions, char *errbuf, size_t errsize);

/* The partition count of an existing topic (0 when it does not exist). */
err_t kafka_conf_partitions(rd_kafka_t *rk, const char *topic, int *npartitions, char *errbuf,
                            size_t errsize);

/* ERR_CONNECT for broker/transport failures worth retrying, else ERR_RUNTIME. */
err_t kafka_conf_classify(rd_kafka_resp_err_t kerr);

#endif
