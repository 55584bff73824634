/*
 * kafka_source: apply's feed of the one apply loop (core/applier.h), for
 * syncline's layout.
 *
 * Design. Messages are decoded (event.h) and handed to the pg_target sink as
 * they arrive, in target transactions the loop opens and commits (as for
 * `run`'s feed, core/stream.c); a boundary, where a batch may close, is where every
 * partition in hand is at a transaction boundary (its last message seen), so
 * a source transaction's part in a partition is never split. Commit writes
 * the next offset of each partition with the rows: the target owns the
 * offsets, and on (re)assignment the consumer seeks to what the target holds,
 * so a target restored from a backup rewinds by itself.
 *
 * Duplicates: a capture restarted between produce and slot confirm sends
 * transactions again. Within a partition messages are ordered by (commit
 * LSN, seq), so anything at or below the newest position seen in that
 * partition is dropped. To know that position after a restart the consumer
 * seeks one message before the stored offset and reads it without applying
 * it ("priming"). With one partition, transactions whose commit LSN is below
 * the progress row's applied_lsn are dropped too (covers --from-* replays).
 *
 * Gaps: each message names the transaction capture produced into its
 * partition before (KAFKA_PREV_HEADER; a heartbeat names the newest). A
 * transaction (or heartbeat) whose predecessor is not the last transaction
 * applied in the partition means one is missing or out of order: the broker
 * refused a message (too large) and accepted the next. Nothing of the
 * partition is applied from there and its offset stays before it; apply
 * reads on, because a capture restarted after the refusal sends the missing
 * transaction again, without a predecessor (a new session starts after all
 * that Kafka acknowledged): that heals the gap, and the copies read past are
 * sent again after it. A gap still open at the partition's end
 * (KAFKA_SOURCE_GAP_GRACE_MS) stops apply, exit 5. Messages without the
 * header (older captures) are not checked. A poison message set aside
 * forgets the predecessor: its transaction is unknown.
 *
 * Avro writer schemas: a message naming one the codec lacks sends us to
 * fetch it, from the registry by id (Confluent wire format, cached in the
 * codec) or by re-reading <topic>.schemas (single-object encoding; read once
 * at start too). Only a schema that is still unknown stops apply, naming
 * the message and the fingerprint or id; never the dead-letter topic, since
 * it says nothing about the message but about where schemas are kept.
 */
#include "kafka/kafka_source.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/applier.h"
#include "core/clock.h"
#include "event/event.h"
#include "event/event_codec.h"
#include "kafka/kafka_conf.h"
#include "kafka/kafka_consumer.h"
#include "kafka/kafka_ddl.h"
#include "kafka/kafka_schemas.h"
#include "core/collapse.h"
#include "core/hold.h"
#include "core/log.h"
#include "core/relcache.h"
#include "kafka/schema_registry.h"

#define KAFKA_SOURCE_GAP_GRACE_MS 5000
#define KAFKA_SOURCE_IDLE_WAIT_MS 200 /* a poll with nothing to wait for */

typedef struct kafka_source_part {
    int assigned;
    lsn_t last_txn;      /* commit LSN of the newest transaction applied here; 0: unknown */
    int gap;             /* a missing transaction: nothing applied until healed */
    int64_t gap_offset;  /* the first message after the hole */
    lsn_t gap_lsn;       /* its commit LSN (a heartbeat: its LSN) */
    lsn_t gap_prev;      /* the predecessor it names */
    lsn_t gap_last;      /* last_txn when it was found */
    int64_t gap_ms;      /* when */
    int64_t scanned;     /* next offset to look at, in a gap */
    int64_t next_offset; /* -1: unknown (nothing stored, nothing read) */
    int dirty;           /* next_offset moved since the last commit */
    int prime;           /* the message at next_offset - 1 is read, not applied */
    int in_txn;          /* a transaction's part has begun and not ended */
    int has_pos;
    lsn_t pos_lsn; /* (commit LSN, seq) of the newest message applied */
    int64_t pos_seq;
} kafka_source_part_t;

typedef struct kafka_source {
    const config_t *cfg;
    const kafka_source_opts_t *opts;
    kafka_source_stats_t *stats;
    sink_t snk;
    const sink_t *target; /* the target sink itself: stored offsets */
    rd_kafka_t *rk;
    rd_kafka_t *dlq;
    rd_kafka_resp_err_t dlq_err;
    kafka_consumer_reader_t reader; /* what the loop's polls hand messages to */
    event_codec_t *codec;
    schema_registry_t *sr;    /* kafka.schema_registry set; NULL otherwise */
    kafka_schemas_t *schemas; /* <topic>.schemas, once needed */
    relcache_t *rels;
    kafka_source_part_t *parts;
    int nparts;
    int group;           /* partitioning table/key: subscribe in group syncline.<name> */
    int use_lsn;         /* one partition: skip below the applied LSN (batch.sent) */
    applier_t ap;        /* the loop: the target transaction, the hold point */
    sink_offset_t *offs; /* the offsets a commit covers (nparts) */
    int overrides_done;
    const change_relation_t **trunc; /* a TRUNCATE of several relations, collecting */
    int ntrunc;
    err_t cb_err;                         /* an error inside the rebalance callback */
    kafka_consumer_rebalance_t rebalance; /* the consumer client's opaque (group only) */
    char *errbuf;
    size_t errsize;
} kafka_source_t;

