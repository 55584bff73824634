/*
 * change: ownership helpers for the shared change model (relation copy, free,
 * column lookup). Knows nothing about any wire format; no I/O.
 */
#include "core/change.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

/* strdup that passes NULL through; *ok turns false on allocation failure. */
static char *dup_str(const char *s, bool *ok)
{
    char *d;

    if (s == NULL)
        return NULL;
    d = strdup(s);
    if (d == NULL)
        *ok = false;
    return d;
}

static bool dup_columns(change_relation_t *dst, const change_relation_t *src)
{
    bool ok = true;

    if (src->ncols <= 0 || src->cols == NULL)
        return true;
    dst->cols = calloc((size_t)src->ncols, sizeof(*dst->cols));
    if (dst->cols == NULL)
        return false;
    dst->ncols = src->ncols;
    for (int i = 0; i < src->ncols; i++) {
        dst->cols[i] = src->cols[i];
        dst->cols[i].name = dup_str(src->cols[i].name, &ok);
    }
    return ok;
}

change_relation_t *change_relation_dup(const change_relation_t *rel)
{
    change_relation_t *d;
    bool ok = true;

    if (rel == NULL)
        return NULL;
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    d->relid = rel->relid;
    d->replident = rel->replident;
    d->nspname = dup_str(rel->nspname, &ok);
    d->relname = dup_str(rel->relname, &ok);
    if (!ok || !dup_columns(d, rel)) {
        change_relation_free(d);
        return NULL;
    }
    return d;
}

void change_relation_free(change_relation_t *rel)
{
    if (rel == NULL)
        return;
    for (int i = 0; i < rel->ncols && rel->cols != NULL; i++)
        free(rel->cols[i].name);
    free(rel->cols);
    free(rel->nspname);
    free(rel->relname);
    free(rel);
}

int change_relation_find_column(const change_relation_t *rel, const char *name)
{
    if (rel == NULL || name == NULL || rel->cols == NULL)
        return -1;
    for (int i = 0; i < rel->ncols; i++) {
        if (rel->cols[i].name != NULL && strcmp(rel->cols[i].name, name) == 0)
            return i;
    }
    return -1;
}

const char *change_relation_duplicate(const change_relation_t *rel)
{
    for (int i = 1; rel != NULL && i < rel->ncols; i++) {
        for (int j = 0; j < i; j++) {
            if (rel->cols[i].name != NULL && rel->cols[j].name != NULL &&
                strcmp(rel->cols[i].name, rel->cols[j].name) == 0)
                return rel->cols[i].name;
        }
    }
    return NULL;
}

#define CHANGE_KEY_TEXT_MAX 64 /* characters of one key value an error message shows */

/* The big-endian signed integer of n bytes (2, 4 or 8) at p. */
static long long change_be_int(const unsigned char *p, size_t n)
{
    unsigned long long u = 0;
    for (size_t i = 0; i < n; i++)
        u = (u << 8) | p[i];
    if (n < 8 && (u >> (8 * n - 1)) != 0)
        u |= ~0ull << (8 * n); /* sign-extend */
    return (long long)u;
}

/* Text that needs no escaping in a message: no control characters. */
static int change_printable(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return 0;
    }
    return 1;
}

/* A binary value (its type's send-function bytes) as text for a message:
 * integers, booleans, uuids and printable text read back, anything else as
 * \x and the hex of its first CHANGE_KEY_TEXT_MAX / 2 bytes. Returns what snprintf returns. */
static int change_binary_text(uint32_t oid, const change_value_t *v, char *buf, size_t size)
{
    const unsigned char *p = (const unsigned char *)v->data;
    size_t n = v->len;
    if ((oid == 20 && n == 8) || (oid == 23 && n == 4) || (oid == 21 && n == 2))
        return snprintf(buf, size, "%lld", change_be_int(p, n));
    if (oid == 16 && n == 1)
        return snprintf(buf, size, "%s", p[0] ? "t" : "f");
    if (oid == 2950 && n == 16)
        return snprintf(buf, size,
                        "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                        p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11],
                        p[12], p[13], p[14], p[15]);
    if ((oid == 25 || oid == 1043 || oid == 1042 || oid == 19) && change_printable(p, n))
        return snprintf(buf, size, "%.*s", (int)(n > CHANGE_KEY_TEXT_MAX ? CHANGE_KEY_TEXT_MAX : n),
                        v->data);
    int w = snprintf(buf, size, "\\x");
    for (size_t i = 0; i < n && i < CHANGE_KEY_TEXT_MAX / 2 && w >= 0 && (size_t)w < size; i++)
        w += snprintf(buf + w, size - (size_t)w, "%02x", p[i]);
    return w;
}

/* One pass of change_key_text: column names (pass 0) or values (pass 1). */
static size_t change_key_part(const change_relation_t *rel, const change_tuple_t *t, int pass,
                              char *buf, size_t n, size_t size)
{
    int first = 1;
    for (int c = 0; c < rel->ncols && c < t->ncols && n < size; c++) {
        if (!rel->cols[c].is_key)
            continue;
        const change_value_t *v = &t->values[c];
        const char *sep = first ? "" : ", ";
        first = 0;
        if (pass == 0)
            n += (size_t)snprintf(buf + n, size - n, "%s%s", sep, rel->cols[c].name);
        else if (v->kind == CHANGE_TEXT)
            n += (size_t)snprintf(
                buf + n, size - n, "%s%.*s", sep,
                (int)(v->len > CHANGE_KEY_TEXT_MAX ? CHANGE_KEY_TEXT_MAX : v->len), v->data);
        else if (v->kind == CHANGE_BINARY) {
            n += (size_t)snprintf(buf + n, size - n, "%s", sep);
            if (n < size)
                n += (size_t)change_binary_text(rel->cols[c].type_oid, v, buf + n, size - n);
        } else
            n += (size_t)snprintf(buf + n, size - n, "%s%s", sep,
                                  v->kind == CHANGE_NULL ? "NULL" : "?");
    }
    return n;
}

void change_key_text(const change_relation_t *rel, const change_tuple_t *t, char *buf, size_t size)
{
    size_t n = 0;
    if (size == 0)
        return;
    buf[0] = '\0';
    if (t == NULL)
        return;
    n += (size_t)snprintf(buf, size, "(");
    n = change_key_part(rel, t, 0, buf, n, size);
    if (n < size)
        n += (size_t)snprintf(buf + n, size - n, ")=(");
    if (n < size)
        n = change_key_part(rel, t, 1, buf, n, size);
    if (n < size)
        snprintf(buf + n, size - n, ")");
}
