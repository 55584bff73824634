/*
 * event_dbz: Debezium's change event, transaction metadata and heartbeat
 * messages in Kafka Connect's JSON form ({"schema": ..., "payload": ...}).
 *
 * The schema half of a change event is the same for every change of a
 * relation, so it is built once per relation (and again when a Relation
 * message changes the columns) and kept as text; each message is that text
 * plus its payload, built with jansson. Values follow event_dbz_type.
 *
 * Differences from the Debezium connector, on purpose or for want of
 * information pgoutput does not carry: the key struct is the replica
 * identity (the primary key by default; every column under REPLICA IDENTITY
 * FULL); optional is false for identity columns only (no NOT NULL
 * information); source.lsn is the commit LSN of the transaction; an
 * unchanged TOAST value is taken from the old row image when the table sends
 * one (REPLICA IDENTITY FULL), Debezium's placeholder otherwise.
 */
#include "event/event_dbz.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sbuf.h"
#include "event/event_dbz_avro.h"
#include "event/event_dbz_type.h"

/* The schemas of one relation, as text. */
typedef struct event_dbz_rel {
    change_relation_t *rel; /* owned copy, to notice a changed description */
    bool *key;              /* rel->ncols entries: the column is in the key struct */
    char *key_schema;       /* NULL: no identity column */
    char *value_schema;
    json_t *key_sj, *value_sj; /* the same, as JSON */
    char *topic;               /* its topic, for the registry's subjects */
    int32_t key_id, value_id;  /* Avro: registered schema ids; -1: not yet */
} event_dbz_rel_t;

/* A primary key given for a relation whose identity is not its key. */
typedef struct event_dbz_pk {
    uint32_t relid;
    char **cols; /* owned */
    int n;
} event_dbz_pk_t;

/* The schema ids of the metadata and heartbeat messages. */
enum {
    EVENT_DBZ_TXN_KEY,
    EVENT_DBZ_TXN_VALUE,
    EVENT_DBZ_HB_KEY,
    EVENT_DBZ_HB_VALUE,
    EVENT_DBZ_FIXED
};

struct event_dbz {
    char *prefix;
    char *db;
    event_dbz_register_fn reg; /* Avro; NULL: JSON */
    void *reg_ctx;
    int32_t fixed_ids[EVENT_DBZ_FIXED];
    json_t *fixed_sj[EVENT_DBZ_FIXED]; /* their schemas, built at first use */
    char *fixed_text[EVENT_DBZ_FIXED]; /* the same, as text */
    event_dbz_pk_t *pks;
    int npks;
    event_dbz_rel_t *rels;
    int nrels, caprels;
};

event_dbz_t *event_dbz_new(const char *prefix, const char *db)
{
    event_dbz_t *dz = calloc(1, sizeof(*dz));
    if (dz == NULL)
        return NULL;
    dz->prefix = strdup(prefix);
    dz->db = strdup(db != NULL ? db : "");
    if (dz->prefix == NULL || dz->db == NULL) {
        event_dbz_free(dz);
        return NULL;
    }
    for (int i = 0; i < EVENT_DBZ_FIXED; i++)
        dz->fixed_ids[i] = -1;
    return dz;
}

void event_dbz_set_avro(event_dbz_t *dz, event_dbz_register_fn reg, void *ctx)
{
    dz->reg = reg;
    dz->reg_ctx = ctx;
}

static void event_dbz_rel_clear(event_dbz_rel_t *r)
{
    change_relation_free(r->rel);
    free(r->key);
    free(r->key_schema);
    free(r->value_schema);
    json_decref(r->key_sj);
    json_decref(r->value_sj);
    free(r->topic);
    memset(r, 0, sizeof(*r));
}

void event_dbz_free(event_dbz_t *dz)
{
    if (dz == NULL)
        return;
    for (int i = 0; i < dz->nrels; i++)
        event_dbz_rel_clear(&dz->rels[i]);
    free(dz->rels);
    for (int i = 0; i < dz->npks; i++) {
        for (int c = 0; c < dz->pks[i].n; c++)
            free(dz->pks[i].cols[c]);
        free(dz->pks[i].cols);
    }
    free(dz->pks);
    for (int i = 0; i < EVENT_DBZ_FIXED; i++) {
        json_decref(dz->fixed_sj[i]);
        free(dz->fixed_text[i]);
    }
    free(dz->prefix);
    free(dz->db);
    free(dz);
}

