/*
 * relcache: open-addressing hash of relid -> change_relation_t (owned).
 * Relations are never removed singly: a source has few and Relation messages
 * only replace them.
 */
#include "core/relcache.h"

#include <stdlib.h>

struct relcache {
    change_relation_t **slots; /* NULL = empty */
    size_t cap;                /* power of two */
    size_t count;
};

relcache_t *relcache_new(void)
{
    relcache_t *rc = calloc(1, sizeof(*rc));
    if (rc == NULL)
        return NULL;
    rc->cap = 64;
    rc->slots = calloc(rc->cap, sizeof(*rc->slots));
    if (rc->slots == NULL) {
        free(rc);
        return NULL;
    }
    return rc;
}

void relcache_free(relcache_t *rc)
{
    if (rc == NULL)
        return;
    for (size_t i = 0; i < rc->cap; i++)
        change_relation_free(rc->slots[i]);
    free(rc->slots);
    free(rc);
}

static size_t relcache_probe(change_relation_t **slots, size_t cap, uint32_t relid)
{
    size_t i = ((size_t)relid * 2654435761u) & (cap - 1);
    while (slots[i] != NULL && slots[i]->relid != relid)
        i = (i + 1) & (cap - 1);
    return i;
}

static int relcache_grow(relcache_t *rc)
{
    size_t cap = rc->cap * 2;
    change_relation_t **slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < rc->cap; i++) {
        if (rc->slots[i] != NULL)
            slots[relcache_probe(slots, cap, rc->slots[i]->relid)] = rc->slots[i];
    }
    free(rc->slots);
    rc->slots = slots;
    rc->cap = cap;
    return 0;
}

int relcache_replace(relcache_t *rc, change_relation_t *rel, change_relation_t **old)
{
    *old = NULL;
    if ((rc->count + 1) * 2 > rc->cap && relcache_grow(rc) != 0) {
        change_relation_free(rel);
        return -1;
    }
    size_t i = relcache_probe(rc->slots, rc->cap, rel->relid);
    if (rc->slots[i] == NULL)
        rc->count++;
    *old = rc->slots[i];
    rc->slots[i] = rel;
    return 0;
}

int relcache_put(relcache_t *rc, change_relation_t *rel)
{
    change_relation_t *old;
    int ret = relcache_replace(rc, rel, &old);
    change_relation_free(old);
    return ret;
}

const change_relation_t *relcache_get(const relcache_t *rc, uint32_t relid)
{
    size_t i = relcache_probe(rc->slots, rc->cap, relid);
    return rc->slots[i];
}
