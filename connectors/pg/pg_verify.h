/*
 * pg_verify: proves a target table holds what its source table holds, at one
 * consistent point, with counts and checksums computed on each server over
 * key-ordered chunks; narrows a differing chunk down to a row. Reads only.
 */
#ifndef SYNCLINE_PG_VERIFY_H
#define SYNCLINE_PG_VERIFY_H

#include <signal.h>
#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "core/lsn.h"

typedef enum pg_verify_mode {
    PG_VERIFY_CHECKSUM, /* count and sum of hashtextextended(row text) per chunk */
    PG_VERIFY_COUNT,    /* count per chunk */
} pg_verify_mode_t;

typedef struct pg_verify_opts {
    pg_verify_mode_t mode;
    long long chunk_rows; /* source rows per chunk of a keyed table */
    char **tables;        /* source names to verify ("schema.name"), NULL: all */
    int ntables;
    int timeout_s;               /* how long to wait for the target to reach the snapshot */
    int point_s;                 /* online: a new consistent point after this long (0: 20 s) */
    int full;                    /* compare everything, even when an incremental verify could */
    int online_only;             /* ERR_LAG at once unless an applier holds for an online point */
    int ranges_only;             /* incremental: the marked ranges without the row counts (cutover's
                                    passes before the fence; the fenced verify counts) */
    volatile sig_atomic_t *stop; /* Ctrl-C: give up (ERR_RUNTIME) */
} pg_verify_opts_t;

/* One table's outcome; strings borrowed for the callback. */
typedef struct pg_verify_result {
    const char *source; /* "schema.name" */
    const char *target;
    int match;
    int keyed;      /* compared by primary-key chunks (else as a whole) */
    int chunks;     /* chunks compared at the top level */
    int bad_chunks; /* of which differ */
    long long source_rows;
    long long target_rows;
    const char *detail; /* the first differing key ranges, narrowed; "" on a match */
    int incremental;    /* only the key ranges changed since the last verify were compared */
    int rechecked;      /* incremental: key ranges (or whole-table passes) compared */
} pg_verify_result_t;

typedef struct pg_verify_stats {
    int tables;
    int differ;
    long long rows;    /* source rows verified */
    lsn_t lsn;         /* the source position the comparison stands at */
    int fenced;        /* the source database was read-only (fenced) */
    int online;        /* the applier held at each point (the source took writes meanwhile) */
    int points;        /* online: consistent points taken (a new one every 20 s) */
    int incremental;   /* only what changed since the last verify was compared */
    int rechecked;     /* incremental: key ranges compared, all tables */
    double full_age_s; /* seconds since the last full verify, -1: never */
    int base_set;      /* the next verify can be incremental from this one's point */
} pg_verify_stats_t;

/*
 * Compares every synced table (or those in opts->tables). Consistency: a
 * REPEATABLE READ snapshot on the source at LSN L; the target's applied
 * position must reach L, then the target is read in a REPEATABLE READ
 * snapshot too. Unless the source database is fenced (default_transaction_
 * read_only set on it), the source must not have completed any transaction
 * since its snapshot (cluster-wide xid horizon unchanged); otherwise the
 * attempt is dropped ("source moving") and retried until opts->timeout_s.
 * Returns ERR_OK when the comparison ran (stats->differ says whether all
 * matched), ERR_LAG when no consistent point was reached in time, or another
 * error naming the table.
 */
err_t pg_verify_run(const config_t *cfg, const pg_verify_opts_t *opts,
                    void (*report)(void *arg, const pg_verify_result_t *r), void *arg,
                    pg_verify_stats_t *stats, char *errbuf, size_t errsize);

#endif
