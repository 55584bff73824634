/*
 * kafka_hold: apply's hold point for an online verify, the counterpart of
 * core/stream.c's for `run`. Exactness rests on the partition's order:
 * capture produces one partition's transactions in commit order, and
 * kafka_source only calls here on a message that is chained (its
 * predecessor is the transaction applied last, so none is missing) and that
 * begins a transaction (next = its commit LSN) or is a heartbeat (next = its
 * LSN: every transaction below it came before it). Holding at the first such
 * next >= the verifier's point C therefore leaves every transaction
 * committed before C applied and none after.
 */
#include "kafka/kafka_hold.h"

#include <stdlib.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/vmark.h"

#define KAFKA_HOLD_LOOK_MS 100     /* how often to look for a verifier's request */
#define KAFKA_HOLD_POLL_MS 10      /* how often to look while holding */
#define KAFKA_HOLD_MAX_MS 30000    /* the longest hold, whatever the request says */
#define KAFKA_HOLD_BACKOFF_MS 5000 /* after a failed look */

struct kafka_hold {
    const stream_hold_t *h;
    volatile sig_atomic_t *stop;
    lsn_t until;       /* the live request's point: hold before next >= it; 0: none */
    int64_t polled_ms; /* last look */
    int track;         /* a verifier asked for marks */
    vmark_set_t *marks;
};

kafka_hold_t *kafka_hold_new(const stream_hold_t *h, volatile sig_atomic_t *stop)
{
    kafka_hold_t *kh = calloc(1, sizeof(*kh));
    if (kh == NULL)
        return NULL;
    kh->h = h != NULL && h->poll != NULL ? h : NULL;
    kh->stop = stop;
    return kh;
}

void kafka_hold_free(kafka_hold_t *kh)
{
    if (kh == NULL)
        return;
    vmark_set_free(kh->marks);
    free(kh);
}

/* Stands still before `next` while a live request says so (see stream.c). */
static err_t kafka_hold_stand(kafka_hold_t *kh, lsn_t next, err_t (*drain)(void *arg), void *arg)
{
    const stream_hold_t *h = kh->h;
    int64_t started = clock_ms(), id = 0, told_id = 0;
    lsn_t until = 0, told = 1;
    int drained = 0;
    char eb[256];
    err_t err = ERR_OK;
    kh->until = 0;
    while (!*kh->stop && clock_ms() - started < KAFKA_HOLD_MAX_MS) {
        if (h->poll(h->ctx, &id, &until, &kh->track, eb, sizeof(eb)) != ERR_OK) {
            log_warn("verify hold: %s", eb); /* the sync goes on; look again later */
            kh->polled_ms = clock_ms() + KAFKA_HOLD_BACKOFF_MS;
            return ERR_OK;
        }
        if (id == 0 || (until != 0 && next < until)) {
            kh->until = id != 0 ? until : 0;
            break;
        }
        if (!drained && (err = drain(arg)) != ERR_OK)
            break;
        drained = 1;
        if ((id != told_id || until != told) &&
            h->held(h->ctx, id, until, eb, sizeof(eb)) != ERR_OK)
            log_warn("verify hold: %s", eb);
        told_id = id, told = until;
        nanosleep(&(struct timespec){.tv_nsec = KAFKA_HOLD_POLL_MS * 1000000L}, NULL);
    }
    kh->polled_ms = clock_ms();
    return err;
}

err_t kafka_hold_point(kafka_hold_t *kh, lsn_t next, err_t (*drain)(void *arg), void *arg,
                       char *errbuf, size_t errsize)
{
    (void)errbuf;
    (void)errsize;
    if (kh == NULL || kh->h == NULL)
        return ERR_OK;
    if (kh->until != 0)
        return next >= kh->until ? kafka_hold_stand(kh, next, drain, arg) : ERR_OK;
    if (clock_ms() - kh->polled_ms < KAFKA_HOLD_LOOK_MS)
        return ERR_OK;
    return kafka_hold_stand(kh, next, drain, arg);
}

int kafka_hold_mark(kafka_hold_t *kh, const change_relation_t *rel, const change_tuple_t *old,
                    const change_tuple_t *new_tuple)
{
    if (kh == NULL || !kh->track)
        return 0;
    if (kh->marks == NULL && (kh->marks = vmark_set_new()) == NULL)
        return -1;
    if (old == NULL && new_tuple == NULL)
        return vmark_set_add_table(kh->marks, rel);
    return vmark_set_add_row(kh->marks, rel, old, new_tuple);
}

void kafka_hold_marks(const kafka_hold_t *kh, sink_position_t *pos)
{
    if (kh != NULL && kh->marks != NULL)
        pos->marks = vmark_set_marks(kh->marks, &pos->nmarks);
}

void kafka_hold_marked(kafka_hold_t *kh)
{
    if (kh != NULL && kh->marks != NULL)
        vmark_set_reset(kh->marks);
}
