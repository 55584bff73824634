/*
 * kafka_sink: capture's producer.
 *
 * Design. The apply loop hands each source transaction's boundaries to the
 * sink (txn_begin: xid, commit LSN, commit time; txn_end: end LSN). Every message
 * carries its transaction's commit LSN, xid and its index (seq); the newest
 * message of each partition is held back until the next one for that
 * partition or the source Commit, so that it can be marked last (with the end
 * LSN) and the applier knows a transaction's part in a partition is complete.
 * Memory stays one envelope per partition, whatever the transaction's size.
 *
 * Avro writer schemas are published before the first message that uses
 * one (a relation's first change, and again after a Relation message that
 * changed its columns): to the Schema Registry (Confluent wire format,
 * subject <topic>-<record name>), or to the compacted <topic>.schemas,
 * waiting for the broker's acknowledgement so that apply, finding a
 * message with an unknown fingerprint, finds the schema there.
 *
 * Order. Each change message names, in header KAFKA_PREV_HEADER, the commit
 * LSN of the transaction produced into its partition before (per partition,
 * because order holds only within one and apply checks each on its own).
 * The broker may refuse one message (too large) and accept the next; apply
 * then sees a transaction whose predecessor it never got and stops there
 * instead of applying past it. A new session knows no predecessor, so its
 * first transaction in each partition has no header: it follows everything
 * Kafka acknowledged, since the session starts at the slot's confirmed LSN.
 * Rejected in-band alternatives: an envelope field (every codec, schema and
 * pinned fixture changes, and other consumers need nothing of it).
 *
 * Delivery reports count down the messages in flight, per batch (each
 * message carries its batch's number). commit_async() ends a batch without
 * waiting; durable() reports the end LSN of the newest batch whose messages,
 * and every earlier batch's, Kafka acknowledged, and fails on the first
 * delivery error. So the apply loop confirms nothing Kafka did not
 * acknowledge, while capture goes on reading the source; commit() waits for
 * all of it. A capture that dies between produce and confirm sends those
 * transactions again on restart: the applier drops them by (commit LSN, seq).
 */
#include "kafka/kafka_sink.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"
#include "event/event_codec.h"
#include "event/event_avro_write.h"
#include "event/event_json.h"
#include "kafka/kafka_conf.h"
#include "kafka/kafka_dbz.h"
#include "kafka/kafka_order.h"
#include "kafka/kafka_schemas.h"
#include "core/ddl.h"
#include "core/log.h"
#include "kafka/schema_registry.h"

#define KAFKA_SINK_STOP_GRACE_POLLS 100 /* x 100 ms after a stop request */

/* The message held back for one partition, already written (Avro datum or
 * JSON text) but not yet marked last or not. */
typedef struct kafka_sink_pending {
    int held;
    event_avro_msg_t avro; /* Avro */
    event_json_t json;     /* JSON */
    lsn_t end_lsn;         /* set when the source Commit makes it the last */
    lsn_t commit_lsn;      /* for messages */
    lsn_t prev;            /* KAFKA_PREV_HEADER; 0: none */
    char *key;
    size_t keylen;
    char table[136]; /* schema.table, for messages (truncated) */
} kafka_sink_pending_t;

/* A batch whose messages Kafka has not all acknowledged. */
typedef struct kafka_sink_batch {
    uint64_t seq;        /* numbered from 1 in the order begun */
    lsn_t end_lsn;       /* 0 while open (or abandoned) */
    int64_t outstanding; /* its messages without a delivery report */
} kafka_sink_batch_t;

struct kafka_sink {
    const config_t *cfg;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    event_codec_t *codec;
    bool avro;
    schema_registry_t *sr;         /* Confluent wire format; NULL otherwise */
    rd_kafka_topic_t *schemas_rkt; /* single-object: <topic>.schemas */
    int partitions;
    volatile sig_atomic_t *stop;
    kafka_sink_pending_t *pending; /* one per partition */
    kafka_order_chain_t *chain;    /* one per partition */
    event_txn_t txn;               /* the source transaction in hand */
    int64_t inflight;              /* produced, no delivery report yet */
    rd_kafka_resp_err_t failed;    /* first delivery error (sticky while batches are out) */
    kafka_sink_batch_t *batches;   /* oldest first: [head, head + nbatches) */
    size_t head, nbatches, capbatches;
    uint64_t next_batch; /* seq of the next batch begun */
    int batch_open;      /* the newest batch takes the messages produced now */
    lsn_t durable;       /* end LSN of the newest batch acknowledged with all before it */
    char failed_detail[1024];
    source_t inner;
    kafka_dbz_t *dbz; /* layout debezium; NULL for syncline */
    kafka_sink_opts_t opts;
};

/* ---- delivery ------------------------------------------------------------ */

/* The batch numbered seq, if still out. */
static kafka_sink_batch_t *kafka_sink_batch(kafka_sink_t *ks, uint64_t seq)
{
    if (seq == 0 || ks->nbatches == 0)
        return NULL;
    uint64_t first = ks->batches[ks->head].seq;
    if (seq < first || seq - first >= ks->nbatches)
        return NULL;
    return &ks->batches[ks->head + (seq - first)];
}

