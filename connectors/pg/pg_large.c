/*
 * pg_large: a row's large values go to the target by COPY in pieces.
 *
 * PQsendQueryPrepared copies every parameter into one Bind message, so
 * libpq's output buffer grows to the size of the largest value (and keeps
 * that size). COPY FROM STDIN takes a value in pieces instead: each piece
 * is escaped into a small buffer and handed to PQputCopyData, and sent
 * before the next one. COPY is not allowed in pipeline mode, so the
 * pipeline is drained and left first; everything stays in the open target
 * transaction (a Sync inside BEGIN does not end it), so a failure of the
 * row's statement later still rolls back the whole source transaction.
 */
#include "pg/pg_large.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/copy_escape.h"
#include "core/log.h"
#include "core/lsn.h"
#include "pg/pg_conn.h"

#define PG_LARGE_PIECE (64u << 10)

/* ON COMMIT DELETE ROWS: a staged value does not outlive its transaction. A
 * creation undone by a rollback is redone by the next row: IF NOT EXISTS. */
#define PG_LARGE_PREPARE                                                                           \
    "CREATE TEMP TABLE IF NOT EXISTS syncline_large (i int, v text) ON COMMIT DELETE ROWS; "       \
    "TRUNCATE " PG_LARGE_TABLE

int pg_large_is(const change_row_t *row, int c, size_t limit)
{
    const change_tuple_t *t = row->new_tuple;
    if (limit == 0 || t == NULL || c >= t->ncols || row->rel->cols[c].is_key)
        return 0;
    return t->values[c].kind == CHANGE_TEXT && t->values[c].len >= limit;
}

int pg_large_any(const change_row_t *row, size_t limit)
{
    for (int c = 0; c < row->rel->ncols; c++) {
        if (pg_large_is(row, c, limit))
            return 1;
    }
    return 0;
}

int pg_large_mark(const change_row_t *row, size_t limit, char *shape)
{
    int n = 0;
    if (shape[0] == 'D')
        return 0;
    for (int c = 0; c < row->rel->ncols; c++) {
        if (shape[c + 1] == '1' && pg_large_is(row, c, limit)) {
            shape[c + 1] = PG_LARGE_SHAPE;
            n++;
        }
    }
    return n;
}

/* One COPY line: "<c>\t<escaped value>\n", in pieces of buf (PG_LARGE_PIECE). */
static err_t pg_large_put_value(PGconn *conn, int c, const change_value_t *v, char *buf,
                                char *errbuf, size_t errsize)
{
    size_t n = (size_t)snprintf(buf, PG_LARGE_PIECE, "%d\t", c);
    const char *p = v->data, *end = v->data + v->len;
    err_t err = ERR_OK;
    while (err == ERR_OK && p < end) {
        n += copy_escape(&p, end, buf + n, PG_LARGE_PIECE - n);
        if (p == end && n < PG_LARGE_PIECE)
            break;
        err = pg_conn_copy_send(conn, NULL, buf, n, errbuf, errsize);
        n = 0;
    }
    if (err == ERR_OK) {
        buf[n++] = '\n';
        err = pg_conn_copy_send(conn, NULL, buf, n, errbuf, errsize);
    }
    return err;
}

/* COPY of every marked column's value. */
static err_t pg_large_copy(PGconn *conn, const change_row_t *row, const char *shape, char *errbuf,
                           size_t errsize, size_t *bytes)
{
    PGresult *res = pg_conn_query(conn, "COPY " PG_LARGE_TABLE " (i, v) FROM STDIN", 0, NULL);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        pg_conn_message(conn, errbuf, errsize);
        PQclear(res);
        return pg_conn_classify(conn);
    }
    PQclear(res);
    char *buf = malloc(PG_LARGE_PIECE);
    err_t err = buf == NULL ? ERR_RUNTIME : ERR_OK;
    if (buf == NULL)
        snprintf(errbuf, errsize, "out of memory");
    for (int c = 0; err == ERR_OK && c < row->rel->ncols; c++) {
        if (shape[c + 1] != PG_LARGE_SHAPE)
            continue;
        err = pg_large_put_value(conn, c, &row->new_tuple->values[c], buf, errbuf, errsize);
        *bytes += row->new_tuple->values[c].len;
    }
    free(buf);
    return pg_conn_copy_finish(conn, err != ERR_OK ? "syncline: staging failed" : NULL, NULL, NULL,
                               err, errbuf, errsize);
}

/* The first staged column's name, for messages. */
static const char *pg_large_first(const change_row_t *row, const char *shape)
{
    for (int c = 0; c < row->rel->ncols; c++) {
        if (shape[c + 1] == PG_LARGE_SHAPE)
            return row->rel->cols[c].name;
    }
    return "?";
}

err_t pg_large_stage(pg_pipe_t *pp, const change_row_t *row, const char *shape, const char *table,
                     char *errbuf, size_t errsize)
{
    err_t err = pg_pipe_leave(pp, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    PGconn *conn = pg_pipe_conn(pp);
    char m[768], l[LSN_STRLEN], key[256];
    size_t bytes = 0;
    err = pg_conn_run(conn, PG_LARGE_PREPARE, 0, NULL, PGRES_COMMAND_OK, "preparing", m, sizeof(m));
    if (err == ERR_OK)
        err = pg_large_copy(conn, row, shape, m, sizeof(m), &bytes);
    lsn_format(row->lsn, l, sizeof(l));
    change_key_text(row->rel, row->old_tuple ? row->old_tuple : row->new_tuple, key, sizeof(key));
    if (err != ERR_OK) {
        size_t n = strlen(m);
        while (n > 0 && m[n - 1] == '\n')
            m[--n] = '\0';
        snprintf(errbuf, errsize,
                 "target: staging the large values of %s (column \"%s\", lsn=%s key=%s) failed: %s",
                 table, pg_large_first(row, shape), l, key, m);
        return err;
    }
    log_write(LOG_DEBUG, "large values staged table=%s column=%s lsn=%s bytes=%zu", table,
              pg_large_first(row, shape), l, bytes);
    return pg_pipe_enter(pp, errbuf, errsize);
}
