/*
 * event_dbz_txn: reads Debezium's transaction metadata, the BEGIN/END
 * values of the metadata topic ({"status", "id", "event_count",
 * "data_collections", "ts_ms"}) and the {"id", "total_order",
 * "data_collection_order"} block of each change event. Pure: no I/O.
 */
#include "event/event_dbz_txn.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The payload of a JsonConverter document, or the document itself. */
static json_t *event_dbz_txn_payload(json_t *root)
{
    json_t *payload = json_object_get(root, "payload");
    return json_is_object(payload) && json_object_get(root, "schema") != NULL ? payload : root;
}

/* A decimal LSN (Debezium writes LSNs as numbers) ending at stop: 0 when s
 * does not start with one, or it does not fit 64 bits. */
static uint64_t event_dbz_txn_lsn_to(const char *s, char stop)
{
    char *end;
    if (s == NULL || *s < '0' || *s > '9')
        return 0;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    return errno != 0 || *end != stop ? 0 : (uint64_t)v;
}

static uint64_t event_dbz_txn_lsn(const char *s)
{
    return event_dbz_txn_lsn_to(s, '\0');
}

/* The id up to ':' into id; *lsn (when not NULL): the LSN after it. */
static int event_dbz_txn_id(const json_t *v, char *id, size_t idsize, uint64_t *lsn, char *errbuf,
                            size_t errsize)
{
    const char *s = json_string_value(v);
    size_t n = s != NULL ? strcspn(s, ":") : 0;
    if (s == NULL || n >= idsize) {
        snprintf(errbuf, errsize, "transaction \"id\" is missing, not a string or too long");
        return -1;
    }
    memcpy(id, s, n);
    id[n] = '\0';
    if (lsn != NULL)
        *lsn = s[n] == ':' ? event_dbz_txn_lsn(s + n + 1) : 0;
    return 0;
}

static int event_dbz_txn_meta_of(json_t *p, event_dbz_txn_meta_t *meta, char *errbuf,
                                 size_t errsize)
{
    const char *status = json_string_value(json_object_get(p, "status"));
    if (status == NULL || (strcmp(status, "BEGIN") != 0 && strcmp(status, "END") != 0)) {
        snprintf(errbuf, errsize, "\"status\" is neither BEGIN nor END");
        return -1;
    }
    meta->end = strcmp(status, "END") == 0;
    if (event_dbz_txn_id(json_object_get(p, "id"), meta->id, sizeof(meta->id), &meta->lsn, errbuf,
                         errsize))
        return -1;
    json_t *n = json_object_get(p, "event_count");
    if (meta->end && (!json_is_integer(n) || json_integer_value(n) < 0)) {
        snprintf(errbuf, errsize, "END of transaction %s without a valid \"event_count\"",
                 meta->id);
        return -1;
    }
    meta->event_count = meta->end ? json_integer_value(n) : 0;
    return 0;
}

int event_dbz_txn_meta_read(const void *buf, size_t len, event_dbz_txn_meta_t *meta, char *errbuf,
                            size_t errsize)
{
    json_error_t jerr;
    memset(meta, 0, sizeof(*meta));
    json_t *root = buf != NULL ? json_loadb(buf, len, 0, &jerr) : NULL;
    if (root == NULL) {
        snprintf(errbuf, errsize, "not JSON: %s", buf != NULL ? jerr.text : "no value");
        return -1;
    }
    int rc = event_dbz_txn_meta_of(event_dbz_txn_payload(root), meta, errbuf, errsize);
    json_decref(root);
    return rc;
}

int event_dbz_txn_block(const event_t *ev, char *id, size_t idsize, int64_t *order, char *errbuf,
                        size_t errsize)
{
    json_t *blk = ev->root != NULL ? json_object_get(ev->root, "transaction") : NULL;
    if (blk == NULL || json_is_null(blk))
        return 0;
    json_t *o = json_object_get(blk, "total_order");
    if (!json_is_object(blk) || !json_is_integer(o)) {
        snprintf(errbuf, errsize, "the \"transaction\" block has no integer \"total_order\"");
        return -1;
    }
    *order = json_integer_value(o);
    return event_dbz_txn_id(json_object_get(blk, "id"), id, idsize, NULL, errbuf, errsize) ? -1 : 1;
}

/* s past JSON's white space. */
static const char *event_dbz_txn_ws(const char *s)
{
    return s + strspn(s, " \t\n\r");
}

/*
 * "sequence": a JSON array in a string, [last commit LSN or null, LSN]. Read
 * for every change, so scanned, not parsed: only its first element counts,
 * and it is known only as a quoted decimal that fits 64 bits (null, or
 * anything else: unknown, 0).
 */
static bool event_dbz_txn_prev_commit(const json_t *src, uint64_t *prev)
{
    const char *s = json_string_value(json_object_get(src, "sequence"));
    *prev = 0;
    if (s == NULL || *(s = event_dbz_txn_ws(s)) != '[' || *(s = event_dbz_txn_ws(s + 1)) != '"')
        return false;
    *prev = event_dbz_txn_lsn_to(s + 1, '"');
    return *prev != 0;
}

int event_dbz_txn_pos(const event_t *ev, int64_t order, event_dbz_pos_t *pos)
{
    memset(pos, 0, sizeof(*pos));
    json_t *src = ev->root != NULL ? json_object_get(ev->root, "source") : NULL;
    json_t *lsn = json_object_get(src, "lsn");
    if (!json_is_integer(lsn) || json_integer_value(lsn) <= 0)
        return 0;
    pos->lsn = (uint64_t)json_integer_value(lsn);
    pos->order = order;
    pos->has_prev = event_dbz_txn_prev_commit(src, &pos->prev_commit);
    const char *version = json_string_value(json_object_get(src, "version"));
    pos->lsn_is_commit = version != NULL && strncmp(version, "syncline-", 9) == 0;
    return 1;
}

static int event_dbz_cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

int event_dbz_pos_cmp(const event_dbz_pos_t *a, const event_dbz_pos_t *b)
{
    int c = event_dbz_cmp_u64(a->prev_commit, b->prev_commit);
    if (c == 0)
        c = event_dbz_cmp_u64(a->lsn, b->lsn);
    return c != 0 ? c : a->order < b->order ? -1 : a->order > b->order;
}

bool event_dbz_pos_applied(const event_dbz_pos_t *pos, uint64_t applied)
{
    if (pos->has_prev)
        return pos->prev_commit < applied;
    return pos->lsn_is_commit && pos->lsn <= applied;
}
