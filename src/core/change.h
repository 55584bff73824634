/*
 * change: the change model shared by decoder, transforms and appliers:
 * relations (as described by the source), tuples, column values and row changes.
 * Values are views into a buffer owned by someone else; nothing here does I/O.
 */
#ifndef SYNCLINE_CHANGE_H
#define SYNCLINE_CHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/lsn.h"

/* How a column value travels, as pgoutput's TupleData kind bytes. */
typedef enum change_kind {
    CHANGE_NULL = 'n',
    CHANGE_UNCHANGED = 'u', /* unchanged TOASTed value: no data sent */
    CHANGE_TEXT = 't',      /* output-function text, not NUL-terminated */
    CHANGE_BINARY = 'b',    /* send-function bytes */
} change_kind_t;

/* One column value. `data` points into the message buffer; not owned. */
typedef struct change_value {
    change_kind_t kind;
    uint32_t len;
    const char *data;
    /* data[len] is a NUL byte: a text value can be passed on as a C string
     * without a copy. Whoever points data elsewhere clears it. */
    bool nul;
} change_value_t;

/* A row image: `values` has `ncols` entries; the array is owned by whoever
 * decoded it (see pgoutput_msg_t) and is valid until the next decode. */
typedef struct change_tuple {
    int ncols;
    change_value_t *values;
} change_tuple_t;

typedef struct change_column {
    char *name; /* owned */
    uint32_t type_oid;
    int32_t typmod;
    bool is_key; /* part of the replica identity */
} change_column_t;

/* A source relation as described by a pgoutput Relation message. */
typedef struct change_relation {
    uint32_t relid;
    char *nspname;  /* owned; "pg_catalog" when the wire said "" */
    char *relname;  /* owned */
    char replident; /* 'd' default, 'n' nothing, 'f' full, 'i' index */
    int ncols;
    change_column_t *cols; /* owned, ncols entries */
} change_relation_t;

/* What a row change does. The values are pgoutput's message bytes; the
 * Kafka envelope writes Debezium's letters for them (event_op_of). */
typedef enum change_op {
    CHANGE_INSERT = 'I',
    CHANGE_UPDATE = 'U',
    CHANGE_DELETE = 'D',
    CHANGE_TRUNCATE = 'T', /* one relation of a TRUNCATE, as the Kafka envelope carries it;
                            * a sink gets truncates through sink_ops.truncate, never as a row */
} change_op_t;

/* One row change, as the apply loop hands it to a sink, collapse merges it
 * and the Kafka codecs write it. Pointers are borrowed. */
typedef struct change_row {
    change_op_t op;
    const change_relation_t *rel;
    char old_kind;                   /* 0, 'K' (old key) or 'O' (old row) */
    const change_tuple_t *old_tuple; /* NULL when old_kind == 0 */
    const change_tuple_t *new_tuple; /* NULL for deletes and truncates */
    lsn_t lsn;                       /* the source transaction's commit LSN, for errors */
} change_row_t;

/* Deep copy; NULL on allocation failure. Caller frees with change_relation_free. */
change_relation_t *change_relation_dup(const change_relation_t *rel);

/* Frees rel and everything it owns. NULL is fine. */
void change_relation_free(change_relation_t *rel);

/* "(a, b)=(1, x)" from the identity columns of tuple t (values cut at 64
 * bytes), for error messages; "" when t is NULL. */
void change_key_text(const change_relation_t *rel, const change_tuple_t *t, char *buf, size_t size);

/* Index of the column named `name`, or -1. */
int change_relation_find_column(const change_relation_t *rel, const char *name);

/* The first column name rel has twice, NULL when each is once (no relation
 * has that: a message that says so was not written from one). O(ncols^2):
 * for a relation seen anew, not for each row. */
const char *change_relation_duplicate(const change_relation_t *rel);

#endif
