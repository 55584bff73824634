/*
 * kafka_dbz_source: apply's consumer for kafka.layout "debezium": reads the
 * topics of a Debezium PostgreSQL connector (or of capture in that layout),
 * many at once, and hands whole source transactions to the target sink,
 * the offsets of every topic stored with the rows.
 */
#ifndef SYNCLINE_KAFKA_DBZ_SOURCE_H
#define SYNCLINE_KAFKA_DBZ_SOURCE_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "core/lsn.h"
#include "core/sink.h"
#include "kafka/kafka_source.h"

/* As kafka_source_run, for the debezium layout (no dead-letter topic). */
err_t kafka_dbz_source_run(const config_t *cfg, const kafka_source_opts_t *opts,
                           const sink_t *target, lsn_t applied, kafka_source_stats_t *stats,
                           char *errbuf, size_t errsize);

#endif
