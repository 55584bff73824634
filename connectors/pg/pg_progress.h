/*
 * pg_progress: the tables syncline keeps in the target (syncline.progress,
 * syncline.kafka_offsets, syncline.claims): their DDL, reads, and the writes
 * queued in the applier's pipeline. Applies no row of user data.
 */
#ifndef SYNCLINE_PG_PROGRESS_H
#define SYNCLINE_PG_PROGRESS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/lsn.h"
#include "core/sink.h"
#include "pg/pg_pipe.h"

/* This configuration's row of syncline.progress. */
typedef struct pg_progress {
    int exists;
    lsn_t applied_lsn;
    int publication_created;
    int copying;          /* the initial copy started and did not finish */
    char updated_at[64];  /* as text, "" when absent */
    char commit_time[64]; /* source commit time of the newest applied transaction */
} pg_progress_t;

/* A Kafka partition's stored offset as this session last read or wrote it
 * (-1: no row). */
typedef struct pg_progress_seen {
    char *topic; /* owned */
    int32_t partition;
    int64_t next_offset;
} pg_progress_seen_t;

/* Which of the queued writes' statements are prepared on the session, and
 * the fences: with fenced, what the progress row must hold for the next
 * update to apply (pg_progress_queue); for the topics read (pg_progress_saw),
 * what each partition's offset row must hold (pg_progress_queue_offset). */
typedef struct pg_progress_stmts {
    int progress;
    int offset;
    int fenced;
    lsn_t fence;
    char **topics_read; /* owned, ntopics_read */
    int ntopics_read;
    pg_progress_seen_t *seen; /* owned, nseen */
    int nseen;
} pg_progress_stmts_t;

/* Frees the fences' memory. */
void pg_progress_stmts_clear(pg_progress_stmts_t *ps);

/* The session read these n stored offsets of topic, all it has: they become
 * the fences of its partitions (a partition absent: no row). -1 when out of
 * memory (the fences then stay as they were, unfenced for a new topic). */
int pg_progress_saw(pg_progress_stmts_t *ps, const char *topic, const sink_offset_t *offsets,
                    int n);

/* Creates schema syncline and its tables when absent. */
err_t pg_progress_ensure_tables(PGconn *conn, char *errbuf, size_t errsize);

/* Reads cfg->name's progress row (exists = 0 when none or no table). */
err_t pg_progress_read(PGconn *conn, const config_t *cfg, pg_progress_t *out, char *errbuf,
                       size_t errsize);

/* Inserts the progress row when absent; copying marks an initial copy in progress. */
err_t pg_progress_init(PGconn *conn, const config_t *cfg, lsn_t applied, int publication_created,
                       int copying, char *errbuf, size_t errsize);

/* Marks the initial copy finished: the row now means "streaming". */
err_t pg_progress_copy_done(PGconn *conn, const config_t *cfg, char *errbuf, size_t errsize);

err_t pg_progress_delete(PGconn *conn, const config_t *cfg, char *errbuf, size_t errsize);

/*
 * Records in syncline.claims that this configuration writes the target tables
 * of these source tables (schema[i].name[i]; skipped ones are left out), and
 * frees the ones it no longer lists. ERR_CONFIG naming the table and the other
 * configuration when another name claimed one of them: two configurations
 * writing one table would interleave their changes unnoticed. Needs the table
 * from pg_progress_ensure_tables; call outside a transaction.
 */
err_t pg_progress_claim(PGconn *conn, const config_t *cfg, const char *const *schemas,
                        const char *const *names, int n, char *errbuf, size_t errsize);

/* Forgets this configuration's claims (drop). */
err_t pg_progress_unclaim(PGconn *conn, const config_t *cfg, char *errbuf, size_t errsize);

/* Queues in pipe the progress row update for lsn (and the commit time, 0 =
 * keep); a missing row fails the transaction. With ps->fenced, so does a row
 * that no longer holds ps->fence (PG_ROWCHECK_MOVED: another session moved
 * it), and ps->fence becomes lsn. */
err_t pg_progress_queue(pg_pipe_t *pipe, pg_progress_stmts_t *ps, const char *name, lsn_t lsn,
                        int64_t commit_time, char *errbuf, size_t errsize);

/* Queues in pipe the upsert of one Kafka consumer offset. When its topic was
 * read (pg_progress_saw), the row must still hold what the session read or
 * wrote last, else the transaction fails (PG_ROWCHECK_MOVED); the fence then
 * becomes off->next_offset. */
err_t pg_progress_queue_offset(pg_pipe_t *pipe, pg_progress_stmts_t *ps, const char *name,
                               const sink_offset_t *off, lsn_t lsn, char *errbuf, size_t errsize);

#endif
