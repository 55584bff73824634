/*
 * pgoutput: decodes the replication protocol's CopyData payloads (XLogData,
 * primary keepalive) and the pgoutput logical messages inside XLogData, and
 * encodes the standby status update. Pure: (buf, len) -> struct, no I/O.
 *
 * Decoding does not copy tuple data: change_value_t.data points into the
 * caller's buffer, which must outlive the use of the decoded message.
 */
#ifndef SYNCLINE_PGOUTPUT_H
#define SYNCLINE_PGOUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/change.h"
#include "core/lsn.h"

typedef enum pgoutput_err {
    PGOUTPUT_OK = 0,
    PGOUTPUT_TRUNCATED,   /* message shorter than its fields */
    PGOUTPUT_MALFORMED,   /* impossible value (bad kind byte, negative count...) */
    PGOUTPUT_UNSUPPORTED, /* valid but not handled (streaming, two-phase...) */
    PGOUTPUT_NOMEM,
} pgoutput_err_t;

/* CopyData wrapper on the replication connection. */
typedef enum pgoutput_frame_kind {
    PGOUTPUT_FRAME_XLOGDATA = 'w',
    PGOUTPUT_FRAME_KEEPALIVE = 'k',
} pgoutput_frame_kind_t;

typedef struct pgoutput_frame {
    pgoutput_frame_kind_t kind;
    lsn_t wal_start;     /* XLogData: dataStart */
    lsn_t wal_end;       /* XLogData walEnd, keepalive walEnd */
    int64_t send_time;   /* PostgreSQL timestamp */
    int reply_requested; /* keepalive only */
    const char *payload; /* XLogData: the pgoutput message; points into buf */
    size_t payload_len;
} pgoutput_frame_t;

/* Decodes one CopyData payload from the server. */
pgoutput_err_t pgoutput_read_frame(const char *buf, size_t len, pgoutput_frame_t *out, char *errbuf,
                                   size_t errsize);

/* Size of a standby status update. */
#define PGOUTPUT_STATUS_LEN 34

/* Writes a standby status update ('r') into buf (PGOUTPUT_STATUS_LEN bytes). */
void pgoutput_write_status(char *buf, lsn_t write, lsn_t flush, lsn_t apply, int64_t now,
                           int reply_requested);

typedef enum pgoutput_msg_kind {
    PGOUTPUT_BEGIN = 'B',
    PGOUTPUT_COMMIT = 'C',
    PGOUTPUT_ORIGIN = 'O',
    PGOUTPUT_RELATION = 'R',
    PGOUTPUT_TYPE = 'Y',
    PGOUTPUT_INSERT = 'I',
    PGOUTPUT_UPDATE = 'U',
    PGOUTPUT_DELETE = 'D',
    PGOUTPUT_TRUNCATE = 'T',
    PGOUTPUT_MESSAGE = 'M',
} pgoutput_msg_kind_t;

typedef struct pgoutput_begin {
    lsn_t final_lsn; /* the commit record's LSN */
    int64_t commit_time;
    uint32_t xid;
} pgoutput_begin_t;

typedef struct pgoutput_commit {
    uint8_t flags;
    lsn_t commit_lsn;
    lsn_t end_lsn; /* what to confirm */
    int64_t commit_time;
} pgoutput_commit_t;

/* Insert/Update/Delete. old_kind is 0 (none), 'K' (old key) or 'O' (old row). */
typedef struct pgoutput_row {
    uint32_t relid;
    char old_kind;
    change_tuple_t old_tuple; /* valid when old_kind != 0 */
    change_tuple_t new_tuple; /* Insert, Update */
} pgoutput_row_t;

typedef struct pgoutput_truncate {
    uint8_t options; /* PGOUTPUT_TRUNCATE_CASCADE | PGOUTPUT_TRUNCATE_RESTART_IDENTITY */
    int nrelids;
    uint32_t *relids; /* owned by the pgoutput_msg_t */
} pgoutput_truncate_t;

#define PGOUTPUT_TRUNCATE_CASCADE 1
#define PGOUTPUT_TRUNCATE_RESTART_IDENTITY 2

typedef struct pgoutput_origin {
    lsn_t origin_lsn;
    const char *name; /* points into buf (NUL-terminated there) */
} pgoutput_origin_t;

typedef struct pgoutput_type {
    uint32_t oid;
    const char *nspname; /* point into buf */
    const char *typname;
} pgoutput_type_t;

typedef struct pgoutput_message {
    uint8_t flags; /* 1 = transactional */
    lsn_t lsn;
    const char *prefix; /* points into buf */
    uint32_t len;
    const char *content; /* points into buf */
} pgoutput_message_t;

/*
 * A decoded pgoutput message. Reuse one pgoutput_msg_t across calls: the
 * value and relid arrays it owns grow as needed and are kept, so steady-state
 * decoding allocates nothing. Free with pgoutput_msg_clear.
 */
typedef struct pgoutput_msg {
    pgoutput_msg_kind_t kind;
    union {
        pgoutput_begin_t begin;
        pgoutput_commit_t commit;
        pgoutput_origin_t origin;
        pgoutput_type_t type;
        pgoutput_row_t row; /* Insert, Update, Delete */
        pgoutput_truncate_t truncate;
        pgoutput_message_t message;
    } u;
    /* Relation: a freshly allocated relation the caller takes ownership of
     * (and must set to NULL or free); NULL for other kinds. */
    change_relation_t *relation;
    /* scratch storage, owned */
    change_value_t *values_buf;
    int values_cap;
    uint32_t *relids_buf;
    int relids_cap;
} pgoutput_msg_t;

/* Decodes one pgoutput message (protocol version 1, no streaming). */
pgoutput_err_t pgoutput_read_msg(const char *buf, size_t len, pgoutput_msg_t *msg, char *errbuf,
                                 size_t errsize);

/*
 * After pgoutput_read_msg(buf, len, msg), for a buffer the caller may write
 * in and whose buf[len] is a NUL byte (PQgetCopyData's payloads): ends every
 * text value of a row message with a NUL in place, over the byte after it
 * (the next value's kind byte or a tuple tag, decoded already), and sets the
 * value's nul flag. buf cannot be decoded again afterwards.
 */
void pgoutput_msg_terminate(pgoutput_msg_t *msg, char *buf, size_t len);

/* Frees what msg owns (scratch arrays and a relation not taken). */
void pgoutput_msg_clear(pgoutput_msg_t *msg);

#endif
