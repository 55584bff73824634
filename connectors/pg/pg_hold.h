/*
 * pg_hold: the hold protocol between an online verify and the applier, kept
 * in the target's syncline.verify_hold (one row per configuration name).
 * Both sides talk through it; it reads and writes nothing else.
 */
#ifndef SYNCLINE_PG_HOLD_H
#define SYNCLINE_PG_HOLD_H

#include <libpq-fe.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/lsn.h"
#include "core/metrics.h"
#include "core/hold.h"

/*
 * The protocol. The verifier writes a request (id, until NULL): the applier
 * stops at its next transaction boundary with everything durable and
 * answers held = 0/0 ("paused"). The verifier then takes a source snapshot
 * at an exactly known LSN C (a temporary slot's consistent point), sets
 * until = C; the applier applies every transaction committed before C,
 * stops before the first one at or after C and answers held = C. The
 * verifier opens its target snapshot and deletes the row: the applier goes
 * on. A request expires (expires_at), and the applier holds at most 30 s.
 */

/* ---- applier side ---- */

typedef struct pg_hold pg_hold_t;

/* Opens the applier's own target connection, creates the table if needed
 * and takes the advisory lock that tells verifiers an applier is listening.
 * metrics (optional, borrowed) get incremental verify's figures every 5 s.
 * NULL with *err on failure. */
pg_hold_t *pg_hold_open(const config_t *cfg, metrics_t *metrics, err_t *err, char *errbuf,
                        size_t errsize);
void pg_hold_free(pg_hold_t *ph);

/* The hooks for stream_opts_t.hold and kafka_source_opts_t.hold; ctx is ph (borrowed). */
hold_verifier_t pg_hold_stream(pg_hold_t *ph);

/* ---- verifier side (conn: an autocommit target session) ---- */

/* *alive = 1 when an applier for name holds the listening lock. */
err_t pg_hold_applier_alive(PGconn *conn, const char *name, int *alive, char *errbuf,
                            size_t errsize);

/* Writes a new pause request expiring in expire_s seconds; *id is its id. */
err_t pg_hold_request(PGconn *conn, const char *name, int expire_s, int64_t *id, char *errbuf,
                      size_t errsize);

/* Sets the request's point: hold before commits at or after until. */
err_t pg_hold_set_point(PGconn *conn, const char *name, int64_t id, lsn_t until, char *errbuf,
                        size_t errsize);

/* Waits until the applier answers request id with held = at, until
 * deadline_ms (clock_ms) or *stop; *answered says which. */
err_t pg_hold_wait(PGconn *conn, const char *name, int64_t id, lsn_t at, int64_t deadline_ms,
                   volatile sig_atomic_t *stop, int *answered, char *errbuf, size_t errsize);

/* Deletes request id: the applier goes on. */
err_t pg_hold_release(PGconn *conn, const char *name, int64_t id, char *errbuf, size_t errsize);

/*
 * All of it for a point known in advance: asks the applier to hold at `at`
 * (every transaction committed before it applied and durable, none after),
 * waits until deadline_ms (at most 25 s: a request expires), runs
 * while_held(arg) (may be NULL) while it holds, releases. *reached 0: the
 * applier did not get there in time. For a fenced source, where `at` needs
 * no slot: the applier answers as soon as its stream passes `at`, without
 * waiting for its idle progress write (at most one a second).
 */
err_t pg_hold_at(PGconn *conn, const char *name, lsn_t at, int64_t deadline_ms,
                 volatile sig_atomic_t *stop, err_t (*while_held)(void *arg), void *arg,
                 int *reached, char *errbuf, size_t errsize);

/* pg_hold_at on a connection of its own, when an applier for cfg listens
 * (*reached 0 when none does): cutover's drain after the fence. */
err_t pg_hold_drain(const config_t *cfg, lsn_t at, int64_t deadline_ms, volatile sig_atomic_t *stop,
                    int *reached, char *errbuf, size_t errsize);

#endif
