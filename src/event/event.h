/*
 * event: the messages of the Kafka change stream: one row change (or one
 * truncated relation) plus its source-transaction position, as a
 * Debezium-style envelope, and that envelope read back from a jansson tree
 * (syncline's own or a plain Debezium PostgreSQL message). Pure: no I/O, no
 * rdkafka.h.
 *
 * Capture writes the envelope directly: as JSON text (event_json.h) or as
 * Avro binary (event_avro_write.h); event_codec.h reads both back. The
 * reference encoder those writers are checked against byte for byte lives
 * in tests/support/event_oracle.c.
 */
#ifndef SYNCLINE_EVENT_H
#define SYNCLINE_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/change.h"
#include "core/lsn.h"

/* Debezium's `op` letters. */
typedef enum event_op {
    EVENT_CREATE = 'c',
    EVENT_UPDATE = 'u',
    EVENT_DELETE = 'd',
    EVENT_TRUNCATE = 't',
    EVENT_READ = 'r',    /* snapshot row: applied as an insert */
    EVENT_MESSAGE = 'm', /* a DDL command (logical message "syncline.ddl"); no relation */
} event_op_t;

/* Both Avro formats read both framings; they differ in what they write. */
typedef enum event_format {
    EVENT_FORMAT_JSON,
    EVENT_FORMAT_AVRO,           /* single-object encoding (schemas in <topic>.schemas) */
    EVENT_FORMAT_AVRO_CONFLUENT, /* Confluent wire format (schemas in a Schema Registry) */
} event_format_t;

/* event_decode's results besides 0. */
#define EVENT_DECODE_POISON (-1)
#define EVENT_DECODE_UNKNOWN_SCHEMA (-2) /* add the schema event_codec_missing names, retry */

#ifndef SYNCLINE_VERSION
#define SYNCLINE_VERSION "dev"
#endif

/* Placeholder written for an unchanged TOAST value (Debezium's default). */
#define EVENT_UNAVAILABLE "__debezium_unavailable_value"

/* Where a message stands in its source transaction. */
typedef struct event_txn {
    uint32_t xid;
    lsn_t commit_lsn;    /* the Commit record's LSN: orders transactions */
    lsn_t end_lsn;       /* the Commit's end LSN; only known (non-zero) when last */
    int64_t commit_time; /* PostgreSQL timestamp */
    int64_t seq;         /* index of the message in its transaction */
    bool last;           /* no later message of this transaction in this partition */
} event_txn_t;

/* Where one relation of a TRUNCATE (a change_row_t of op CHANGE_TRUNCATE)
 * stands: the envelope's `truncate` member. A writer given none writes
 * zeros. */
typedef struct event_truncate {
    uint8_t options; /* pgoutput's: 1 cascade, 2 restart identity */
    int n;           /* relations truncated together; this one is i */
    int i;
} event_truncate_t;

/* What to encode for a DDL command: the "syncline.ddl" logical message as
 * the source's event trigger wrote it (signature and body, core/ddl.h) and
 * its own LSN. Borrowed. */
typedef struct event_ddl {
    const char *content; /* not NUL-terminated */
    size_t len;
    lsn_t lsn;
} event_ddl_t;

/* A decoded message. Everything is owned by the event; free with event_clear. */
typedef struct event {
    event_op_t op;
    bool has_txn;    /* a syncline message: txn is valid */
    event_txn_t txn; /* for other messages: seq 0, last true */
    change_relation_t *rel;
    char old_kind;
    change_tuple_t old_tuple; /* ncols = rel->ncols when has_old */
    change_tuple_t new_tuple; /* ncols = rel->ncols when has_new */
    bool has_old, has_new;
    uint8_t truncate_options;
    int truncate_n, truncate_i;
    event_ddl_t ddl; /* op EVENT_MESSAGE (rel NULL): content borrowed from root */
    json_t *root;    /* holds the strings the values point to (jansson reader) */
    char *strings;   /* or this (event_json_read) */
} event_t;

/* Debezium's letter for op (the envelope's `op`). */
event_op_t event_op_of(change_op_t op);

/* The error for a binary value (apply.binary), which the Kafka transport
 * cannot carry, naming the column; into errbuf. */
void event_refuse_binary(const char *col, char *errbuf, size_t errsize);

/* A PostgreSQL timestamp as Unix milliseconds (0 stays 0): the ts_ms members. */
int64_t event_ts_ms(int64_t pg_time);

/* The message key for a partitioning mode ("table": schema.table, "key":
 * schema.table plus the identity values). Malloc'd; NULL for "none" or OOM. */
char *event_key(const change_row_t *row, const char *partitioning, size_t *len);

/*
 * Fills *ev from a parsed envelope, which it takes over (ev->root; event_clear
 * frees it): syncline's own envelope or a Debezium PostgreSQL one (key names
 * its identity columns). 0, or EVENT_DECODE_POISON with errbuf saying why
 * (then ev is cleared).
 */
int event_from_tree(event_t *ev, json_t *env, const void *key, size_t keylen, char *errbuf,
                    size_t errsize);

/* The envelope's members besides the row images, as a reader that skips
 * jansson found them (event_json_read, event_avro_read). Strings are
 * borrowed and NUL-terminated; end_lsn and old may be NULL. */
typedef struct event_parts {
    const char *op, *schema, *table, *commit_lsn, *end_lsn, *replident, *old;
    int64_t ts_ms, xid, seq, relid;
    bool last, truncate;
    int64_t t_options, t_n, t_i;
    change_column_t *cols; /* borrowed */
    int ncols;
} event_parts_t;

/* Sets ev's op, transaction, truncate members, relation (copied) and old
 * kind from p, as the jansson reader reads them. 1; 0 when that reader
 * would refuse them, or memory ran out. */
int event_from_parts(event_t *ev, const event_parts_t *p);

/* ev as a row change of rel at lsn, borrowing ev's tuples: rel is ev->rel,
 * or the relcache's copy once that took it; a read is an insert. 0, or 1
 * for a truncate (row not filled), or -1 (errbuf) for a DDL message or a
 * change without the row image its op needs. */
int event_row(const event_t *ev, const change_relation_t *rel, lsn_t lsn, change_row_t *row,
              char *errbuf, size_t errsize);

/* Frees what ev owns and zeroes it. */
void event_clear(event_t *ev);

/* Two decoded events say the same (the tests compare the two readers). */
bool event_equal(const event_t *a, const event_t *b);

/* True when a and b describe the same relation (names, columns, types, keys). */
bool event_relation_equal(const change_relation_t *a, const change_relation_t *b);

#endif
