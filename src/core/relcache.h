/*
 * relcache: the source relations seen on the stream, keyed by relation OID.
 * A Relation message always replaces the cached entry. No I/O.
 */
#ifndef SYNCLINE_RELCACHE_H
#define SYNCLINE_RELCACHE_H

#include <stdint.h>

#include "core/change.h"

typedef struct relcache relcache_t;

/* NULL on allocation failure. Free with relcache_free. */
relcache_t *relcache_new(void);

/* Frees the cache and every relation in it. NULL is fine. */
void relcache_free(relcache_t *rc);

/* Takes ownership of rel (also on failure, when it is freed) and replaces any
 * entry with the same relid. Returns 0, or -1 on allocation failure. */
int relcache_put(relcache_t *rc, change_relation_t *rel);

/* Like relcache_put, but hands the replaced relation (or NULL) to the caller
 * in *old instead of freeing it, for users that still point at it. */
int relcache_replace(relcache_t *rc, change_relation_t *rel, change_relation_t **old);

/* The cached relation, owned by the cache, or NULL. Valid until the next put
 * for the same relid or relcache_free. */
const change_relation_t *relcache_get(const relcache_t *rc, uint32_t relid);

#endif