static void event_dbz_sanitize(const char *s, sbuf_t *b)
{
    for (; *s != '\0'; s++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        sbuf_addc(b, ok ? c : '_');
    }
}

void event_dbz_topic(const event_dbz_t *dz, const char *nspname, const char *relname, char *buf,
                     size_t size)
{
    sbuf_t b = {0};
    event_dbz_sanitize(dz->prefix, &b);
    sbuf_addc(&b, '.');
    event_dbz_sanitize(nspname, &b);
    sbuf_addc(&b, '.');
    event_dbz_sanitize(relname, &b);
    snprintf(buf, size, "%s", b.s != NULL ? b.s : "");
    sbuf_clear(&b);
}

void event_dbz_txn_id(const event_txn_t *txn, event_dbz_block_t *blk)
{
    snprintf(blk->id, sizeof(blk->id), "%u:%llu", (unsigned)txn->xid,
             (unsigned long long)txn->commit_lsn);
}

/* ---- schemas -------------------------------------------------------------- */

static json_t *event_dbz_field(const char *type, bool optional, const char *field)
{
    return json_pack("{s:s, s:b, s:s}", "type", type, "optional", optional, "field", field);
}

/* The row struct (<topic>.Value or .Key) of rel's columns (key_only: identity). */
static json_t *event_dbz_row_schema(const change_relation_t *rel, const bool *key, const char *name,
                                    bool key_only, bool optional, const char *field)
{
    json_t *fields = json_array();
    for (int c = 0; c < rel->ncols; c++) {
        if (key_only && !key[c])
            continue;
        json_array_append_new(fields, event_dbz_type_schema(&rel->cols[c], !key[c]));
    }
    json_t *s = json_pack("{s:s, s:o, s:b, s:s}", "type", "struct", "fields", fields, "optional",
                          optional, "name", name);
    if (s != NULL && field != NULL)
        json_object_set_new(s, "field", json_string(field));
    return s;
}

static json_t *event_dbz_source_schema(void)
{
    json_t *snapshot = event_dbz_field("string", true, "snapshot");
    json_object_set_new(snapshot, "name", json_string("io.debezium.data.Enum"));
    json_object_set_new(snapshot, "version", json_integer(1));
    json_object_set_new(
        snapshot, "parameters",
        json_pack("{s:s}", "allowed",
                  "true,first,first_in_data_collection,last_in_data_collection,last,false,"
                  "incremental"));
    json_object_set_new(snapshot, "default", json_string("false"));
    json_t *fields = json_pack(
        "[o, o, o, o, o, o, o, o, o, o, o, o, o, o]", event_dbz_field("string", false, "version"),
        event_dbz_field("string", false, "connector"), event_dbz_field("string", false, "name"),
        event_dbz_field("int64", false, "ts_ms"), snapshot, event_dbz_field("string", false, "db"),
        event_dbz_field("string", true, "sequence"), event_dbz_field("int64", true, "ts_us"),
        event_dbz_field("int64", true, "ts_ns"), event_dbz_field("string", false, "schema"),
        event_dbz_field("string", false, "table"), event_dbz_field("int64", true, "txId"),
        event_dbz_field("int64", true, "lsn"), event_dbz_field("int64", true, "xmin"));
    return json_pack("{s:s, s:o, s:b, s:s, s:s}", "type", "struct", "fields", fields, "optional", 0,
                     "name", "io.debezium.connector.postgresql.Source", "field", "source");
}

static json_t *event_dbz_block_schema(void)
{
    json_t *fields = json_pack("[o, o, o]", event_dbz_field("string", false, "id"),
                               event_dbz_field("int64", false, "total_order"),
                               event_dbz_field("int64", false, "data_collection_order"));
    return json_pack("{s:s, s:o, s:b, s:s, s:i, s:s}", "type", "struct", "fields", fields,
                     "optional", 1, "name", "event.block", "version", 1, "field", "transaction");
}