static kafka_source_part_t *kafka_source_part(kafka_source_t *ks, int32_t partition)
{
    if (partition < 0)
        return NULL;
    if (partition >= ks->nparts) {
        int n = partition + 16;
        kafka_source_part_t *p = realloc(ks->parts, (size_t)n * sizeof(*p));
        if (p == NULL)
            return NULL;
        memset(p + ks->nparts, 0, (size_t)(n - ks->nparts) * sizeof(*p));
        for (int i = ks->nparts; i < n; i++)
            p[i].next_offset = -1;
        ks->parts = p;
        ks->nparts = n;
    }
    return &ks->parts[partition];
}

static int kafka_source_at_boundary(const kafka_source_t *ks)
{
    for (int i = 0; i < ks->nparts; i++) {
        if (ks->parts[i].assigned && ks->parts[i].in_txn)
            return 0;
    }
    return ks->ntrunc == 0;
}

/* ---- target transactions ------------------------------------------------- */

static err_t kafka_source_begin(kafka_source_t *ks)
{
    return applier_begin(&ks->ap, ks->errbuf, ks->errsize);
}

/* Learns how far the target committed the batches sent with wait 0; with
 * wait, waits for all of them. */
static err_t kafka_source_settle(kafka_source_t *ks, int wait)
{
    return applier_settle(&ks->ap, wait, ks->errbuf, ks->errsize);
}

/* Partition i's offset past the open batch, when it moved. */
static int kafka_source_offset(const void *arg, int i, sink_offset_t *o)
{
    const kafka_source_t *ks = arg;
    if (!ks->parts[i].dirty || ks->parts[i].next_offset < 0)
        return 0;
    *o = (sink_offset_t){ks->cfg->kafka.topic, i, ks->parts[i].next_offset};
    return 1;
}

/* The offsets past the open batch, committed in its transaction. */
static err_t kafka_source_position(void *ctx, sink_position_t *pos, char *errbuf, size_t errsize)
{
    kafka_source_t *ks = ctx;
    return kafka_consumer_offsets(&ks->offs, ks->nparts, kafka_source_offset, ks, pos, errbuf,
                                  errsize);
}

static void kafka_source_committed(void *ctx)
{
    kafka_source_t *ks = ctx;
    for (int i = 0; i < ks->nparts; i++)
        ks->parts[i].dirty = 0;
}

/* The target made more durable: the applied position follows. */
static err_t kafka_source_durable(void *ctx, char *errbuf, size_t errsize)
{
    kafka_source_t *ks = ctx;
    (void)errbuf, (void)errsize;
    kafka_consumer_applied(&ks->ap.batch, &ks->stats->applied_lsn, ks->opts->metrics);
    return ERR_OK;
}

/*
 * Commits the open batch, the offsets past it in the same transaction, and
 * waits until it is durable: the loop's own commits (core/applier.c) do not
 * wait, but a stop, a revoke or a poison message does: nothing may be in
 * flight when another consumer could take the partitions over.
 */
static err_t kafka_source_commit(kafka_source_t *ks)
{
    return applier_commit(&ks->ap, 1, ks->errbuf, ks->errsize);
}

/*
 * A boundary before next (core/hold.h). Exactness rests on the partition's
 * order: capture produces one partition's transactions in commit order, and
 * this is only called on a message that is chained (its predecessor is the
 * transaction applied last, so none is missing) and that begins a
 * transaction (next = its commit LSN) or is a heartbeat (next = its LSN:
 * every transaction below it came before it). Holding at the first such
 * next >= the verifier's point C therefore leaves every transaction
 * committed before C applied and none after. Only one partition has one order.
 */
static err_t kafka_source_hold(kafka_source_t *ks, lsn_t next)
{
    if (!ks->use_lsn || !kafka_source_at_boundary(ks))
        return ERR_OK;
    return hold_point(&ks->ap.hold, next, ks->errbuf, ks->errsize);
}

/* Abandons the open batch: its offsets were not stored, so what it held is
 * read again after the next assignment or start. */
static void kafka_source_rollback(kafka_source_t *ks)
{
    batch_rollback(&ks->ap.batch);
    ks->ntrunc = 0;
}

/* ---- applying one message ------------------------------------------------- */

static const change_relation_t *kafka_source_relation(kafka_source_t *ks, event_t *ev, err_t *err)
{
    return kafka_consumer_relation(ks->rels, &ks->snk, ev, ev->txn.commit_lsn, err, ks->errbuf,
                                   ks->errsize);
}

static err_t kafka_source_truncate(kafka_source_t *ks, const event_t *ev,
                                   const change_relation_t *rel)
{
    if (ev->truncate_i == 0)
        ks->ntrunc = 0;
    if (ks->trunc == NULL || ks->ntrunc >= ev->truncate_n) {
        const change_relation_t **t =
            realloc(ks->trunc, (size_t)(ev->truncate_n + ks->ntrunc + 1) * sizeof(*t));
        if (t == NULL) {
            snprintf(ks->errbuf, ks->errsize, "out of memory");
            return ERR_RUNTIME;
        }
        ks->trunc = t;
    }
    ks->trunc[ks->ntrunc++] = rel;
    if (hold_mark(&ks->ap.hold, rel, NULL, NULL) != 0) {
        snprintf(ks->errbuf, ks->errsize, "out of memory marking changed key ranges");
        return ERR_RUNTIME;
    }
    if (ev->truncate_i < ev->truncate_n - 1)
        return ERR_OK; /* the other relations of this TRUNCATE follow */
    int n = ks->ntrunc;
    ks->ntrunc = 0;
    ks->ap.batch.rows++;
    return ks->snk.ops->truncate(ks->snk.ctx, ks->trunc, n, ev->truncate_options,
                                 ev->txn.commit_lsn, ks->errbuf, ks->errsize);
}

