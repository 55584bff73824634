/*
 * pg_offsets: reads the Kafka consumer offsets `apply` keeps in the target
 * (syncline.kafka_offsets, created and written by pg_target in the same
 * transaction as the rows). Reads only; shared by apply's start and `lag`.
 */
#ifndef SYNCLINE_PG_OFFSETS_H
#define SYNCLINE_PG_OFFSETS_H

#include <libpq-fe.h>
#include <stddef.h>

#include "core/err.h"
#include "core/sink.h"

/*
 * The next offsets stored for configuration `name` and topic on the target
 * session conn, by partition (none when the table does not exist yet).
 * *offsets is malloc'd, never NULL on success (caller frees; .topic points
 * to topic), *n entries.
 */
err_t pg_offsets_read(PGconn *conn, const char *name, const char *topic, sink_offset_t **offsets,
                      int *n, char *errbuf, size_t errsize);

#endif
