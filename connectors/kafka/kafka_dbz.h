/*
 * kafka_dbz: the "debezium" layout of capture: a topic per table with
 * Debezium's change events (event_dbz.h), a tombstone after each delete, a
 * key change as delete + tombstone + create, transaction metadata in
 * <prefix>.transaction and heartbeats in __debezium-heartbeat.<prefix>.
 * Produces through the sink's send function, which counts every message in
 * the sink's batches, so the slot is confirmed only past acknowledged ones.
 */
#ifndef SYNCLINE_KAFKA_DBZ_H
#define SYNCLINE_KAFKA_DBZ_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "event/event.h"
#include "kafka/schema_registry.h"

typedef struct kafka_dbz kafka_dbz_t;

/* How the layout hands a message to the sink: value ownership passes (NULL
 * for a tombstone), key is copied; prev as KAFKA_PREV_HEADER (0: none). */
typedef struct kafka_dbz_out {
    err_t (*send)(void *ctx, rd_kafka_topic_t *rkt, int32_t partition, char *value, size_t len,
                  const char *key, size_t keylen, lsn_t prev, char *errbuf, size_t errsize);
    void *ctx;
} kafka_dbz_out_t;

/* Makes sure the transaction and heartbeat topics exist. rk is borrowed and
 * must outlive kd; partitions: of table topics capture creates; sr: Avro in
 * the Confluent wire format with this registry (borrowed, outlives kd), NULL
 * for JSON. NULL with errbuf (and *err) on failure. Free with kafka_dbz_free. */
kafka_dbz_t *kafka_dbz_new(rd_kafka_t *rk, const config_t *cfg, int partitions,
                           schema_registry_t *sr, err_t *err, char *errbuf, size_t errsize);
void kafka_dbz_free(kafka_dbz_t *kd);

/* The key struct of relid is its primary key cols[0..n) (copied). */
err_t kafka_dbz_primary_key(kafka_dbz_t *kd, uint32_t relid, char *const *cols, int n, char *errbuf,
                            size_t errsize);

/* A source transaction starts. */
void kafka_dbz_txn_begin(kafka_dbz_t *kd, const event_txn_t *txn);

/* One change (row or one relation of a TRUNCATE) of the transaction in hand. */
err_t kafka_dbz_change(kafka_dbz_t *kd, const change_row_t *row, const kafka_dbz_out_t *out,
                       char *errbuf, size_t errsize);

/* Its Commit: the END message (when the transaction had changes). */
err_t kafka_dbz_txn_end(kafka_dbz_t *kd, const kafka_dbz_out_t *out, char *errbuf, size_t errsize);

/* The transaction in hand is abandoned (its counts are dropped). */
void kafka_dbz_rollback(kafka_dbz_t *kd);

/* A heartbeat message: its topic, key and value (malloc'd, caller frees). */
err_t kafka_dbz_heartbeat(kafka_dbz_t *kd, rd_kafka_topic_t **rkt, char **key, size_t *keylen,
                          char **value, size_t *len, char *errbuf, size_t errsize);

/* The source database's name from a conninfo string (keyword/value or URI);
 * "" when it names none. Into buf. */
void kafka_dbz_dbname(const char *conninfo, char *buf, size_t size);

#endif
