/*
 * kafka_lag: the consumer lag of `syncline apply` in messages: per partition
 * of the topic, its high watermark minus the next offset the target stored
 * (syncline.kafka_offsets), summed. Read-only; used by `lag` in Kafka mode.
 */
#ifndef SYNCLINE_KAFKA_LAG_H
#define SYNCLINE_KAFKA_LAG_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/sink.h"

typedef struct kafka_lag kafka_lag_t;

/* A client for watermark queries. NULL with *err and errbuf set on failure.
 * Caller frees with kafka_lag_free. */
kafka_lag_t *kafka_lag_open(const config_t *cfg, err_t *err, char *errbuf, size_t errsize);
void kafka_lag_free(kafka_lag_t *kl);

/*
 * Messages in the topic not yet applied: sum over its partitions of the high
 * watermark minus the stored next offset (the low watermark when the target
 * stored none; never below 0). *partitions gets the topic's partition count.
 * Capture's idle heartbeats count as messages (apply stores past them).
 */
err_t kafka_lag_behind(kafka_lag_t *kl, const sink_offset_t *stored, int nstored, int64_t *behind,
                       int *partitions, char *errbuf, size_t errsize);

#endif
