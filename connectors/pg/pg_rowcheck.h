/*
 * pg_rowcheck: makes "this UPDATE/DELETE found no row" an error raised by the
 * target inside the transaction, so a COMMIT already queued behind it cannot
 * commit; and recognises that error in a result. Builds SQL text; runs nothing.
 */
#ifndef SYNCLINE_PG_ROWCHECK_H
#define SYNCLINE_PG_ROWCHECK_H

#include "core/sbuf.h"

/* Markers in the error a failed check raises (an integer cast of this text). */
#define PG_ROWCHECK_MISSING "syncline: no such row"
#define PG_ROWCHECK_PARTIAL "syncline: unchanged values unknown"
#define PG_ROWCHECK_MOVED "syncline: stored position moved"

/*
 * Appends SELECT (CASE WHEN (ok) THEN 0 ELSE <fail> END) where ok is an SQL
 * condition and <fail> raises an error whose message holds marker; with soft,
 * <fail> is the value 1 instead (the statement then succeeds and says so).
 */
void pg_rowcheck_select(sbuf_t *b, const char *ok, const char *marker, int soft);

/*
 * The malloc'd statement that runs dml (an UPDATE or DELETE without RETURNING)
 * and returns one value: 0 when it changed at least need rows or when
 * also_ok (an SQL condition evaluated on the snapshot before dml, NULL for
 * none) holds; otherwise it fails with PG_ROWCHECK_MISSING, or returns 1 with
 * soft. NULL when out of memory.
 */
char *pg_rowcheck_wrap(const char *dml, int need, const char *also_ok, int soft);

/*
 * The malloc'd statement that runs dml (an UPDATE or upsert without
 * RETURNING, whose condition includes the fence: fence, an SQL parameter such
 * as "$4::pg_lsn", NULL for none) and returns 0 when it changed a row; else it
 * fails with PG_ROWCHECK_MOVED (fenced: another session changed the row) or
 * PG_ROWCHECK_MISSING (not fenced). NULL when out of memory.
 */
char *pg_rowcheck_wrap_fenced(const char *dml, const char *fence);

/* The explanation for a failed statement's error message when it is one of
 * the checks above, else NULL (static text). */
const char *pg_rowcheck_reason(const char *errmsg);

#endif
