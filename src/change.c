/*
 * change: ownership helpers for the shared change model (relation copy, free,
 * column lookup). Knows nothing about any wire format; no I/O.
 */
#include "change.h"

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
