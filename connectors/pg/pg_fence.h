/*
 * pg_fence: stops writes to the source database for a cutover, and lifts
 * that again. The fence is `ALTER DATABASE db SET default_transaction_read_only
 * = on` (new sessions start read-only) plus termination of the client
 * sessions that were open before it (they keep their old setting). Needs
 * superuser or ownership of the database. A session can still write by
 * asking for it (SET default_transaction_read_only = off): this fences
 * applications, not adversaries.
 */
#ifndef SYNCLINE_PG_FENCE_H
#define SYNCLINE_PG_FENCE_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "core/lsn.h"

typedef struct pg_fence pg_fence_t;

typedef struct pg_fence_info {
    char fenced_at[64];         /* source clock once the fence was up (timestamptz text) */
    char writes_stopped_at[64]; /* source clock once the older sessions were gone */
    int terminated;             /* client sessions ended */
    lsn_t final_lsn;            /* pg_current_wal_lsn() once they were gone */
} pg_fence_info_t;

/* Connects to the source (a session that stays writable). Caller frees. */
pg_fence_t *pg_fence_open(const config_t *cfg, err_t *err, char *errbuf, size_t errsize);
void pg_fence_free(pg_fence_t *pf);

/* The source database name (borrowed), for messages and the unfence command. */
const char *pg_fence_database(const pg_fence_t *pf);

/* Puts the fence up, ends the older client sessions (other than this one,
 * WAL senders and syncline's own) and reads the final LSN. */
err_t pg_fence_on(pg_fence_t *pf, pg_fence_info_t *out, char *errbuf, size_t errsize);

/* ALTER DATABASE db RESET default_transaction_read_only. */
err_t pg_fence_off(pg_fence_t *pf, char *errbuf, size_t errsize);

#endif
