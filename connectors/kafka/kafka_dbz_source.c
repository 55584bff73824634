/*
 * kafka_dbz_source: apply's feed of the one apply loop (core/applier.h) for
 * the debezium layout.
 *
 * Debezium writes each table to its own topic and, with
 * provide.transaction.metadata, BEGIN and END of each source transaction
 * (END with its number of changes) to <prefix>.transaction; each change
 * names its transaction and its place in it (total_order). The consumer
 * subscribes to a list of topics or a pattern (a group, syncline.<name>),
 * holds every change that names a transaction in core/txnbuf until END and
 * all the changes END counts are in, then applies the transaction whole, its
 * changes in total_order, transactions in END (commit) order, in target
 * transactions the loop opens and commits (it is always at a boundary: a
 * transaction reaches the batch only whole). A change without a transaction block (the
 * connector's metadata off, or a snapshot read) is a transaction of its own.
 *
 * Offsets: a partition's stored offset moves only past messages whose
 * transaction is applied: past the newest change applied, and to the end of
 * what was read (tombstones, BEGINs) only when nothing of the partition is
 * held. Within a partition transactions come in commit order, so what is
 * applied is always a prefix of what was read, and a restart (or a
 * rebalance, which drops what is held) reads the held messages again.
 *
 * Gaps: a stored offset below the low watermark, or an offset out of range
 * under the consumer, stops apply (as kafka_source). Debezium's messages
 * carry no predecessor, so a message refused by the broker is not seen; a
 * transaction missing changes is: it stays incomplete, and apply stops when
 * it is still so after KAFKA_DBZ_SOURCE_STALL_MS without new messages, or
 * when what is held passes kafka.max_transaction_mb; it never applies a
 * part of a transaction.
 */
#include "kafka/kafka_dbz_source.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/applier.h"
#include "core/clock.h"
#include "core/collapse.h"
#include "core/log.h"
#include "core/relcache.h"
#include "core/txnbuf.h"
#include "event/event.h"
#include "event/event_codec.h"
#include "event/event_dbz_txn.h"
#include "kafka/kafka_conf.h"
#include "kafka/kafka_consumer.h"
#include "kafka/kafka_dbz_avro.h"

#define KAFKA_DBZ_SOURCE_STALL_MS 30000
#define KAFKA_DBZ_SOURCE_IDLE_WAIT_MS 200 /* a poll with nothing to wait for */

/* One topic partition read. */
typedef struct kafka_dbz_source_tp {
    char *topic;
    int32_t partition;
    int assigned;
    int meta;          /* the transaction metadata topic */
    int64_t next;      /* the offset to store; -1: none yet */
    int64_t read_next; /* past the newest message read */
    int64_t held;      /* messages read and held in the buffer */
    int dirty;         /* next moved since the last commit */
    /* the greatest position read since the partition was (re)assigned: a
     * change at or below it, or an END at or below seen_end, is a copy a
     * restarted connector sent again (event_dbz_pos_t) */
    event_dbz_pos_t seen;
    int has_seen;
    uint64_t seen_end; /* the metadata topic: the greatest END commit LSN */
    int dropping;      /* the last message read was such a copy */
} kafka_dbz_source_tp_t;

/* A change held until its transaction is complete. */
typedef struct kafka_dbz_source_item {
    event_t ev;
    int tp;
    int64_t offset;
} kafka_dbz_source_item_t;

typedef struct kafka_dbz_source {
    const config_t *cfg;
    const kafka_source_opts_t *opts;
    kafka_source_stats_t *stats;
    sink_t snk;
    const sink_t *target;
    rd_kafka_t *rk;
    event_codec_t *codec;
    kafka_dbz_avro_t *avro; /* kafka.format avro: the registry's reader; NULL for JSON */
    relcache_t *rels;
    txnbuf_t *tb;
    uint64_t applied_commit; /* END commit LSN of the newest transaction applied */
    kafka_dbz_source_tp_t *tps;
    int ntps, last;
    char meta_topic[300];
    applier_t ap;                   /* the loop: the target transaction */
    sink_offset_t *offs;            /* the offsets a commit covers (ntps) */
    kafka_consumer_reader_t reader; /* what the loop's polls hand messages to */
    int overrides_done;
    int64_t quiet_since; /* ms: nothing arrives while changes are held; 0: not so */
    err_t cb_err;
    kafka_consumer_rebalance_t rebalance; /* the consumer client's opaque */
    char *errbuf;
    size_t errsize;
} kafka_dbz_source_t;

static void kafka_dbz_source_item_free(void *p)
{
    kafka_dbz_source_item_t *it = p;
    event_clear(&it->ev);
    free(it);
}

