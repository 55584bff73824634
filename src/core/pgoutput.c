/*
 * pgoutput: the replication wire format alone. Decodes CopyData frames and
 * pgoutput v1 messages from (buf, len) with every read bounds-checked, and
 * encodes the standby status update. No I/O, no policy, no copies of tuples.
 *
 * Decoding goes through a cursor (reader_t) that refuses to move past len;
 * the first failed read formats the error (message type, field, offset) and
 * every caller just propagates the code. Tuple values are views into buf.
 * Update carries two tuples sharing values_buf, so tuples are decoded into
 * offsets first and their pointers set only once the buffer stops growing.
 */
#include "core/pgoutput.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL's MaxTupleAttributeNumber: no relation or tuple has more. */
#define PGOUTPUT_MAX_COLS 1664
/* Smallest Relation column on the wire: flags, "" name, type oid, typmod. */
#define RELATION_COL_MIN_LEN (1 + 1 + 4 + 4)

typedef struct reader {
    const unsigned char *p;
    size_t len;
    size_t pos;
    const char *msgname; /* "Insert", "XLogData"... for errors */
    const char *tuple;   /* "old key", "old tuple", "new tuple" inside TupleData */
    int col;             /* column being decoded, or -1 */
    char *errbuf;
    size_t errsize;
} reader_t;

static void reader_init(reader_t *rd, const char *buf, size_t len, char *errbuf, size_t errsize)
{
    *rd = (reader_t){.p = (const unsigned char *)buf, .len = len, .col = -1};
    rd->errbuf = errbuf;
    rd->errsize = errsize;
    rd->msgname = "pgoutput";
}

static size_t rd_left(const reader_t *rd)
{
    return rd->len - rd->pos;
}

/* Names the field being read, with tuple and column context when inside one. */
static void rd_where(const reader_t *rd, const char *field, char *out, size_t size)
{
    if (rd->tuple != NULL && rd->col >= 0)
        snprintf(out, size, "%s column %d %s", rd->tuple, rd->col, field);
    else if (rd->tuple != NULL)
        snprintf(out, size, "%s %s", rd->tuple, field);
    else if (rd->col >= 0)
        snprintf(out, size, "column %d %s", rd->col, field);
    else
        snprintf(out, size, "%s", field);
}

__attribute__((format(printf, 4, 5))) static pgoutput_err_t
rd_fail(const reader_t *rd, pgoutput_err_t err, const char *field, const char *fmt, ...)
{
    char where[128], detail[160];
    va_list ap;

    if (rd->errbuf == NULL || rd->errsize == 0)
        return err;
    rd_where(rd, field, where, sizeof(where));
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    snprintf(rd->errbuf, rd->errsize, "%s: %s: %s", rd->msgname, where, detail);
    return err;
}

static pgoutput_err_t rd_need(const reader_t *rd, size_t n, const char *field)
{
    if (rd_left(rd) >= n)
        return PGOUTPUT_OK;
    return rd_fail(rd, PGOUTPUT_TRUNCATED, field,
                   "truncated (need %zu bytes at offset %zu, %zu left)", n, rd->pos, rd_left(rd));
}

/* Big-endian unsigned read of n <= 8 bytes. */
static pgoutput_err_t rd_uint(reader_t *rd, size_t n, uint64_t *out, const char *field)
{
    uint64_t v = 0;
    pgoutput_err_t err = rd_need(rd, n, field);

    if (err != PGOUTPUT_OK)
        return err;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | rd->p[rd->pos + i];
    rd->pos += n;
    *out = v;
    return PGOUTPUT_OK;
}

static pgoutput_err_t rd_u8(reader_t *rd, uint8_t *out, const char *field)
{
    uint64_t v = 0;
    pgoutput_err_t err = rd_uint(rd, 1, &v, field);

    *out = (uint8_t)v;
    return err;
}

static pgoutput_err_t rd_i16(reader_t *rd, int *out, const char *field)
{
    uint64_t v = 0;
    pgoutput_err_t err = rd_uint(rd, 2, &v, field);

    *out = v >= 0x8000 ? (int)v - 0x10000 : (int)v;
    return err;
}

static pgoutput_err_t rd_u32(reader_t *rd, uint32_t *out, const char *field)
{
    uint64_t v = 0;
    pgoutput_err_t err = rd_uint(rd, 4, &v, field);

    *out = (uint32_t)v;
    return err;
}

