/*
 * libFuzzer target for pgoutput: arbitrary bytes as a CopyData frame (and the
 * XLogData payload inside it) and as a bare pgoutput message. One
 * pgoutput_msg_t is reused across inputs, as the stream reader does.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/change.h"
#include "core/pgoutput.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pgoutput_msg_t msg;

/* Touches every decoded value so ASan sees an out-of-bounds view. */
static unsigned touch_tuple(const change_tuple_t *t)
{
    unsigned sum = 0;

    for (int c = 0; c < t->ncols; c++) {
        const change_value_t *v = &t->values[c];
        for (uint32_t i = 0; i < v->len; i++)
            sum += (unsigned char)v->data[i];
        if (v->nul && v->data[v->len] != '\0') /* terminated in place */
            abort();
    }
    return sum;
}

/* writable: buf itself, which may then be ended in place; NULL: read only */
static void decode_msg(const char *buf, size_t len, char *writable)
{
    char err[256];
    volatile unsigned sink = 0;

    if (pgoutput_read_msg(buf, len, &msg, err, sizeof(err)) != PGOUTPUT_OK)
        return;
    if (writable != NULL)
        pgoutput_msg_terminate(&msg, writable, len);
    switch (msg.kind) {
    case PGOUTPUT_INSERT:
    case PGOUTPUT_UPDATE:
    case PGOUTPUT_DELETE:
        if (msg.u.row.old_kind != 0)
            sink += touch_tuple(&msg.u.row.old_tuple);
        sink += touch_tuple(&msg.u.row.new_tuple);
        break;
    case PGOUTPUT_TRUNCATE:
        for (int i = 0; i < msg.u.truncate.nrelids; i++)
            sink += msg.u.truncate.relids[i];
        break;
    default:
        break;
    }
    change_relation_free(msg.relation);
    msg.relation = NULL;
    (void)sink;
}

/* As the stream reader: decode a writable copy with a NUL after it, end its
 * text values in place, and read them back. */
static void decode_in_place(const char *buf, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return;
    memcpy(copy, buf, len);
    copy[len] = '\0';
    decode_msg(copy, len, copy);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    pgoutput_frame_t frame;
    char err[256];

    decode_msg(buf, size, NULL);
    decode_in_place(buf, size);
    if (pgoutput_read_frame(buf, size, &frame, err, sizeof(err)) == PGOUTPUT_OK &&
        frame.kind == PGOUTPUT_FRAME_XLOGDATA)
        decode_msg(frame.payload, frame.payload_len, NULL);
    return 0;
}
