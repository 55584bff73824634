/*
 * lsn: PostgreSQL log sequence numbers (WAL positions) as 64-bit integers.
 * Parsing, formatting ("X/X") and lag arithmetic; no I/O.
 */
#ifndef SYNCLINE_LSN_H
#define SYNCLINE_LSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t lsn_t;

#define LSN_INVALID ((lsn_t)0)
/* Buffer size that holds any formatted LSN plus NUL ("FFFFFFFF/FFFFFFFF"). */
#define LSN_STRLEN 18

/* Parses "16/B374D848" into *out. Returns false (and leaves *out) on malformed input. */
bool lsn_parse(const char *s, lsn_t *out);

/* Formats lsn as "X/X" into buf (at least LSN_STRLEN bytes); returns buf. */
char *lsn_format(lsn_t lsn, char *buf, size_t size);

/* Bytes from `from` up to `to`; 0 when to <= from. */
uint64_t lsn_diff(lsn_t to, lsn_t from);

/* Microseconds between the PostgreSQL epoch (2000-01-01) and the Unix epoch. */
#define LSN_PG_EPOCH_OFFSET_US INT64_C(946684800000000)

/* Converts a PostgreSQL timestamp (us since 2000-01-01) to Unix microseconds. */
int64_t lsn_pgtime_to_unix_us(int64_t pg_us);

/* Current time as a PostgreSQL timestamp (us since 2000-01-01). */
int64_t lsn_pgtime_now(void);

#endif