static pgoutput_err_t rd_i32(reader_t *rd, int32_t *out, const char *field)
{
    uint32_t v = 0;
    pgoutput_err_t err = rd_u32(rd, &v, field);

    *out = v > INT32_MAX ? (int32_t)(v - 0x80000000u) + INT32_MIN : (int32_t)v;
    return err;
}

static pgoutput_err_t rd_u64(reader_t *rd, uint64_t *out, const char *field)
{
    return rd_uint(rd, 8, out, field);
}

static pgoutput_err_t rd_i64(reader_t *rd, int64_t *out, const char *field)
{
    uint64_t v = 0;
    pgoutput_err_t err = rd_uint(rd, 8, &v, field);

    *out = v > INT64_MAX ? (int64_t)(v - UINT64_C(0x8000000000000000)) + INT64_MIN : (int64_t)v;
    return err;
}

/* A NUL-terminated string that must end inside the buffer; points into it. */
static pgoutput_err_t rd_str(reader_t *rd, const char **out, const char *field)
{
    const unsigned char *start = rd->p + rd->pos;
    const unsigned char *nul = rd_left(rd) > 0 ? memchr(start, '\0', rd_left(rd)) : NULL;

    if (nul == NULL)
        return rd_fail(rd, PGOUTPUT_TRUNCATED, field, "string at offset %zu not NUL-terminated",
                       rd->pos);
    *out = (const char *)start;
    rd->pos += (size_t)(nul - start) + 1;
    return PGOUTPUT_OK;
}

/* n raw bytes; points into the buffer. */
static pgoutput_err_t rd_bytes(reader_t *rd, size_t n, const char **out, const char *field)
{
    pgoutput_err_t err = rd_need(rd, n, field);

    if (err != PGOUTPUT_OK)
        return err;
    *out = (const char *)rd->p + rd->pos;
    rd->pos += n;
    return PGOUTPUT_OK;
}

static pgoutput_err_t rd_end(const reader_t *rd)
{
    if (rd_left(rd) == 0)
        return PGOUTPUT_OK;
    return rd_fail(rd, PGOUTPUT_MALFORMED, "end of message", "%zu trailing bytes at offset %zu",
                   rd_left(rd), rd->pos);
}

/* ---- CopyData frames ---- */

static pgoutput_err_t read_xlogdata(reader_t *rd, pgoutput_frame_t *out)
{
    pgoutput_err_t err;

    rd->msgname = "XLogData";
    if ((err = rd_u64(rd, &out->wal_start, "dataStart")) != PGOUTPUT_OK ||
        (err = rd_u64(rd, &out->wal_end, "walEnd")) != PGOUTPUT_OK ||
        (err = rd_i64(rd, &out->send_time, "sendTime")) != PGOUTPUT_OK)
        return err;
    out->payload = (const char *)rd->p + rd->pos;
    out->payload_len = rd_left(rd);
    return PGOUTPUT_OK;
}

static pgoutput_err_t read_keepalive(reader_t *rd, pgoutput_frame_t *out)
{
    pgoutput_err_t err;
    uint8_t reply = 0;

    rd->msgname = "keepalive";
    if ((err = rd_u64(rd, &out->wal_end, "walEnd")) != PGOUTPUT_OK ||
        (err = rd_i64(rd, &out->send_time, "sendTime")) != PGOUTPUT_OK ||
        (err = rd_u8(rd, &reply, "replyRequested")) != PGOUTPUT_OK)
        return err;
    out->reply_requested = reply != 0;
    return rd_end(rd);
}

pgoutput_err_t pgoutput_read_frame(const char *buf, size_t len, pgoutput_frame_t *out, char *errbuf,
                                   size_t errsize)
{
    reader_t rd;
    uint8_t kind = 0;
    pgoutput_err_t err;

    reader_init(&rd, buf, len, errbuf, errsize);
    rd.msgname = "CopyData";
    *out = (pgoutput_frame_t){0};
    if ((err = rd_u8(&rd, &kind, "frame kind")) != PGOUTPUT_OK)
        return err;
    out->kind = (pgoutput_frame_kind_t)kind;
    if (kind == PGOUTPUT_FRAME_XLOGDATA)
        return read_xlogdata(&rd, out);
    if (kind == PGOUTPUT_FRAME_KEEPALIVE)
        return read_keepalive(&rd, out);
    return rd_fail(&rd, PGOUTPUT_MALFORMED, "frame kind", "unknown byte 0x%02x", kind);
}

