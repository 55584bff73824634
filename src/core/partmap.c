/*
 * partmap: which source partition (leaf) stands for which partitioned table
 * (root). A small array searched linearly: it is read once per Relation and
 * Truncate message, not per row. No I/O.
 */
#include "core/partmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct partmap_leaf {
    char *schema, *name;   /* the leaf */
    char *rschema, *rname; /* its root */
    int nleaves;           /* leaves in the root's tree */
} partmap_leaf_t;

struct partmap {
    partmap_leaf_t *v;
    int n, cap;
};

partmap_t *partmap_new(void)
{
    return calloc(1, sizeof(partmap_t));
}

static void partmap_leaf_clear(partmap_leaf_t *l)
{
    free(l->schema);
    free(l->name);
    free(l->rschema);
    free(l->rname);
}

void partmap_clear(partmap_t *pm)
{
    for (int i = 0; i < pm->n; i++)
        partmap_leaf_clear(&pm->v[i]);
    pm->n = 0;
}

void partmap_free(partmap_t *pm)
{
    if (pm == NULL)
        return;
    partmap_clear(pm);
    free(pm->v);
    free(pm);
}

int partmap_add(partmap_t *pm, const char *schema, const char *name, const char *rschema,
                const char *rname, int nleaves)
{
    if (pm->n == pm->cap) {
        int cap = pm->cap ? 2 * pm->cap : 8;
        partmap_leaf_t *v = realloc(pm->v, (size_t)cap * sizeof(*v));
        if (v == NULL)
            return -1;
        pm->v = v;
        pm->cap = cap;
    }
    partmap_leaf_t l = {strdup(schema), strdup(name), strdup(rschema), strdup(rname), nleaves};
    if (l.schema == NULL || l.name == NULL || l.rschema == NULL || l.rname == NULL) {
        partmap_leaf_clear(&l);
        return -1;
    }
    pm->v[pm->n++] = l;
    return 0;
}

int partmap_count(const partmap_t *pm)
{
    return pm ? pm->n : 0;
}

int partmap_root(const partmap_t *pm, const char *schema, const char *name, const char **rschema,
                 const char **rname, int *nleaves)
{
    for (int i = 0; pm != NULL && i < pm->n; i++) {
        const partmap_leaf_t *l = &pm->v[i];
        if (strcmp(l->schema, schema) == 0 && strcmp(l->name, name) == 0) {
            *rschema = l->rschema;
            *rname = l->rname;
            if (nleaves != NULL)
                *nleaves = l->nleaves;
            return 1;
        }
    }
    return 0;
}

int partmap_tree_size(const partmap_t *pm, const char *rschema, const char *rname)
{
    for (int i = 0; pm != NULL && i < pm->n; i++)
        if (strcmp(pm->v[i].rschema, rschema) == 0 && strcmp(pm->v[i].rname, rname) == 0)
            return pm->v[i].nleaves;
    return 0;
}
