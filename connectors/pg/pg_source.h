/*
 * pg_source: the PostgreSQL source connector. Publication and slot
 * management on an ordinary session, and the logical replication stream
 * (START_REPLICATION with pgoutput) exposed as a source_t. Does not decode.
 */
#ifndef SYNCLINE_PG_SOURCE_H
#define SYNCLINE_PG_SOURCE_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "core/lsn.h"
#include "core/partmap.h"
#include "core/source.h"
#include "pg/pg_ddl.h"

typedef struct pg_source pg_source_t;

typedef struct pg_source_slot {
    int exists;
    char wal_status[16]; /* reserved, extended, unreserved, lost ("" when NULL) */
    int active_pid;      /* 0 when no process streams from it */
    lsn_t confirmed_flush;
    lsn_t restart_lsn;
    int other_database;     /* the slot belongs to another database */
    int64_t retained_bytes; /* WAL kept for it: current LSN - restart_lsn */
} pg_source_slot_t;

/* Connects the ordinary session. Caller frees with pg_source_free. */
pg_source_t *pg_source_open(const config_t *cfg, err_t *err, char *errbuf, size_t errsize);
void pg_source_free(pg_source_t *ps);

/* Takes, for the life of the session, the source's advisory lock of this
 * slot, so that two processes of one name (run, capture) never set up at the
 * same time: ERR_SOURCE "already running" when another process holds it. */
err_t pg_source_lock(pg_source_t *ps, char *errbuf, size_t errsize);

/* The source's server_version_num (pg_version.h decides what it accepts). */
int pg_source_version(const pg_source_t *ps);

/* ERR_CONFIG when the configuration asks for what the source's major lacks
 * (apply.binary before 14), naming the setting and the version. */
err_t pg_source_check_features(const pg_source_t *ps, char *errbuf, size_t errsize);

/* Before 13 (no publish_via_partition_root) loads each published leaf with the
 * root of its tree into the source's partmap, so that its rows go where the
 * root's would; ERR_SOURCE when a tree is only partly published. Nothing from
 * 13 on. The stream reloads it on its own (every few seconds, and before a
 * Relation message) and stops on a partly published tree. */
err_t pg_source_partitions(pg_source_t *ps, char *errbuf, size_t errsize);

/* The map loaded by pg_source_partitions (NULL from 13 on), owned by ps and
 * valid while it lives: hand it to stream_opts_t.parts. */
const partmap_t *pg_source_partmap(const pg_source_t *ps);

/* install: puts the DDL event trigger on the source when it can (pg_ddl.h);
 * else removes it unless another syncline slot streams there (drop). */
err_t pg_source_ddl_trigger(pg_source_t *ps, int install, char *errbuf, size_t errsize);

/* The event trigger's signing key (pg_ddl_key_load), when DDL is followed;
 * key->loaded 0 otherwise. */
err_t pg_source_ddl_key(pg_source_t *ps, pg_ddl_key_t *key, char *errbuf, size_t errsize);

/* ERR_SOURCE unless wal_level is logical. */
err_t pg_source_check_wal_level(pg_source_t *ps, char *errbuf, size_t errsize);

/* Opens a source transaction and creates the publication in it when absent
 * (*created tells). pg_source_end_publication commits or rolls it back, so a
 * start that fails its checks leaves nothing behind. */
err_t pg_source_ensure_publication(pg_source_t *ps, int *created, char *errbuf, size_t errsize);
err_t pg_source_end_publication(pg_source_t *ps, int commit, char *errbuf, size_t errsize);

err_t pg_source_slot_info(pg_source_t *ps, pg_source_slot_t *out, char *errbuf, size_t errsize);

/* ERR_SOURCE when the slot is lost, active elsewhere or in another database. */
err_t pg_source_check_slot(const pg_source_t *ps, const pg_source_slot_t *slot, char *errbuf,
                           size_t errsize);

/* Creates the slot (pgoutput); *consistent_point is where its stream starts.
 * With snapshot != NULL the slot exports a snapshot whose name is written
 * there; it stays valid until pg_source_start (the replication session must
 * stay idle meanwhile). */
err_t pg_source_create_slot(pg_source_t *ps, lsn_t *consistent_point, char *snapshot,
                            size_t snapsize, char *errbuf, size_t errsize);

err_t pg_source_current_lsn(pg_source_t *ps, lsn_t *out, char *errbuf, size_t errsize);

/* The published tables (before 13: the roots of the published leaves), but syncline's own (schema
 * syncline: never synced, see core/route.c) as pairs: *schemas and *names
 * are malloc'd arrays of malloc'd strings (caller frees with pg_source_free_names). */
err_t pg_source_published_tables(pg_source_t *ps, char ***schemas, char ***names, int *n,
                                 char *errbuf, size_t errsize);
void pg_source_free_names(char **v, int n);

/* The primary key columns of relation relid, in key order: *cols malloc'd
 * (free with pg_source_free_names), *n 0 when it has none. */
err_t pg_source_primary_key(pg_source_t *ps, uint32_t relid, char ***cols, int *n, char *errbuf,
                            size_t errsize);

/* Opens the replication connection and starts streaming from `start`. */
err_t pg_source_start(pg_source_t *ps, lsn_t start, char *errbuf, size_t errsize);

/* The running stream as a source_t (valid while ps lives). */
source_t pg_source_stream(pg_source_t *ps);

typedef enum pg_source_pub_drop {
    PG_SOURCE_PUB_KEEP,    /* the slot only */
    PG_SOURCE_PUB_DROP,    /* and the publication */
    PG_SOURCE_PUB_IF_OURS, /* and the publication if run created it (its comment says so) */
} pg_source_pub_drop_t;

/* Drops the slot (if present) and the publication as `pub` says; *pub_dropped
 * (may be NULL) tells whether the publication went. */
err_t pg_source_drop(pg_source_t *ps, pg_source_pub_drop_t pub, int *pub_dropped, char *errbuf,
                     size_t errsize);

#endif