/* ---- standby status update ---- */

static char *put_be(char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)(v & 0xff);
        v >>= 8;
    }
    return p + n;
}

void pgoutput_write_status(char *buf, lsn_t write, lsn_t flush, lsn_t apply, int64_t now,
                           int reply_requested)
{
    char *p = buf;

    *p++ = 'r';
    p = put_be(p, write, 8);
    p = put_be(p, flush, 8);
    p = put_be(p, apply, 8);
    p = put_be(p, (uint64_t)now, 8);
    *p = reply_requested ? 1 : 0;
}

/* ---- scratch storage ---- */

static pgoutput_err_t grow_values(reader_t *rd, pgoutput_msg_t *msg, int need)
{
    change_value_t *v;
    int cap = msg->values_cap > 0 ? msg->values_cap : 16;

    if (need <= msg->values_cap)
        return PGOUTPUT_OK;
    while (cap < need)
        cap *= 2;
    v = realloc(msg->values_buf, (size_t)cap * sizeof(*v));
    if (v == NULL)
        return rd_fail(rd, PGOUTPUT_NOMEM, "values", "cannot allocate %d values", cap);
    msg->values_buf = v;
    msg->values_cap = cap;
    return PGOUTPUT_OK;
}

static pgoutput_err_t grow_relids(reader_t *rd, pgoutput_msg_t *msg, int need)
{
    uint32_t *r;
    int cap = msg->relids_cap > 0 ? msg->relids_cap : 16;

    if (need <= msg->relids_cap)
        return PGOUTPUT_OK;
    while (cap < need)
        cap *= 2;
    r = realloc(msg->relids_buf, (size_t)cap * sizeof(*r));
    if (r == NULL)
        return rd_fail(rd, PGOUTPUT_NOMEM, "relids", "cannot allocate %d relids", cap);
    msg->relids_buf = r;
    msg->relids_cap = cap;
    return PGOUTPUT_OK;
}

/* ---- TupleData ---- */

static pgoutput_err_t read_value(reader_t *rd, change_value_t *val)
{
    pgoutput_err_t err;
    uint8_t kind = 0;
    int32_t len = 0;

    *val = (change_value_t){.kind = CHANGE_NULL};
    if ((err = rd_u8(rd, &kind, "kind")) != PGOUTPUT_OK)
        return err;
    if (kind == CHANGE_NULL || kind == CHANGE_UNCHANGED) {
        val->kind = (change_kind_t)kind;
        return PGOUTPUT_OK;
    }
    if (kind != CHANGE_TEXT && kind != CHANGE_BINARY)
        return rd_fail(rd, PGOUTPUT_MALFORMED, "kind", "unknown byte 0x%02x", kind);
    if ((err = rd_i32(rd, &len, "length")) != PGOUTPUT_OK)
        return err;
    if (len < 0)
        return rd_fail(rd, PGOUTPUT_MALFORMED, "length", "negative (%d)", (int)len);
    val->kind = (change_kind_t)kind;
    val->len = (uint32_t)len;
    return rd_bytes(rd, (size_t)len, &val->data, "data");
}

/* Decodes TupleData into values_buf[first..]; *ncols gets the count. */
static pgoutput_err_t read_tuple(reader_t *rd, pgoutput_msg_t *msg, int first, int *ncols)
{
    pgoutput_err_t err;
    int n = 0;

    if ((err = rd_i16(rd, &n, "ncols")) != PGOUTPUT_OK)
        return err;
    if (n < 0 || n > PGOUTPUT_MAX_COLS)
        return rd_fail(rd, PGOUTPUT_MALFORMED, "ncols", "%d out of range 0..%d", n,
                       PGOUTPUT_MAX_COLS);
    if ((size_t)n > rd_left(rd)) /* every column takes at least its kind byte */
        return rd_need(rd, (size_t)n, "columns");
    if ((err = grow_values(rd, msg, first + n)) != PGOUTPUT_OK)
        return err;
    for (rd->col = 0; rd->col < n; rd->col++) {
        if ((err = read_value(rd, &msg->values_buf[first + rd->col])) != PGOUTPUT_OK)
            return err;
    }
    rd->col = -1;
    *ncols = n;
    return PGOUTPUT_OK;
}

