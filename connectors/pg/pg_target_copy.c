/*
 * pg_target_copy: sends a run of inserts into one target table as one
 * COPY FROM STDIN (text format). See pg_target_copy.h.
 */
#include "pg/pg_target_copy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/copy_escape.h"
#include "core/lsn.h"
#include "core/sbuf.h"
#include "pg/pg_conn.h"

#define PG_TARGET_COPY_PIECE (64u << 10) /* bytes handed to libpq at a time */

/* The format all the m rows' values in cols fit: PG_TARGET_COPY_TEXT (text
 * or NULL), PG_TARGET_COPY_BINARY (binary or NULL), or 0 (mixed, an
 * unchanged TOAST value, a row that is not an insert). */
int pg_target_copy_fits(const change_row_t *rows, int m, const int *cols, int ncols)
{
    int text = 1, binary = 1;
    for (int r = 0; r < m && (text || binary); r++) {
        const change_tuple_t *t = rows[r].new_tuple;
        if (rows[r].op != CHANGE_INSERT || t == NULL)
            return 0;
        for (int i = 0; i < ncols; i++) {
            if (cols[i] >= t->ncols)
                return 0;
            char kind = t->values[cols[i]].kind;
            text &= kind == CHANGE_TEXT || kind == CHANGE_NULL;
            binary &= kind == CHANGE_BINARY || kind == CHANGE_NULL;
        }
    }
    return text ? PG_TARGET_COPY_TEXT : binary ? PG_TARGET_COPY_BINARY : 0;
}

/* The output buffer of one COPY: filled, then sent when full (libpq's own
 * buffer stays about one piece). */
typedef struct pg_target_copy_out {
    PGconn *conn;
    char *buf;
    size_t n;
} pg_target_copy_out_t;

static err_t pg_target_copy_flush(pg_target_copy_out_t *o, char *errbuf, size_t errsize)
{
    err_t err = o->n > 0 ? pg_conn_copy_send(o->conn, NULL, o->buf, o->n, errbuf, errsize) : ERR_OK;
    o->n = 0;
    return err;
}

/* Appends one byte sequence that must not be split (an escape, a separator). */
static err_t pg_target_copy_add(pg_target_copy_out_t *o, const char *s, size_t len, char *errbuf,
                                size_t errsize)
{
    err_t err = ERR_OK;
    if (o->n + len > PG_TARGET_COPY_PIECE)
        err = pg_target_copy_flush(o, errbuf, errsize);
    memcpy(o->buf + o->n, s, len);
    o->n += len;
    return err;
}

/* Appends len bytes that may be split across pieces. */
static err_t pg_target_copy_bytes(pg_target_copy_out_t *o, const char *p, size_t len, char *errbuf,
                                  size_t errsize)
{
    err_t err = ERR_OK;
    while (err == ERR_OK && len > 0) {
        size_t n = PG_TARGET_COPY_PIECE - o->n < len ? PG_TARGET_COPY_PIECE - o->n : len;
        memcpy(o->buf + o->n, p, n);
        o->n += n;
        p += n;
        len -= n;
        if (len > 0)
            err = pg_target_copy_flush(o, errbuf, errsize);
    }
    return err;
}

/* One value: \N for NULL, else escaped, in as many pieces as it needs. */
static err_t pg_target_copy_value(pg_target_copy_out_t *o, const change_value_t *v, char *errbuf,
                                  size_t errsize)
{
    if (v->kind == CHANGE_NULL)
        return pg_target_copy_add(o, "\\N", 2, errbuf, errsize);
    const char *p = v->data, *end = v->data + v->len;
    err_t err = ERR_OK;
    while (err == ERR_OK && p < end) {
        o->n += copy_escape(&p, end, o->buf + o->n, PG_TARGET_COPY_PIECE - o->n);
        if (p < end)
            err = pg_target_copy_flush(o, errbuf, errsize);
    }
    return err;
}

/* A big-endian integer of n bytes (2 or 4), as COPY BINARY frames its data. */
static err_t pg_target_copy_int(pg_target_copy_out_t *o, uint32_t v, int n, char *errbuf,
                                size_t errsize)
{
    char b[4];
    for (int i = 0; i < n; i++)
        b[i] = (char)(v >> (8 * (n - 1 - i)));
    return pg_target_copy_add(o, b, (size_t)n, errbuf, errsize);
}

/* COPY BINARY: the header, each row as its field count and each field as
 * its length (-1: NULL) and the send-function bytes pgoutput gave, the
 * trailer. The target's receive function reads them, as for a binary
 * parameter. */
static err_t pg_target_copy_binary(pg_target_copy_out_t *o, const change_row_t *rows, int m,
                                   const int *cols, int ncols, char *errbuf, size_t errsize)
{
    static const char header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
    err_t err = pg_target_copy_add(o, header, sizeof(header), errbuf, errsize);
    for (int r = 0; r < m && err == ERR_OK; r++) {
        err = pg_target_copy_int(o, (uint32_t)ncols, 2, errbuf, errsize);
        for (int i = 0; i < ncols && err == ERR_OK; i++) {
            const change_value_t *v = &rows[r].new_tuple->values[cols[i]];
            if (v->kind == CHANGE_NULL) {
                err = pg_target_copy_int(o, UINT32_MAX, 4, errbuf, errsize);
                continue;
            }
            err = pg_target_copy_int(o, (uint32_t)v->len, 4, errbuf, errsize);
            if (err == ERR_OK && v->len > 0)
                err = pg_target_copy_bytes(o, v->data, v->len, errbuf, errsize);
        }
    }
    if (err == ERR_OK)
        err = pg_target_copy_int(o, UINT16_MAX, 2, errbuf, errsize);
    return err == ERR_OK ? pg_target_copy_flush(o, errbuf, errsize) : err;
}