/* The index of (topic, partition), added when new; -1 when out of memory. */
static int kafka_dbz_source_tp(kafka_dbz_source_t *kds, const char *topic, int32_t partition)
{
    if (kds->last < kds->ntps && kds->tps[kds->last].partition == partition &&
        strcmp(kds->tps[kds->last].topic, topic) == 0)
        return kds->last;
    for (int i = 0; i < kds->ntps; i++) {
        if (kds->tps[i].partition == partition && strcmp(kds->tps[i].topic, topic) == 0)
            return kds->last = i;
    }
    kafka_dbz_source_tp_t *p = realloc(kds->tps, (size_t)(kds->ntps + 1) * sizeof(*p));
    if (p == NULL)
        return -1;
    kds->tps = p;
    p += kds->ntps;
    memset(p, 0, sizeof(*p));
    p->topic = strdup(topic);
    p->partition = partition;
    p->next = -1;
    p->meta = strcmp(topic, kds->meta_topic) == 0;
    if (p->topic == NULL)
        return -1;
    return kds->last = kds->ntps++;
}

/* Nothing of tp is held: its offset may move to the end of what was read. */
static void kafka_dbz_source_tp_settle(kafka_dbz_source_tp_t *tp)
{
    if (tp->held == 0 && tp->read_next > tp->next) {
        tp->next = tp->read_next;
        tp->dirty = 1;
    }
}

static void kafka_dbz_source_tp_passed(kafka_dbz_source_tp_t *tp, int64_t offset)
{
    tp->held--;
    if (offset + 1 > tp->next) {
        tp->next = offset + 1;
        tp->dirty = 1;
    }
}

/* ---- target transactions ------------------------------------------------- */

static err_t kafka_dbz_source_settle(kafka_dbz_source_t *kds, int wait)
{
    return applier_settle(&kds->ap, wait, kds->errbuf, kds->errsize);
}

/* Topic partition i's offset, when it moved. */
static int kafka_dbz_source_offset(const void *arg, int i, sink_offset_t *o)
{
    const kafka_dbz_source_tp_t *tp = &((const kafka_dbz_source_t *)arg)->tps[i];
    if (!tp->dirty || tp->next < 0)
        return 0;
    *o = (sink_offset_t){tp->topic, tp->partition, tp->next};
    return 1;
}

/* The offsets that moved, committed with the open batch (only whole
 * transactions are ever in it). */
static err_t kafka_dbz_source_position(void *ctx, sink_position_t *pos, char *errbuf,
                                       size_t errsize)
{
    kafka_dbz_source_t *kds = ctx;
    return kafka_consumer_offsets(&kds->offs, kds->ntps, kafka_dbz_source_offset, kds, pos, errbuf,
                                  errsize);
}

static void kafka_dbz_source_committed(void *ctx)
{
    kafka_dbz_source_t *kds = ctx;
    for (int i = 0; i < kds->ntps; i++)
        kds->tps[i].dirty = 0;
}

/* The target made more durable: the applied position follows. */
static err_t kafka_dbz_source_durable(void *ctx, char *errbuf, size_t errsize)
{
    kafka_dbz_source_t *kds = ctx;
    (void)errbuf, (void)errsize;
    kafka_consumer_applied(&kds->ap.batch, &kds->stats->applied_lsn, kds->opts->metrics);
    return ERR_OK;
}

/* Commits the open batch with the offsets that moved; wait 0: returns once
 * the COMMIT is sent. */
static err_t kafka_dbz_source_commit(kafka_dbz_source_t *kds, int wait)
{
    return applier_commit(&kds->ap, wait, kds->errbuf, kds->errsize);
}

/* ---- applying a transaction ---------------------------------------------- */

static const change_relation_t *kafka_dbz_source_relation(kafka_dbz_source_t *kds, event_t *ev,
                                                          err_t *err)
{
    return kafka_consumer_relation(kds->rels, &kds->snk, ev, 0, err, kds->errbuf, kds->errsize);
}

static err_t kafka_dbz_source_row(kafka_dbz_source_t *kds, const event_t *ev,
                                  const change_relation_t *rel)
{
    change_row_t row;
    int rc = event_row(ev, rel, 0, &row, kds->errbuf, kds->errsize);
    if (rc < 0)
        return ERR_RUNTIME;
    if (rc > 0) {
        kds->ap.batch.rows++;
        return kds->snk.ops->truncate(kds->snk.ctx, &rel, 1, 0, 0, kds->errbuf, kds->errsize);
    }
    kds->ap.batch.rows++;
    kds->stats->rows++;
    return kds->snk.ops->row(kds->snk.ctx, &row, kds->errbuf, kds->errsize);
}