/* Reads a tuple tag byte ('N', 'K', 'O') naming what it introduces. */
static pgoutput_err_t read_tag(reader_t *rd, uint8_t *tag)
{
    pgoutput_err_t err = rd_u8(rd, tag, "tuple tag");

    if (err == PGOUTPUT_OK && *tag != 'N' && *tag != 'K' && *tag != 'O')
        return rd_fail(rd, PGOUTPUT_MALFORMED, "tuple tag", "unknown byte 0x%02x", *tag);
    return err;
}

static pgoutput_err_t read_new_tuple(reader_t *rd, pgoutput_msg_t *msg, int first, int *ncols)
{
    uint8_t tag = 0;
    pgoutput_err_t err = read_tag(rd, &tag);

    if (err != PGOUTPUT_OK)
        return err;
    if (tag != 'N')
        return rd_fail(rd, PGOUTPUT_MALFORMED, "tuple tag", "expected 'N', got '%c'", tag);
    rd->tuple = "new tuple";
    return read_tuple(rd, msg, first, ncols);
}

static pgoutput_err_t read_old_tuple(reader_t *rd, pgoutput_msg_t *msg, uint8_t tag, int *ncols)
{
    if (tag != 'K' && tag != 'O')
        return rd_fail(rd, PGOUTPUT_MALFORMED, "tuple tag", "expected 'K' or 'O', got '%c'", tag);
    msg->u.row.old_kind = (char)tag;
    rd->tuple = tag == 'K' ? "old key" : "old tuple";
    return read_tuple(rd, msg, 0, ncols);
}

/* Points the row's tuples into values_buf once it no longer moves. */
static void row_set_tuples(pgoutput_msg_t *msg, int old_ncols, int new_ncols)
{
    pgoutput_row_t *row = &msg->u.row;

    /* values stays NULL for an absent or empty tuple: values_buf may be NULL too */
    row->old_tuple = (change_tuple_t){.ncols = old_ncols};
    row->new_tuple = (change_tuple_t){.ncols = new_ncols};
    if (row->old_kind != 0 && old_ncols > 0)
        row->old_tuple.values = msg->values_buf;
    if (new_ncols > 0)
        row->new_tuple.values = msg->values_buf + old_ncols;
}

/* ---- pgoutput messages ---- */

static pgoutput_err_t read_begin(reader_t *rd, pgoutput_msg_t *msg)
{
    pgoutput_begin_t *b = &msg->u.begin;
    pgoutput_err_t err;

    if ((err = rd_u64(rd, &b->final_lsn, "final_lsn")) != PGOUTPUT_OK ||
        (err = rd_i64(rd, &b->commit_time, "commit_ts")) != PGOUTPUT_OK ||
        (err = rd_u32(rd, &b->xid, "xid")) != PGOUTPUT_OK)
        return err;
    return PGOUTPUT_OK;
}

static pgoutput_err_t read_commit(reader_t *rd, pgoutput_msg_t *msg)
{
    pgoutput_commit_t *c = &msg->u.commit;
    pgoutput_err_t err;

    if ((err = rd_u8(rd, &c->flags, "flags")) != PGOUTPUT_OK ||
        (err = rd_u64(rd, &c->commit_lsn, "commit_lsn")) != PGOUTPUT_OK ||
        (err = rd_u64(rd, &c->end_lsn, "end_lsn")) != PGOUTPUT_OK ||
        (err = rd_i64(rd, &c->commit_time, "commit_ts")) != PGOUTPUT_OK)
        return err;
    return PGOUTPUT_OK;
}

static pgoutput_err_t read_origin(reader_t *rd, pgoutput_msg_t *msg)
{
    pgoutput_origin_t *o = &msg->u.origin;
    pgoutput_err_t err;

    if ((err = rd_u64(rd, &o->origin_lsn, "origin_lsn")) != PGOUTPUT_OK)
        return err;
    return rd_str(rd, &o->name, "name");
}

/* pgoutput writes "" for pg_catalog to save bytes. */
static const char *namespace_name(const char *wire)
{
    return wire[0] == '\0' ? "pg_catalog" : wire;
}

