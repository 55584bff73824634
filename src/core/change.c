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
            n += (size_t)snprintf(buf + n, size - n, "%s%.*s", sep,
                                  (int)(v->len > 64 ? 64 : v->len), v->data);
        else
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