static char *event_dbz_text(const json_t *j)
{
    return j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
}

static char *event_dbz_dump(json_t *j)
{
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

/* key[c]: column c is in the key struct: the primary key given for the
 * relation (event_dbz_primary_key), else its replica identity. */
static void event_dbz_key_mask(const event_dbz_t *dz, const change_relation_t *rel, bool *key)
{
    const event_dbz_pk_t *pk = NULL;
    for (int i = 0; i < dz->npks && pk == NULL; i++)
        if (dz->pks[i].relid == rel->relid)
            pk = &dz->pks[i];
    for (int c = 0; c < rel->ncols; c++) {
        key[c] = pk == NULL && rel->cols[c].is_key;
        for (int k = 0; pk != NULL && k < pk->n; k++)
            key[c] |= strcmp(pk->cols[k], rel->cols[c].name) == 0;
    }
}

int event_dbz_primary_key(event_dbz_t *dz, uint32_t relid, char *const *cols, int n)
{
    event_dbz_pk_t *pk = NULL;
    for (int i = 0; i < dz->npks && pk == NULL; i++)
        if (dz->pks[i].relid == relid)
            pk = &dz->pks[i];
    if (pk == NULL) {
        event_dbz_pk_t *np = realloc(dz->pks, (size_t)(dz->npks + 1) * sizeof(*np));
        if (np == NULL)
            return -1;
        dz->pks = np;
        pk = &dz->pks[dz->npks++];
    } else {
        for (int c = 0; c < pk->n; c++)
            free(pk->cols[c]);
        free(pk->cols);
    }
    *pk = (event_dbz_pk_t){.relid = relid, .cols = calloc((size_t)n + 1, sizeof(char *)), .n = 0};
    for (int c = 0; pk->cols != NULL && c < n; c++)
        if ((pk->cols[pk->n] = strdup(cols[c])) != NULL)
            pk->n++;
    for (int i = 0; i < dz->nrels; i++) /* rebuilt with the new key on next use */
        if (dz->rels[i].rel->relid == relid) {
            event_dbz_rel_clear(&dz->rels[i]);
            dz->rels[i] = dz->rels[--dz->nrels];
            break;
        }
    return pk->cols != NULL && pk->n == n ? 0 : -1;
}

static int event_dbz_build(event_dbz_t *dz, event_dbz_rel_t *r, const change_relation_t *rel)
{
    char topic[1024], name[1100];
    bool has_key = false;
    event_dbz_topic(dz, rel->nspname, rel->relname, topic, sizeof(topic));
    r->rel = change_relation_dup(rel);
    r->key = calloc((size_t)rel->ncols + 1, sizeof(*r->key));
    r->topic = strdup(topic);
    r->key_id = r->value_id = -1;
    if (r->rel == NULL || r->key == NULL || r->topic == NULL)
        return -1;
    event_dbz_key_mask(dz, rel, r->key);
    for (int c = 0; c < rel->ncols; c++)
        has_key |= r->key[c];
    if (has_key) {
        snprintf(name, sizeof(name), "%s.Key", topic);
        r->key_sj = event_dbz_row_schema(rel, r->key, name, true, false, NULL);
        r->key_schema = event_dbz_text(r->key_sj);
    }
    snprintf(name, sizeof(name), "%s.Value", topic);
    json_t *fields = json_pack(
        "[o, o, o, o, o, o, o, o]", event_dbz_row_schema(rel, r->key, name, false, true, "before"),
        event_dbz_row_schema(rel, r->key, name, false, true, "after"), event_dbz_source_schema(),
        event_dbz_block_schema(), event_dbz_field("string", false, "op"),
        event_dbz_field("int64", true, "ts_ms"), event_dbz_field("int64", true, "ts_us"),
        event_dbz_field("int64", true, "ts_ns"));
    snprintf(name, sizeof(name), "%s.Envelope", topic);
    r->value_sj = json_pack("{s:s, s:o, s:b, s:s, s:i}", "type", "struct", "fields", fields,
                            "optional", 0, "name", name, "version", 2);
    r->value_schema = event_dbz_text(r->value_sj);
    return r->rel != NULL && r->value_schema != NULL && (!has_key || r->key_schema != NULL) ? 0
                                                                                            : -1;
}

/* The schemas of rel, built on first use or after its description changed. */
static event_dbz_rel_t *event_dbz_rel(event_dbz_t *dz, const change_relation_t *rel)
{
    event_dbz_rel_t *r = NULL;
    for (int i = 0; i < dz->nrels && r == NULL; i++)
        if (dz->rels[i].rel->relid == rel->relid)
            r = &dz->rels[i];
    if (r != NULL && event_relation_equal(r->rel, rel))
        return r;
    if (r == NULL) {
        if (dz->nrels == dz->caprels) {
            int cap = dz->caprels ? 2 * dz->caprels : 16;
            event_dbz_rel_t *nr = realloc(dz->rels, (size_t)cap * sizeof(*nr));
            if (nr == NULL)
                return NULL;
            dz->rels = nr;
            dz->caprels = cap;
        }
        r = &dz->rels[dz->nrels++];
        memset(r, 0, sizeof(*r));
    } else {
        event_dbz_rel_clear(r);
    }
    if (event_dbz_build(dz, r, rel) != 0) {
        event_dbz_rel_clear(r);
        *r = dz->rels[--dz->nrels];
        return NULL;
    }
    return r;
}

/* ---- payloads ------------------------------------------------------------- */

/* A column's value; an unchanged TOAST value from fill (the old row) when it
 * has one, else the placeholder. */
static json_t *event_dbz_col(const change_column_t *col, const change_value_t *v,
                             const change_value_t *fill, char *errbuf, size_t errsize)
{
    if (v->kind == CHANGE_UNCHANGED && fill != NULL && fill->kind != CHANGE_UNCHANGED)
        v = fill;
    switch (v->kind) {
    case CHANGE_NULL:
        return json_null();
    case CHANGE_UNCHANGED:
        return event_dbz_type_unavailable(col);
    case CHANGE_TEXT:
        return event_dbz_type_value(col, v->data, v->len, errbuf, errsize);
    case CHANGE_BINARY:
        break;
    }
    event_refuse_binary(col->name, errbuf, errsize);
    return NULL;
}

/* {column: value} of t; key_only keeps the identity columns; only_key_sent:
 * t holds the identity columns only (the rest is null). */
static json_t *event_dbz_row(const change_relation_t *rel, const bool *key, const change_tuple_t *t,
                             bool key_only, bool only_key_sent, const change_tuple_t *fill,
                             char *errbuf, size_t errsize)
{
    json_t *o = json_object();
    for (int c = 0; o != NULL && c < rel->ncols; c++) {
        const change_column_t *col = &rel->cols[c];
        if (key_only && !key[c])
            continue;
        json_t *v;
        if (c >= t->ncols || (only_key_sent && !key[c]))
            v = json_null();
        else
            v = event_dbz_col(col, &t->values[c], fill != NULL ? &fill->values[c] : NULL, errbuf,
                              errsize);
        if (v == NULL || json_object_set_new(o, col->name, v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* {"schema": <schema>, "payload": <payload>}; takes payload. */
static char *event_dbz_wrap(const char *schema, json_t *payload, size_t *len)
{
    char *p = event_dbz_dump(payload);
    sbuf_t b = {0};
    if (p == NULL)
        return NULL;
    sbuf_add(&b, "{\"schema\":");
    sbuf_add(&b, schema);
    sbuf_add(&b, ",\"payload\":");
    sbuf_add(&b, p);
    sbuf_addc(&b, '}');
    free(p);
    *len = b.len;
    return sbuf_take(&b);
}

/* Avro: the Confluent wire format of payload under Connect schema schema,
 * registered under subject <subject_topic>-<part> on first use (*id). */
static char *event_dbz_avro(event_dbz_t *dz, const char *subject_topic, const char *part,
                            const json_t *schema, int32_t *id, const json_t *payload, size_t *len,
                            char *errbuf, size_t errsize)
{
    sbuf_t b = {0};
    if (*id < 0) {
        json_t *avro = event_dbz_avro_schema(schema, errbuf, errsize);
        char *text = event_dbz_dump(avro);
        if (text == NULL) {
            if (avro == NULL)
                return NULL;
            snprintf(errbuf, errsize, "out of memory");
            return NULL;
        }
        sbuf_addf(&b, "%s-%s", subject_topic, part);
        int rc = b.s != NULL ? dz->reg(dz->reg_ctx, b.s, text, id, errbuf, errsize) : -1;
        sbuf_clear(&b);
        free(text);
        if (rc != 0)
            return NULL;
    }
    if (event_dbz_avro_write(schema, payload, *id, &b, errbuf, errsize) != 0) {
        sbuf_clear(&b);
        return NULL;
    }
    *len = b.len;
    return sbuf_take(&b);
}

/* The message of payload (taken) under schema (text and JSON). */
static char *event_dbz_emit(event_dbz_t *dz, const char *subject_topic, const char *part,
                            const char *schema_text, const json_t *schema, int32_t *id,
                            json_t *payload, size_t *len, char *errbuf, size_t errsize)
{
    if (payload == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    if (dz->reg == NULL) {
        char *out = event_dbz_wrap(schema_text, payload, len);
        if (out == NULL)
            snprintf(errbuf, errsize, "out of memory");
        return out;
    }
    char *out = event_dbz_avro(dz, subject_topic, part, schema, id, payload, len, errbuf, errsize);
    json_decref(payload);
    return out;
}

int event_dbz_key(event_dbz_t *dz, const change_relation_t *rel, const change_tuple_t *t,
                  char **out, size_t *len, char *errbuf, size_t errsize)
{
    event_dbz_rel_t *r = event_dbz_rel(dz, rel);
    *out = NULL;
    *len = 0;
    if (r == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return -1;
    }
    if (r->key_schema == NULL)
        return 0;
    json_t *row = event_dbz_row(rel, r->key, t, true, false, NULL, errbuf, errsize);
    if (row == NULL)
        return -1;
    *out = event_dbz_emit(dz, r->topic, "key", r->key_schema, r->key_sj, &r->key_id, row, len,
                          errbuf, errsize);
    return *out != NULL ? 0 : -1;
}

bool event_dbz_key_changed(event_dbz_t *dz, const change_row_t *row)
{
    if (row->op != CHANGE_UPDATE || row->old_kind == 0 || row->old_tuple == NULL ||
        row->new_tuple == NULL)
        return false;
    event_dbz_rel_t *r = event_dbz_rel(dz, row->rel);
    for (int c = 0; c < row->rel->ncols; c++) {
        if (r != NULL ? !r->key[c] : !row->rel->cols[c].is_key)
            continue;
        const change_value_t *a = &row->old_tuple->values[c], *b = &row->new_tuple->values[c];
        if (b->kind == CHANGE_UNCHANGED)
            continue;
        if (a->kind != b->kind || a->len != b->len ||
            (a->len > 0 && memcmp(a->data, b->data, a->len) != 0))
            return true;
    }
    return false;
}

static json_t *event_dbz_source(const event_dbz_t *dz, const change_relation_t *rel,
                                const event_txn_t *txn)
{
    int64_t ms = event_ts_ms(txn->commit_time);
    char seq[64];
    snprintf(seq, sizeof(seq), "[null,\"%llu\"]", (unsigned long long)txn->commit_lsn);
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:I, s:n}",
                     "version", "syncline-" SYNCLINE_VERSION, "connector", "postgresql", "name",
                     dz->prefix, "ts_ms", (json_int_t)ms, "snapshot", "false", "db", dz->db,
                     "sequence", seq, "ts_us", (json_int_t)(ms * 1000), "ts_ns",
                     (json_int_t)(ms * 1000000), "schema", rel->nspname, "table", rel->relname,
                     "txId", (json_int_t)txn->xid, "lsn", (json_int_t)txn->commit_lsn, "xmin");
}

/* before and after of row written as op. */
static int event_dbz_images(const event_dbz_rel_t *r, const change_row_t *row, event_op_t op,
                            json_t **before, json_t **after, char *errbuf, size_t errsize)
{
    *before = json_null();
    *after = json_null();
    if (op != EVENT_CREATE && row->old_kind != 0 && row->old_tuple != NULL) {
        json_decref(*before);
        *before = event_dbz_row(row->rel, r->key, row->old_tuple, false, row->old_kind == 'K', NULL,
                                errbuf, errsize);
    }
    if (op != EVENT_DELETE && op != EVENT_TRUNCATE && row->new_tuple != NULL) {
        json_decref(*after);
        const change_tuple_t *fill = row->old_kind == 'O' ? row->old_tuple : NULL;
        *after =
            event_dbz_row(row->rel, r->key, row->new_tuple, false, false, fill, errbuf, errsize);
    }
    return *before != NULL && *after != NULL ? 0 : -1;
}

int event_dbz_value(event_dbz_t *dz, const change_row_t *row, event_op_t as_op,
                    const event_txn_t *txn, const event_dbz_block_t *blk, int64_t now_ms,
                    char **out, size_t *len, char *errbuf, size_t errsize)
{
    event_dbz_rel_t *r = event_dbz_rel(dz, row->rel);
    json_t *before = NULL, *after = NULL;
    char op[2] = {(char)as_op, '\0'};
    *out = NULL;
    if (r == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return -1;
    }
    if (event_dbz_images(r, row, as_op, &before, &after, errbuf, errsize) != 0) {
        json_decref(before);
        json_decref(after);
        return -1;
    }
    json_t *block = blk == NULL ? json_null()
                                : json_pack("{s:s, s:I, s:I}", "id", blk->id, "total_order",
                                            (json_int_t)blk->total_order, "data_collection_order",
                                            (json_int_t)blk->data_collection_order);
    json_t *payload =
        json_pack("{s:o, s:o, s:o, s:o, s:s, s:I, s:I, s:I}", "before", before, "after", after,
                  "source", event_dbz_source(dz, row->rel, txn), "transaction", block, "op", op,
                  "ts_ms", (json_int_t)now_ms, "ts_us", (json_int_t)(now_ms * 1000), "ts_ns",
                  (json_int_t)(now_ms * 1000000));
    *out = event_dbz_emit(dz, r->topic, "value", r->value_schema, r->value_sj, &r->value_id,
                          payload, len, errbuf, errsize);
    return *out != NULL ? 0 : -1;
}

/* ---- transaction metadata and heartbeats ---------------------------------- */

static json_t *event_dbz_txn_key_schema(void)
{
    return json_pack("{s:s, s:[o], s:b, s:s}", "type", "struct", "fields",
                     event_dbz_field("string", false, "id"), "optional", 0, "name",
                     "io.debezium.connector.common.TransactionMetadataKey");
}

static json_t *event_dbz_txn_value_schema(void)
{
    json_t *coll = json_pack("{s:s, s:[o, o], s:b}", "type", "struct", "fields",
                             event_dbz_field("string", false, "data_collection"),
                             event_dbz_field("int64", false, "event_count"), "optional", 0);
    json_t *fields = json_pack(
        "[o, o, o, {s:s, s:o, s:b, s:s}, o]", event_dbz_field("string", false, "status"),
        event_dbz_field("string", false, "id"), event_dbz_field("int64", true, "event_count"),
        "type", "array", "items", coll, "optional", 1, "field", "data_collections",
        event_dbz_field("int64", false, "ts_ms"));
    return json_pack("{s:s, s:o, s:b, s:s}", "type", "struct", "fields", fields, "optional", 0,
                     "name", "io.debezium.connector.common.TransactionMetadataValue");
}

static json_t *event_dbz_hb_key_schema(void)
{
    return json_pack("{s:s, s:[o], s:b, s:s}", "type", "struct", "fields",
                     event_dbz_field("string", false, "serverName"), "optional", 0, "name",
                     "io.debezium.connector.common.ServerNameKey");
}

static json_t *event_dbz_hb_value_schema(void)
{
    return json_pack("{s:s, s:[o], s:b, s:s}", "type", "struct", "fields",
                     event_dbz_field("int64", false, "ts_ms"), "optional", 0, "name",
                     "io.debezium.connector.common.Heartbeat");
}

/* The schema of a metadata or heartbeat message (which: EVENT_DBZ_TXN_KEY...),
 * as JSON and text, built at its first use and kept; 0, or -1 out of memory. */
static int event_dbz_fixed_schema(event_dbz_t *dz, int which)
{
    static json_t *(*const build[EVENT_DBZ_FIXED])(void) = {
        event_dbz_txn_key_schema, event_dbz_txn_value_schema, event_dbz_hb_key_schema,
        event_dbz_hb_value_schema};
    if (dz->fixed_text[which] != NULL)
        return 0;
    json_t *sj = build[which]();
    char *text = event_dbz_text(sj);
    if (text == NULL) {
        json_decref(sj);
        return -1;
    }
    dz->fixed_sj[which] = sj;
    dz->fixed_text[which] = text;
    return 0;
}

/* A metadata or heartbeat message (which: EVENT_DBZ_TXN_KEY...); takes payload. */
static char *event_dbz_plain(event_dbz_t *dz, int which, json_t *payload, size_t *len, char *errbuf,
                             size_t errsize)
{
    char topic[600];
    if (event_dbz_fixed_schema(dz, which) != 0) {
        json_decref(payload);
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    if (which <= EVENT_DBZ_TXN_VALUE)
        snprintf(topic, sizeof(topic), "%s.transaction", dz->prefix);
    else
        snprintf(topic, sizeof(topic), "__debezium-heartbeat.%s", dz->prefix);
    return event_dbz_emit(dz, topic, which % 2 == 0 ? "key" : "value", dz->fixed_text[which],
                          dz->fixed_sj[which], &dz->fixed_ids[which], payload, len, errbuf,
                          errsize);
}

char *event_dbz_txn_key(event_dbz_t *dz, const event_dbz_block_t *blk, size_t *len, char *errbuf,
                        size_t errsize)
{
    return event_dbz_plain(dz, EVENT_DBZ_TXN_KEY, json_pack("{s:s}", "id", blk->id), len, errbuf,
                           errsize);
}

char *event_dbz_txn_value(event_dbz_t *dz, const event_dbz_block_t *blk, bool end, int64_t ts_ms,
                          const event_dbz_count_t *counts, int n, size_t *len, char *errbuf,
                          size_t errsize)
{
    json_t *payload =
        json_pack("{s:s, s:s, s:n, s:n, s:I}", "status", end ? "END" : "BEGIN", "id", blk->id,
                  "event_count", "data_collections", "ts_ms", (json_int_t)ts_ms);
    if (end && payload != NULL) {
        json_t *arr = json_array();
        int64_t total = 0;
        for (int i = 0; i < n; i++) {
            total += counts[i].count;
            json_array_append_new(arr,
                                  json_pack("{s:s, s:I}", "data_collection", counts[i].collection,
                                            "event_count", (json_int_t)counts[i].count));
        }
        json_object_set_new(payload, "event_count", json_integer(total));
        json_object_set_new(payload, "data_collections", arr);
    }
    return event_dbz_plain(dz, EVENT_DBZ_TXN_VALUE, payload, len, errbuf, errsize);
}

char *event_dbz_heartbeat_key(event_dbz_t *dz, size_t *len, char *errbuf, size_t errsize)
{
    return event_dbz_plain(dz, EVENT_DBZ_HB_KEY, json_pack("{s:s}", "serverName", dz->prefix), len,
                           errbuf, errsize);
}

char *event_dbz_heartbeat_value(event_dbz_t *dz, int64_t ts_ms, size_t *len, char *errbuf,
                                size_t errsize)
{
    return event_dbz_plain(dz, EVENT_DBZ_HB_VALUE, json_pack("{s:I}", "ts_ms", (json_int_t)ts_ms),
                           len, errbuf, errsize);
}
