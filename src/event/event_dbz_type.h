/*
 * event_dbz_type: Debezium's PostgreSQL type mapping under its defaults
 * (decimal.handling.mode=precise, time.precision.mode=adaptive,
 * binary.handling.mode=bytes, interval.handling.mode=numeric): the Kafka
 * Connect schema of a column and its value from pgoutput's text form. Pure.
 */
#ifndef SYNCLINE_EVENT_DBZ_TYPE_H
#define SYNCLINE_EVENT_DBZ_TYPE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/change.h"

/* How a column travels: a Connect type plus Debezium's semantic name. */
typedef enum event_dbz_kind {
    EVENT_DBZ_STRING, /* text, varchar, and every type without a mapping of its own */
    EVENT_DBZ_BOOL,
    EVENT_DBZ_INT16,
    EVENT_DBZ_INT32,
    EVENT_DBZ_INT64,
    EVENT_DBZ_FLOAT32,
    EVENT_DBZ_FLOAT64,
    EVENT_DBZ_DECIMAL,    /* numeric(p,s), money: Connect Decimal (bytes + scale) */
    EVENT_DBZ_VARDECIMAL, /* numeric: io.debezium.data.VariableScaleDecimal */
    EVENT_DBZ_BYTES,      /* bytea */
    EVENT_DBZ_DATE,       /* io.debezium.time.Date: days since 1970-01-01 */
    EVENT_DBZ_TIME_MS,    /* time(0-3): io.debezium.time.Time */
    EVENT_DBZ_TIME_US,    /* time(4-6): io.debezium.time.MicroTime */
    EVENT_DBZ_TS_MS,      /* timestamp(0-3): io.debezium.time.Timestamp */
    EVENT_DBZ_TS_US,      /* timestamp(4-6): io.debezium.time.MicroTimestamp */
    EVENT_DBZ_ZONED_TS,   /* timestamptz: io.debezium.time.ZonedTimestamp (UTC text) */
    EVENT_DBZ_ZONED_TIME, /* timetz: io.debezium.time.ZonedTime (UTC text) */
    EVENT_DBZ_INTERVAL,   /* io.debezium.time.MicroDuration */
    EVENT_DBZ_UUID,       /* io.debezium.data.Uuid */
    EVENT_DBZ_JSON,       /* json, jsonb: io.debezium.data.Json */
    EVENT_DBZ_XML,        /* io.debezium.data.Xml */
} event_dbz_kind_t;

/* Debezium's placeholder of an unchanged TOAST value (event.h's EVENT_UNAVAILABLE). */
#define EVENT_DBZ_UNAVAILABLE "__debezium_unavailable_value"

/* Debezium's average month for MicroDuration (365.25 / 12 days). */
#define EVENT_DBZ_DAYS_PER_MONTH 30.4375

/* The kind of a column of type oid and modifier typmod. */
event_dbz_kind_t event_dbz_type_kind(uint32_t oid, int32_t typmod);

/* The Connect schema of column col (a new reference; NULL when out of memory). */
json_t *event_dbz_type_schema(const change_column_t *col, bool optional);

/* The Connect value of col's text value text[0..len) (a new reference), or
 * NULL with errbuf saying why (names the column). */
json_t *event_dbz_type_value(const change_column_t *col, const char *text, size_t len, char *errbuf,
                             size_t errsize);

/* The placeholder of an unchanged TOAST value in col's kind (Debezium's
 * __debezium_unavailable_value, as bytes for the bytes kinds). */
json_t *event_dbz_type_unavailable(const change_column_t *col);

/* The proleptic Gregorian date of days since 1970-01-01. */
void event_dbz_civil(int64_t days, int64_t *y, int *m, int *d);

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t event_dbz_days(int64_t y, int m, int d);

#endif
