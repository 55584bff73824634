/*
 * pg_version: what each PostgreSQL major accepts, decided from
 * server_version_num (PQserverVersion). Pure: builds SQL text, does no I/O.
 * docs/versions.md lists the differences this module encodes.
 */
#ifndef SYNCLINE_PG_VERSION_H
#define SYNCLINE_PG_VERSION_H

#include <stddef.h>

#define PG_VERSION_MIN 120000 /* the oldest source or target syncline supports */

/* "12", "15", "18" from 120022, 150010, 180004 into buf (returned). */
const char *pg_version_major(int num, char *buf, size_t size);

/* The pgoutput proto_version to ask for: 1 for 12-13, 2 for 14, 3 for 15, 4 for 16+. */
int pg_version_proto(int num);

/* pgoutput's "binary" option (14+). */
int pg_version_has_binary(int num);

/* publish_via_partition_root (13+); before it a partitioned table cannot be
 * published and its leaves are published instead. */
int pg_version_has_partition_root(int num);

/* CREATE PUBLICATION ... FOR TABLES IN SCHEMA (15+); before it the tables of
 * the schema are listed when the publication is created. */
int pg_version_has_schema_publication(int num);

/* pg_replication_slots.wal_status and max_slot_wal_keep_size (13+). */
int pg_version_has_wal_status(int num);

/* pg_current_snapshot, pg_snapshot_* and the xid8 type (13+); 12 has the
 * txid_* functions on bigint. */
int pg_version_has_xid8(int num);

/* pgoutput's origin option ('none': only changes without a replication
 * origin), 16 and newer. */
int pg_version_has_origin(int num);

/* The CREATE_REPLICATION_SLOT command for a pgoutput slot named by the quoted
 * identifier slot, exporting a snapshot or not: the parenthesized options of
 * 15+, the EXPORT_SNAPSHOT / NOEXPORT_SNAPSHOT keywords before. Returns 0, or
 * -1 when it does not fit in buf. */
int pg_version_create_slot_sql(int num, const char *slot, int export_snapshot, char *buf,
                               size_t size);

/* The option list of START_REPLICATION (inside the parentheses) for a
 * publication list given as a quoted literal: proto_version per major, and
 * "binary" only where it exists and is asked for. Returns 0, -1 when it does
 * not fit, or -2 when binary is asked for and the server lacks it. */
int pg_version_start_options(int num, const char *publication_literal, int binary, char *buf,
                             size_t size);

#endif