static err_t kafka_dbz_source_change(kafka_dbz_source_t *kds, kafka_dbz_source_item_t *it)
{
    err_t err;
    const change_relation_t *rel = kafka_dbz_source_relation(kds, &it->ev, &err);
    if (err == ERR_OK)
        err = kafka_dbz_source_row(kds, &it->ev, rel);
    if (err != ERR_OK) {
        size_t n = strlen(kds->errbuf);
        snprintf(kds->errbuf + n, kds->errsize - n, " (topic=%s partition=%d offset=%lld)",
                 kds->tps[it->tp].topic, (int)kds->tps[it->tp].partition, (long long)it->offset);
    }
    return err;
}

/* Applies ready transaction t whole into the open batch; frees its items. */
static err_t kafka_dbz_source_txn(kafka_dbz_source_t *kds, txnbuf_txn_t *t)
{
    err_t err = applier_begin(&kds->ap, kds->errbuf, kds->errsize);
    for (size_t i = 0; i < t->n; i++) {
        kafka_dbz_source_item_t *it = t->items[i].item;
        if (err == ERR_OK)
            err = kafka_dbz_source_change(kds, it);
        kafka_dbz_source_tp_passed(&kds->tps[it->tp], it->offset);
        kafka_dbz_source_item_free(it);
    }
    if (t->src >= 0)
        kafka_dbz_source_tp_passed(&kds->tps[t->src], t->token);
    for (int i = 0; i < kds->ntps; i++)
        kafka_dbz_source_tp_settle(&kds->tps[i]);
    if (err == ERR_OK) { /* the target's progress LSN: the END's commit LSN */
        if (t->mark > kds->applied_commit)
            kds->applied_commit = t->mark;
        applier_txn_end(&kds->ap, kds->applied_commit, 0);
    }
    return err;
}

/* Applies every transaction that is ready, in END order. */
static err_t kafka_dbz_source_drain(kafka_dbz_source_t *kds)
{
    err_t err = ERR_OK;
    txnbuf_txn_t *t;
    while (err == ERR_OK && (t = txnbuf_ready(kds->tb)) != NULL) {
        err = kafka_dbz_source_txn(kds, t);
        txnbuf_pop(kds->tb);
    }
    return err;
}

/* ---- one message ---------------------------------------------------------- */

/* A message apply cannot read: keep what is complete, then stop. */
static err_t kafka_dbz_source_poison(kafka_dbz_source_t *kds, const rd_kafka_message_t *m,
                                     const char *why)
{
    err_t err = kafka_dbz_source_commit(kds, 1);
    if (err != ERR_OK)
        return err;
    snprintf(kds->errbuf, kds->errsize,
             "cannot decode message topic=%s partition=%d offset=%lld: %s; fix or remove it",
             rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset, why);
    return ERR_RUNTIME;
}

/* What is held passed kafka.max_transaction_mb. */
static err_t kafka_dbz_source_full(kafka_dbz_source_t *kds, const rd_kafka_message_t *m,
                                   txnbuf_rc_t rc, const char *id)
{
    if (rc == TXNBUF_NOMEM) {
        snprintf(kds->errbuf, kds->errsize, "out of memory");
        return ERR_RUNTIME;
    }
    if (kafka_dbz_source_commit(kds, 1) != ERR_OK)
        return ERR_RUNTIME;
    snprintf(kds->errbuf, kds->errsize,
             "%s (kafka.max_transaction_mb=%d) at topic=%s partition=%d offset=%lld: %s; nothing "
             "of it is applied (a transaction is never split): raise the limit",
             rc == TXNBUF_TXN_TOO_BIG ? "transaction too large to re-assemble"
                                      : "too many changes held waiting for their transaction's END",
             kds->cfg->kafka.max_txn_mb, rd_kafka_topic_name(m->rkt), (int)m->partition,
             (long long)m->offset,
             rc == TXNBUF_TXN_TOO_BIG ? id
                                      : "is the transaction metadata topic read (kafka.topics)?");
    return ERR_RUNTIME;
}

/* Avro: buf[0..len) as the JsonConverter's document into *out (NULL for
 * JSON, or a tombstone). ERR_OK; ERR_RUNTIME with why for a poison message;
 * else the registry's error in kds->errbuf. */
static err_t kafka_dbz_source_avro(kafka_dbz_source_t *kds, const void *buf, size_t len, char **out,
                                   size_t *outlen, bool *poison, char *why, size_t whysize)
{
    *out = NULL;
    *poison = false;
    if (kds->avro == NULL || buf == NULL)
        return ERR_OK;
    err_t err = kafka_dbz_avro_json(kds->avro, buf, len, out, outlen, poison, why, whysize);
    if (err == ERR_RUNTIME) /* the registry refused (an unknown id): the message is named */
        *poison = true;
    if (err != ERR_OK && !*poison)
        snprintf(kds->errbuf, kds->errsize, "%s", why);
    return err;
}

