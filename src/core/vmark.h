/*
 * vmark: the set of key ranges ("buckets") of source tables that a batch
 * changed, which incremental verify re-checks. Pure: computes buckets from
 * decoded rows and collects them; writing them is the sink's job.
 */
#ifndef SYNCLINE_VMARK_H
#define SYNCLINE_VMARK_H

#include <stdint.h>

#include "core/change.h"
#include "core/sink.h"

/* Keys per bucket of a single integer primary key. */
#define VMARK_WIDTH 64

typedef struct vmark_set vmark_set_t;

/* An empty set; NULL when out of memory. */
vmark_set_t *vmark_set_new(void);
void vmark_set_free(vmark_set_t *vs);

/*
 * The bucket of tuple t of rel: floor(key / VMARK_WIDTH) when rel's replica
 * identity is its primary key (default), made of one int2/int4/int8 column
 * sent as text; -1 (the whole table) otherwise. Keys -64..-1 fall in
 * bucket -1 too: their table is re-checked whole, which is only slower.
 */
int64_t vmark_bucket(const change_relation_t *rel, const change_tuple_t *t);

/* Adds the buckets a row change touches (old and new key; either may be
 * NULL); -1 when out of memory. */
int vmark_set_add_row(vmark_set_t *vs, const change_relation_t *rel, const change_tuple_t *old,
                      const change_tuple_t *new_tuple);

/* Adds the whole of rel (a truncate); -1 when out of memory. */
int vmark_set_add_table(vmark_set_t *vs, const change_relation_t *rel);

/* The distinct marks collected, valid until the next add or reset. */
const sink_mark_t *vmark_set_marks(const vmark_set_t *vs, int *n);

/* Empties the set (keeps its memory). */
void vmark_set_reset(vmark_set_t *vs);

#endif