static err_t kafka_source_row(kafka_source_t *ks, const event_t *ev, const change_relation_t *rel)
{
    change_row_t row;
    int rc = event_row(ev, rel, ev->txn.commit_lsn, &row, ks->errbuf, ks->errsize);
    if (rc != 0)
        return rc > 0 ? kafka_source_truncate(ks, ev, rel) : ERR_RUNTIME;
    if (hold_mark(&ks->ap.hold, rel, row.old_tuple, row.new_tuple) != 0) {
        snprintf(ks->errbuf, ks->errsize, "out of memory marking changed key ranges");
        return ERR_RUNTIME;
    }
    ks->ap.batch.rows++;
    ks->stats->rows++;
    return ks->snk.ops->row(ks->snk.ctx, &row, ks->errbuf, ks->errsize);
}

static err_t kafka_source_apply(kafka_source_t *ks, event_t *ev)
{
    err_t err = kafka_source_begin(ks);
    if (err == ERR_OK && ev->op == EVENT_MESSAGE) { /* DDL, in its place (kafka_ddl.h) */
        ks->ap.batch.rows++;
        err = kafka_ddl_apply(&ks->snk, ev, ks->errbuf, ks->errsize);
    } else if (err == ERR_OK) {
        const change_relation_t *rel = kafka_source_relation(ks, ev, &err);
        if (err == ERR_OK)
            err = kafka_source_row(ks, ev, rel);
    }
    if (err == ERR_OK && ev->txn.last)
        applier_txn_end(&ks->ap, ev->txn.end_lsn, ev->txn.commit_time);
    return err;
}

/* Already applied: a re-sent transaction, or a replay below the progress row. */
static int kafka_source_seen(const kafka_source_t *ks, const kafka_source_part_t *p,
                             const event_t *ev)
{
    if (!ev->has_txn)
        return 0;
    if (ks->use_lsn && ev->txn.commit_lsn < ks->ap.batch.sent)
        return 1;
    return p->has_pos && (ev->txn.commit_lsn < p->pos_lsn ||
                          (ev->txn.commit_lsn == p->pos_lsn && ev->txn.seq <= p->pos_seq));
}

static void kafka_source_note(kafka_source_part_t *p, const event_t *ev)
{
    if (!ev->has_txn)
        return;
    p->last_txn = ev->txn.commit_lsn;
    p->has_pos = 1;
    p->pos_lsn = ev->txn.commit_lsn;
    p->pos_seq = ev->txn.seq;
}

/* ---- poison messages ------------------------------------------------------ */

static void kafka_source_dlq_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    kafka_source_t *ks = opaque;
    (void)rk;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
        ks->dlq_err = m->err;
}

static void kafka_source_dlq_setup(rd_kafka_conf_t *conf)
{
    rd_kafka_conf_set_dr_msg_cb(conf, kafka_source_dlq_delivered);
}

/* Copies the raw message to the dead-letter topic and waits for the ack. */
static err_t kafka_source_dead_letter(kafka_source_t *ks, const rd_kafka_message_t *m,
                                      const char *reason)
{
    err_t err = ERR_OK;
    if (ks->dlq == NULL)
        ks->dlq = kafka_conf_client(ks->cfg, KAFKA_CONF_PRODUCER, ks, kafka_source_dlq_setup, &err,
                                    ks->errbuf, ks->errsize);
    if (ks->dlq == NULL)
        return err;
    char where[64];
    snprintf(where, sizeof(where), "%d:%lld", (int)m->partition, (long long)m->offset);
    ks->dlq_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_resp_err_t kerr = rd_kafka_producev(
        ks->dlq, RD_KAFKA_V_TOPIC(ks->opts->dead_letter), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, m->len),
        RD_KAFKA_V_HEADER("syncline.error", reason, -1),
        RD_KAFKA_V_HEADER("syncline.source", where, -1), RD_KAFKA_V_END);
    if (kerr == RD_KAFKA_RESP_ERR_NO_ERROR)
        kerr = rd_kafka_flush(ks->dlq, 30000);
    if (kerr == RD_KAFKA_RESP_ERR_NO_ERROR)
        kerr = ks->dlq_err;
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(ks->errbuf, ks->errsize,
                 "dead-letter topic=%s: %s (message topic=%s partition=%d offset=%lld)",
                 ks->opts->dead_letter, rd_kafka_err2str(kerr), rd_kafka_topic_name(m->rkt),
                 (int)m->partition, (long long)m->offset);
        return kafka_conf_classify(kerr);
    }
    log_warn("dead-letter topic=%s partition=%d offset=%lld dead_letter_topic=%s reason=%s "
             "(the change is not applied to the target)",
             rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset,
             ks->opts->dead_letter, reason);
    ks->stats->dead++;
    return kafka_source_begin(ks); /* so that the offset past it is stored */
}