/* A message that is a copy of one applied or held already, which a
 * restarted connector sent again (Debezium is at-least-once): dropped, said
 * once per run of copies. */
static void kafka_dbz_source_resent(kafka_dbz_source_t *kds, kafka_dbz_source_tp_t *tp,
                                    const rd_kafka_message_t *m, uint64_t lsn)
{
    kds->stats->skipped++;
    if (!tp->dropping)
        log_info("kafka dropping copies a restarted connector sent again, from topic=%s "
                 "partition=%d offset=%lld (lsn=%llu: applied or read already)",
                 tp->topic, (int)tp->partition, (long long)m->offset, (unsigned long long)lsn);
    tp->dropping = 1;
    kafka_dbz_source_tp_settle(tp);
}

/* An END at or below the newest commit applied or read on its partition. */
static int kafka_dbz_source_end_resent(kafka_dbz_source_t *kds, kafka_dbz_source_tp_t *tp,
                                       uint64_t lsn)
{
    if (lsn == 0) /* an id without an LSN: no order to judge by */
        return 0;
    if (lsn <= kds->applied_commit || lsn <= tp->seen_end)
        return 1;
    tp->seen_end = lsn;
    return 0;
}

/* A change at or below the greatest read on its partition, or of a
 * transaction applied already (event_dbz_pos_applied). */
static int kafka_dbz_source_change_resent(kafka_dbz_source_t *kds, kafka_dbz_source_tp_t *tp,
                                          const event_dbz_pos_t *pos)
{
    if (event_dbz_pos_applied(pos, kds->applied_commit) ||
        (tp->has_seen && event_dbz_pos_cmp(pos, &tp->seen) <= 0))
        return 1;
    tp->seen = *pos;
    tp->has_seen = 1;
    return 0;
}

static err_t kafka_dbz_source_meta(kafka_dbz_source_t *kds, int i, const rd_kafka_message_t *m)
{
    event_dbz_txn_meta_t meta;
    char why[512], *doc = NULL;
    size_t dlen = 0;
    bool poison;
    err_t err =
        kafka_dbz_source_avro(kds, m->payload, m->len, &doc, &dlen, &poison, why, sizeof(why));
    if (err != ERR_OK)
        return poison ? kafka_dbz_source_poison(kds, m, why) : err;
    int bad = doc != NULL ? event_dbz_txn_meta_read(doc, dlen, &meta, why, sizeof(why))
                          : event_dbz_txn_meta_read(m->payload, m->len, &meta, why, sizeof(why));
    free(doc);
    if (bad != 0)
        return kafka_dbz_source_poison(kds, m, why);
    kafka_dbz_source_tp_t *tp = &kds->tps[i];
    if (!meta.end) {
        kafka_dbz_source_tp_settle(tp);
        return ERR_OK;
    }
    if (kafka_dbz_source_end_resent(kds, tp, meta.lsn)) {
        kafka_dbz_source_resent(kds, tp, m, meta.lsn);
        return ERR_OK;
    }
    tp->dropping = 0;
    txnbuf_rc_t rc = txnbuf_end(kds->tb, meta.id, meta.event_count, i, m->offset, meta.lsn);
    if (rc == TXNBUF_DUPLICATE) {
        log_warn("kafka second END of transaction id=%s topic=%s offset=%lld: ignored", meta.id,
                 tp->topic, (long long)m->offset);
        kafka_dbz_source_tp_settle(tp);
        return ERR_OK;
    }
    if (rc != TXNBUF_OK)
        return kafka_dbz_source_full(kds, m, rc, meta.id);
    tp->held++;
    return kafka_dbz_source_drain(kds);
}

