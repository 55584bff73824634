/*
 * Shared body of the Kafka message decoder targets (fuzz_event_json.c,
 * fuzz_event_avro.c). Input layout: byte 0 is the key length k (clamped to
 * what is left), then k bytes of message key, then the message value. The
 * Avro codec first learns the seeds' writer schemas (fuzz_event_seed.h).
 */
#ifndef SYNCLINE_FUZZ_EVENT_H
#define SYNCLINE_FUZZ_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "event/event.h"
#include "event/event_codec.h"
#include "fuzz_event_seed.h"

static unsigned fuzz_event_touch(const change_tuple_t *t)
{
    unsigned sum = 0;

    for (int c = 0; c < t->ncols; c++)
        for (uint32_t i = 0; i < t->values[c].len; i++)
            sum += (unsigned char)t->values[c].data[i];
    return sum;
}

/* One codec per process, reused like the apply loop does; freed at exit so
 * LeakSanitizer does not count avro-c's reusable value as a leak. The second
 * reads with jansson only: both readers must agree on every input. */
static event_codec_t *fuzz_event_codec, *fuzz_event_tree;

static void fuzz_event_free_codec(void)
{
    event_codec_free(fuzz_event_codec);
    event_codec_free(fuzz_event_tree);
}

/* The fast JSON reader and jansson: the same verdict, the same event. */
static void fuzz_event_differential(const uint8_t *value, size_t len, const uint8_t *key,
                                    size_t keylen, int rc, const event_t *ev)
{
    char err[512];
    event_t other;
    int rc2 = event_decode(fuzz_event_tree, value, len, keylen ? key : NULL, keylen, &other, err,
                           sizeof(err));
    /* a relation naming a column twice is refused where apply meets it
     * (kafka_consumer_relation): which value each reader keeps is moot */
    if ((rc == 0 && change_relation_duplicate(ev->rel) != NULL) ||
        (rc2 == 0 && change_relation_duplicate(other.rel) != NULL)) {
        if (rc2 == 0)
            event_clear(&other);
        return;
    }
    if ((rc == 0) != (rc2 == 0))
        abort();
    if (rc == 0 && !event_equal(ev, &other))
        abort();
    if (rc2 == 0)
        event_clear(&other);
}

static int fuzz_event_one(event_format_t format, const uint8_t *data, size_t size)
{
    char err[512];
    event_t ev;
    volatile unsigned sink = 0;

    if (fuzz_event_codec == NULL) {
        if ((fuzz_event_codec = event_codec_new(format, err, sizeof(err))) == NULL)
            abort();
        if (format != EVENT_FORMAT_JSON && fuzz_event_prepare(fuzz_event_codec) != 0)
            abort();
        if ((fuzz_event_tree = event_codec_new(format, err, sizeof(err))) == NULL)
            abort();
        event_codec_tree_only(fuzz_event_tree);
        if (format != EVENT_FORMAT_JSON && fuzz_event_prepare(fuzz_event_tree) != 0)
            abort();
        atexit(fuzz_event_free_codec);
    }
    event_codec_t *codec = fuzz_event_codec;
    if (size == 0)
        return 0;
    size_t keylen = data[0] < size - 1 ? data[0] : size - 1;
    const uint8_t *key = data + 1, *value = data + 1 + keylen;
    size_t len = size - 1 - keylen;
    int rc = event_decode(codec, value, len, keylen ? key : NULL, keylen, &ev, err, sizeof(err));
    fuzz_event_differential(value, len, key, keylen, rc, &ev);
    if (rc != 0)
        return 0;
    for (int c = 0; c < ev.rel->ncols; c++)
        sink += (unsigned char)ev.rel->cols[c].name[0];
    if (ev.has_old)
        sink += fuzz_event_touch(&ev.old_tuple);
    if (ev.has_new)
        sink += fuzz_event_touch(&ev.new_tuple);
    (void)sink;
    event_clear(&ev);
    return 0;
}

#endif