static int kafka_sink_too_large(rd_kafka_resp_err_t kerr)
{
    return kerr == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
           kerr == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE;
}

/* "; raise ..." for a message too large: the two limits (the producer's
 * checked here, the topic's by the broker on the compressed batch). */
static void kafka_sink_limits_hint(kafka_sink_t *ks, size_t size, char *buf, size_t bufsize)
{
    char producer[32] = "?";
    size_t n = sizeof(producer);
    if (rd_kafka_conf_get(rd_kafka_conf(ks->rk), "message.max.bytes", producer, &n) !=
        RD_KAFKA_CONF_OK)
        snprintf(producer, sizeof(producer), "?");
    snprintf(buf, bufsize,
             "; raise the topic's max.message.bytes (broker/topic config) and the producer's "
             "message.max.bytes (kafka.properties, now %s) above %zu bytes, then start capture "
             "again: it sends again from the slot, which confirms nothing past this message",
             producer, size);
}

/* The refused message: topic, partition, error, and from its envelope the
 * table and commit LSN (a message the codec cannot read: its size only). */
static void kafka_sink_describe(kafka_sink_t *ks, const rd_kafka_message_t *m, char *buf,
                                size_t size)
{
    event_t ev;
    char why[256], l[LSN_STRLEN], hint[400] = "";
    int n = snprintf(buf, size, "topic=%s partition=%d: %s", rd_kafka_topic_name(m->rkt),
                     (int)m->partition, rd_kafka_err2str(m->err));
    if (n < 0 || (size_t)n >= size)
        return;
    if (kafka_sink_too_large(m->err))
        kafka_sink_limits_hint(ks, m->len, hint, sizeof(hint));
    if (m->payload != NULL && event_decode(ks->codec, m->payload, m->len, m->key, m->key_len, &ev,
                                           why, sizeof(why)) == 0) {
        snprintf(buf + n, size - (size_t)n, " (table=%s.%s lsn=%s size=%zu bytes)%s",
                 ev.rel != NULL ? ev.rel->nspname : "?", ev.rel != NULL ? ev.rel->relname : "?",
                 lsn_format(ev.txn.commit_lsn, l, sizeof(l)), m->len, hint);
        event_clear(&ev);
    } else {
        snprintf(buf + n, size - (size_t)n, " (size=%zu bytes)%s", m->len, hint);
    }
}

static void kafka_sink_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    kafka_sink_t *ks = opaque;
    (void)rk;
    ks->inflight--;
    kafka_sink_batch_t *b = kafka_sink_batch(ks, (uint64_t)(uintptr_t)m->_private);
    if (b != NULL)
        b->outstanding--;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR || ks->failed != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    ks->failed = m->err;
    kafka_sink_describe(ks, m, ks->failed_detail, sizeof(ks->failed_detail));
}

static void kafka_sink_setup(rd_kafka_conf_t *conf)
{
    rd_kafka_conf_set_dr_msg_cb(conf, kafka_sink_delivered);
}

/* The KAFKA_PREV_HEADER of a message (NULL for prev 0); caller owns it. */
static rd_kafka_headers_t *kafka_sink_prev_header(lsn_t prev)
{
    char l[LSN_STRLEN];
    if (prev == 0)
        return NULL;
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    lsn_format(prev, l, sizeof(l));
    rd_kafka_header_add(h, KAFKA_PREV_HEADER, -1, l, -1);
    return h;
}

/* Takes ownership of buf (freed by librdkafka, or here on failure). prev:
 * see KAFKA_PREV_HEADER (0: no header). */
