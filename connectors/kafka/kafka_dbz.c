/*
 * kafka_dbz: capture's "debezium" layout.
 *
 * Each table's topic is looked up (and created, with the partition count
 * capture was given, or taken as it is) at the table's first change. A
 * message goes to the partition Kafka's Java producer would pick for its key
 * (murmur2 of the key bytes), so a sink sees each row's changes in order.
 * The metadata topic gets BEGIN before a transaction's first change and END
 * (with per-table counts) at its Commit. Every change message names in
 * KAFKA_PREV_HEADER the commit LSN of the transaction produced into its
 * topic and partition before it in this session, as in the syncline layout;
 * tombstones and metadata messages carry no header.
 *
 * With kafka.format "avro" (which needs kafka.schema_registry) every key and
 * value is Avro in the Confluent wire format, as Debezium writes with the
 * AvroConverter: each schema registered under the TopicNameStrategy subjects
 * <topic>-key and <topic>-value at its first use (again when a relation's
 * columns change), before the first message that names its id.
 */
#include "kafka/kafka_dbz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "event/event_dbz.h"
#include "kafka/kafka_conf.h"
#include "kafka/kafka_order.h"
#include "kafka/schema_registry.h"

typedef struct kafka_dbz_table {
    uint32_t relid;
    char *topic;      /* owned */
    char *collection; /* "schema.table", owned */
    rd_kafka_topic_t *rkt;
    int partitions;
    kafka_order_chain_t *chain; /* partitions entries */
    int64_t count;              /* change events in the transaction in hand */
} kafka_dbz_table_t;

struct kafka_dbz {
    rd_kafka_t *rk;
    event_dbz_t *dz;
    int partitions;
    kafka_dbz_table_t *tables;
    int ntables, captables;
    rd_kafka_topic_t *txn_rkt, *hb_rkt;
    event_txn_t txn;
    event_dbz_block_t blk;
    bool begun;            /* BEGIN sent for the transaction in hand */
    schema_registry_t *sr; /* Avro: borrowed; NULL for JSON */
    err_t reg_err;         /* the last registration's error */
};

/* event_dbz_register_fn over the registry client. */
static int kafka_dbz_register(void *ctx, const char *subject, const char *schema, int32_t *id,
                              char *errbuf, size_t errsize)
{
    kafka_dbz_t *kd = ctx;
    kd->reg_err = schema_registry_register(kd->sr, subject, schema, id, errbuf, errsize);
    if (kd->reg_err != ERR_OK)
        return -1;
    log_info("schema registered registry=%s subject=%s id=%d", schema_registry_url(kd->sr), subject,
             (int)*id);
    return 0;
}

/* The error of a failed event_dbz call: the registry's, else ERR_RUNTIME. */
static err_t kafka_dbz_failed(kafka_dbz_t *kd)
{
    err_t err = kd->reg_err != ERR_OK ? kd->reg_err : ERR_RUNTIME;
    kd->reg_err = ERR_OK;
    return err;
}

static int64_t kafka_dbz_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kafka_dbz_dbname(const char *conninfo, char *buf, size_t size)
{
    const char *p;
    size_t n = 0;
    snprintf(buf, size, "%s", "");
    if (conninfo == NULL)
        return;
    if (strncmp(conninfo, "postgres://", 11) == 0 || strncmp(conninfo, "postgresql://", 13) == 0) {
        p = strchr(strstr(conninfo, "://") + 3, '/');
        if (p == NULL)
            return;
        p++;
        n = strcspn(p, "?");
    } else {
        p = strstr(conninfo, "dbname=");
        if (p == NULL || (p != conninfo && p[-1] != ' '))
            return;
        p += 7;
        if (*p == '\'') {
            p++;
            n = strcspn(p, "'");
        } else {
            n = strcspn(p, " ");
        }
    }
    snprintf(buf, size, "%.*s", (int)n, p);
}