static err_t kafka_source_poison(kafka_source_t *ks, const rd_kafka_message_t *m,
                                 const char *reason)
{
    if (ks->opts->dead_letter != NULL)
        return kafka_source_dead_letter(ks, m, reason);
    /* keep what is complete before it, so that a restart resumes right there */
    if (ks->ap.batch.open && kafka_source_at_boundary(ks)) {
        err_t err = kafka_source_commit(ks);
        if (err != ERR_OK)
            return err; /* a lost target is retried; the poison message waits */
    }
    snprintf(ks->errbuf, ks->errsize,
             "cannot decode message topic=%s partition=%d offset=%lld: %s; fix or remove it, or "
             "run with --dead-letter TOPIC to set it aside (its change is then lost on the "
             "target)",
             rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset, reason);
    return ERR_RUNTIME;
}

/* ---- writer schemas --------------------------------------------------------- */

/* Fetches the writer schema ref names into the codec. */
static err_t kafka_source_learn(kafka_source_t *ks, const event_avro_ref_t *ref)
{
    if (!ref->by_id) {
        err_t err = ERR_OK;
        if (ks->schemas == NULL)
            ks->schemas = kafka_schemas_new(ks->cfg, &err, ks->errbuf, ks->errsize);
        return err == ERR_OK
                   ? kafka_schemas_refresh(ks->schemas, ks->codec, ks->errbuf, ks->errsize)
                   : err;
    }
    if (ks->sr == NULL) {
        snprintf(ks->errbuf, ks->errsize,
                 "message in the Confluent wire format (schema id %d) but kafka.schema_registry "
                 "is not set",
                 (int)ref->id);
        return ERR_CONFIG;
    }
    char *text = NULL;
    err_t err = schema_registry_schema(ks->sr, ref->id, &text, ks->errbuf, ks->errsize);
    if (err == ERR_OK &&
        event_codec_add_schema(ks->codec, text, strlen(text), ref, ks->errbuf, ks->errsize) != 0)
        err = ERR_RUNTIME;
    if (err == ERR_OK)
        log_info("schema fetched registry=%s id=%d", schema_registry_url(ks->sr), (int)ref->id);
    free(text);
    return err;
}

/*
 * event_decode, first learning a writer schema the codec lacks. 0, or
 * EVENT_DECODE_POISON with why set, or EVENT_DECODE_UNKNOWN_SCHEMA with *err
 * and ks->errbuf set (the schema could not be had, or is still unknown).
 */
static int kafka_source_decode(kafka_source_t *ks, const rd_kafka_message_t *m, event_t *ev,
                               char *why, size_t whysize, err_t *err)
{
    *err = ERR_OK;
    int rc = event_decode(ks->codec, m->payload, m->len, m->key, m->key_len, ev, why, whysize);
    if (rc != EVENT_DECODE_UNKNOWN_SCHEMA)
        return rc;
    event_avro_ref_t ref = event_codec_missing(ks->codec);
    *err = kafka_source_learn(ks, &ref);
    if (*err == ERR_OK)
        rc = event_decode(ks->codec, m->payload, m->len, m->key, m->key_len, ev, why, whysize);
    if (*err == ERR_OK && rc == EVENT_DECODE_UNKNOWN_SCHEMA) {
        char topic[300];
        kafka_schemas_topic(ks->cfg->kafka.topic, topic, sizeof(topic));
        snprintf(ks->errbuf, ks->errsize, "%s, not in %s (topic=%s partition=%d offset=%lld)", why,
                 ref.by_id ? "the schema registry" : topic, rd_kafka_topic_name(m->rkt),
                 (int)m->partition, (long long)m->offset);
        *err = ERR_RUNTIME;
    } else if (*err != ERR_OK) {
        size_t n = strlen(ks->errbuf);
        snprintf(ks->errbuf + n, ks->errsize - n,
                 " (writer schema of message topic=%s partition=%d offset=%lld)",
                 rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset);
    }
    return rc;
}

/* ---- one message ----------------------------------------------------------- */

/* The message before the stored offset was applied before: learn its position. */
static err_t kafka_source_prime(kafka_source_t *ks, kafka_source_part_t *p,
                                const rd_kafka_message_t *m)
{
    event_t ev;
    char why[512];
    err_t err;
    if (kafka_source_decode(ks, m, &ev, why, sizeof(why), &err) == 0) {
        kafka_source_note(p, &ev);
        event_clear(&ev);
    }
    return err;
}

static void kafka_source_where(kafka_source_t *ks, const rd_kafka_message_t *m)
{
    size_t n = strlen(ks->errbuf);
    if (n < ks->errsize)
        snprintf(ks->errbuf + n, ks->errsize - n, " (topic=%s partition=%d offset=%lld)",
                 rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset);
}

/* 1 with *lsn set when m carries header name holding an LSN. */
static int kafka_source_header_lsn(const rd_kafka_message_t *m, const char *name, lsn_t *lsn)
{
    rd_kafka_headers_t *hdrs;
    const void *v;
    size_t n;
    char text[LSN_STRLEN];
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(hdrs, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR || v == NULL ||
        n >= sizeof(text))
        return 0;
    memcpy(text, v, n);
    text[n] = '\0';
    return lsn_parse(text, lsn);
}

