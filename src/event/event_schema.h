/*
 * event_schema: the Avro writer schemas of the change envelope. Derives one
 * schema per relation version (PostgreSQL names mangled into Avro names,
 * PostgreSQL types mapped to Avro types) and computes the Parsing Canonical
 * Form and CRC-64-AVRO fingerprint of any schema text. Pure: jansson only.
 */
#ifndef SYNCLINE_EVENT_SCHEMA_H
#define SYNCLINE_EVENT_SCHEMA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Namespace prefix of every derived record: syncline.<schema>.<table>.Envelope. */
#define EVENT_SCHEMA_PREFIX "syncline"

/* Room for a mangled identifier: 63 bytes may grow to 63 '_', a prefix, a
 * hash and a clash suffix. */
#define EVENT_SCHEMA_NAMELEN 96

/* The Avro type of a column value (inside ["null", T]). */
typedef enum event_schema_type {
    EVENT_SCHEMA_STRING, /* PostgreSQL text form, exact */
    EVENT_SCHEMA_BOOLEAN,
    EVENT_SCHEMA_INT,
    EVENT_SCHEMA_LONG,
    EVENT_SCHEMA_FLOAT,
    EVENT_SCHEMA_DOUBLE,
    EVENT_SCHEMA_BYTES,
} event_schema_type_t;

/* One source column of a relation version. Borrowed. */
typedef struct event_schema_column {
    const char *name;
    uint32_t type_oid;
} event_schema_column_t;

/* The Avro type a PostgreSQL type OID travels as (string for all but bool,
 * int2, int4, int8, float4, float8 and bytea). */
event_schema_type_t event_schema_type_of(uint32_t type_oid);

/* Avro's name of the type ("int", "bytes", ...). */
const char *event_schema_type_name(event_schema_type_t type);

/*
 * The Avro name of a PostgreSQL identifier: name itself when it matches
 * [A-Za-z_][A-Za-z0-9_]*; otherwise every other character (a UTF-8
 * sequence counts as one) becomes '_', a leading digit gets a '_' before
 * it, and '_' plus 8 hex digits of the name's FNV-1a hash are appended.
 * out holds at least EVENT_SCHEMA_NAMELEN bytes.
 */
void event_schema_mangle(const char *name, char *out, size_t size);

/*
 * The writer schema (new reference) of the envelope of relation nsp.rel
 * with the given columns, in source order: record
 * syncline.<nsp>.<rel>.Envelope whose before/after are ["null", Value] and
 * whose Value record has one field ["null", T] (default null) per column.
 * Field names clashing within Value get '_' and the name's hash (then
 * '_<column index>') appended. NULL on allocation failure.
 */
json_t *event_schema_derive(const char *nsp, const char *rel, const event_schema_column_t *cols,
                            int ncols);

/* The Parsing Canonical Form of a schema text (malloc'd), or NULL with errbuf. */
char *event_schema_canonical(const char *text, size_t len, char *errbuf, size_t errsize);

/* CRC-64-AVRO (Rabin) fingerprint of a text (a canonical form). */
uint64_t event_schema_fingerprint(const char *canonical);

/* A number column's value as its Avro type takes it. */
typedef struct event_schema_number {
    int64_t l; /* int, long */
    float f;
    double d;
} event_schema_number_t;

/* Parses a number's text (NUL-terminated) for Avro type int, long, float
 * or double: strto* must take all of it and an int must fit 32 bits.
 * 0, or -1. */
int event_schema_parse_number(event_schema_type_t type, const char *s, event_schema_number_t *out);

/* The Avro writer schema of DDL events (record syncline.Ddl), as published. */
extern const char event_schema_ddl[];

#endif
