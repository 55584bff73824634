/*
 * pg_target: the PostgreSQL target connector. Applies changes as a sink_t:
 * prepared statements per (table, operation, column set) sent in libpq
 * pipeline mode, several source transactions per target transaction,
 * progress (pg_progress) written in the same transaction.
 */
#ifndef SYNCLINE_PG_TARGET_H
#define SYNCLINE_PG_TARGET_H

#include <libpq-fe.h>
#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "core/lsn.h"
#include "core/sink.h"
#include "pg/pg_ddl.h"

typedef struct pg_target pg_target_t;

/* Connects. Caller frees with pg_target_free. */
pg_target_t *pg_target_open(const config_t *cfg, err_t *err, char *errbuf, size_t errsize);
void pg_target_free(pg_target_t *pt);

/* The Kafka consumer offsets stored for this configuration and topic:
 * *offsets is malloc'd (caller frees; .topic points to topic), *n entries.
 * Call it with no target transaction open. What it read becomes the fence of
 * the topic's offset writes (pg_progress_queue_offset): a partition's next
 * commit applies only while its row still holds what was read or written
 * since. */
err_t pg_target_read_offsets(pg_target_t *pt, const char *topic, sink_offset_t **offsets, int *n,
                             char *errbuf, size_t errsize);

/* ERR_SCHEMA unless the target table mapped from source schema.name exists
 * (tables marked skip pass). */
err_t pg_target_check_table(pg_target_t *pt, const char *schema, const char *name, char *errbuf,
                            size_t errsize);

/* Why the relation described last under relid cannot be applied (no target
 * table, not listed), or NULL. The sink's relation op accepts such a
 * relation, since only a change of it is an error (the leaf partitions of a
 * table published via its root never carry one); checks ask here. Borrowed:
 * valid until the relation is described again or pt is freed. */
const char *pg_target_unusable(pg_target_t *pt, uint32_t relid);

/* Rows sent by COPY (runs of inserts, pg_target_copy) since pt was made. */
unsigned long long pg_target_rows_copied(const pg_target_t *pt);

/* The progress row holds applied, which the stream starts from: every
 * progress write of this session then applies only while the row still holds
 * what the session read or wrote last, so a transaction applied by another
 * session in between (a late COMMIT of a lost connection) fails the batch
 * instead of being applied twice. */
void pg_target_fence(pg_target_t *pt, lsn_t applied);

/* The DDL at lsn was applied on the target by hand (run --ddl-applied):
 * the stream skips it instead of stopping on it again. */
void pg_target_set_ddl_applied(pg_target_t *pt, lsn_t lsn);

/* The key the source's DDL messages are checked with (pg_ddl_key_load); until
 * set, every DDL message stops the stream. */
void pg_target_set_ddl_key(pg_target_t *pt, const pg_ddl_key_t *key);

/* The applier as a sink_t (valid while pt lives). */
sink_t pg_target_sink(pg_target_t *pt);

/* The target session, for pg_progress's reads and writes outside a
 * transaction of the sink (borrowed). */
PGconn *pg_target_conn(pg_target_t *pt);

/* The target's server_version_num (pg_version.h). */
int pg_target_server_version(const pg_target_t *pt);

#endif
