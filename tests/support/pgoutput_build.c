/*
 * pgoutput_build: writes replication frames for tests (see the header).
 * Aborts on allocation failure: it only ever runs inside a test.
 */
#include "support/pgoutput_build.h"

#include <stdlib.h>
#include <string.h>

static void pgoutput_build_raw(pgoutput_build_t *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) { /* a NUL after the frame, as PQgetCopyData leaves one */
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        unsigned char *d = realloc(b->data, cap);
        if (d == NULL)
            abort();
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void pgoutput_build_be(pgoutput_build_t *b, uint64_t v, int n)
{
    unsigned char buf[8];
    for (int i = 0; i < n; i++)
        buf[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
    pgoutput_build_raw(b, buf, (size_t)n);
}

static void pgoutput_build_u8(pgoutput_build_t *b, int v)
{
    pgoutput_build_be(b, (uint64_t)v, 1);
}

static void pgoutput_build_str(pgoutput_build_t *b, const char *s)
{
    pgoutput_build_raw(b, s, strlen(s) + 1);
}

static void pgoutput_build_tuple(pgoutput_build_t *b, int ncols, const char *const *values)
{
    pgoutput_build_be(b, (uint64_t)ncols, 2);
    for (int i = 0; i < ncols; i++) {
        if (values[i] == NULL) {
            pgoutput_build_u8(b, 'n');
            continue;
        }
        pgoutput_build_u8(b, 't');
        pgoutput_build_be(b, strlen(values[i]), 4);
        pgoutput_build_raw(b, values[i], strlen(values[i]));
    }
}

void pgoutput_build_free(pgoutput_build_t *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void pgoutput_build_message(pgoutput_build_t *b, int transactional, uint64_t lsn,
                            const char *prefix, const char *content)
{
    pgoutput_build_u8(b, 'M');
    pgoutput_build_u8(b, transactional ? 1 : 0);
    pgoutput_build_be(b, lsn, 8);
    pgoutput_build_str(b, prefix);
    pgoutput_build_be(b, strlen(content), 4);
    pgoutput_build_raw(b, content, strlen(content));
}

void pgoutput_build_keepalive(pgoutput_build_t *b, uint64_t wal_end, int reply_requested)
{
    pgoutput_build_u8(b, 'k');
    pgoutput_build_be(b, wal_end, 8);
    pgoutput_build_be(b, 0, 8); /* send time */
    pgoutput_build_u8(b, reply_requested ? 1 : 0);
}

void pgoutput_build_xlogdata(pgoutput_build_t *b, uint64_t wal_start, uint64_t wal_end)
{
    pgoutput_build_u8(b, 'w');
    pgoutput_build_be(b, wal_start, 8);
    pgoutput_build_be(b, wal_end, 8);
    pgoutput_build_be(b, 0, 8); /* send time */
}

void pgoutput_build_begin(pgoutput_build_t *b, uint64_t final_lsn, int64_t commit_time,
                          uint32_t xid)
{
    pgoutput_build_u8(b, 'B');
    pgoutput_build_be(b, final_lsn, 8);
    pgoutput_build_be(b, (uint64_t)commit_time, 8);
    pgoutput_build_be(b, xid, 4);
}

void pgoutput_build_commit(pgoutput_build_t *b, uint64_t commit_lsn, uint64_t end_lsn,
                           int64_t commit_time)
{
    pgoutput_build_u8(b, 'C');
    pgoutput_build_u8(b, 0); /* flags */
    pgoutput_build_be(b, commit_lsn, 8);
    pgoutput_build_be(b, end_lsn, 8);
    pgoutput_build_be(b, (uint64_t)commit_time, 8);
}

void pgoutput_build_relation(pgoutput_build_t *b, uint32_t relid, const char *nsp, const char *rel,
                             char replident, int ncols, const char *const *names, const int *key)
{
    pgoutput_build_u8(b, 'R');
    pgoutput_build_be(b, relid, 4);
    pgoutput_build_str(b, nsp);
    pgoutput_build_str(b, rel);
    pgoutput_build_u8(b, replident);
    pgoutput_build_be(b, (uint64_t)ncols, 2);
    for (int i = 0; i < ncols; i++) {
        pgoutput_build_u8(b, key[i] ? 1 : 0);
        pgoutput_build_str(b, names[i]);
        pgoutput_build_be(b, 25, 4);           /* text */
        pgoutput_build_be(b, (uint64_t)-1, 4); /* typmod -1 */
    }
}

void pgoutput_build_insert(pgoutput_build_t *b, uint32_t relid, int ncols,
                           const char *const *values)
{
    pgoutput_build_u8(b, 'I');
    pgoutput_build_be(b, relid, 4);
    pgoutput_build_u8(b, 'N');
    pgoutput_build_tuple(b, ncols, values);
}

void pgoutput_build_update(pgoutput_build_t *b, uint32_t relid, char old_kind, int ncols,
                           const char *const *old_values, const char *const *values)
{
    pgoutput_build_u8(b, 'U');
    pgoutput_build_be(b, relid, 4);
    if (old_kind != 0) {
        pgoutput_build_u8(b, old_kind);
        pgoutput_build_tuple(b, ncols, old_values);
    }
    pgoutput_build_u8(b, 'N');
    pgoutput_build_tuple(b, ncols, values);
}

void pgoutput_build_delete(pgoutput_build_t *b, uint32_t relid, char old_kind, int ncols,
                           const char *const *old_values)
{
    pgoutput_build_u8(b, 'D');
    pgoutput_build_be(b, relid, 4);
    pgoutput_build_u8(b, old_kind);
    pgoutput_build_tuple(b, ncols, old_values);
}
