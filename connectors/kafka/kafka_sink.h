/*
 * kafka_sink: the sink of `syncline capture`: every change becomes one Kafka
 * message (event.h), produced by an idempotent producer with acks=all. The
 * sink's commit returns only once the broker acknowledged every message, so
 * the apply loop confirms to the slot only what Kafka holds.
 */
#ifndef SYNCLINE_KAFKA_SINK_H
#define SYNCLINE_KAFKA_SINK_H

#include <signal.h>
#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "core/sink.h"
#include "core/source.h"

typedef struct kafka_sink kafka_sink_t;

typedef struct kafka_sink_opts {
    int partitions;              /* partitions of the topic when capture creates it */
    volatile sig_atomic_t *stop; /* stop waiting for acknowledgements (returns an error) */
    /* Layout debezium: the primary key columns of a relation whose replica
     * identity is not its primary key (Debezium keys by the primary key);
     * *cols malloc'd strings in a malloc'd array. NULL: keys are the identity. */
    err_t (*primary_key)(void *ctx, uint32_t relid, char ***cols, int *n, char *errbuf,
                         size_t errsize);
    void *primary_key_ctx;
} kafka_sink_opts_t;

/* Connects the producer, makes sure the topic (and for Avro the schema
 * topic, with the writer schema) exists. Caller frees with kafka_sink_free. */
kafka_sink_t *kafka_sink_new(const config_t *cfg, const kafka_sink_opts_t *opts, err_t *err,
                             char *errbuf, size_t errsize);

/* Waits (up to 10 s) for what is in flight, then destroys the producer. */
void kafka_sink_free(kafka_sink_t *ks);

/* The sink_t (valid while ks lives). */
sink_t kafka_sink_sink(kafka_sink_t *ks);

/*
 * Wraps the source stream the apply loop reads, so that the producer serves
 * its delivery reports while the stream flows. inner must outlive ks.
 */
source_t kafka_sink_source(kafka_sink_t *ks, const source_t *inner);

#endif