static err_t kafka_sink_send(kafka_sink_t *ks, rd_kafka_topic_t *rkt, int32_t partition, char *buf,
                             size_t len, const char *key, size_t keylen, lsn_t prev, char *errbuf,
                             size_t errsize)
{
    kafka_sink_batch_t *b =
        ks->batch_open ? &ks->batches[ks->head + ks->nbatches - 1] : NULL; /* data, not schemas */
    if (rkt == ks->schemas_rkt)
        b = NULL;
    void *opaque = b != NULL ? (void *)(uintptr_t)b->seq : NULL;
    for (;;) {
        rd_kafka_headers_t *h = kafka_sink_prev_header(prev); /* producev takes it on success */
        rd_kafka_resp_err_t kerr =
            rd_kafka_producev(ks->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_VALUE(buf, len),
                              RD_KAFKA_V_KEY(key, keylen), RD_KAFKA_V_OPAQUE(opaque),
                              RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (kerr == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (h != NULL)
            rd_kafka_headers_destroy(h);
        if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            char hint[400] = "";
            free(buf);
            if (kafka_sink_too_large(kerr))
                kafka_sink_limits_hint(ks, len, hint, sizeof(hint));
            snprintf(errbuf, errsize, "kafka produce topic=%s partition=%d: %s (size=%zu bytes)%s",
                     rd_kafka_topic_name(rkt), (int)partition, rd_kafka_err2str(kerr), len, hint);
            return kafka_conf_classify(kerr);
        }
        rd_kafka_poll(ks->rk, 100); /* the broker is slow or away: wait for room */
    }
    ks->inflight++;
    if (b != NULL)
        b->outstanding++;
    rd_kafka_poll(ks->rk, 0);
    return ERR_OK;
}

static err_t kafka_sink_wait(kafka_sink_t *ks, char *errbuf, size_t errsize);

/* Single-object: the schema to <topic>.schemas, acknowledged before we go on. */
static err_t kafka_sink_publish_topic(kafka_sink_t *ks, event_avro_writer_t *w, char *errbuf,
                                      size_t errsize)
{
    char key[17];
    snprintf(key, sizeof(key), "%016llx", (unsigned long long)event_avro_writer_fingerprint(w));
    char *schema = strdup(event_avro_writer_text(w));
    if (schema == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    err_t err = kafka_sink_send(ks, ks->schemas_rkt, 0, schema, strlen(schema), key, strlen(key), 0,
                                errbuf, errsize);
    if (err == ERR_OK)
        err = kafka_sink_wait(ks, errbuf, errsize);
    if (err == ERR_OK && ks->failed != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errbuf, errsize, "kafka delivery failed %s (writer schema %s)", ks->failed_detail,
                 event_avro_writer_name(w));
        err = kafka_conf_classify(ks->failed);
    }
    if (err == ERR_OK) {
        event_avro_writer_set_published(w, -1);
        log_info("kafka schema published topic=%s fingerprint=%s record=%s",
                 rd_kafka_topic_name(ks->schemas_rkt), key, event_avro_writer_name(w));
    }
    return err;
}

/* Confluent: the schema registered under <topic>-<record full name>. */
static err_t kafka_sink_register(kafka_sink_t *ks, event_avro_writer_t *w, char *errbuf,
                                 size_t errsize)
{
    char subject[600];
    int32_t id;
    snprintf(subject, sizeof(subject), "%s-%s", ks->cfg->kafka.topic, event_avro_writer_name(w));
    err_t err =
        schema_registry_register(ks->sr, subject, event_avro_writer_text(w), &id, errbuf, errsize);
    if (err == ERR_OK) {
        event_avro_writer_set_published(w, id);
        log_info("schema registered registry=%s subject=%s id=%d fingerprint=%016llx",
                 schema_registry_url(ks->sr), subject, (int)id,
                 (unsigned long long)event_avro_writer_fingerprint(w));
    }
    return err;
}

/* Avro: publishes writer schema w unless done before. */
static err_t kafka_sink_schema(kafka_sink_t *ks, event_avro_writer_t *w, char *errbuf,
                               size_t errsize)
{
    if (event_avro_writer_published(w))
        return ERR_OK;
    return ks->sr != NULL ? kafka_sink_register(ks, w, errbuf, errsize)
                          : kafka_sink_publish_topic(ks, w, errbuf, errsize);
}

static void kafka_sink_pending_clear(kafka_sink_pending_t *p)
{
    event_avro_write_clear(&p->avro);
    event_json_clear(&p->json);
    free(p->key);
    memset(p, 0, sizeof(*p));
}

/* The Avro message of a held envelope, its writer schema published first;
 * malloc'd into *buf. */
static err_t kafka_sink_encode_avro(kafka_sink_t *ks, kafka_sink_pending_t *p, char **buf,
                                    size_t *len, char *errbuf, size_t errsize)
{
    err_t err = kafka_sink_schema(ks, p->avro.writer, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    *buf = event_avro_write_take(&p->avro, event_codec_avro(ks->codec), p->end_lsn, len, errbuf,
                                 errsize);
    return *buf != NULL ? ERR_OK : ERR_RUNTIME;
}

static err_t kafka_sink_produce(kafka_sink_t *ks, int32_t partition, kafka_sink_pending_t *p,
                                char *errbuf, size_t errsize)
{
    char *buf = NULL;
    size_t len = 0;
    err_t err = ERR_OK;
    if (ks->avro) {
        err = kafka_sink_encode_avro(ks, p, &buf, &len, errbuf, errsize);
    } else if ((buf = event_json_take(&p->json, p->end_lsn, &len)) == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        err = ERR_RUNTIME;
    }
    if (err == ERR_OK)
        err = kafka_sink_send(ks, ks->rkt, partition, buf, len, p->key, p->keylen, p->prev, errbuf,
                              errsize);
    if (err != ERR_OK) {
        char l[LSN_STRLEN];
        size_t n = strlen(errbuf);
        snprintf(errbuf + n, errsize - n, " (table=%s lsn=%s)", p->table,
                 lsn_format(p->commit_lsn, l, sizeof(l)));
    }
    kafka_sink_pending_clear(p);
    return err;
}

/* ---- holding back the newest message per partition ------------------------ */

/* Takes ownership of what next holds. */
static err_t kafka_sink_hold(kafka_sink_t *ks, int32_t part, kafka_sink_pending_t *next,
                             char *errbuf, size_t errsize)
{
    kafka_sink_pending_t *p = &ks->pending[part];
    err_t err = ERR_OK;
    if (p->held)
        err = kafka_sink_produce(ks, part, p, errbuf, errsize);
    *p = *next;
    p->held = 1;
    return err;
}

static err_t kafka_sink_send_dbz(void *ctx, rd_kafka_topic_t *rkt, int32_t partition, char *value,
                                 size_t len, const char *key, size_t keylen, lsn_t prev,
                                 char *errbuf, size_t errsize)
{
    return kafka_sink_send(ctx, rkt, partition, value, len, key, keylen, prev, errbuf, errsize);
}

static err_t kafka_sink_change(kafka_sink_t *ks, const change_row_t *row,
                               const event_truncate_t *tpos, char *errbuf, size_t errsize)
{
    if (ks->dbz != NULL) {
        kafka_dbz_out_t out = {.send = kafka_sink_send_dbz, .ctx = ks};
        return kafka_dbz_change(ks->dbz, row, &out, errbuf, errsize);
    }
    event_txn_t txn = ks->txn;
    txn.seq = ks->txn.seq++;
    txn.last = false;
    kafka_sink_pending_t next = {0};
    int rc = 0;
    if (ks->avro)
        rc = event_avro_write(&next.avro, event_codec_avro(ks->codec), row, tpos, &txn,
                              ks->cfg->name, errbuf, errsize);
    else
        rc = event_json_write(&next.json, row, tpos, &txn, ks->cfg->name, errbuf, errsize);
    if (rc != 0) {
        char l[LSN_STRLEN];
        size_t n = strlen(errbuf);
        snprintf(errbuf + n, errsize - n, " (table %s.%s, lsn=%s)", row->rel->nspname,
                 row->rel->relname, lsn_format(txn.commit_lsn, l, sizeof(l)));
        return ERR_RUNTIME;
    }
    next.key = event_key(row, ks->cfg->kafka.partitioning, &next.keylen);
    int32_t part = kafka_order_partition(ks->rkt, ks->partitions, next.key, next.keylen);
    next.commit_lsn = txn.commit_lsn;
    next.prev = kafka_order_step(&ks->chain[part], txn.commit_lsn);
    snprintf(next.table, sizeof(next.table), "%s.%s", row->rel->nspname, row->rel->relname);
    return kafka_sink_hold(ks, part, &next, errbuf, errsize);
}

/* The source Commit: what is held back is the last of the transaction. */
static err_t kafka_sink_end_txn(kafka_sink_t *ks, lsn_t end_lsn, char *errbuf, size_t errsize)
{
    err_t err = ERR_OK;
    for (int32_t i = 0; i < ks->partitions && err == ERR_OK; i++) {
        kafka_sink_pending_t *p = &ks->pending[i];
        if (!p->held)
            continue;
        p->end_lsn = end_lsn;
        err = kafka_sink_produce(ks, i, p, errbuf, errsize);
    }
    return err;
}

static void kafka_sink_drop_pending(kafka_sink_t *ks)
{
    for (int i = 0; ks->pending != NULL && i < ks->partitions; i++)
        kafka_sink_pending_clear(&ks->pending[i]);
}

/* ---- sink_ops ------------------------------------------------------------ */

/* Every message describes its relation. Layout debezium: a relation whose
 * replica identity is not its primary key gets the primary key as key. */
static err_t kafka_sink_relation(void *ctx, const change_relation_t *rel, lsn_t lsn, char *errbuf,
                                 size_t errsize)
{
    kafka_sink_t *ks = ctx;
    char **cols = NULL;
    int n = 0;
    (void)lsn;
    if (ks->dbz == NULL || rel->replident == 'd' || ks->opts.primary_key == NULL)
        return ERR_OK;
    err_t err =
        ks->opts.primary_key(ks->opts.primary_key_ctx, rel->relid, &cols, &n, errbuf, errsize);
    if (err == ERR_OK && n > 0)
        err = kafka_dbz_primary_key(ks->dbz, rel->relid, cols, n, errbuf, errsize);
    for (int i = 0; i < n; i++)
        free(cols[i]);
    free(cols);
    return err;
}

/* A source transaction starts: its changes carry its xid, commit LSN and time. */
static err_t kafka_sink_txn_begin(void *ctx, const sink_txn_t *t, char *errbuf, size_t errsize)
{
    kafka_sink_t *ks = ctx;
    (void)errbuf;
    (void)errsize;
    memset(&ks->txn, 0, sizeof(ks->txn));
    ks->txn.xid = t->xid;
    ks->txn.commit_lsn = t->commit_lsn;
    ks->txn.commit_time = t->commit_time;
    if (ks->dbz != NULL)
        kafka_dbz_txn_begin(ks->dbz, &ks->txn);
    return ERR_OK;
}

/* Its Commit: the messages held back are the last of it in their partitions. */
static err_t kafka_sink_txn_end(void *ctx, const sink_txn_t *t, char *errbuf, size_t errsize)
{
    kafka_sink_t *ks = ctx;
    if (ks->dbz != NULL) {
        kafka_dbz_out_t out = {.send = kafka_sink_send_dbz, .ctx = ks};
        err_t err = kafka_dbz_txn_end(ks->dbz, &out, errbuf, errsize);
        if (err != ERR_OK)
            return err;
    }
    return kafka_sink_end_txn(ctx, t->end_lsn, errbuf, errsize);
}

/* Opens a batch: a new entry at the end. */
static err_t kafka_sink_begin(void *ctx, char *errbuf, size_t errsize)
{
    kafka_sink_t *ks = ctx;
    if (ks->head > 0 && ks->head + ks->nbatches == ks->capbatches) {
        memmove(ks->batches, ks->batches + ks->head, ks->nbatches * sizeof(*ks->batches));
        ks->head = 0;
    }
    if (ks->nbatches == ks->capbatches) {
        size_t cap = ks->capbatches ? 2 * ks->capbatches : 16;
        kafka_sink_batch_t *nb = realloc(ks->batches, cap * sizeof(*nb));
        if (nb == NULL) {
            snprintf(errbuf, errsize, "out of memory");
            return ERR_RUNTIME;
        }
        ks->batches = nb;
        ks->capbatches = cap;
    }
    ks->batches[ks->head + ks->nbatches++] =
        (kafka_sink_batch_t){.seq = ++ks->next_batch, .end_lsn = 0, .outstanding = 0};
    ks->batch_open = 1;
    return ERR_OK;
}

static err_t kafka_sink_row(void *ctx, const change_row_t *row, char *errbuf, size_t errsize)
{
    return kafka_sink_change(ctx, row, NULL, errbuf, errsize);
}

static err_t kafka_sink_truncate(void *ctx, const change_relation_t *const *rels, int nrels,
                                 uint8_t options, lsn_t lsn, char *errbuf, size_t errsize)
{
    kafka_sink_t *ks = ctx;
    /* one partition keeps the relations of one TRUNCATE together */
    int together = strcmp(ks->cfg->kafka.partitioning, "none") == 0;
    err_t err = ERR_OK;
    for (int i = 0; i < nrels && err == ERR_OK; i++) {
        change_row_t row = {.op = CHANGE_TRUNCATE, .rel = rels[i], .lsn = lsn};
        event_truncate_t tpos = {options, together ? nrels : 1, together ? i : 0};
        err = kafka_sink_change(ks, &row, &tpos, errbuf, errsize);
    }
    return err;
}

/* ---- DDL ------------------------------------------------------------------ */

/* The command tag of a DDL message, for logs and errors ("unreadable"). */
static void kafka_sink_ddl_tag(const sink_ddl_t *d, char *tag, size_t size)
{
    ddl_event_t ev = {0};
    const char *sig, *body;
    size_t blen;
    char eb[64];
    int ok = ddl_message_split(d->json, d->len, &sig, &body, &blen) == 0 &&
             ddl_event_parse(body, blen, &ev, eb, sizeof(eb)) == 0;
    snprintf(tag, size, "%s", ok && ev.tag != NULL ? ev.tag : "unreadable");
    ddl_event_clear(&ev);
}

/* A DDL event cannot be ordered against rows in other partitions: with
 * partitioning table or key capture refuses it (or skips it, logged, when
 * every "ddl" mode is ignore); the debezium layout carries none (logged). */
static err_t kafka_sink_ddl_refuse(kafka_sink_t *ks, const sink_ddl_t *d, char *errbuf,
                                   size_t errsize)
{
    char l[LSN_STRLEN], tag[64];
    kafka_sink_ddl_tag(d, tag, sizeof(tag));
    lsn_format(d->lsn, l, sizeof(l));
    if (ks->dbz != NULL || !config_ddl_followed(ks->cfg)) {
        log_warn("ddl at lsn=%s (%s) not followed by this sink: apply it on the target by hand", l,
                 tag);
        return ERR_OK;
    }
    snprintf(errbuf, errsize,
             "ddl at lsn=%s (%s): kafka.partitioning \"%s\" cannot carry DDL in order (a "
             "partition's rows would pass it); use partitioning \"none\", or set \"ddl\": "
             "\"ignore\" and apply DDL on the target by hand (docs/kafka.md#ddl)",
             l, tag, ks->cfg->kafka.partitioning);
    return ERR_SCHEMA;
}

/* A DDL command: one event at its place among its transaction's messages
 * (partition 0, the only one with partitioning none), held back like a row. */
static err_t kafka_sink_ddl(void *ctx, const sink_ddl_t *d, char *errbuf, size_t errsize)
{
    kafka_sink_t *ks = ctx;
    if (ks->dbz != NULL || strcmp(ks->cfg->kafka.partitioning, "none") != 0)
        return kafka_sink_ddl_refuse(ks, d, errbuf, errsize);
    event_ddl_t ed = {.content = d->json, .len = d->len, .lsn = d->lsn};
    event_txn_t txn = ks->txn;
    txn.seq = ks->txn.seq++;
    txn.last = false;
    kafka_sink_pending_t next = {0};
    int rc = ks->avro ? event_avro_write_ddl(&next.avro, event_codec_avro(ks->codec), &ed, &txn,
                                             ks->cfg->name, errbuf, errsize)
                      : event_json_write_ddl(&next.json, &ed, &txn, ks->cfg->name, errbuf, errsize);
    if (rc != 0)
        return ERR_RUNTIME;
    next.commit_lsn = txn.commit_lsn;
    next.prev = kafka_order_step(&ks->chain[0], txn.commit_lsn);
    snprintf(next.table, sizeof(next.table), "(ddl)");
    return kafka_sink_hold(ks, 0, &next, errbuf, errsize);
}

/* Polls until nothing is in flight. A stop request gives the broker a grace
 * period, then gives up (nothing is confirmed then). */
static err_t kafka_sink_wait(kafka_sink_t *ks, char *errbuf, size_t errsize)
{
    int grace = KAFKA_SINK_STOP_GRACE_POLLS;
    while (ks->inflight > 0 && ks->failed == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_poll(ks->rk, 100);
        if (*ks->stop && --grace <= 0) {
            snprintf(errbuf, errsize,
                     "stopped with %lld messages not acknowledged by the broker (topic=%s); "
                     "they are sent again on the next start",
                     (long long)ks->inflight, ks->cfg->kafka.topic);
            return ERR_CONNECT;
        }
    }
    return ERR_OK;
}

/* Ends the open batch at pos without waiting for Kafka. */
static err_t kafka_sink_commit_async(void *ctx, const sink_position_t *pos, char *errbuf,
                                     size_t errsize)
{
    kafka_sink_t *ks = ctx;
    err_t err = kafka_sink_end_txn(ks, pos->end_lsn, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    if (ks->batch_open)
        ks->batches[ks->head + ks->nbatches - 1].end_lsn = pos->end_lsn;
    ks->batch_open = 0;
    rd_kafka_poll(ks->rk, 0);
    return ERR_OK;
}

/* Without blocking: the newest end LSN Kafka acknowledged with all before it. */
static err_t kafka_sink_durable(void *ctx, lsn_t *lsn, char *errbuf, size_t errsize)
{
    kafka_sink_t *ks = ctx;
    rd_kafka_poll(ks->rk, 0);
    if (ks->failed != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char l[LSN_STRLEN];
        lsn_t first = ks->nbatches > 0 ? ks->batches[ks->head].end_lsn : 0;
        snprintf(errbuf, errsize, "kafka delivery failed %s (batches from lsn=%s on not confirmed)",
                 ks->failed_detail, lsn_format(first, l, sizeof(l)));
        return kafka_conf_classify(ks->failed);
    }
    while (ks->nbatches > 0) { /* an open batch (end_lsn 0) stops it */
        kafka_sink_batch_t *b = &ks->batches[ks->head];
        if (b->end_lsn == 0 || b->outstanding > 0)
            break;
        ks->durable = b->end_lsn;
        ks->head++;
        ks->nbatches--;
    }
    if (ks->nbatches == 0)
        ks->head = 0;
    *lsn = ks->durable;
    return ERR_OK;
}

/* Waits until Kafka answered every message (then durable() is final). */
static err_t kafka_sink_drain(void *ctx, char *errbuf, size_t errsize)
{
    return kafka_sink_wait(ctx, errbuf, errsize);
}

static err_t kafka_sink_commit(void *ctx, const sink_position_t *pos, char *errbuf, size_t errsize)
{
    lsn_t durable = 0;
    err_t err = kafka_sink_commit_async(ctx, pos, errbuf, errsize);
    if (err == ERR_OK)
        err = kafka_sink_drain(ctx, errbuf, errsize);
    if (err == ERR_OK)
        err = kafka_sink_durable(ctx, &durable, errbuf, errsize);
    if (err == ERR_OK && durable != pos->end_lsn) {
        char l[LSN_STRLEN];
        snprintf(errbuf, errsize, "kafka: batch up to lsn=%s not acknowledged",
                 lsn_format(pos->end_lsn, l, sizeof(l)));
        err = ERR_RUNTIME;
    }
    return err;
}

/* The open batch is abandoned: its entry keeps end_lsn 0, so nothing at or
 * after it becomes durable in this session. */
static void kafka_sink_rollback(void *ctx)
{
    kafka_sink_t *ks = ctx;
    kafka_sink_drop_pending(ks);
    if (ks->dbz != NULL)
        kafka_dbz_rollback(ks->dbz);
    ks->batch_open = 0;
}

/* Layout debezium: one heartbeat to __debezium-heartbeat.<prefix>, its
 * header KAFKA_HEARTBEAT_HEADER holding the keepalive position l. */
static err_t kafka_sink_heartbeat_dbz(kafka_sink_t *ks, const char *l, char *errbuf, size_t errsize)
{
    rd_kafka_topic_t *rkt;
    char *key, *value;
    size_t klen, vlen;
    err_t err = kafka_dbz_heartbeat(ks->dbz, &rkt, &key, &klen, &value, &vlen, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    rd_kafka_header_add(h, KAFKA_HEARTBEAT_HEADER, -1, l, -1);
    rd_kafka_resp_err_t kerr =
        rd_kafka_producev(ks->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(0),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_VALUE(value, vlen),
                          RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
    free(key);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(h);
        free(value);
        snprintf(errbuf, errsize, "kafka produce heartbeat topic=%s: %s", rd_kafka_topic_name(rkt),
                 rd_kafka_err2str(kerr));
        return kafka_conf_classify(kerr);
    }
    ks->inflight++;
    return ERR_OK;
}

/*
 * Nothing pending at keepalive position lsn (at most once a second, by the
 * apply loop): a heartbeat in every partition, a message without value, with
 * key KAFKA_HEARTBEAT_KEY, whose header KAFKA_HEARTBEAT_HEADER holds lsn. Everything below lsn was
 * produced before it in its partition, so apply may move the target's
 * applied position to lsn once it reaches it (an idle source then shows no
 * lag). Confirmed to the slot only once the broker acknowledged it.
 */
static err_t kafka_sink_advance(void *ctx, lsn_t lsn, char *errbuf, size_t errsize)
{
    kafka_sink_t *ks = ctx;
    char l[LSN_STRLEN];
    lsn_format(lsn, l, sizeof(l));
    if (ks->dbz != NULL) {
        err_t err = kafka_sink_heartbeat_dbz(ks, l, errbuf, errsize);
        if (err != ERR_OK)
            return err;
    }
    for (int32_t i = 0; ks->rkt != NULL && i < ks->partitions; i++) {
        /* its "prev": the newest transaction in the partition */
        rd_kafka_headers_t *h = kafka_sink_prev_header(ks->chain[i].last);
        if (h == NULL)
            h = rd_kafka_headers_new(1);
        rd_kafka_header_add(h, KAFKA_HEARTBEAT_HEADER, -1, l, -1);
        rd_kafka_resp_err_t kerr =
            rd_kafka_producev(ks->rk, RD_KAFKA_V_RKT(ks->rkt), RD_KAFKA_V_PARTITION(i),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(KAFKA_HEARTBEAT_KEY, strlen(KAFKA_HEARTBEAT_KEY)),
                              RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_headers_destroy(h);
            snprintf(errbuf, errsize, "kafka produce heartbeat topic=%s partition=%d: %s",
                     ks->cfg->kafka.topic, (int)i, rd_kafka_err2str(kerr));
            return kafka_conf_classify(kerr);
        }
        ks->inflight++;
    }
    err_t err = kafka_sink_wait(ks, errbuf, errsize);
    if (err == ERR_OK && ks->failed != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errbuf, errsize, "kafka delivery failed %s (heartbeat lsn=%s not confirmed)",
                 ks->failed_detail, l);
        err = kafka_conf_classify(ks->failed);
    }
    return err;
}

static const sink_ops_t kafka_sink_ops = {
    .relation = kafka_sink_relation,
    .begin = kafka_sink_begin,
    .txn_begin = kafka_sink_txn_begin,
    .txn_end = kafka_sink_txn_end,
    .row = kafka_sink_row,
    .truncate = kafka_sink_truncate,
    .commit = kafka_sink_commit,
    .commit_async = kafka_sink_commit_async,
    .durable = kafka_sink_durable,
    .drain = kafka_sink_drain,
    .rollback = kafka_sink_rollback,
    .advance = kafka_sink_advance,
    .ddl = kafka_sink_ddl,
};

sink_t kafka_sink_sink(kafka_sink_t *ks)
{
    sink_t s = {.ops = &kafka_sink_ops, .ctx = ks};
    return s;
}

/* ---- serving delivery reports while reading the stream -------------------- */

static int kafka_sink_read(void *ctx, int timeout_ms, char **buf, size_t *len, err_t *err,
                           char *errbuf, size_t errsize)
{
    kafka_sink_t *ks = ctx;
    int r = ks->inner.ops->read(ks->inner.ctx, timeout_ms, buf, len, err, errbuf, errsize);
    rd_kafka_poll(ks->rk, 0); /* delivery reports while the stream flows */
    return r;
}

static err_t kafka_sink_send_status(void *ctx, lsn_t write, lsn_t flush, lsn_t apply, int reply,
                                    char *errbuf, size_t errsize)
{
    kafka_sink_t *ks = ctx;
    return ks->inner.ops->send_status(ks->inner.ctx, write, flush, apply, reply, errbuf, errsize);
}

static const source_ops_t kafka_sink_source_ops = {
    .read = kafka_sink_read,
    .send_status = kafka_sink_send_status,
};

source_t kafka_sink_source(kafka_sink_t *ks, const source_t *inner)
{
    ks->inner = *inner;
    source_t s = {.ops = &kafka_sink_source_ops, .ctx = ks};
    return s;
}

/* ---- lifecycle ------------------------------------------------------------ */

/* Avro: where the writer schemas go, ready before the first message. */
static err_t kafka_sink_schema_store(kafka_sink_t *ks, char *errbuf, size_t errsize)
{
    const config_kafka_t *k = &ks->cfg->kafka;
    if (ks->avro && k->schema_registry != NULL) {
        err_t err;
        schema_registry_opts_t o = {.stop = ks->stop};
        ks->sr = schema_registry_new(k->schema_registry, &o, &err, errbuf, errsize);
        if (ks->sr == NULL)
            return err;
        log_info("schema registry registry=%s subjects=%s-<record>", schema_registry_url(ks->sr),
                 k->topic);
        return schema_registry_check(ks->sr, errbuf, errsize);
    }
    if (!ks->avro) {
        if (k->schema_registry != NULL)
            log_warn("kafka.schema_registry is not used with kafka.format json");
        return ERR_OK;
    }
    char topic[300];
    int n;
    kafka_schemas_topic(k->topic, topic, sizeof(topic));
    err_t err = kafka_conf_ensure_topic(ks->rk, topic, 1, 1, &n, errbuf, errsize);
    if (err == ERR_OK && (ks->schemas_rkt = rd_kafka_topic_new(ks->rk, topic, NULL)) == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        err = ERR_RUNTIME;
    }
    return err;
}

/* Layout debezium: no stream topic; the layout's topics instead. */
static err_t kafka_sink_connect_dbz(kafka_sink_t *ks, const kafka_sink_opts_t *opts, char *errbuf,
                                    size_t errsize)
{
    err_t err;
    if (ks->avro && ks->cfg->kafka.schema_registry == NULL) {
        snprintf(errbuf, errsize,
                 "kafka.layout \"debezium\" with kafka.format \"avro\" needs "
                 "kafka.schema_registry (Avro in the Confluent wire format, as Debezium's "
                 "AvroConverter writes)");
        return ERR_CONFIG;
    }
    if (ks->avro) {
        schema_registry_opts_t o = {.stop = ks->stop};
        ks->sr = schema_registry_new(ks->cfg->kafka.schema_registry, &o, &err, errbuf, errsize);
        if (ks->sr == NULL)
            return err;
        log_info("schema registry registry=%s subjects=<topic>-key,<topic>-value",
                 schema_registry_url(ks->sr));
        if ((err = schema_registry_check(ks->sr, errbuf, errsize)) != ERR_OK)
            return err;
    }
    ks->partitions = 1; /* the held-back machinery of the syncline layout stays idle */
    ks->pending = calloc(1, sizeof(*ks->pending));
    ks->chain = calloc(1, sizeof(*ks->chain));
    if (ks->pending == NULL || ks->chain == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    int parts = strcmp(ks->cfg->kafka.partitioning, "key") == 0 ? opts->partitions : 1;
    ks->dbz = kafka_dbz_new(ks->rk, ks->cfg, parts, ks->sr, &err, errbuf, errsize);
    return ks->dbz != NULL ? ERR_OK : err;
}

static err_t kafka_sink_connect(kafka_sink_t *ks, const kafka_sink_opts_t *opts, char *errbuf,
                                size_t errsize)
{
    const config_kafka_t *k = &ks->cfg->kafka;
    if (strcmp(k->layout, "debezium") == 0)
        return kafka_sink_connect_dbz(ks, opts, errbuf, errsize);
    int want = strcmp(k->partitioning, "none") == 0 ? 1 : opts->partitions;
    err_t err =
        kafka_conf_ensure_topic(ks->rk, k->topic, want, 0, &ks->partitions, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    if (strcmp(k->partitioning, "none") == 0 && ks->partitions > 1)
        log_warn("kafka topic=%s has %d partitions; partitioning none uses partition 0 only",
                 k->topic, ks->partitions);
    ks->pending = calloc((size_t)ks->partitions, sizeof(*ks->pending));
    ks->chain = calloc((size_t)ks->partitions, sizeof(*ks->chain));
    ks->rkt = rd_kafka_topic_new(ks->rk, k->topic, NULL);
    if (ks->pending == NULL || ks->chain == NULL || ks->rkt == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    if (strcmp(k->partitioning, "none") == 0)
        ks->partitions = 1;
    return kafka_sink_schema_store(ks, errbuf, errsize);
}

kafka_sink_t *kafka_sink_new(const config_t *cfg, const kafka_sink_opts_t *opts, err_t *err,
                             char *errbuf, size_t errsize)
{
    kafka_sink_t *ks = calloc(1, sizeof(*ks));
    if (ks == NULL) {
        *err = ERR_RUNTIME;
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    ks->cfg = cfg;
    ks->stop = opts->stop;
    ks->opts = *opts;
    ks->avro = strcmp(cfg->kafka.format, "avro") == 0;
    ks->codec = event_codec_new(!ks->avro                            ? EVENT_FORMAT_JSON
                                : cfg->kafka.schema_registry != NULL ? EVENT_FORMAT_AVRO_CONFLUENT
                                                                     : EVENT_FORMAT_AVRO,
                                errbuf, errsize);
    *err = ERR_RUNTIME;
    if (ks->codec != NULL)
        ks->rk =
            kafka_conf_client(cfg, KAFKA_CONF_PRODUCER, ks, kafka_sink_setup, err, errbuf, errsize);
    if (ks->rk != NULL)
        *err = kafka_sink_connect(ks, opts, errbuf, errsize);
    if (*err != ERR_OK) {
        kafka_sink_free(ks);
        return NULL;
    }
    return ks;
}

void kafka_sink_free(kafka_sink_t *ks)
{
    if (ks == NULL)
        return;
    kafka_sink_drop_pending(ks);
    if (ks->rk != NULL) {
        if (rd_kafka_flush(ks->rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            log_warn("kafka: %d messages still in flight at exit", rd_kafka_outq_len(ks->rk));
        if (ks->rkt != NULL)
            rd_kafka_topic_destroy(ks->rkt);
        if (ks->schemas_rkt != NULL)
            rd_kafka_topic_destroy(ks->schemas_rkt);
        kafka_dbz_free(ks->dbz);
        rd_kafka_destroy(ks->rk);
    }
    event_codec_free(ks->codec);
    schema_registry_free(ks->sr);
    free(ks->pending);
    free(ks->chain);
    free(ks->batches);
    free(ks);
}
