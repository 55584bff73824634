/*
 * pg_lag: how far the target is behind the source. Reads the source WAL
 * position and slot, and the target's progress row, on connections of its
 * own. Used by `lag`, `cutover` and `verify`; knows nothing of the stream, so
 * it works the same whether `run` or the Kafka `apply` writes the progress row.
 */
#ifndef SYNCLINE_PG_LAG_H
#define SYNCLINE_PG_LAG_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/lsn.h"
#include "core/sink.h"

typedef struct pg_lag pg_lag_t;

typedef struct pg_lag_sample {
    lsn_t source_lsn;         /* pg_current_wal_lsn() on the source, read first */
    int slot_exists;          /* the configured slot exists on the source */
    int slot_active;          /* a process streams from it */
    lsn_t confirmed_lsn;      /* the slot's confirmed_flush_lsn */
    int progress_exists;      /* the target has this configuration's progress row */
    lsn_t applied_lsn;        /* syncline.progress.applied_lsn, read after source_lsn */
    uint64_t lag_bytes;       /* source_lsn - applied_lsn, 0 when applied is ahead */
    double lag_seconds;       /* 0 when lag_bytes is 0; else see pg_lag_sample */
    char commit_time[64];     /* source commit time of the newest applied transaction, or "" */
    char updated_at[64];      /* when the progress row was last written, or "" */
    long long verify_dirty;   /* key ranges changed since the last verify's base, -1: none */
    double verify_full_age_s; /* seconds since the last full verify, -1: never */
} pg_lag_sample_t;

/* Connects to both sides. NULL with *err and errbuf set on failure.
 * Caller frees with pg_lag_free. */
pg_lag_t *pg_lag_open(const config_t *cfg, err_t *err, char *errbuf, size_t errsize);
void pg_lag_free(pg_lag_t *pl);

/*
 * Takes one sample. The source position is read before the target's, so a
 * target that is caught up shows 0 even while the source moves on.
 * lag_seconds estimates the age of the oldest source commit not applied yet:
 * when something is pending, it is now - the later of the newest applied
 * commit's source time and the progress row's last write (the applied
 * position follows the source about once a second while syncline runs, so
 * whatever is pending was committed after that write, give or take the
 * keepalive delay). It needs the two servers' clocks to agree.
 */
err_t pg_lag_sample(pg_lag_t *pl, pg_lag_sample_t *out, char *errbuf, size_t errsize);

/* Kafka mode: the next offsets `apply` stored in the target for topic
 * (syncline.kafka_offsets; none when the table does not exist). *offsets is
 * malloc'd (topic borrowed), caller frees. */
err_t pg_lag_kafka_offsets(pg_lag_t *pl, const char *topic, sink_offset_t **offsets, int *n,
                           char *errbuf, size_t errsize);

#endif
