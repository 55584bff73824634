/*
 * fallback_config: derives the fallback direction's configuration from the
 * forward one. No I/O: the callers list the synced tables.
 */
#include "core/fallback_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FALLBACK_SUFFIX "_fallback"
#define FALLBACK_NAME_MAX 63 /* NAMEDATALEN - 1: slot and publication names */

/* s + "_fallback", malloc'd; NULL when out of memory. */
static char *fallback_config_suffixed(const char *s)
{
    size_t len = strlen(s) + sizeof(FALLBACK_SUFFIX);
    char *out = malloc(len);
    if (out != NULL)
        snprintf(out, len, "%s" FALLBACK_SUFFIX, s);
    return out;
}

/* The forward entry of a pair maps columns and gives no "fallback" block: no
 * inverse can be derived. */
static int fallback_config_mapped(const config_table_t *t)
{
    return t != NULL && t->fallback == NULL &&
           (t->ncolumns > 0 || t->nexclude > 0 || t->where != NULL);
}

/* The entry's "fallback" block as the fallback entry's mapping. 0, -1 out of memory. */
static int fallback_config_inverse(config_table_t *rt, const config_table_t *inv)
{
    if (inv->ncolumns > 0 &&
        (rt->columns = calloc((size_t)inv->ncolumns, sizeof(*rt->columns))) == NULL)
        return -1;
    for (int i = 0; i < inv->ncolumns; i++, rt->ncolumns++) {
        rt->columns[i].target_column = strdup(inv->columns[i].target_column);
        rt->columns[i].expression = strdup(inv->columns[i].expression);
        if (!rt->columns[i].target_column || !rt->columns[i].expression) {
            rt->ncolumns++;
            return -1;
        }
    }
    if (inv->nexclude > 0 && (rt->exclude = calloc((size_t)inv->nexclude, sizeof(char *))) == NULL)
        return -1;
    for (int i = 0; i < inv->nexclude; i++, rt->nexclude++)
        if ((rt->exclude[i] = strdup(inv->exclude[i])) == NULL)
            return -1;
    if (inv->nkeep > 0 && (rt->keep = calloc((size_t)inv->nkeep, sizeof(char *))) == NULL)
        return -1;
    for (int i = 0; i < inv->nkeep; i++, rt->nkeep++)
        if ((rt->keep[i] = strdup(inv->keep[i])) == NULL)
            return -1;
    return 0;
}

static err_t fallback_config_tables(config_t *rev, const config_t *fwd,
                                    const fallback_config_pair_t *pairs, int n, char *errbuf,
                                    size_t errsize)
{
    rev->has_tables = true;
    rev->tables = calloc((size_t)n + 1, sizeof(*rev->tables));
    if (rev->tables == NULL)
        goto oom;
    for (int i = 0; i < n; i++) {
        const fallback_config_pair_t *p = &pairs[i];
        const config_table_t *ft = config_find_table(fwd, p->schema, p->name);
        if (fallback_config_mapped(ft)) {
            snprintf(errbuf, errsize,
                     "fallback: table %s.%s maps columns (columns, exclude or where) and its "
                     "entry has no \"fallback\" block: the inverse mapping (target columns back "
                     "to source columns) cannot be derived; add \"fallback\": {\"columns\": "
                     "{...}, \"exclude\": [...]} to the entry",
                     p->schema, p->name);
            return ERR_CONFIG;
        }
        config_table_t *t = &rev->tables[rev->ntables++];
        t->source.schema = strdup(p->tschema);
        t->source.name = strdup(p->tname);
        t->target.schema = strdup(p->schema);
        t->target.name = strdup(p->name);
        if (!t->source.schema || !t->source.name || !t->target.schema || !t->target.name)
            goto oom;
        if (ft != NULL && ft->fallback != NULL && fallback_config_inverse(t, ft->fallback) != 0)
            goto oom;
    }
    return ERR_OK;
oom:
    snprintf(errbuf, errsize, "out of memory");
    return ERR_RUNTIME;
}

/* The settings that are not names, conninfos or tables: as forward. */
static void fallback_config_settings(config_t *rev, const config_t *fwd)
{
    rev->batch_rows = fwd->batch_rows;
    rev->batch_ms = fwd->batch_ms;
    rev->status_interval_ms = fwd->status_interval_ms;
    rev->target_timeout_s = fwd->target_timeout_s;
    rev->binary = fwd->binary;
    rev->on_missing_row_skip = fwd->on_missing_row_skip;
    rev->collapse = fwd->collapse;
    rev->snapshot_workers = fwd->snapshot_workers;
    rev->snapshot_chunk_mb = fwd->snapshot_chunk_mb;
    rev->snapshot_defer_indexes = fwd->snapshot_defer_indexes;
    rev->origin_none = true;
    rev->ddl = CONFIG_DDL_IGNORE; /* no event trigger installed on the new database */
}

static err_t fallback_config_names(config_t *rev, const config_t *fwd, char *errbuf, size_t errsize)
{
    rev->name = fallback_config_suffixed(fwd->name);
    rev->slot = fallback_config_suffixed(fwd->slot);
    rev->publication = fallback_config_suffixed(fwd->publication);
    rev->source_conninfo = fwd->target_conninfo ? strdup(fwd->target_conninfo) : NULL;
    rev->target_conninfo = strdup(fwd->source_conninfo);
    if (!rev->name || !rev->slot || !rev->publication || !rev->source_conninfo ||
        !rev->target_conninfo) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    if (strlen(rev->slot) > FALLBACK_NAME_MAX || strlen(rev->publication) > FALLBACK_NAME_MAX) {
        snprintf(errbuf, errsize,
                 "fallback: the slot or publication name with \"" FALLBACK_SUFFIX "\" appended "
                 "(%s, %s) is longer than %d bytes; choose shorter source.slot and "
                 "source.publication",
                 rev->slot, rev->publication, FALLBACK_NAME_MAX);
        return ERR_CONFIG;
    }
    int len =
        snprintf(rev->apply_origin, sizeof(rev->apply_origin), "syncline_fallback_%s", fwd->name);
    if (len < 0 || (size_t)len >= sizeof(rev->apply_origin)) {
        snprintf(errbuf, errsize, "fallback: name '%s' is too long for a replication origin",
                 fwd->name);
        return ERR_CONFIG;
    }
    return ERR_OK;
}

config_t *fallback_config_new(const config_t *fwd, const fallback_config_pair_t *pairs, int n,
                              err_t *err, char *errbuf, size_t errsize)
{
    config_t *rev = calloc(1, sizeof(*rev));
    if (rev == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        *err = ERR_RUNTIME;
        return NULL;
    }
    fallback_config_settings(rev, fwd);
    *err = fallback_config_names(rev, fwd, errbuf, errsize);
    if (*err == ERR_OK)
        *err = fallback_config_tables(rev, fwd, pairs, n, errbuf, errsize);
    if (*err != ERR_OK) {
        config_free(rev);
        return NULL;
    }
    return rev;
}