static err_t kafka_dbz_source_data(kafka_dbz_source_t *kds, int i, const rd_kafka_message_t *m)
{
    char why[512], id[EVENT_DBZ_TXN_IDLEN], *doc = NULL, *kdoc = NULL;
    size_t dlen = 0, klen = 0;
    bool poison;
    int64_t order = 0;
    err_t err =
        kafka_dbz_source_avro(kds, m->payload, m->len, &doc, &dlen, &poison, why, sizeof(why));
    if (err == ERR_OK)
        err =
            kafka_dbz_source_avro(kds, m->key, m->key_len, &kdoc, &klen, &poison, why, sizeof(why));
    if (err != ERR_OK) {
        free(doc);
        return poison ? kafka_dbz_source_poison(kds, m, why) : err;
    }
    kafka_dbz_source_item_t *it = calloc(1, sizeof(*it));
    int bad = it == NULL ? 0
              : doc != NULL
                  ? event_decode(kds->codec, doc, dlen, kdoc, klen, &it->ev, why, sizeof(why))
                  : event_decode(kds->codec, m->payload, m->len, m->key, m->key_len, &it->ev, why,
                                 sizeof(why));
    free(doc);
    free(kdoc);
    if (it == NULL) {
        snprintf(kds->errbuf, kds->errsize, "out of memory");
        return ERR_RUNTIME;
    }
    if (bad != 0) {
        free(it);
        return kafka_dbz_source_poison(kds, m, why);
    }
    if (it->ev.op == EVENT_MESSAGE) { /* a syncline-layout topic read as debezium */
        event_clear(&it->ev);
        free(it);
        return kafka_dbz_source_poison(kds, m,
                                       "a syncline DDL event (op m): the topic is in the "
                                       "syncline layout, not debezium");
    }
    int blk = event_dbz_txn_block(&it->ev, id, sizeof(id), &order, why, sizeof(why));
    event_dbz_pos_t pos;
    if (blk > 0 && event_dbz_txn_pos(&it->ev, order, &pos) &&
        kafka_dbz_source_change_resent(kds, &kds->tps[i], &pos)) {
        kafka_dbz_source_item_free(it);
        kafka_dbz_source_resent(kds, &kds->tps[i], m, pos.lsn);
        return ERR_OK;
    }
    kds->tps[i].dropping = 0;
    it->tp = i;
    it->offset = m->offset;
    txnbuf_rc_t rc =
        blk < 0 ? TXNBUF_OK : txnbuf_add(kds->tb, blk ? id : NULL, order, it, m->len + m->key_len);
    if (blk < 0 || rc != TXNBUF_OK) {
        kafka_dbz_source_item_free(it);
        return blk < 0 ? kafka_dbz_source_poison(kds, m, why)
                       : kafka_dbz_source_full(kds, m, rc, id);
    }
    kds->tps[i].held++;
    return kafka_dbz_source_drain(kds);
}

static err_t kafka_dbz_source_handle(kafka_dbz_source_t *kds, const rd_kafka_message_t *m)
{
    int i = kafka_dbz_source_tp(kds, rd_kafka_topic_name(m->rkt), m->partition);
    if (i < 0) {
        snprintf(kds->errbuf, kds->errsize, "out of memory");
        return ERR_RUNTIME;
    }
    kafka_dbz_source_tp_t *tp = &kds->tps[i];
    kds->stats->messages++;
    tp->read_next = m->offset + 1;
    if (tp->meta)
        return kafka_dbz_source_meta(kds, i, m);
    if (m->payload == NULL) { /* a tombstone (tombstones.on.delete): nothing to apply */
        kds->stats->skipped++;
        kafka_dbz_source_tp_settle(tp);
        return ERR_OK;
    }
    return kafka_dbz_source_data(kds, i, m);
}

/* Changes held and nothing arrives: a transaction will not complete. */
static err_t kafka_dbz_source_stalled(kafka_dbz_source_t *kds)
{
    const txnbuf_txn_t *h = txnbuf_head(kds->tb), *u = txnbuf_unended(kds->tb);
    if (h == NULL && u == NULL) {
        kds->quiet_since = 0;
        return ERR_OK;
    }
    if (kds->quiet_since == 0)
        kds->quiet_since = clock_ms();
    if (clock_ms() - kds->quiet_since < KAFKA_DBZ_SOURCE_STALL_MS)
        return ERR_OK;
    err_t err = kafka_dbz_source_commit(kds, 1);
    if (err != ERR_OK)
        return err;
    char unended[600] = "";
    if (u != NULL)
        snprintf(unended, sizeof(unended),
                 "; %zu changes of transaction id=%.128s have no END on topic=%.300s", u->n, u->id,
                 kds->meta_topic);
    if (h != NULL)
        snprintf(kds->errbuf, kds->errsize,
                 "incomplete transaction id=%s: its END (topic=%s offset=%lld) counts %lld "
                 "changes, %zu arrived in %d s; the others are missing (a table's topic not in "
                 "kafka.topics, or messages lost)%s; nothing of it is applied",
                 h->id != NULL ? h->id : "-", kds->meta_topic, (long long)h->token,
                 (long long)h->count, h->n, KAFKA_DBZ_SOURCE_STALL_MS / 1000, unended);
    else
        snprintf(kds->errbuf, kds->errsize,
                 "nothing arrived in %d s%s (is that topic in kafka.topics?); nothing of it is "
                 "applied",
                 KAFKA_DBZ_SOURCE_STALL_MS / 1000, unended);
    return ERR_SOURCE;
}

