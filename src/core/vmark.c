/*
 * vmark: changed key ranges per batch, for incremental verify. A set of
 * (table, bucket) pairs, de-duplicated through an open-addressing index;
 * table names are owned copies kept across resets (a handful per sync).
 */
#include "core/vmark.h"

#include <stdlib.h>
#include <string.h>

#define VMARK_OID_INT2 21
#define VMARK_OID_INT4 23
#define VMARK_OID_INT8 20

typedef struct vmark_table {
    char *schema, *table;
} vmark_table_t;

struct vmark_set {
    vmark_table_t *tables;
    int ntables, tcap;
    sink_mark_t *marks;
    int *mtable; /* table index of each mark */
    int nmarks, mcap;
    int *index; /* slots: mark index + 1, 0 = empty; icap a power of two */
    int icap;
};

vmark_set_t *vmark_set_new(void)
{
    return calloc(1, sizeof(vmark_set_t));
}

void vmark_set_free(vmark_set_t *vs)
{
    if (vs == NULL)
        return;
    for (int i = 0; i < vs->ntables; i++) {
        free(vs->tables[i].schema);
        free(vs->tables[i].table);
    }
    free(vs->tables);
    free(vs->marks);
    free(vs->mtable);
    free(vs->index);
    free(vs);
}

int64_t vmark_bucket(const change_relation_t *rel, const change_tuple_t *t)
{
    int key = -1;
    if (rel->replident != 'd' || t == NULL)
        return -1;
    for (int c = 0; c < rel->ncols; c++) {
        if (!rel->cols[c].is_key)
            continue;
        if (key >= 0)
            return -1; /* a composite key */
        key = c;
    }
    if (key < 0 || key >= t->ncols)
        return -1;
    uint32_t oid = rel->cols[key].type_oid;
    const change_value_t *v = &t->values[key];
    if ((oid != VMARK_OID_INT2 && oid != VMARK_OID_INT4 && oid != VMARK_OID_INT8) ||
        v->kind != CHANGE_TEXT || v->len == 0 || v->len > 20)
        return -1;
    char buf[24];
    memcpy(buf, v->data, v->len);
    buf[v->len] = '\0';
    char *end = NULL;
    long long k = strtoll(buf, &end, 10);
    if (end == buf || *end != '\0')
        return -1;
    /* floor division, so that negative keys fall in their own buckets */
    return k >= 0 ? k / VMARK_WIDTH : -((-(k + 1)) / VMARK_WIDTH) - 1;
}

static int vmark_table_of(vmark_set_t *vs, const change_relation_t *rel)
{
    for (int i = 0; i < vs->ntables; i++) {
        if (strcmp(vs->tables[i].schema, rel->nspname) == 0 &&
            strcmp(vs->tables[i].table, rel->relname) == 0)
            return i;
    }
    if (vs->ntables == vs->tcap) {
        int cap = vs->tcap ? vs->tcap * 2 : 8;
        vmark_table_t *t = realloc(vs->tables, (size_t)cap * sizeof(*t));
        if (t == NULL)
            return -1;
        vs->tables = t;
        vs->tcap = cap;
    }
    char *s = strdup(rel->nspname), *n = strdup(rel->relname);
    if (s == NULL || n == NULL) {
        free(s);
        free(n);
        return -1;
    }
    vs->tables[vs->ntables] = (vmark_table_t){.schema = s, .table = n};
    /* marks point at the names: refresh them after a realloc */
    for (int m = 0; m < vs->nmarks; m++) {
        vs->marks[m].schema = vs->tables[vs->mtable[m]].schema;
        vs->marks[m].table = vs->tables[vs->mtable[m]].table;
    }
    return vs->ntables++;
}

static unsigned vmark_hash(int table, int64_t bucket)
{
    uint64_t h = (uint64_t)bucket * 0x9E3779B97F4A7C15ull ^ (uint64_t)table * 0xC2B2AE3D27D4EB4Full;
    return (unsigned)(h ^ (h >> 29));
}

static int vmark_grow_index(vmark_set_t *vs)
{
    int cap = vs->icap ? vs->icap * 2 : 64;
    int *index = calloc((size_t)cap, sizeof(int));
    if (index == NULL)
        return -1;
    for (int m = 0; m < vs->nmarks; m++) {
        unsigned s = vmark_hash(vs->mtable[m], vs->marks[m].bucket) & (unsigned)(cap - 1);
        while (index[s] != 0)
            s = (s + 1) & (unsigned)(cap - 1);
        index[s] = m + 1;
    }
    free(vs->index);
    vs->index = index;
    vs->icap = cap;
    return 0;
}

static int vmark_add(vmark_set_t *vs, int table, int64_t bucket)
{
    if (2 * (vs->nmarks + 1) > vs->icap && vmark_grow_index(vs) != 0)
        return -1;
    unsigned s = vmark_hash(table, bucket) & (unsigned)(vs->icap - 1);
    for (; vs->index[s] != 0; s = (s + 1) & (unsigned)(vs->icap - 1)) {
        int m = vs->index[s] - 1;
        if (vs->mtable[m] == table && vs->marks[m].bucket == bucket)
            return 0;
    }
    if (vs->nmarks == vs->mcap) {
        int cap = vs->mcap ? vs->mcap * 2 : 64;
        sink_mark_t *marks = realloc(vs->marks, (size_t)cap * sizeof(*marks));
        if (marks == NULL)
            return -1;
        vs->marks = marks;
        int *mt = realloc(vs->mtable, (size_t)cap * sizeof(int));
        if (mt == NULL)
            return -1;
        vs->mtable = mt;
        vs->mcap = cap;
    }
    vs->marks[vs->nmarks] = (sink_mark_t){
        .schema = vs->tables[table].schema, .table = vs->tables[table].table, .bucket = bucket};
    vs->mtable[vs->nmarks] = table;
    vs->index[s] = ++vs->nmarks;
    return 0;
}

int vmark_set_add_row(vmark_set_t *vs, const change_relation_t *rel, const change_tuple_t *old,
                      const change_tuple_t *new_tuple)
{
    int table = vmark_table_of(vs, rel);
    if (table < 0)
        return -1;
    if (old != NULL && vmark_add(vs, table, vmark_bucket(rel, old)) != 0)
        return -1;
    if (new_tuple != NULL && vmark_add(vs, table, vmark_bucket(rel, new_tuple)) != 0)
        return -1;
    return 0;
}

int vmark_set_add_table(vmark_set_t *vs, const change_relation_t *rel)
{
    int table = vmark_table_of(vs, rel);
    return table < 0 ? -1 : vmark_add(vs, table, -1);
}

const sink_mark_t *vmark_set_marks(const vmark_set_t *vs, int *n)
{
    *n = vs->nmarks;
    return vs->marks;
}

void vmark_set_reset(vmark_set_t *vs)
{
    vs->nmarks = 0;
    if (vs->index != NULL)
        memset(vs->index, 0, (size_t)vs->icap * sizeof(int));
}