/* 1 with *lsn set when m is capture's heartbeat (kafka_sink_advance). */
static int kafka_source_heartbeat(const rd_kafka_message_t *m, lsn_t *lsn)
{
    size_t klen = strlen(KAFKA_HEARTBEAT_KEY);
    if (m->payload != NULL ||
        (m->key != NULL && (m->key_len != klen || memcmp(m->key, KAFKA_HEARTBEAT_KEY, klen) != 0)))
        return 0;
    return kafka_source_header_lsn(m, KAFKA_HEARTBEAT_HEADER, lsn);
}

/* 1 with *lsn set when m carries KAFKA_PREV_HEADER. */
static int kafka_source_prev(const rd_kafka_message_t *m, lsn_t *lsn)
{
    return kafka_source_header_lsn(m, KAFKA_PREV_HEADER, lsn);
}

/* The chain breaks at m (a transaction's first message here, or a
 * heartbeat, at lsn, naming prev): the partition waits for a healer. */
static void kafka_source_gap_open(kafka_source_part_t *p, const rd_kafka_message_t *m, lsn_t lsn,
                                  lsn_t prev)
{
    char a[LSN_STRLEN], b[LSN_STRLEN], c[LSN_STRLEN];
    p->gap = 1;
    p->gap_offset = m->offset;
    p->gap_lsn = lsn;
    p->gap_prev = prev;
    p->gap_last = p->last_txn;
    p->gap_ms = clock_ms();
    log_warn("kafka missing transaction topic=%s partition=%d offset=%lld lsn=%s prev=%s "
             "last_applied=%s: not applied; waiting for capture to send it again",
             rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset,
             lsn_format(lsn, a, sizeof(a)), lsn_format(prev, b, sizeof(b)),
             lsn_format(p->last_txn, c, sizeof(c)));
}

/* 1 when the chain holds at m: no predecessor named (a capture session's
 * first transaction here, or an older capture), none known here, or the
 * one applied last. */
static int kafka_source_chained(const kafka_source_part_t *p, const rd_kafka_message_t *m,
                                lsn_t *prev)
{
    *prev = 0;
    return !kafka_source_prev(m, prev) || p->last_txn == 0 || *prev == p->last_txn;
}

/* A gap still open at the end of its partition after the grace period. */
static err_t kafka_source_gap_check(kafka_source_t *ks, int32_t partition, kafka_source_part_t *p)
{
    int64_t lo, hi;
    char a[LSN_STRLEN], b[LSN_STRLEN], c[LSN_STRLEN];
    if (!p->assigned || !p->gap || clock_ms() - p->gap_ms < KAFKA_SOURCE_GAP_GRACE_MS ||
        rd_kafka_query_watermark_offsets(ks->rk, ks->cfg->kafka.topic, partition, &lo, &hi, 1000) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        p->scanned < hi)
        return ERR_OK;
    if (ks->ap.batch.open && kafka_source_at_boundary(ks)) { /* keep what is complete */
        err_t err = kafka_source_commit(ks);
        if (err != ERR_OK)
            return err;
    }
    snprintf(ks->errbuf, ks->errsize,
             "kafka missing transaction topic=%s partition=%d offset=%lld: the transaction at "
             "lsn=%s names lsn=%s as the one before it in this partition, but the last one "
             "applied here is lsn=%s; a transaction is missing or out of order (the broker "
             "refused a message, e.g. larger than the topic's max.message.bytes, or records "
             "were produced or removed by hand). Nothing past it is applied (the stored offset "
             "stays at %lld). Fix the cause and start capture again: it sends the missing "
             "transaction again from its slot, then start apply",
             ks->cfg->kafka.topic, (int)partition, (long long)p->gap_offset,
             lsn_format(p->gap_lsn, a, sizeof(a)), lsn_format(p->gap_prev, b, sizeof(b)),
             lsn_format(p->gap_last, c, sizeof(c)), (long long)p->next_offset);
    return ERR_SOURCE;
}

/* Called while nothing arrives: any partition's gap open too long. */
static err_t kafka_source_gaps(kafka_source_t *ks)
{
    err_t err = ERR_OK;
    for (int i = 0; i < ks->nparts && err == ERR_OK; i++)
        err = kafka_source_gap_check(ks, i, &ks->parts[i]);
    return err;
}

/*
 * A heartbeat at lsn: every transaction below it in the partition came
 * before it, and any later one commits at lsn or above. It is the newest
 * position of the partition (so a re-sent older transaction is dropped),
 * and the offset past it is stored (consumer lag 0 when idle). With one
 * partition, the batch's end moves to it, so the progress row's applied_lsn
 * follows an idle source; with several, applied_lsn stays what it was.
 */
static err_t kafka_source_on_heartbeat(kafka_source_t *ks, kafka_source_part_t *p, lsn_t lsn)
{
    if (p->in_txn)
        return ERR_OK;
    if (!p->has_pos || lsn > p->pos_lsn) {
        p->has_pos = 1;
        p->pos_lsn = lsn;
        p->pos_seq = -1;
    }
    err_t err = kafka_source_begin(ks); /* so that the offset past it is stored */
    if (err == ERR_OK && ks->use_lsn && lsn > ks->ap.batch.end_lsn)
        ks->ap.batch.end_lsn = lsn;
    return err;
}

