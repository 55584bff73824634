/*
 * event_json_env: finds where the two values of a Kafka Connect
 * JsonConverter envelope, {"schema": {...}, "payload": {...}}, lie in the
 * message text, without building a tree. A decoder can then parse each
 * distinct schema text once (event_codec keeps them) and only the payload of
 * each message: the schema is most of a Debezium message and repeats in
 * every message of a table. Pure: no allocation, no I/O.
 */
#ifndef SYNCLINE_EVENT_JSON_ENV_H
#define SYNCLINE_EVENT_JSON_ENV_H

#include <stddef.h>

/* A piece of the message text (borrowed). */
typedef struct event_json_span {
    const char *p;
    size_t len;
} event_json_span_t;

/* 1 when buf holds one object whose only members are "schema" and "payload"
 * (in either order, once each, the keys written without escapes), both
 * objects, with JSON whitespace around the tokens: *schema and *payload then
 * span the two values, braces included. 0 for any other text (the caller
 * parses the whole of it then). Only the envelope's structure is checked:
 * whether each value is valid JSON is for the parser of its span to say, and
 * when both are, so is buf. */
int event_json_env_find(const char *buf, size_t len, event_json_span_t *schema,
                        event_json_span_t *payload);

#endif
