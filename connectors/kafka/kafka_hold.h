/*
 * kafka_hold: `apply`'s side of an online verify (core/stream.h's hold point,
 * wired by the cli to pg_hold) and the key ranges each batch changes, for
 * incremental verify. Knows no Kafka: kafka_source says where it stands.
 */
#ifndef SYNCLINE_KAFKA_HOLD_H
#define SYNCLINE_KAFKA_HOLD_H

#include <signal.h>
#include <stddef.h>

#include "core/change.h"
#include "core/err.h"
#include "core/lsn.h"
#include "core/sink.h"
#include "core/stream.h"

typedef struct kafka_hold kafka_hold_t;

/* A hold point over h (borrowed; NULL: no verifier ever holds, marks are
 * never kept). NULL when out of memory. */
kafka_hold_t *kafka_hold_new(const stream_hold_t *h, volatile sig_atomic_t *stop);
void kafka_hold_free(kafka_hold_t *kh);

/*
 * A transaction boundary of the one partition: every transaction whose
 * commit LSN is below `next` is handed to the batch, none at or above it
 * (next 0: a boundary whose position is unknown, which serves a pause but
 * never a point). When a live request says so, first drain(arg) makes the
 * batch durable, then the call stands still until the request moves past
 * `next`, ends or expires (at most 30 s). Errors are drain's (errbuf); a
 * failing hold table only logs, the sync goes on.
 */
err_t kafka_hold_point(kafka_hold_t *kh, lsn_t next, err_t (*drain)(void *arg), void *arg,
                       char *errbuf, size_t errsize);

/* Records the key ranges a row change touches (old and new NULL: the whole
 * table, a truncate) when a verifier asked for marks; -1 when out of memory. */
int kafka_hold_mark(kafka_hold_t *kh, const change_relation_t *rel, const change_tuple_t *old,
                    const change_tuple_t *new_tuple);

/* The batch's marks into pos (valid until kafka_hold_marked). */
void kafka_hold_marks(const kafka_hold_t *kh, sink_position_t *pos);

/* The batch carrying them was handed to the sink: start a new set. */
void kafka_hold_marked(kafka_hold_t *kh);

#endif