static err_t kafka_source_handle(kafka_source_t *ks, const rd_kafka_message_t *m)
{
    kafka_source_part_t *p = kafka_source_part(ks, m->partition);
    if (p == NULL) {
        snprintf(ks->errbuf, ks->errsize, "out of memory");
        return ERR_RUNTIME;
    }
    ks->stats->messages++;
    int prime = p->prime;
    p->prime = 0;
    lsn_t hb, prev = 0;
    if (kafka_source_heartbeat(m, &hb)) {
        err_t err = ERR_OK;
        if (prime && m->offset == p->next_offset - 1) {
            p->has_pos = 1; /* applied before: only its position */
            p->pos_lsn = hb;
            p->pos_seq = -1;
            p->last_txn = kafka_source_prev(m, &prev) ? prev : 0;
        } else if (p->gap) {
            p->scanned = m->offset + 1;
        } else if (!p->in_txn && !kafka_source_chained(p, m, &prev)) {
            kafka_source_gap_open(p, m, hb, prev);
            p->scanned = m->offset + 1;
        } else {
            err = kafka_source_on_heartbeat(ks, p, hb);
            if (prev != 0)
                p->last_txn = prev;
            p->next_offset = m->offset + 1;
            p->dirty = 1;
            if (err == ERR_OK && !p->in_txn) /* nothing below hb is missing */
                err = kafka_source_hold(ks, hb);
        }
        return err;
    }
    if (m->payload == NULL && m->key != NULL) {
        /* a tombstone (Debezium's tombstones.on.delete): nothing to apply */
        ks->stats->skipped++;
        if (p->gap) {
            p->scanned = m->offset + 1;
        } else {
            p->next_offset = m->offset + 1;
            p->dirty = 1;
        }
        return ERR_OK;
    }
    if (prime && m->offset == p->next_offset - 1)
        return kafka_source_prime(ks, p, m);
    event_t ev;
    char why[512];
    err_t err = ERR_OK;
    int rc = kafka_source_decode(ks, m, &ev, why, sizeof(why), &err);
    if (rc == EVENT_DECODE_UNKNOWN_SCHEMA) {
        /* keep what is complete before it; read again from here after a restart */
        char *why_schema = strdup(ks->errbuf);
        if (ks->ap.batch.open && kafka_source_at_boundary(ks) && kafka_source_commit(ks) != ERR_OK)
            err = ERR_RUNTIME;
        else if (why_schema != NULL)
            snprintf(ks->errbuf, ks->errsize, "%s", why_schema);
        free(why_schema);
        return err;
    } else if (p->gap && (rc != 0 || !ev.has_txn || kafka_source_seen(ks, p, &ev) ||
                          !kafka_source_chained(p, m, &prev))) {
        ks->stats->skipped++; /* past the hole: sent again after the missing one */
        p->scanned = m->offset + 1;
        if (rc == 0)
            event_clear(&ev);
        else /* not capture's: a restarted capture does not send it again */
            log_warn("kafka skipped undecodable message in a gap topic=%s partition=%d "
                     "offset=%lld reason=%s",
                     rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset, why);
        return ERR_OK;
    } else if (rc != 0) {
        err = kafka_source_poison(ks, m, why);
        p->last_txn = 0;
    } else if (kafka_source_seen(ks, p, &ev)) {
        ks->stats->skipped++;
        p->last_txn = ev.txn.commit_lsn; /* applied before: what follows chains to it */
    } else if (ev.has_txn && !p->in_txn && !kafka_source_chained(p, m, &prev)) {
        kafka_source_gap_open(p, m, ev.txn.commit_lsn, prev);
        p->scanned = m->offset + 1;
        ks->stats->skipped++;
        event_clear(&ev);
        return ERR_OK;
    } else if (ev.has_txn && !p->in_txn &&
               (err = kafka_source_hold(ks, ev.txn.commit_lsn)) != ERR_OK) {
        event_clear(&ev); /* chained: every transaction before it is applied */
        return err;
    } else {
        if (p->gap)
            log_info("kafka gap healed topic=%s partition=%d offset=%lld",
                     rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset);
        p->gap = 0;
        err = kafka_source_apply(ks, &ev);
        if (err != ERR_OK)
            kafka_source_where(ks, m);
        p->in_txn = !ev.txn.last;
        kafka_source_note(p, &ev);
    }
    event_clear(&ev);
    p->next_offset = m->offset + 1;
    p->dirty = 1;
    return err;
}

/* ---- assignment ------------------------------------------------------------ */

/* Checks a stored start offset against the low watermark: a gap is an error;
 * without the message before it (deleted exactly up to it) there is nothing
 * to prime from. */
static err_t kafka_source_check_stored(kafka_source_t *ks, rd_kafka_topic_partition_t *tp,
                                       kafka_source_part_t *p)
{
    int64_t lo;
    if (p->next_offset < 0) /* nothing stored, or an operator's --from-* */
        return ERR_OK;
    err_t err = kafka_consumer_check(ks->rk, tp->topic, tp->partition, p->next_offset, &lo,
                                     ks->errbuf, ks->errsize);
    if (err != ERR_OK)
        return err;
    if (p->prime && p->next_offset == lo) {
        tp->offset = p->next_offset;
        p->prime = 0;
    }
    return ERR_OK;
}

/* Where one partition starts: the operator's override on the first
 * assignment, else the offset the target stored, else the beginning. */