static rd_kafka_topic_t *kafka_dbz_topic(kafka_dbz_t *kd, const char *topic, int partitions, int *n,
                                         err_t *err, char *errbuf, size_t errsize)
{
    *err = kafka_conf_ensure_topic(kd->rk, topic, partitions, 0, n, errbuf, errsize);
    if (*err != ERR_OK)
        return NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(kd->rk, topic, NULL);
    if (rkt == NULL) {
        *err = ERR_RUNTIME;
        snprintf(errbuf, errsize, "out of memory");
    }
    return rkt;
}

kafka_dbz_t *kafka_dbz_new(rd_kafka_t *rk, const config_t *cfg, int partitions,
                           schema_registry_t *sr, err_t *err, char *errbuf, size_t errsize)
{
    char db[256], topic[600];
    int n;
    kafka_dbz_t *kd = calloc(1, sizeof(*kd));
    *err = ERR_RUNTIME;
    if (kd == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    kd->rk = rk;
    kd->partitions = partitions > 0 ? partitions : 1;
    kafka_dbz_dbname(cfg->source_conninfo, db, sizeof(db));
    kd->dz = event_dbz_new(cfg->kafka.topic_prefix, db);
    if (kd->dz == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        kafka_dbz_free(kd);
        return NULL;
    }
    kd->sr = sr;
    if (sr != NULL)
        event_dbz_set_avro(kd->dz, kafka_dbz_register, kd);
    snprintf(topic, sizeof(topic), "%s.transaction", cfg->kafka.topic_prefix);
    kd->txn_rkt = kafka_dbz_topic(kd, topic, 1, &n, err, errbuf, errsize);
    snprintf(topic, sizeof(topic), "__debezium-heartbeat.%s", cfg->kafka.topic_prefix);
    if (kd->txn_rkt != NULL)
        kd->hb_rkt = kafka_dbz_topic(kd, topic, 1, &n, err, errbuf, errsize);
    if (kd->hb_rkt == NULL) {
        kafka_dbz_free(kd);
        return NULL;
    }
    log_info("kafka layout=debezium format=%s topics=%s.<schema>.<table> "
             "transactions=%s.transaction",
             sr != NULL ? "avro" : "json", cfg->kafka.topic_prefix, cfg->kafka.topic_prefix);
    return kd;
}

void kafka_dbz_free(kafka_dbz_t *kd)
{
    if (kd == NULL)
        return;
    for (int i = 0; i < kd->ntables; i++) {
        kafka_dbz_table_t *t = &kd->tables[i];
        if (t->rkt != NULL)
            rd_kafka_topic_destroy(t->rkt);
        free(t->topic);
        free(t->collection);
        free(t->chain);
    }
    free(kd->tables);
    if (kd->txn_rkt != NULL)
        rd_kafka_topic_destroy(kd->txn_rkt);
    if (kd->hb_rkt != NULL)
        rd_kafka_topic_destroy(kd->hb_rkt);
    event_dbz_free(kd->dz);
    free(kd);
}

err_t kafka_dbz_primary_key(kafka_dbz_t *kd, uint32_t relid, char *const *cols, int n, char *errbuf,
                            size_t errsize)
{
    if (event_dbz_primary_key(kd->dz, relid, cols, n) == 0)
        return ERR_OK;
    snprintf(errbuf, errsize, "out of memory");
    return ERR_RUNTIME;
}

void kafka_dbz_txn_begin(kafka_dbz_t *kd, const event_txn_t *txn)
{
    kd->txn = *txn;
    memset(&kd->blk, 0, sizeof(kd->blk));
    event_dbz_txn_id(txn, &kd->blk);
    kd->begun = false;
    for (int i = 0; i < kd->ntables; i++)
        kd->tables[i].count = 0;
}

void kafka_dbz_rollback(kafka_dbz_t *kd)
{
    kd->begun = false;
    for (int i = 0; i < kd->ntables; i++)
        kd->tables[i].count = 0;
}

/* The table entry of rel (its topic made sure of on first use). */
static kafka_dbz_table_t *kafka_dbz_table(kafka_dbz_t *kd, const change_relation_t *rel, err_t *err,
                                          char *errbuf, size_t errsize)
{
    char topic[1024];
    event_dbz_topic(kd->dz, rel->nspname, rel->relname, topic, sizeof(topic));
    for (int i = 0; i < kd->ntables; i++)
        if (kd->tables[i].relid == rel->relid && strcmp(kd->tables[i].topic, topic) == 0)
            return &kd->tables[i];
    if (kd->ntables == kd->captables) {
        int cap = kd->captables ? 2 * kd->captables : 16;
        kafka_dbz_table_t *nt = realloc(kd->tables, (size_t)cap * sizeof(*nt));
        if (nt == NULL) {
            *err = ERR_RUNTIME;
            snprintf(errbuf, errsize, "out of memory");
            return NULL;
        }
        kd->tables = nt;
        kd->captables = cap;
    }
    kafka_dbz_table_t t = {.relid = rel->relid};
    t.rkt = kafka_dbz_topic(kd, topic, kd->partitions, &t.partitions, err, errbuf, errsize);
    if (t.rkt == NULL)
        return NULL;
    t.topic = strdup(topic);
    t.chain = calloc((size_t)t.partitions, sizeof(*t.chain));
    size_t n = strlen(rel->nspname) + strlen(rel->relname) + 2;
    t.collection = malloc(n);
    if (t.topic == NULL || t.chain == NULL || t.collection == NULL) {
        rd_kafka_topic_destroy(t.rkt);
        free(t.topic);
        free(t.chain);
        free(t.collection);
        *err = ERR_RUNTIME;
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    snprintf(t.collection, n, "%s.%s", rel->nspname, rel->relname);
    log_info("kafka topic=%s table=%s partitions=%d", topic, t.collection, t.partitions);
    kd->tables[kd->ntables] = t;
    return &kd->tables[kd->ntables++];
}

/* The transaction in hand's BEGIN (end false) or END record (with the n
 * per-table counts) onto the metadata topic. */
static err_t kafka_dbz_send_txn(kafka_dbz_t *kd, bool end, const event_dbz_count_t *counts, int n,
                                const kafka_dbz_out_t *out, char *errbuf, size_t errsize)
{
    size_t klen = 0, vlen = 0;
    char *key = event_dbz_txn_key(kd->dz, &kd->blk, &klen, errbuf, errsize);
    char *value = key == NULL
                      ? NULL
                      : event_dbz_txn_value(kd->dz, &kd->blk, end, event_ts_ms(kd->txn.commit_time),
                                            counts, n, &vlen, errbuf, errsize);
    err_t err = ERR_RUNTIME;
    if (key != NULL && value != NULL)
        err = out->send(out->ctx, kd->txn_rkt, 0, value, vlen, key, klen, 0, errbuf, errsize);
    else
        err = kafka_dbz_failed(kd);
    free(key);
    return err;
}

/* BEGIN on the metadata topic, before the transaction's first change. */
static err_t kafka_dbz_begin(kafka_dbz_t *kd, const kafka_dbz_out_t *out, char *errbuf,
                             size_t errsize)
{
    if (kd->begun)
        return ERR_OK;
    err_t err = kafka_dbz_send_txn(kd, false, NULL, 0, out, errbuf, errsize);
    kd->begun = err == ERR_OK;
    return err;
}

/* One change event as op (and a tombstone after a delete) under the key of
 * image keyt. */
static err_t kafka_dbz_event(kafka_dbz_t *kd, kafka_dbz_table_t *t, const change_row_t *row,
                             event_op_t op, const change_tuple_t *keyt, const kafka_dbz_out_t *out,
                             char *errbuf, size_t errsize)
{
    char *key = NULL, *value = NULL;
    size_t klen = 0, vlen = 0;
    if (keyt != NULL && event_dbz_key(kd->dz, row->rel, keyt, &key, &klen, errbuf, errsize) != 0)
        return kafka_dbz_failed(kd);
    t->count++;
    kd->blk.total_order++;
    kd->blk.data_collection_order = t->count;
    if (event_dbz_value(kd->dz, row, op, &kd->txn, &kd->blk, kafka_dbz_now_ms(), &value, &vlen,
                        errbuf, errsize) != 0) {
        free(key);
        return kafka_dbz_failed(kd);
    }
    int32_t part = kafka_order_partition(t->rkt, t->partitions, key, klen);
    lsn_t prev = kafka_order_step(&t->chain[part], kd->txn.commit_lsn);
    err_t err = out->send(out->ctx, t->rkt, part, value, vlen, key, klen, prev, errbuf, errsize);
    if (err == ERR_OK && op == EVENT_DELETE && key != NULL)
        err = out->send(out->ctx, t->rkt, part, NULL, 0, key, klen, 0, errbuf, errsize);
    free(key);
    return err;
}

err_t kafka_dbz_change(kafka_dbz_t *kd, const change_row_t *row, const kafka_dbz_out_t *out,
                       char *errbuf, size_t errsize)
{
    err_t err = ERR_OK;
    kafka_dbz_table_t *t = kafka_dbz_table(kd, row->rel, &err, errbuf, errsize);
    if (t == NULL)
        return err;
    err = kafka_dbz_begin(kd, out, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    switch (row->op) {
    case CHANGE_UPDATE:
        if (event_dbz_key_changed(kd->dz, row)) {
            err = kafka_dbz_event(kd, t, row, EVENT_DELETE, row->old_tuple, out, errbuf, errsize);
            if (err == ERR_OK)
                err =
                    kafka_dbz_event(kd, t, row, EVENT_CREATE, row->new_tuple, out, errbuf, errsize);
            return err;
        }
        return kafka_dbz_event(kd, t, row, EVENT_UPDATE, row->new_tuple, out, errbuf, errsize);
    case CHANGE_DELETE:
        return kafka_dbz_event(kd, t, row, EVENT_DELETE, row->old_tuple, out, errbuf, errsize);
    case CHANGE_TRUNCATE:
        return kafka_dbz_event(kd, t, row, EVENT_TRUNCATE, NULL, out, errbuf, errsize);
    case CHANGE_INSERT:
        break;
    }
    return kafka_dbz_event(kd, t, row, EVENT_CREATE, row->new_tuple, out, errbuf, errsize);
}

err_t kafka_dbz_txn_end(kafka_dbz_t *kd, const kafka_dbz_out_t *out, char *errbuf, size_t errsize)
{
    if (!kd->begun)
        return ERR_OK;
    event_dbz_count_t *counts = calloc((size_t)kd->ntables + 1, sizeof(*counts));
    int n = 0;
    if (counts == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    for (int i = 0; i < kd->ntables; i++)
        if (kd->tables[i].count > 0)
            counts[n++] = (event_dbz_count_t){kd->tables[i].collection, kd->tables[i].count};
    err_t err = kafka_dbz_send_txn(kd, true, counts, n, out, errbuf, errsize);
    free(counts);
    kafka_dbz_rollback(kd);
    return err;
}

err_t kafka_dbz_heartbeat(kafka_dbz_t *kd, rd_kafka_topic_t **rkt, char **key, size_t *keylen,
                          char **value, size_t *len, char *errbuf, size_t errsize)
{
    *rkt = kd->hb_rkt;
    *key = event_dbz_heartbeat_key(kd->dz, keylen, errbuf, errsize);
    *value = *key == NULL
                 ? NULL
                 : event_dbz_heartbeat_value(kd->dz, kafka_dbz_now_ms(), len, errbuf, errsize);
    if (*key != NULL && *value != NULL)
        return ERR_OK;
    free(*key);
    *key = NULL;
    return kafka_dbz_failed(kd);
}
