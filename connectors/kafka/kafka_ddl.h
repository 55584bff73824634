/*
 * kafka_ddl: apply's side of DDL through Kafka. Hands a DDL event (op "m",
 * event.h) to the sink's ddl() at its place among the rows of its target
 * transaction, exactly as `run` does with the logical message; the sink
 * checks its signature and runs, skips or stops on it. No consumer logic.
 */
#ifndef SYNCLINE_KAFKA_DDL_H
#define SYNCLINE_KAFKA_DDL_H

#include <stddef.h>

#include "core/err.h"
#include "core/sink.h"
#include "event/event.h"

/* Replays ev (op EVENT_MESSAGE, with its transaction) through snk->ddl inside
 * the open target transaction. A sink without ddl(), or an event without its
 * transaction, fails naming the DDL's LSN: nothing is skipped silently. */
err_t kafka_ddl_apply(const sink_t *snk, const event_t *ev, char *errbuf, size_t errsize);

#endif
