/*
 * pg_target: the PostgreSQL target connector. Keeps the progress table and
 * applies changes as a sink_t: prepared statements per (table, operation,
 * column set) sent in libpq pipeline mode, several source transactions per
 * target transaction, progress written in the same transaction.
 */
#ifndef SYNCLINE_PG_TARGET_H
#define SYNCLINE_PG_TARGET_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "core/lsn.h"
#include "core/sink.h"

typedef struct pg_target pg_target_t;

typedef struct pg_target_progress {
    int exists;
    lsn_t applied_lsn;
    int publication_created;
    int copying;          /* the initial copy started and did not finish */
    char updated_at[64];  /* as text, "" when absent */
    char commit_time[64]; /* source commit time of the newest applied transaction */
} pg_target_progress_t;

/* Connects. Caller frees with pg_target_free. */
pg_target_t *pg_target_open(const config_t *cfg, err_t *err, char *errbuf, size_t errsize);
void pg_target_free(pg_target_t *pt);

/* Creates schema syncline and table syncline.progress when absent. */
err_t pg_target_ensure_progress_table(pg_target_t *pt, char *errbuf, size_t errsize);

/* Reads this configuration's progress row (exists = 0 when none or no table). */
err_t pg_target_read_progress(pg_target_t *pt, pg_target_progress_t *out, char *errbuf,
                              size_t errsize);

/* Inserts the progress row when absent; copying marks an initial copy in progress. */
err_t pg_target_init_progress(pg_target_t *pt, lsn_t applied, int publication_created, int copying,
                              char *errbuf, size_t errsize);

/* The Kafka consumer offsets stored for this configuration and topic:
 * *offsets is malloc'd (caller frees; .topic points to topic), *n entries.
 * Call it with no target transaction open. */
err_t pg_target_read_offsets(pg_target_t *pt, const char *topic, sink_offset_t **offsets, int *n,
                             char *errbuf, size_t errsize);

/* Marks the initial copy finished: the row now means "streaming". */
err_t pg_target_copy_done(pg_target_t *pt, char *errbuf, size_t errsize);

err_t pg_target_delete_progress(pg_target_t *pt, char *errbuf, size_t errsize);

/*
 * Records in syncline.claims that this configuration writes the target tables
 * of these source tables (schema[i].name[i]; skipped ones are left out), and
 * frees the ones it no longer lists. ERR_CONFIG naming the table and the other
 * configuration when another name claimed one of them: two configurations
 * writing one table would interleave their changes unnoticed. Needs the table
 * from pg_target_ensure_progress_table; call outside a transaction.
 */
err_t pg_target_claim_tables(pg_target_t *pt, const char *const *schemas, const char *const *names,
                             int n, char *errbuf, size_t errsize);

/* Forgets this configuration's claims (drop). */
err_t pg_target_unclaim_tables(pg_target_t *pt, char *errbuf, size_t errsize);

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

/* The applier as a sink_t (valid while pt lives). */
sink_t pg_target_sink(pg_target_t *pt);

/* Marks the applying session with the replication origin `origin`
 * (pg_origin.h): the fallback direction's applier. */
err_t pg_target_set_origin(pg_target_t *pt, const char *origin, char *errbuf, size_t errsize);

/* The target's server_version_num (pg_version.h). */
int pg_target_server_version(const pg_target_t *pt);

#endif
