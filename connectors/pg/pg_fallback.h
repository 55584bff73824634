/*
 * pg_fallback: the PostgreSQL side of the fallback direction (the new
 * database streaming back into the old one after a cutover): its
 * configuration built from the synced tables, and the forward direction
 * re-armed when switching back. Everything else reuses pg_source/pg_target.
 */
#ifndef SYNCLINE_PG_FALLBACK_H
#define SYNCLINE_PG_FALLBACK_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "core/lsn.h"

/*
 * The fallback configuration of fwd (fallback_config.h). With with_tables its
 * tables are fwd's synced tables (read on the old database) inverted;
 * ERR_CONFIG naming a table that maps columns. Without, the names only.
 * NULL with errbuf set on error; caller frees with config_free.
 */
config_t *pg_fallback_config(const config_t *fwd, int with_tables, err_t *err, char *errbuf,
                             size_t errsize);

/*
 * Switching back, once the fallback drained a fenced new database into the
 * still fenced old one: everything in the old database's WAL up to now came
 * from the fallback. Moves the forward slot to the old database's current
 * position (*at) and the forward progress row on the new database with it, so
 * a later `run` does not stream those changes back. ERR_SOURCE when the slot is
 * in use (a forward run).
 */
err_t pg_fallback_rearm(const config_t *fwd, lsn_t *at, char *errbuf, size_t errsize);

/*
 * Every column of each old table (the fallback's target) is fed by the
 * fallback direction: by its "fallback" columns, or by a new-table column of
 * the same name that is not excluded (generated columns need nothing).
 * Switching back would otherwise lose what the column holds. report(arg, 0,
 * message naming table and column) per problem, counted in *problems.
 */
err_t pg_fallback_check_fed(const config_t *rev,
                            void (*report)(void *arg, int warning, const char *message), void *arg,
                            int *problems, char *errbuf, size_t errsize);

/* Drops the fallback's replication origin on the old database (drop). */
err_t pg_fallback_drop_origin(const config_t *rev, char *errbuf, size_t errsize);

#endif
