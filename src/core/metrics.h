/*
 * metrics: the registry of syncline's Prometheus metrics (counters, gauges,
 * histograms) and their text exposition. Pure and thread-safe (one mutex):
 * the apply loop records, an HTTP server thread renders. No I/O, no globals:
 * a metrics_t is passed to whoever records.
 */
#ifndef SYNCLINE_METRICS_H
#define SYNCLINE_METRICS_H

#include <stdint.h>

#include "core/lsn.h"

typedef struct metrics metrics_t;

/* NULL on allocation failure. Caller frees with metrics_free. */
metrics_t *metrics_new(void);
void metrics_free(metrics_t *m);

/* One applied row change of schema.table; op is 'I', 'U', 'D' or 'T'. */
void metrics_change(metrics_t *m, const char *schema, const char *table, char op);

/* One source transaction applied. */
void metrics_transaction(metrics_t *m);

/* One target transaction committed: its source rows and commit latency. */
void metrics_batch(metrics_t *m, uint64_t rows, double seconds);

/* Where the applier stands: applied LSN and lag as seen from the stream. */
void metrics_position(metrics_t *m, lsn_t applied, uint64_t lag_bytes, double lag_seconds);

/* Rows written by the initial copy. */
void metrics_copy_rows(metrics_t *m, uint64_t rows);

/* One error of the given kind (err_name: "connect", "schema", ...). */
void metrics_error(metrics_t *m, const char *kind);

/* Incremental verify: when the last full verify ended (Unix seconds, 0 =
 * never) and the key ranges marked changed since the last verify (-1 = no
 * verify yet). */
void metrics_verify(metrics_t *m, double full_unix_s, long long dirty);

/* The text exposition format (version 0.0.4), malloc'd (caller frees), or
 * NULL on allocation failure. */
char *metrics_render(metrics_t *m);

#endif