static pgoutput_err_t read_type(reader_t *rd, pgoutput_msg_t *msg)
{
    pgoutput_type_t *t = &msg->u.type;
    pgoutput_err_t err;

    if ((err = rd_u32(rd, &t->oid, "oid")) != PGOUTPUT_OK ||
        (err = rd_str(rd, &t->nspname, "nspname")) != PGOUTPUT_OK ||
        (err = rd_str(rd, &t->typname, "typname")) != PGOUTPUT_OK)
        return err;
    t->nspname = namespace_name(t->nspname);
    return PGOUTPUT_OK;
}

static pgoutput_err_t read_insert(reader_t *rd, pgoutput_msg_t *msg)
{
    pgoutput_err_t err;
    int n = 0;

    if ((err = rd_u32(rd, &msg->u.row.relid, "relid")) != PGOUTPUT_OK ||
        (err = read_new_tuple(rd, msg, 0, &n)) != PGOUTPUT_OK)
        return err;
    row_set_tuples(msg, 0, n);
    return PGOUTPUT_OK;
}

static pgoutput_err_t read_update(reader_t *rd, pgoutput_msg_t *msg)
{
    pgoutput_err_t err;
    uint8_t tag = 0;
    int old_n = 0, new_n = 0;

    if ((err = rd_u32(rd, &msg->u.row.relid, "relid")) != PGOUTPUT_OK)
        return err;
    if (rd_left(rd) > 0 && rd->p[rd->pos] != 'N') {
        if ((err = read_tag(rd, &tag)) != PGOUTPUT_OK ||
            (err = read_old_tuple(rd, msg, tag, &old_n)) != PGOUTPUT_OK)
            return err;
        rd->tuple = NULL;
    }
    if ((err = read_new_tuple(rd, msg, old_n, &new_n)) != PGOUTPUT_OK)
        return err;
    row_set_tuples(msg, old_n, new_n);
    return PGOUTPUT_OK;
}

static pgoutput_err_t read_delete(reader_t *rd, pgoutput_msg_t *msg)
{
    pgoutput_err_t err;
    uint8_t tag = 0;
    int n = 0;

    if ((err = rd_u32(rd, &msg->u.row.relid, "relid")) != PGOUTPUT_OK ||
        (err = read_tag(rd, &tag)) != PGOUTPUT_OK ||
        (err = read_old_tuple(rd, msg, tag, &n)) != PGOUTPUT_OK)
        return err;
    row_set_tuples(msg, n, 0);
    return PGOUTPUT_OK;
}

static pgoutput_err_t read_truncate(reader_t *rd, pgoutput_msg_t *msg)
{
    pgoutput_truncate_t *t = &msg->u.truncate;
    pgoutput_err_t err;
    int32_t n = 0;

    if ((err = rd_i32(rd, &n, "nrels")) != PGOUTPUT_OK)
        return err;
    if (n < 0)
        return rd_fail(rd, PGOUTPUT_MALFORMED, "nrels", "negative (%d)", (int)n);
    if ((err = rd_u8(rd, &t->options, "options")) != PGOUTPUT_OK)
        return err;
    if ((size_t)n > rd_left(rd) / 4)
        return rd_need(rd, (size_t)n * 4, "relids");
    if ((err = grow_relids(rd, msg, n)) != PGOUTPUT_OK)
        return err;
    for (int i = 0; i < n; i++) {
        if ((err = rd_u32(rd, &msg->relids_buf[i], "relid")) != PGOUTPUT_OK)
            return err;
    }
    t->nrelids = n;
    t->relids = msg->relids_buf;
    return PGOUTPUT_OK;
}

static pgoutput_err_t read_message(reader_t *rd, pgoutput_msg_t *msg)
{
    pgoutput_message_t *m = &msg->u.message;
    pgoutput_err_t err;

    if ((err = rd_u8(rd, &m->flags, "flags")) != PGOUTPUT_OK ||
        (err = rd_u64(rd, &m->lsn, "lsn")) != PGOUTPUT_OK ||
        (err = rd_str(rd, &m->prefix, "prefix")) != PGOUTPUT_OK ||
        (err = rd_u32(rd, &m->len, "content length")) != PGOUTPUT_OK)
        return err;
    return rd_bytes(rd, m->len, &m->content, "content");
}