static void kafka_source_start_at(kafka_source_t *ks, rd_kafka_topic_partition_t *tp,
                                  kafka_source_part_t *p, int64_t stored)
{
    memset(p, 0, sizeof(*p));
    p->assigned = 1;
    p->next_offset = -1;
    if (!ks->overrides_done && ks->opts->from != KAFKA_SOURCE_FROM_STORED) {
        tp->offset = ks->opts->from == KAFKA_SOURCE_FROM_OFFSET      ? ks->opts->from_value
                     : ks->opts->from == KAFKA_SOURCE_FROM_TIMESTAMP ? ks->opts->from_value
                                                                     : RD_KAFKA_OFFSET_BEGINNING;
    } else if (stored >= 0) {
        tp->offset = stored > 0 ? stored - 1 : stored;
        p->next_offset = stored;
        p->prime = stored > 0;
    } else {
        tp->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
}

static err_t kafka_source_assign(void *arg, rd_kafka_topic_partition_list_t *list)
{
    kafka_source_t *ks = arg;
    sink_offset_t *stored;
    int n;
    err_t err = ks->target->ops->offsets(ks->target->ctx, ks->cfg->kafka.topic, &stored, &n,
                                         ks->errbuf, ks->errsize);
    if (err != ERR_OK)
        return err;
    for (int i = 0; i < list->cnt && err == ERR_OK; i++) {
        rd_kafka_topic_partition_t *tp = &list->elems[i];
        kafka_source_part_t *p = kafka_source_part(ks, tp->partition);
        if (p != NULL)
            kafka_source_start_at(ks, tp, p, kafka_consumer_stored_in(stored, n, tp->partition));
        if (p != NULL)
            err = kafka_source_check_stored(ks, tp, p);
    }
    free(stored);
    if (err != ERR_OK)
        return err;
    return kafka_consumer_assign(ks->rk, list, &ks->overrides_done,
                                 ks->opts->from == KAFKA_SOURCE_FROM_TIMESTAMP, ks->errbuf,
                                 ks->errsize);
}

/* Partitions go away: commit what is complete, else drop the open batch. */
static void kafka_source_revoke(void *arg)
{
    kafka_source_t *ks = arg;
    if (ks->ap.batch.open && kafka_source_at_boundary(ks) && ks->cb_err == ERR_OK)
        ks->cb_err = kafka_source_commit(ks);
    kafka_source_rollback(ks);
    if (ks->cb_err == ERR_OK)
        ks->cb_err = kafka_source_settle(ks, 1);
    for (int i = 0; i < ks->nparts; i++) {
        ks->parts[i].assigned = 0;
        ks->parts[i].in_txn = 0;
    }
    rd_kafka_assign(ks->rk, NULL);
}

/* One partition (partitioning none): no group, every partition assigned here. */
static err_t kafka_source_assign_all(kafka_source_t *ks)
{
    int n = 0, waited = 0;
    while (!*ks->opts->stop) {
        err_t err =
            kafka_conf_partitions(ks->rk, ks->cfg->kafka.topic, &n, ks->errbuf, ks->errsize);
        if (err != ERR_OK || n > 0)
            break;
        if (!waited++)
            log_info("kafka waiting for topic=%s to exist", ks->cfg->kafka.topic);
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    if (n == 0)
        return *ks->opts->stop ? ERR_OK : ERR_CONNECT;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, ks->cfg->kafka.topic, i);
    err_t err = kafka_source_assign(ks, list);
    rd_kafka_topic_partition_list_destroy(list);
    return err;
}

static err_t kafka_source_subscribe(kafka_source_t *ks)
{
    if (!ks->group)
        return kafka_source_assign_all(ks);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, ks->cfg->kafka.topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t kerr = rd_kafka_subscribe(ks->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(ks->errbuf, ks->errsize, "kafka subscribe topic=%s: %s", ks->cfg->kafka.topic,
                 rd_kafka_err2str(kerr));
        return ERR_RUNTIME;
    }
    log_info("kafka subscribed topic=%s group=syncline.%s", ks->cfg->kafka.topic, ks->cfg->name);
    return ERR_OK;
}

/* ---- the loop ----------------------------------------------------------------- */

/* A message read (kafka_consumer_poll). */
static err_t kafka_source_read(void *arg, const rd_kafka_message_t *m)
{
    return kafka_source_handle(arg, m);
}

/* Where m's partition stood: a consumer error's gap starts there. */
static int64_t kafka_source_stored(void *arg, const rd_kafka_message_t *m)
{
    const kafka_source_part_t *p = kafka_source_part(arg, m->partition);
    return p != NULL ? p->next_offset : -1;
}

/* Polls one message (waiting up to wait_ms) and handles it. */
static int kafka_source_poll(void *ctx, int wait_ms, err_t *err, char *errbuf, size_t errsize)
{
    kafka_source_t *ks = ctx;
    (void)errbuf, (void)errsize; /* ks->errbuf, the one applier_run was given */
    return kafka_consumer_poll(ks->rk, &ks->reader, wait_ms, err, ks->errbuf, ks->errsize);
}

static int kafka_source_boundary(void *ctx)
{
    return kafka_source_at_boundary(ctx);
}

/* With nothing arriving, a poll waits this long. */
static int64_t kafka_source_due_ms(void *ctx)
{
    (void)ctx;
    return clock_ms() + KAFKA_SOURCE_IDLE_WAIT_MS;
}

/* Gaps open too long: looked for when idle, and now and then while other
 * partitions keep the loop busy. */
static err_t kafka_source_tick(void *ctx, int got, char *errbuf, size_t errsize)
{
    kafka_source_t *ks = ctx;
    (void)errbuf, (void)errsize;
    return !got || ks->stats->messages % 4096 == 0 ? kafka_source_gaps(ks) : ERR_OK;
}

/* Avro: the registry client, or the schemas of <topic>.schemas so far. */
static err_t kafka_source_schemas(kafka_source_t *ks)
{
    const char *url = ks->cfg->kafka.schema_registry;
    err_t err = ERR_OK;
    if (strcmp(ks->cfg->kafka.format, "avro") != 0)
        return ERR_OK;
    if (url != NULL) {
        schema_registry_opts_t o = {.stop = ks->opts->stop};
        ks->sr = schema_registry_new(url, &o, &err, ks->errbuf, ks->errsize);
        if (ks->sr != NULL)
            log_info("schema registry registry=%s", schema_registry_url(ks->sr));
        return err;
    }
    ks->schemas = kafka_schemas_new(ks->cfg, &err, ks->errbuf, ks->errsize);
    return err == ERR_OK ? kafka_schemas_refresh(ks->schemas, ks->codec, ks->errbuf, ks->errsize)
                         : err;
}

static err_t kafka_source_open(kafka_source_t *ks)
{
    err_t err = ERR_RUNTIME;
    ks->codec = event_codec_new(strcmp(ks->cfg->kafka.format, "avro") == 0 ? EVENT_FORMAT_AVRO
                                                                           : EVENT_FORMAT_JSON,
                                ks->errbuf, ks->errsize);
    ks->rels = relcache_new();
    if (ks->codec == NULL || ks->rels == NULL) {
        if (ks->rels == NULL)
            snprintf(ks->errbuf, ks->errsize, "out of memory");
        return ERR_RUNTIME;
    }
    err = kafka_source_schemas(ks);
    if (err != ERR_OK)
        return err;
    ks->rebalance = (kafka_consumer_rebalance_t){.assign = kafka_source_assign,
                                                 .revoke = kafka_source_revoke,
                                                 .arg = ks,
                                                 .cb_err = &ks->cb_err};
    ks->reader = (kafka_consumer_reader_t){.handle = kafka_source_read,
                                           .stored = kafka_source_stored,
                                           .arg = ks,
                                           .cb_err = &ks->cb_err};
    ks->rk =
        kafka_conf_client(ks->cfg, KAFKA_CONF_CONSUMER, &ks->rebalance,
                          ks->group ? kafka_consumer_setup : NULL, &err, ks->errbuf, ks->errsize);
    if (ks->rk == NULL)
        return err;
    rd_kafka_poll_set_consumer(ks->rk);
    return kafka_source_subscribe(ks);
}

static void kafka_source_close(kafka_source_t *ks)
{
    kafka_source_rollback(ks);
    if (ks->rk != NULL) {
        ks->cb_err = ERR_RUNTIME; /* no commit from the revoke during close */
        rd_kafka_consumer_close(ks->rk);
        rd_kafka_destroy(ks->rk);
    }
    if (ks->dlq != NULL) {
        rd_kafka_flush(ks->dlq, 10000);
        rd_kafka_destroy(ks->dlq);
    }
    event_codec_free(ks->codec);
    schema_registry_free(ks->sr);
    kafka_schemas_free(ks->schemas);
    relcache_free(ks->rels);
    free(ks->parts);
    free(ks->offs);
    free(ks->trunc);
}

err_t kafka_source_run(const config_t *cfg, const kafka_source_opts_t *opts, const sink_t *target,
                       lsn_t applied, kafka_source_stats_t *stats, char *errbuf, size_t errsize)
{
    kafka_source_t ks = {.cfg = cfg,
                         .opts = opts,
                         .stats = stats,
                         .target = target,
                         .snk = *target,
                         .errbuf = errbuf,
                         .errsize = errsize};
    memset(stats, 0, sizeof(*stats));
    stats->applied_lsn = applied;
    if (target->ops->offsets == NULL) {
        snprintf(errbuf, errsize, "apply: the target sink keeps no consumer offsets");
        return ERR_RUNTIME;
    }
    ks.group = strcmp(cfg->kafka.partitioning, "none") != 0;
    ks.use_lsn = !ks.group;
    /* as in run: changes to one row within a batch merged, rows written set-based */
    collapse_t *cl = cfg->collapse ? collapse_new(ks.snk, 64u << 20) : NULL;
    if (cl != NULL)
        ks.snk = collapse_sink(cl);
    /* a hold needs one order: one partition only */
    applier_feed_t feed = {.poll = kafka_source_poll,
                           .at_boundary = kafka_source_boundary,
                           .due_ms = kafka_source_due_ms,
                           .position = kafka_source_position,
                           .committed = kafka_source_committed,
                           .on_durable = kafka_source_durable,
                           .on_tick = kafka_source_tick,
                           .ctx = &ks};
    applier_init(&ks.ap, &feed, &ks.snk, cfg->batch_rows, cfg->batch_ms, opts->metrics, applied,
                 ks.use_lsn ? opts->hold : NULL, opts->stop);
    err_t err = kafka_source_open(&ks);
    if (err == ERR_OK)
        err = applier_run(&ks.ap, errbuf, errsize);
    stats->batches = ks.ap.batch.commits;
    kafka_source_close(&ks);
    applier_clear(&ks.ap);
    collapse_free(cl);
    return err;
}