static err_t pg_target_copy_text(pg_target_copy_out_t *o, const change_row_t *rows, int m,
                                 const int *cols, int ncols, char *errbuf, size_t errsize)
{
    err_t err = ERR_OK;
    for (int r = 0; r < m && err == ERR_OK; r++) {
        for (int i = 0; i < ncols && err == ERR_OK; i++) {
            if (i > 0)
                err = pg_target_copy_add(o, "\t", 1, errbuf, errsize);
            if (err == ERR_OK)
                err = pg_target_copy_value(o, &rows[r].new_tuple->values[cols[i]], errbuf, errsize);
        }
        if (err == ERR_OK)
            err = pg_target_copy_add(o, "\n", 1, errbuf, errsize);
    }
    return err == ERR_OK ? pg_target_copy_flush(o, errbuf, errsize) : err;
}

/* "COPY target (c1, c2, ...) FROM STDIN" in format; NULL when out of memory. */
static char *pg_target_copy_sql(const char *target, char *const *qcols, const int *cols, int ncols,
                                int format)
{
    sbuf_t sb = {0};
    sbuf_add(&sb, "COPY ");
    sbuf_add(&sb, target);
    sbuf_add(&sb, " (");
    for (int i = 0; i < ncols; i++) {
        sbuf_add(&sb, i ? ", " : "");
        sbuf_add(&sb, qcols[cols[i]]);
    }
    sbuf_add(&sb,
             format == PG_TARGET_COPY_BINARY ? ") FROM STDIN (FORMAT binary)" : ") FROM STDIN");
    return sbuf_take(&sb);
}

/* The row a COPY error is about, 0-based, from its "COPY <table>, line N"
 * context; -1 when the message does not tell (a COPY that did not start, a
 * server whose messages are not in English). */
static int pg_target_copy_failed_row(const char *msg, int m)
{
    const char *ctx = strstr(msg, "CONTEXT:  COPY ");
    const char *at = ctx != NULL ? strstr(ctx, ", line ") : NULL;
    long line = at != NULL ? strtol(at + 7, NULL, 10) : 0;
    return line >= 1 && line <= m ? (int)line - 1 : -1;
}

/* errbuf: what failed, naming the table, the row's LSN and key (the first
 * row's when the failing one is not known), and msg. */
static void pg_target_copy_explain(const char *display, const change_row_t *rows, int m,
                                   const char *msg, char *errbuf, size_t errsize)
{
    int row = pg_target_copy_failed_row(msg, m);
    const change_row_t *r = &rows[row >= 0 ? row : 0];
    char key[256], l[LSN_STRLEN], text[1024], which[64];
    change_key_text(r->rel, r->new_tuple, key, sizeof(key));
    if (row >= 0)
        snprintf(which, sizeof(which), "row %d of %d in one COPY", row + 1, m);
    else
        snprintf(which, sizeof(which), "first of %d rows in one COPY", m);
    snprintf(text, sizeof(text), "%s", msg);
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = '\0';
    snprintf(errbuf, errsize, "target: COPY on %s failed (lsn=%s key=%s, %s): %s", display,
             lsn_format(r->lsn, l, sizeof(l)), key, which, text);
}

err_t pg_target_copy_rows(pg_pipe_t *pp, const char *target, char *const *qcols,
                          const char *display, const change_row_t *rows, int m, const int *cols,
                          int ncols, int format, char *errbuf, size_t errsize)
{
    err_t err = pg_pipe_leave(pp, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    PGconn *conn = pg_pipe_conn(pp);
    char msg[1024] = "";
    char *sql = pg_target_copy_sql(target, qcols, cols, ncols, format);
    pg_target_copy_out_t o = {.conn = conn, .buf = malloc(PG_TARGET_COPY_PIECE)};
    if (sql == NULL || o.buf == NULL) {
        free(sql);
        free(o.buf);
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    PGresult *res = pg_conn_query(conn, sql, 0, NULL);
    free(sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        pg_conn_message(conn, msg, sizeof(msg));
        err = pg_conn_classify(conn);
        PQclear(res);
        free(o.buf);
        pg_target_copy_explain(display, rows, m, msg, errbuf, errsize);
        return err;
    }
    PQclear(res);
    err = format == PG_TARGET_COPY_BINARY
              ? pg_target_copy_binary(&o, rows, m, cols, ncols, msg, sizeof(msg))
              : pg_target_copy_text(&o, rows, m, cols, ncols, msg, sizeof(msg));
    free(o.buf);
    uint64_t copied = 0;
    err = pg_conn_copy_finish(conn, err != ERR_OK ? "syncline: sending rows failed" : NULL, NULL,
                              &copied, err, msg, sizeof(msg));
    if (err == ERR_OK && copied != (uint64_t)m) {
        snprintf(msg, sizeof(msg), "the server stored %llu rows of %d", (unsigned long long)copied,
                 m);
        err = ERR_RUNTIME;
    }
    if (err != ERR_OK) {
        pg_target_copy_explain(display, rows, m, msg, errbuf, errsize);
        return err;
    }
    return pg_pipe_enter(pp, errbuf, errsize);
}
