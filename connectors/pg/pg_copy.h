/*
 * pg_copy: the initial copy. N worker threads import one exported snapshot on
 * the source and stream COPY TO STDOUT straight into COPY FROM STDIN on the
 * target (binary where the column types match, text otherwise), large tables
 * split into ctid ranges. No local staging.
 */
#ifndef SYNCLINE_PG_COPY_H
#define SYNCLINE_PG_COPY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"

typedef struct pg_copy_table {
    char *schema; /* source, owned */
    char *name;   /* source, owned */
} pg_copy_table_t;

typedef struct pg_copy_stats {
    uint64_t rows;
    uint64_t bytes;
    int tables;
    double seconds;
    int interrupted; /* a stop request ended the copy early (not an error) */
} pg_copy_stats_t;

/*
 * Copies every table (mapped through cfg; skipped ones ignored) as of
 * `snapshot`, with cfg->snapshot_workers workers. Target tables must be
 * empty (the caller truncates them when asked to). Logs progress every few
 * seconds. Returns ERR_OK when every table was copied and committed.
 */
err_t pg_copy_run(const config_t *cfg, const char *snapshot, const pg_copy_table_t *tables,
                  int ntables, volatile sig_atomic_t *stop, pg_copy_stats_t *stats, char *errbuf,
                  size_t errsize);

/* Truncates the mapped target tables (one statement, so FKs between them pass). */
err_t pg_copy_truncate_targets(const config_t *cfg, const pg_copy_table_t *tables, int ntables,
                               char *errbuf, size_t errsize);

/* Sets *nonempty to the index of the first mapped target table holding rows, or -1. */
err_t pg_copy_find_nonempty(const config_t *cfg, const pg_copy_table_t *tables, int ntables,
                            int *nonempty, char *errbuf, size_t errsize);

/* The copy's counters as last written to the target's progress row. */
typedef struct pg_copy_status {
    int known; /* the row carries copy counters */
    long long rows, bytes, total_bytes;
    int tables_done, tables_total;
} pg_copy_status_t;

/* Reads the copy counters of cfg->name's progress row (known = 0 when absent). */
err_t pg_copy_read_status(const config_t *cfg, pg_copy_status_t *out, char *errbuf, size_t errsize);

#endif
