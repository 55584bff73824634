/*
 * pg_rowcheck: server-side row-count checks for applied UPDATEs and DELETEs.
 *
 * A 0-row UPDATE is no SQL error, so the server commits the transaction it is
 * in; counting rows when the results come back is too late once COMMIT was
 * pipelined behind it. The statement counts its own rows instead (RETURNING
 * in a data-modifying CTE) and fails when it touched too few, which aborts the
 * transaction on the server. The failure is an integer cast of a text holding
 * a marker: plain SQL has no RAISE, and the marker cannot be confused with an
 * error of a trigger or a user's transform expression. The CASE keeps the cast
 * out of reach of constant folding.
 */
#include "pg/pg_rowcheck.h"

#include <stdlib.h>
#include <string.h>

void pg_rowcheck_select(sbuf_t *b, const char *ok, const char *marker, int soft)
{
    sbuf_add(b, "SELECT (CASE WHEN ");
    sbuf_add(b, ok);
    sbuf_add(b, " THEN '0' ELSE '");
    sbuf_add(b, soft ? "1" : marker);
    sbuf_add(b, "' END)::int");
}

/* WITH syncline_rows AS (dml RETURNING 1) <select> FROM syncline_rows, the
 * select appended by the caller between the two halves. */
static void pg_rowcheck_open(sbuf_t *b, const char *dml)
{
    sbuf_add(b, "WITH syncline_rows AS (");
    sbuf_add(b, dml);
    sbuf_add(b, " RETURNING 1) ");
}

static char *pg_rowcheck_close(sbuf_t *b)
{
    sbuf_add(b, " FROM syncline_rows");
    return sbuf_take(b);
}

char *pg_rowcheck_wrap(const char *dml, int need, const char *also_ok, int soft)
{
    sbuf_t b = {0}, ok = {0};
    sbuf_addf(&ok, "count(*) >= %d", need > 0 ? need : 1);
    if (also_ok != NULL) {
        sbuf_add(&ok, " OR ");
        sbuf_add(&ok, also_ok);
    }
    pg_rowcheck_open(&b, dml);
    pg_rowcheck_select(&b, ok.s ? ok.s : "false", PG_ROWCHECK_MISSING, soft);
    b.oom |= ok.oom;
    free(ok.s);
    return pg_rowcheck_close(&b);
}

char *pg_rowcheck_wrap_fenced(const char *dml, const char *fence)
{
    sbuf_t b = {0};
    pg_rowcheck_open(&b, dml);
    sbuf_addf(&b,
              "SELECT (CASE WHEN count(*) >= 1 THEN '0' WHEN %s IS NULL THEN "
              "'" PG_ROWCHECK_MISSING "' ELSE '" PG_ROWCHECK_MOVED "' END)::int",
              fence);
    return pg_rowcheck_close(&b);
}

const char *pg_rowcheck_reason(const char *errmsg)
{
    if (errmsg == NULL)
        return NULL;
    if (strstr(errmsg, PG_ROWCHECK_MISSING) != NULL)
        return "no such row on the target (the target diverged from the source; set "
               "apply.on_missing_row to \"skip\" to carry on)";
    if (strstr(errmsg, PG_ROWCHECK_PARTIAL) != NULL)
        return "the row now passes the table's filter but is not on the target, and the UPDATE "
               "did not send its unchanged TOAST values; set REPLICA IDENTITY FULL on the source "
               "table so they travel with the change";
    if (strstr(errmsg, PG_ROWCHECK_MOVED) != NULL)
        return "the stored position moved: the row no longer holds what this session read or "
               "wrote last, so another session committed to it (a COMMIT of a connection given "
               "up on that landed late, or a second syncline with this name); nothing of this "
               "batch was applied; a restart reads the position again";
    return NULL;
}