/* ---- assignment ------------------------------------------------------------ */

/* The stored offset checked against the low watermark; "the beginning"
 * resolved to it. */
static err_t kafka_dbz_source_check(kafka_dbz_source_t *kds, rd_kafka_topic_partition_t *e,
                                    int64_t stored)
{
    int64_t lo;
    err_t err = kafka_consumer_check(kds->rk, e->topic, e->partition, stored, &lo, kds->errbuf,
                                     kds->errsize);
    if (err == ERR_OK && e->offset == RD_KAFKA_OFFSET_BEGINNING)
        e->offset = lo;
    return err;
}

/* Where one partition starts: the operator's override on the first
 * assignment, else the offset the target stored, else the beginning. */
static err_t kafka_dbz_source_start(kafka_dbz_source_t *kds, rd_kafka_topic_partition_t *e)
{
    err_t err;
    int i = kafka_dbz_source_tp(kds, e->topic, e->partition);
    if (i < 0) {
        snprintf(kds->errbuf, kds->errsize, "out of memory");
        return ERR_RUNTIME;
    }
    kafka_dbz_source_tp_t *tp = &kds->tps[i];
    int64_t stored;
    err = kafka_consumer_stored(kds->target, e->topic, e->partition, &stored, kds->errbuf,
                                kds->errsize);
    if (err != ERR_OK)
        return err;
    tp->assigned = 1;
    tp->held = tp->dirty = 0;
    tp->has_seen = tp->dropping = 0; /* it is read again from here */
    tp->seen_end = 0;
    tp->next = tp->read_next = -1;
    if (!kds->overrides_done && kds->opts->from != KAFKA_SOURCE_FROM_STORED) {
        e->offset = kds->opts->from == KAFKA_SOURCE_FROM_BEGINNING ? RD_KAFKA_OFFSET_BEGINNING
                                                                   : kds->opts->from_value;
        stored = -1;
    } else {
        e->offset = stored >= 0 ? stored : RD_KAFKA_OFFSET_BEGINNING;
        tp->next = tp->read_next = stored;
    }
    return kafka_dbz_source_check(kds, e, stored);
}

static err_t kafka_dbz_source_assign(void *arg, rd_kafka_topic_partition_list_t *list)
{
    kafka_dbz_source_t *kds = arg;
    err_t err = ERR_OK;
    for (int i = 0; i < list->cnt && err == ERR_OK; i++)
        err = kafka_dbz_source_start(kds, &list->elems[i]);
    if (err != ERR_OK)
        return err;
    return kafka_consumer_assign(kds->rk, list, &kds->overrides_done,
                                 kds->opts->from == KAFKA_SOURCE_FROM_TIMESTAMP, kds->errbuf,
                                 kds->errsize);
}

/* Partitions go away: commit the whole transactions applied, drop what is
 * held (read again from the stored offsets after the next assignment). */
static void kafka_dbz_source_revoke(void *arg)
{
    kafka_dbz_source_t *kds = arg;
    if (kds->cb_err == ERR_OK)
        kds->cb_err = kafka_dbz_source_commit(kds, 1);
    batch_rollback(&kds->ap.batch);
    if (kds->cb_err == ERR_OK)
        kds->cb_err = kafka_dbz_source_settle(kds, 1);
    txnbuf_clear(kds->tb);
    for (int i = 0; i < kds->ntps; i++) {
        kds->tps[i].assigned = 0;
        kds->tps[i].held = 0;
    }
    rd_kafka_assign(kds->rk, NULL);
}

/* A pattern subscription sees new topics (a new table) at the next metadata
 * refresh: every 2 s rather than librdkafka's 5 minutes (a capture that
 * creates a table's topic as its first change comes otherwise leaves apply
 * idle for the interval: 8 s of a 15 s drain in bench/debezium.sh). */
static void kafka_dbz_source_setup(rd_kafka_conf_t *conf)
{
    char kerr[256];
    kafka_consumer_setup(conf);
    rd_kafka_conf_set(conf, "topic.metadata.refresh.interval.ms", "2000", kerr, sizeof(kerr));
}

/* kafka.topics as a subscription: a pattern as it is, or the list, plus
 * the metadata topic; default: every topic of the prefix. */
