/*
 * partmap: which source partition (leaf) stands for which partitioned table
 * (root), for sources that publish leaves (PostgreSQL 12). No I/O.
 */
#ifndef SYNCLINE_PARTMAP_H
#define SYNCLINE_PARTMAP_H

typedef struct partmap partmap_t;

/* NULL on allocation failure. Free with partmap_free. */
partmap_t *partmap_new(void);

/* Frees the map and its strings. NULL is fine. */
void partmap_free(partmap_t *pm);

/* Records that leaf schema.name belongs to root rschema.rname, a tree of
 * nleaves leaves; copies the strings. Returns 0, or -1 on allocation failure. */
int partmap_add(partmap_t *pm, const char *schema, const char *name, const char *rschema,
                const char *rname, int nleaves);

/* Forgets every leaf (the map stays usable). */
void partmap_clear(partmap_t *pm);

/* Number of leaves recorded. */
int partmap_count(const partmap_t *pm);

/* 1 with *rschema, *rname (owned by pm) set when schema.name is a recorded
 * leaf, else 0. pm may be NULL. *nleaves (may be NULL) is the tree's size. */
int partmap_root(const partmap_t *pm, const char *schema, const char *name, const char **rschema,
                 const char **rname, int *nleaves);

/* The number of leaves of root rschema.rname, or 0 when it is no recorded
 * root. pm may be NULL. */
int partmap_tree_size(const partmap_t *pm, const char *rschema, const char *rname);

#endif
