/*
 * event_dbz_read: Debezium's value encodings back to PostgreSQL text, by the
 * Kafka Connect schema of each field (the JsonConverter document's "schema"
 * half): decimals, io.debezium.time.*, bytes. The inverse of event_dbz_type
 * for what apply reads. Pure: no I/O.
 */
#ifndef SYNCLINE_EVENT_DBZ_READ_H
#define SYNCLINE_EVENT_DBZ_READ_H

#include <jansson.h>
#include <stddef.h>

/* What event_dbz_read_text made of a value. */
typedef enum event_dbz_read_result {
    EVENT_DBZ_READ_AS_IS,       /* no encoding to undo: read the JSON value as before */
    EVENT_DBZ_READ_TEXT,        /* *out holds the PostgreSQL text (malloc'd) */
    EVENT_DBZ_READ_UNAVAILABLE, /* Debezium's placeholder of an unchanged TOAST value */
    EVENT_DBZ_READ_ERROR,       /* errbuf says why */
} event_dbz_read_result_t;

/* The PostgreSQL text of non-null value v of a field whose Connect schema is
 * fs (NULL: no schema). */
event_dbz_read_result_t event_dbz_read_text(const json_t *fs, const json_t *v, char **out,
                                            char *errbuf, size_t errsize);

/* The field schemas of a struct schema by field name (a new object: name ->
 * schema, borrowed from s); NULL when s is not a struct schema. */
json_t *event_dbz_read_fields(const json_t *s);

#endif
