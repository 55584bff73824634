/*
 * kafka_source: the consumer of `syncline apply`. Reads the change stream
 * from Kafka and drives a target sink (core/sink.h) with whole
 * source transactions, storing the consumer offsets in the target in the
 * same transaction as the rows: the target, not Kafka, owns the offsets.
 */
#ifndef SYNCLINE_KAFKA_SOURCE_H
#define SYNCLINE_KAFKA_SOURCE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/metrics.h"
#include "core/err.h"
#include "core/lsn.h"
#include "core/sink.h"
#include "core/hold.h"

typedef enum kafka_source_from {
    KAFKA_SOURCE_FROM_STORED,    /* the offsets stored in the target (default) */
    KAFKA_SOURCE_FROM_BEGINNING, /* --from-beginning */
    KAFKA_SOURCE_FROM_OFFSET,    /* --from-offset N, every partition */
    KAFKA_SOURCE_FROM_TIMESTAMP, /* --from-timestamp T (ms since 1970) */
} kafka_source_from_t;

typedef struct kafka_source_opts {
    kafka_source_from_t from; /* applies to the first assignment only */
    int64_t from_value;       /* offset or timestamp (ms) */
    const char *dead_letter;  /* topic for undecodable messages, NULL: stop on them */
    volatile sig_atomic_t *stop;
    metrics_t *metrics;          /* optional: batches and the applied position are counted there */
    const hold_verifier_t *hold; /* optional: an online verify's hold point (one partition) */
} kafka_source_opts_t;

typedef struct kafka_source_stats {
    uint64_t messages; /* consumed */
    uint64_t rows;     /* applied row changes */
    uint64_t skipped;  /* already applied (duplicates, replays) */
    uint64_t dead;     /* sent to the dead-letter topic */
    uint64_t batches;  /* target transactions */
    lsn_t applied_lsn;
} kafka_source_stats_t;

/*
 * Consumes until *opts->stop is set (ERR_OK) or an error: ERR_RUNTIME for a
 * poison message (errbuf names topic, partition, offset and reason), apply
 * errors as the sink reports them. The sink's target must have its progress
 * row (applied is its applied_lsn) and the sink must keep offsets.
 */
err_t kafka_source_run(const config_t *cfg, const kafka_source_opts_t *opts, const sink_t *target,
                       lsn_t applied, kafka_source_stats_t *stats, char *errbuf, size_t errsize);

#endif