/* ---- Relation ---- */

static pgoutput_err_t rel_str(reader_t *rd, char **out, const char *field)
{
    const char *s = NULL;
    pgoutput_err_t err = rd_str(rd, &s, field);

    if (err != PGOUTPUT_OK)
        return err;
    *out = strdup(s);
    if (*out == NULL)
        return rd_fail(rd, PGOUTPUT_NOMEM, field, "cannot copy string");
    return PGOUTPUT_OK;
}

static pgoutput_err_t read_rel_column(reader_t *rd, change_column_t *col)
{
    pgoutput_err_t err;
    uint8_t flags = 0;

    if ((err = rd_u8(rd, &flags, "flags")) != PGOUTPUT_OK ||
        (err = rel_str(rd, &col->name, "name")) != PGOUTPUT_OK ||
        (err = rd_u32(rd, &col->type_oid, "type oid")) != PGOUTPUT_OK ||
        (err = rd_i32(rd, &col->typmod, "typmod")) != PGOUTPUT_OK)
        return err;
    col->is_key = (flags & 1) != 0;
    return PGOUTPUT_OK;
}

static pgoutput_err_t read_rel_ncols(reader_t *rd, int *n)
{
    pgoutput_err_t err = rd_i16(rd, n, "ncols");

    if (err != PGOUTPUT_OK)
        return err;
    if (*n < 0 || *n > PGOUTPUT_MAX_COLS)
        return rd_fail(rd, PGOUTPUT_MALFORMED, "ncols", "%d out of range 0..%d", *n,
                       PGOUTPUT_MAX_COLS);
    if ((size_t)*n > rd_left(rd) / RELATION_COL_MIN_LEN)
        return rd_need(rd, (size_t)*n * RELATION_COL_MIN_LEN, "columns");
    return PGOUTPUT_OK;
}

static pgoutput_err_t read_rel_columns(reader_t *rd, change_relation_t *rel)
{
    pgoutput_err_t err;
    int n = 0;

    if ((err = read_rel_ncols(rd, &n)) != PGOUTPUT_OK || n == 0)
        return err;
    rel->cols = calloc((size_t)n, sizeof(*rel->cols));
    if (rel->cols == NULL)
        return rd_fail(rd, PGOUTPUT_NOMEM, "columns", "cannot allocate %d columns", n);
    rel->ncols = n;
    for (rd->col = 0; rd->col < n; rd->col++) {
        if ((err = read_rel_column(rd, &rel->cols[rd->col])) != PGOUTPUT_OK)
            return err;
    }
    rd->col = -1;
    return PGOUTPUT_OK;
}

static pgoutput_err_t read_rel_replident(reader_t *rd, change_relation_t *rel)
{
    uint8_t r = 0;
    pgoutput_err_t err = rd_u8(rd, &r, "replident");

    if (err != PGOUTPUT_OK)
        return err;
    if (r != 'd' && r != 'n' && r != 'f' && r != 'i')
        return rd_fail(rd, PGOUTPUT_MALFORMED, "replident", "unknown byte 0x%02x", r);
    rel->replident = (char)r;
    return PGOUTPUT_OK;
}

static pgoutput_err_t read_rel_names(reader_t *rd, change_relation_t *rel)
{
    const char *nsp = NULL;
    pgoutput_err_t err;

    if ((err = rd_str(rd, &nsp, "nspname")) != PGOUTPUT_OK)
        return err;
    rel->nspname = strdup(namespace_name(nsp));
    if (rel->nspname == NULL)
        return rd_fail(rd, PGOUTPUT_NOMEM, "nspname", "cannot copy string");
    return rel_str(rd, &rel->relname, "relname");
}

static pgoutput_err_t read_relation(reader_t *rd, pgoutput_msg_t *msg)
{
    change_relation_t *rel = calloc(1, sizeof(*rel));
    pgoutput_err_t err;

    if (rel == NULL)
        return rd_fail(rd, PGOUTPUT_NOMEM, "relation", "cannot allocate");
    if ((err = rd_u32(rd, &rel->relid, "relid")) != PGOUTPUT_OK ||
        (err = read_rel_names(rd, rel)) != PGOUTPUT_OK ||
        (err = read_rel_replident(rd, rel)) != PGOUTPUT_OK ||
        (err = read_rel_columns(rd, rel)) != PGOUTPUT_OK) {
        change_relation_free(rel);
        return err;
    }
    msg->relation = rel;
    return PGOUTPUT_OK;
}

