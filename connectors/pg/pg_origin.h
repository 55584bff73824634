/*
 * pg_origin: marks an applying session with a replication origin, so that what
 * syncline writes there is told apart from the application's writes: a stream
 * started with origin 'none' (16 and newer) leaves it out. No other I/O.
 */
#ifndef SYNCLINE_PG_ORIGIN_H
#define SYNCLINE_PG_ORIGIN_H

#include <libpq-fe.h>
#include <stddef.h>

#include "core/err.h"

/* Creates the origin when absent and sets it up for the session
 * (pg_replication_origin_session_setup; superuser, or EXECUTE granted on the
 * origin functions). A session of a process killed a moment ago may still hold
 * it: retried for up to 10 s. */
err_t pg_origin_session(PGconn *conn, const char *origin, char *errbuf, size_t errsize);

/* Drops the origin when it exists (drop). */
err_t pg_origin_drop(PGconn *conn, const char *origin, char *errbuf, size_t errsize);

#endif
