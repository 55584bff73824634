/*
 * pgoutput_build: writes replication frames (XLogData carrying pgoutput
 * messages, primary keepalives) the way a walsender does, for tests that
 * drive the decoder or the apply loop without a server. Test support only:
 * the product never links it.
 */
#ifndef SYNCLINE_PGOUTPUT_BUILD_H
#define SYNCLINE_PGOUTPUT_BUILD_H

#include <stddef.h>
#include <stdint.h>

/* A growing byte buffer; pgoutput_build_free releases what it holds. */
typedef struct pgoutput_build {
    unsigned char *data;
    size_t len, cap;
} pgoutput_build_t;

void pgoutput_build_free(pgoutput_build_t *b);

/* A logical decoding message ('M', pg_logical_emit_message): not streamed, so no xid. */
void pgoutput_build_message(pgoutput_build_t *b, int transactional, uint64_t lsn,
                            const char *prefix, const char *content);

/* Primary keepalive ('k'). */
void pgoutput_build_keepalive(pgoutput_build_t *b, uint64_t wal_end, int reply_requested);

/* The XLogData header ('w'); the pgoutput message follows in the same buffer. */
void pgoutput_build_xlogdata(pgoutput_build_t *b, uint64_t wal_start, uint64_t wal_end);

void pgoutput_build_begin(pgoutput_build_t *b, uint64_t final_lsn, int64_t commit_time,
                          uint32_t xid);
void pgoutput_build_commit(pgoutput_build_t *b, uint64_t commit_lsn, uint64_t end_lsn,
                           int64_t commit_time);

/* A relation of ncols text columns (type oid 25) named names[i]; key[i]
 * non-zero marks a replica identity column. replident: 'd', 'f', 'n' or 'i'. */
void pgoutput_build_relation(pgoutput_build_t *b, uint32_t relid, const char *nsp, const char *rel,
                             char replident, int ncols, const char *const *names, const int *key);

/* Row messages with text values (NULL: SQL null). Update and delete take
 * old_kind 0 (no old tuple, updates only), 'K' or 'O'. */
void pgoutput_build_insert(pgoutput_build_t *b, uint32_t relid, int ncols,
                           const char *const *values);
void pgoutput_build_update(pgoutput_build_t *b, uint32_t relid, char old_kind, int ncols,
                           const char *const *old_values, const char *const *values);
void pgoutput_build_delete(pgoutput_build_t *b, uint32_t relid, char old_kind, int ncols,
                           const char *const *old_values);

#endif