static rd_kafka_topic_partition_list_t *kafka_dbz_source_topics(const kafka_dbz_source_t *kds)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
    const char *topics = kds->cfg->kafka.topics;
    char pattern[600];
    if (topics == NULL) { /* ^<prefix>\. with the prefix's dots escaped */
        size_t n = 0;
        pattern[n++] = '^';
        for (const char *p = kds->cfg->kafka.topic_prefix; *p && n < sizeof(pattern) - 4; p++) {
            if (*p == '.')
                pattern[n++] = '\\';
            pattern[n++] = *p;
        }
        memcpy(pattern + n, "\\.", 3);
        topics = pattern;
    }
    if (topics[0] == '^') {
        rd_kafka_topic_partition_list_add(list, topics, RD_KAFKA_PARTITION_UA);
        return list;
    }
    int has_meta = 0;
    for (const char *p = topics; *p;) {
        size_t n = strcspn(p, ",");
        char name[300];
        while (n > 0 && (*p == ' ' || *p == '\t'))
            p++, n--;
        snprintf(name, sizeof(name), "%.*s", (int)n, p);
        for (size_t k = strlen(name); k > 0 && (name[k - 1] == ' ' || name[k - 1] == '\t');)
            name[--k] = '\0';
        if (name[0] != '\0') {
            rd_kafka_topic_partition_list_add(list, name, RD_KAFKA_PARTITION_UA);
            has_meta |= strcmp(name, kds->meta_topic) == 0;
        }
        p += n + (p[n] == ',');
    }
    if (!has_meta)
        rd_kafka_topic_partition_list_add(list, kds->meta_topic, RD_KAFKA_PARTITION_UA);
    return list;
}

static err_t kafka_dbz_source_subscribe(kafka_dbz_source_t *kds)
{
    rd_kafka_topic_partition_list_t *list = kafka_dbz_source_topics(kds);
    rd_kafka_resp_err_t kerr = rd_kafka_subscribe(kds->rk, list);
    for (int i = 0; i < list->cnt; i++)
        log_info("kafka subscribed topics=%s group=syncline.%s transactions=%s",
                 list->elems[i].topic, kds->cfg->name, kds->meta_topic);
    rd_kafka_topic_partition_list_destroy(list);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(kds->errbuf, kds->errsize, "kafka subscribe: %s", rd_kafka_err2str(kerr));
        return ERR_RUNTIME;
    }
    return ERR_OK;
}

/* ---- the loop ----------------------------------------------------------------- */

/* A message read (kafka_consumer_poll). */
static err_t kafka_dbz_source_read(void *arg, const rd_kafka_message_t *m)
{
    return kafka_dbz_source_handle(arg, m);
}

/* Where m's topic partition stood: a consumer error's gap starts there. */
static int64_t kafka_dbz_source_stored(void *arg, const rd_kafka_message_t *m)
{
    const kafka_dbz_source_t *kds = arg;
    int64_t stored = -1;
    for (int i = 0; m->rkt != NULL && i < kds->ntps; i++) {
        if (kds->tps[i].partition == m->partition &&
            strcmp(kds->tps[i].topic, rd_kafka_topic_name(m->rkt)) == 0)
            stored = kds->tps[i].next;
    }
    return stored;
}

/* Polls one message (waiting up to wait_ms) and handles it. */
static int kafka_dbz_source_poll(void *ctx, int wait_ms, err_t *err, char *errbuf, size_t errsize)
{
    kafka_dbz_source_t *kds = ctx;
    (void)errbuf, (void)errsize; /* kds->errbuf, the one applier_run was given */
    return kafka_consumer_poll(kds->rk, &kds->reader, wait_ms, err, kds->errbuf, kds->errsize);
}

/* Only whole transactions reach the batch (the rest waits in the txnbuf):
 * always at a boundary. */
static int kafka_dbz_source_boundary(void *ctx)
{
    (void)ctx;
    return 1;
}

/* With nothing arriving, a poll waits this long. */
static int64_t kafka_dbz_source_due_ms(void *ctx)
{
    (void)ctx;
    return clock_ms() + KAFKA_DBZ_SOURCE_IDLE_WAIT_MS;
}

/* Nothing arrived: a transaction held too long will not complete. */
static err_t kafka_dbz_source_tick(void *ctx, int got, char *errbuf, size_t errsize)
{
    (void)errbuf, (void)errsize;
    return got ? ERR_OK : kafka_dbz_source_stalled(ctx);
}

