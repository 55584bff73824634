/*
 * pg_reap: ends the target sessions this process left behind. A connection
 * presumed stalled is shut on our side only: through a proxy or a path that
 * went silent, its backend never hears of it and may sit in an open
 * transaction, holding the row locks the next session needs to replay the
 * same changes (and its COMMIT, delivered late, could still land). Each
 * target session of a process carries the process's session key (a shared
 * advisory lock); a new apply session ends every other holder of the key
 * before it writes anything.
 */
#ifndef SYNCLINE_PG_REAP_H
#define SYNCLINE_PG_REAP_H

#include <libpq-fe.h>
#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

/* Marks conn with cfg->session_key (nothing when the key is unset). */
err_t pg_reap_tag(PGconn *conn, const config_t *cfg, char *errbuf, size_t errsize);

/*
 * Ends (pg_terminate_backend) every other backend marked with cfg->session_key,
 * logging their pids, and waits (up to 10 s) until they are gone, so that a
 * COMMIT of theirs still landing is in what conn reads next; then marks conn.
 * Call on the apply connection before its first write and before any other
 * session of the process is opened. A role that may not end them gets a
 * warning, not an error: the locks then last until the server notices the
 * dead connection.
 */
err_t pg_reap_claim(PGconn *conn, const config_t *cfg, char *errbuf, size_t errsize);

#endif
