/*
 * kafka_schemas: the compacted topic <topic>.schemas of single-object Avro,
 * where capture publishes every writer schema (key: its CRC-64-AVRO
 * fingerprint in 16 hex digits, value: the schema's JSON) before the first
 * message that uses it. Reads the topic into apply's codec, incrementally.
 */
#ifndef SYNCLINE_KAFKA_SCHEMAS_H
#define SYNCLINE_KAFKA_SCHEMAS_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "event/event.h"
#include "event/event_codec.h"

typedef struct kafka_schemas kafka_schemas_t;

/* The schema topic's name for a change topic, into out. */
void kafka_schemas_topic(const char *topic, char *out, size_t size);

/* A reader of the schema topic of cfg->kafka.topic (its own consumer, no
 * group membership, nothing committed). NULL with errbuf. Free with
 * kafka_schemas_free. */
kafka_schemas_t *kafka_schemas_new(const config_t *cfg, err_t *err, char *errbuf, size_t errsize);
void kafka_schemas_free(kafka_schemas_t *ksc);

/*
 * Reads what the topic gained since the last call (the first call: all of
 * it), up to its end as of this call, and adds every schema to codec (a
 * record whose key is not a fingerprint, or whose value is not a schema with
 * that fingerprint, is logged and skipped). A topic that does not exist yet
 * holds nothing. ERR_CONNECT when the broker does not answer in time.
 */
err_t kafka_schemas_refresh(kafka_schemas_t *ksc, event_codec_t *codec, char *errbuf,
                            size_t errsize);

#endif