static err_t kafka_dbz_source_open(kafka_dbz_source_t *kds)
{
    err_t err = ERR_RUNTIME;
    snprintf(kds->meta_topic, sizeof(kds->meta_topic), "%s.transaction",
             kds->cfg->kafka.topic_prefix);
    kds->codec = event_codec_new(EVENT_FORMAT_JSON, kds->errbuf, kds->errsize);
    kds->rels = relcache_new();
    kds->tb = txnbuf_new((size_t)kds->cfg->kafka.max_txn_mb << 20, kafka_dbz_source_item_free);
    if (kds->codec == NULL || kds->rels == NULL || kds->tb == NULL) {
        if (kds->codec != NULL)
            snprintf(kds->errbuf, kds->errsize, "out of memory");
        return ERR_RUNTIME;
    }
    if (strcmp(kds->cfg->kafka.format, "avro") == 0) {
        kds->avro = kafka_dbz_avro_new(kds->cfg->kafka.schema_registry, kds->opts->stop, &err,
                                       kds->errbuf, kds->errsize);
        if (kds->avro == NULL)
            return err;
    }
    kds->rebalance = (kafka_consumer_rebalance_t){.assign = kafka_dbz_source_assign,
                                                  .revoke = kafka_dbz_source_revoke,
                                                  .arg = kds,
                                                  .cb_err = &kds->cb_err};
    kds->reader = (kafka_consumer_reader_t){.handle = kafka_dbz_source_read,
                                            .stored = kafka_dbz_source_stored,
                                            .arg = kds,
                                            .cb_err = &kds->cb_err,
                                            .quiet_since = &kds->quiet_since};
    kds->rk = kafka_conf_client(kds->cfg, KAFKA_CONF_CONSUMER, &kds->rebalance,
                                kafka_dbz_source_setup, &err, kds->errbuf, kds->errsize);
    if (kds->rk == NULL)
        return err;
    rd_kafka_poll_set_consumer(kds->rk);
    return kafka_dbz_source_subscribe(kds);
}

static void kafka_dbz_source_close(kafka_dbz_source_t *kds)
{
    batch_rollback(&kds->ap.batch);
    if (kds->rk != NULL) {
        kds->cb_err = ERR_RUNTIME; /* no commit from the revoke during close */
        rd_kafka_consumer_close(kds->rk);
        rd_kafka_destroy(kds->rk);
    }
    txnbuf_free(kds->tb);
    event_codec_free(kds->codec);
    kafka_dbz_avro_free(kds->avro);
    relcache_free(kds->rels);
    for (int i = 0; i < kds->ntps; i++)
        free(kds->tps[i].topic);
    free(kds->tps);
    free(kds->offs);
}

static err_t kafka_dbz_source_refuse(const config_t *cfg, const kafka_source_opts_t *opts,
                                     char *errbuf, size_t errsize)
{
    if (opts->dead_letter != NULL) {
        snprintf(errbuf, errsize, "--dead-letter: not supported with kafka.layout debezium");
        return ERR_CONFIG;
    }
    if (strcmp(cfg->kafka.format, "json") != 0 && cfg->kafka.schema_registry == NULL) {
        snprintf(errbuf, errsize,
                 "kafka.format \"avro\": apply reads the debezium layout in Avro in the "
                 "Confluent wire format only, from kafka.schema_registry; set it (or kafka.format "
                 "\"json\" for the JsonConverter's)");
        return ERR_CONFIG;
    }
    return ERR_OK;
}

err_t kafka_dbz_source_run(const config_t *cfg, const kafka_source_opts_t *opts,
                           const sink_t *target, lsn_t applied, kafka_source_stats_t *stats,
                           char *errbuf, size_t errsize)
{
    kafka_dbz_source_t kds = {.cfg = cfg,
                              .opts = opts,
                              .stats = stats,
                              .target = target,
                              .snk = *target,
                              .errbuf = errbuf,
                              .errsize = errsize};
    memset(stats, 0, sizeof(*stats));
    stats->applied_lsn = applied;
    kds.applied_commit = applied;
    if (target->ops->offsets == NULL) {
        snprintf(errbuf, errsize, "apply: the target sink keeps no consumer offsets");
        return ERR_RUNTIME;
    }
    err_t err = kafka_dbz_source_refuse(cfg, opts, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    collapse_t *cl = cfg->collapse ? collapse_new(kds.snk, 64u << 20) : NULL;
    if (cl != NULL)
        kds.snk = collapse_sink(cl);
    applier_feed_t feed = {.poll = kafka_dbz_source_poll,
                           .at_boundary = kafka_dbz_source_boundary,
                           .due_ms = kafka_dbz_source_due_ms,
                           .position = kafka_dbz_source_position,
                           .committed = kafka_dbz_source_committed,
                           .on_durable = kafka_dbz_source_durable,
                           .on_tick = kafka_dbz_source_tick,
                           .ctx = &kds};
    applier_init(&kds.ap, &feed, &kds.snk, cfg->batch_rows, cfg->batch_ms, opts->metrics, applied,
                 NULL, opts->stop);
    err = kafka_dbz_source_open(&kds);
    if (err == ERR_OK)
        err = applier_run(&kds.ap, errbuf, errsize);
    stats->batches = kds.ap.batch.commits;
    kafka_dbz_source_close(&kds);
    applier_clear(&kds.ap);
    collapse_free(cl);
    return err;
}
