/*
 * pg_index_defer: drops the secondary indexes of the copy's target tables
 * before the initial copy and recreates them after, crash-safe: definitions
 * are saved in syncline.deferred_indexes on the target before any drop.
 * Constraint indexes (primary key, unique, exclusion) are never touched.
 */
#ifndef SYNCLINE_PG_INDEX_DEFER_H
#define SYNCLINE_PG_INDEX_DEFER_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

/*
 * Saves and drops, in one target transaction, every index of the target
 * tables `tables[0..ntables)` (qualified names as regclass input, e.g.
 * "public.t") that backs no constraint and is not attached to a parent
 * index. Indexes saved by an earlier interrupted run stay saved; any of
 * them that exists again is dropped again. Sets *ndropped.
 */
err_t pg_index_defer_drop(const config_t *cfg, const char *const *tables, int ntables,
                          int *ndropped, char *errbuf, size_t errsize);

/*
 * Recreates every index saved for cfg->name, each with the deletion of its
 * saved row in one transaction, so an interruption leaves each index either
 * saved or back. A no-op when nothing is saved. Sets *nrestored.
 */
err_t pg_index_defer_restore(const config_t *cfg, int *nrestored, char *errbuf, size_t errsize);

#endif