/* ---- dispatch ---- */

typedef pgoutput_err_t (*msg_reader_fn)(reader_t *rd, pgoutput_msg_t *msg);

typedef struct msg_type {
    char byte;
    const char *name;
    msg_reader_fn read; /* NULL: recognised but not supported in v1 */
} msg_type_t;

static const msg_type_t msg_types[] = {
    {'B', "Begin", read_begin},       {'C', "Commit", read_commit},
    {'O', "Origin", read_origin},     {'R', "Relation", read_relation},
    {'Y', "Type", read_type},         {'I', "Insert", read_insert},
    {'U', "Update", read_update},     {'D', "Delete", read_delete},
    {'T', "Truncate", read_truncate}, {'M', "Message", read_message},
    {'S', "Stream Start", NULL},      {'E', "Stream Stop", NULL},
    {'c', "Stream Commit", NULL},     {'A', "Stream Abort", NULL},
    {'b', "Begin Prepare", NULL},     {'P', "Prepare", NULL},
    {'K', "Commit Prepared", NULL},   {'r', "Rollback Prepared", NULL},
    {'p', "Stream Prepare", NULL},
};

static const msg_type_t *msg_type_find(uint8_t byte)
{
    for (size_t i = 0; i < sizeof(msg_types) / sizeof(msg_types[0]); i++) {
        if ((uint8_t)msg_types[i].byte == byte)
            return &msg_types[i];
    }
    return NULL;
}

/* Forgets the previous message; a relation the caller did not take is freed. */
static void msg_reset(pgoutput_msg_t *msg)
{
    change_relation_free(msg->relation);
    msg->relation = NULL;
    memset(&msg->u, 0, sizeof(msg->u));
}

pgoutput_err_t pgoutput_read_msg(const char *buf, size_t len, pgoutput_msg_t *msg, char *errbuf,
                                 size_t errsize)
{
    const msg_type_t *type;
    reader_t rd;
    uint8_t byte = 0;
    pgoutput_err_t err;

    msg_reset(msg);
    reader_init(&rd, buf, len, errbuf, errsize);
    if ((err = rd_u8(&rd, &byte, "message type")) != PGOUTPUT_OK)
        return err;
    type = msg_type_find(byte);
    if (type == NULL)
        return rd_fail(&rd, PGOUTPUT_MALFORMED, "message type", "unknown byte 0x%02x", byte);
    rd.msgname = type->name;
    if (type->read == NULL)
        return rd_fail(&rd, PGOUTPUT_UNSUPPORTED, "message type",
                       "'%c' is not supported (protocol v1, no streaming or two-phase)", byte);
    msg->kind = (pgoutput_msg_kind_t)byte;
    if ((err = type->read(&rd, msg)) == PGOUTPUT_OK)
        err = rd_end(&rd);
    if (err != PGOUTPUT_OK)
        msg_reset(msg);
    return err;
}

static void terminate_tuple(change_tuple_t *t, char *buf, size_t len)
{
    for (int i = 0; t->values != NULL && i < t->ncols; i++) {
        change_value_t *v = &t->values[i];
        if (v->kind != CHANGE_TEXT || v->data < buf || (size_t)(v->data - buf) > len ||
            v->len > len - (size_t)(v->data - buf))
            continue; /* not a view into buf */
        buf[(v->data - buf) + v->len] = '\0';
        v->nul = true;
    }
}

void pgoutput_msg_terminate(pgoutput_msg_t *msg, char *buf, size_t len)
{
    if (msg->kind != PGOUTPUT_INSERT && msg->kind != PGOUTPUT_UPDATE &&
        msg->kind != PGOUTPUT_DELETE)
        return;
    terminate_tuple(&msg->u.row.old_tuple, buf, len);
    terminate_tuple(&msg->u.row.new_tuple, buf, len);
}

void pgoutput_msg_clear(pgoutput_msg_t *msg)
{
    if (msg == NULL)
        return;
    change_relation_free(msg->relation);
    free(msg->values_buf);
    free(msg->relids_buf);
    memset(msg, 0, sizeof(*msg));
}
