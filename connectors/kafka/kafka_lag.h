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

#define KAFKA_LAG_MAX_GAPS 16

/* A partition whose stored next offset is below its low watermark: messages
 * apply never read were deleted (retention, deleteRecords). */
typedef struct kafka_lag_gap {
    int32_t partition;
    int64_t stored_offset;
    int64_t low_watermark;
} kafka_lag_gap_t;

typedef struct kafka_lag_report {
    int partitions; /* of the topic */
    int64_t behind; /* messages not yet applied */
    int ngaps;      /* partitions with a gap; the first KAFKA_LAG_MAX_GAPS in gaps */
    kafka_lag_gap_t gaps[KAFKA_LAG_MAX_GAPS];
} kafka_lag_report_t;

/*
 * Messages in the topic not yet applied: sum over its partitions of the high
 * watermark minus the stored next offset (the low watermark when the target
 * stored none; never below 0). A stored offset below the low watermark is a
 * gap: reported in r->gaps, and its deleted messages count as behind.
 * Capture's idle heartbeats count as messages (apply stores past them).
 */
err_t kafka_lag_behind(kafka_lag_t *kl, const sink_offset_t *stored, int nstored,
                       kafka_lag_report_t *r, char *errbuf, size_t errsize);

#endif
