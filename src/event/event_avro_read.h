/*
 * event_avro_read: reads an Avro change envelope written with syncline's own
 * layout straight into an event, without avro-c values or a jansson tree:
 * the hot path of apply for the Avro formats. A writer schema of any other
 * shape, and any datum this reader does not take, goes through the generic
 * avro-c path (event_avro_decode), which also says what is wrong; the unit
 * tests and fuzz_event_avro check that both read every message the same.
 * Also converts typed Avro values to PostgreSQL text for both paths. Pure.
 */
#ifndef SYNCLINE_EVENT_AVRO_READ_H
#define SYNCLINE_EVENT_AVRO_READ_H

#include <avro.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event/event.h"
#include "event/event_schema.h"

/* How a writer schema is read directly (kept with the writer). */
typedef struct event_avro_plan {
    int ncols;                  /* fields of the Value record */
    event_schema_type_t *types; /* their types (owned); NULL: not our layout */
    int numbers;                /* of them neither string nor bytes */
    char *seen;                 /* a columns section found free of duplicate names (owned) */
    size_t seen_len;
} event_avro_plan_t;

/* Fills *plan when schema has the envelope layout event_schema_derive
 * makes (any columns); otherwise, or when out of memory, leaves it empty. */
void event_avro_plan_init(event_avro_plan_t *plan, avro_schema_t schema);

/* Frees what plan holds. */
void event_avro_plan_clear(event_avro_plan_t *plan);

/* Reads the datum [p, p+len) of a plan's writer into *ev (free with
 * event_clear). 1 when it did; 0 when it leaves the message to the generic
 * path (then *ev is empty). */
int event_avro_read(event_avro_plan_t *plan, const uint8_t *p, size_t len, event_t *ev);

/* Room for event_avro_read_float's text. */
#define EVENT_AVRO_READ_FLOATLEN 64

/* PostgreSQL's text of a float4 (single) or float8 value into out; its length. */
size_t event_avro_read_float(double d, bool single, char out[EVENT_AVRO_READ_FLOATLEN]);

/* bytea's hex text "\x.." of n bytes into out (2n + 3 bytes); its length. */
size_t event_avro_read_bytea(const uint8_t *p, size_t n, char *out);

#endif
