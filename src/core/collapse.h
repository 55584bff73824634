/*
 * collapse: a sink decorator that merges successive changes to the same row
 * within one target transaction into the row's last state (an INSERT then
 * UPDATEs become one INSERT, an INSERT then a DELETE become nothing, hot rows
 * updated a thousand times are written once). Intermediate states are never
 * visible on the target, because a target transaction commits whole. No I/O.
 */
#ifndef SYNCLINE_COLLAPSE_H
#define SYNCLINE_COLLAPSE_H

#include <stddef.h>

#include "core/sink.h"

typedef struct collapse collapse_t;

/* Wraps inner (borrowed, must outlive the decorator). The buffer is flushed
 * to inner at commit, before TRUNCATE and Relation changes, and whenever it
 * holds more than max_bytes, so memory stays bounded whatever the source
 * transaction's size. NULL on allocation failure. */
collapse_t *collapse_new(sink_t inner, size_t max_bytes);

void collapse_free(collapse_t *cl);

/* The decorator as a sink (valid while cl lives). */
sink_t collapse_sink(collapse_t *cl);

/* Row changes received and row changes written to inner so far. */
void collapse_counts(const collapse_t *cl, unsigned long long *in, unsigned long long *out);

#endif
