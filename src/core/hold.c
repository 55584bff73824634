/*
 * hold: an online verify's hold point, the one state machine of `run` and
 * Kafka `apply`: look for a request, pause at a boundary, hold at the point,
 * record the key ranges each batch changes.
 */
#include "core/hold.h"

#include <time.h>

#include "core/clock.h"
#include "core/log.h"

#define HOLD_LOOK_MS 100     /* how often to look for a verifier's request */
#define HOLD_POLL_MS 10      /* how often to look while holding */
#define HOLD_MAX_MS 30000    /* the longest hold, whatever the request says */
#define HOLD_BACKOFF_MS 5000 /* after a failed look */

void hold_init(hold_t *h, const hold_verifier_t *v, const hold_loop_t *loop,
               volatile sig_atomic_t *stop)
{
    *h = (hold_t){.v = v != NULL && v->poll != NULL ? v : NULL, .stop = stop};
    if (loop != NULL)
        h->loop = *loop;
}

void hold_clear(hold_t *h)
{
    vmark_set_free(h->marks);
    h->marks = NULL;
}

/* Stands still before `next` for as long as a live request says so, at most
 * HOLD_MAX_MS. A request whose point lies beyond `next` lets the loop go on. */
static err_t hold_stand(hold_t *h, lsn_t next, char *errbuf, size_t errsize)
{
    const hold_verifier_t *v = h->v;
    int64_t started = clock_ms(), id = 0, told_id = 0;
    lsn_t until = 0, told = 1;
    int drained = 0;
    char eb[256];
    err_t err = ERR_OK;
    h->until = 0;
    while (!*h->stop && clock_ms() - started < HOLD_MAX_MS) {
        if (v->poll(v->ctx, &id, &until, &h->track, eb, sizeof(eb)) != ERR_OK) {
            log_warn("verify hold: %s", eb); /* the sync goes on; look again later */
            h->polled_ms = clock_ms() + HOLD_BACKOFF_MS;
            return ERR_OK;
        }
        if (id == 0 || (until != 0 && next < until)) {
            h->until = id != 0 ? until : 0;
            break;
        }
        if (!drained && (err = h->loop.drain(h->loop.arg, errbuf, errsize)) != ERR_OK)
            break;
        drained = 1;
        if ((id != told_id || until != told) &&
            v->held(v->ctx, id, until, eb, sizeof(eb)) != ERR_OK)
            log_warn("verify hold: %s", eb);
        told_id = id, told = until;
        if (h->loop.poll != NULL && (err = h->loop.poll(h->loop.arg, errbuf, errsize)) != ERR_OK)
            break;
        nanosleep(&(struct timespec){.tv_nsec = HOLD_POLL_MS * 1000000L}, NULL);
    }
    h->polled_ms = clock_ms();
    return err;
}

err_t hold_point(hold_t *h, lsn_t next, char *errbuf, size_t errsize)
{
    if (h->v == NULL)
        return ERR_OK;
    if (h->until != 0)
        return next >= h->until ? hold_stand(h, next, errbuf, errsize) : ERR_OK;
    if (clock_ms() - h->polled_ms < HOLD_LOOK_MS)
        return ERR_OK;
    return hold_stand(h, next, errbuf, errsize);
}

int64_t hold_due_ms(const hold_t *h)
{
    return h->v != NULL ? h->polled_ms + HOLD_LOOK_MS : INT64_MAX;
}

lsn_t hold_until(const hold_t *h)
{
    return h->until;
}

int hold_mark(hold_t *h, const change_relation_t *rel, const change_tuple_t *old,
              const change_tuple_t *new_tuple)
{
    if (!h->track)
        return 0;
    if (h->marks == NULL && (h->marks = vmark_set_new()) == NULL)
        return -1;
    if (old == NULL && new_tuple == NULL)
        return vmark_set_add_table(h->marks, rel);
    return vmark_set_add_row(h->marks, rel, old, new_tuple);
}

void hold_marks(const hold_t *h, sink_position_t *pos)
{
    if (h->marks != NULL)
        pos->marks = vmark_set_marks(h->marks, &pos->nmarks);
}

void hold_marked(hold_t *h)
{
    if (h->marks != NULL)
        vmark_set_reset(h->marks);
}
