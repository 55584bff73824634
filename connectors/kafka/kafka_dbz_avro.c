/*
 * kafka_dbz_avro: Avro messages of the debezium layout to the JsonConverter
 * document, with the writer schemas fetched from the registry by the id in
 * each message's header and kept by id (a registry's ids never change their
 * schema) as a reader (event_dbz_avro_reader), so each schema is fetched and
 * turned into its Connect schema once per run.
 */
#include "kafka/kafka_dbz_avro.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "event/event_dbz_avro.h"
#include "kafka/schema_registry.h"

typedef struct kafka_dbz_avro_schema {
    int32_t id;
    event_dbz_avro_reader_t *rd;
} kafka_dbz_avro_schema_t;

struct kafka_dbz_avro {
    schema_registry_t *sr;
    kafka_dbz_avro_schema_t *schemas;
    int n, cap;
};

kafka_dbz_avro_t *kafka_dbz_avro_new(const char *url, volatile sig_atomic_t *stop, err_t *err,
                                     char *errbuf, size_t errsize)
{
    kafka_dbz_avro_t *ka = calloc(1, sizeof(*ka));
    schema_registry_opts_t o = {.stop = stop};
    *err = ERR_RUNTIME;
    if (ka == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    ka->sr = schema_registry_new(url, &o, err, errbuf, errsize);
    if (ka->sr == NULL) {
        free(ka);
        return NULL;
    }
    log_info("schema registry registry=%s", schema_registry_url(ka->sr));
    return ka;
}

void kafka_dbz_avro_free(kafka_dbz_avro_t *ka)
{
    if (ka == NULL)
        return;
    for (int i = 0; i < ka->n; i++)
        event_dbz_avro_reader_free(ka->schemas[i].rd);
    free(ka->schemas);
    schema_registry_free(ka->sr);
    free(ka);
}

/* The writer schema of id, fetched on first use. */
static err_t kafka_dbz_avro_schema(kafka_dbz_avro_t *ka, int32_t id, event_dbz_avro_reader_t **rd,
                                   bool *poison, char *errbuf, size_t errsize)
{
    char *text = NULL;
    json_error_t jerr;
    for (int i = 0; i < ka->n; i++)
        if (ka->schemas[i].id == id) {
            *rd = ka->schemas[i].rd;
            return ERR_OK;
        }
    err_t err = schema_registry_schema(ka->sr, id, &text, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    free(text);
    if (j == NULL) {
        *poison = true;
        snprintf(errbuf, errsize, "schema id %d from the registry is not JSON: %s", (int)id,
                 jerr.text);
        return ERR_RUNTIME;
    }
    char why[400];
    *rd = event_dbz_avro_reader_new(j, why, sizeof(why));
    json_decref(j);
    if (*rd == NULL) {
        *poison = true;
        snprintf(errbuf, errsize, "schema id %d from the registry: %s", (int)id, why);
        return ERR_RUNTIME;
    }
    if (ka->n == ka->cap) {
        int cap = ka->cap ? 2 * ka->cap : 16;
        kafka_dbz_avro_schema_t *ns = realloc(ka->schemas, (size_t)cap * sizeof(*ns));
        if (ns == NULL) {
            event_dbz_avro_reader_free(*rd);
            snprintf(errbuf, errsize, "out of memory");
            return ERR_RUNTIME;
        }
        ka->schemas = ns;
        ka->cap = cap;
    }
    ka->schemas[ka->n++] = (kafka_dbz_avro_schema_t){.id = id, .rd = *rd};
    log_info("schema fetched registry=%s id=%d", schema_registry_url(ka->sr), (int)id);
    return ERR_OK;
}

err_t kafka_dbz_avro_json(kafka_dbz_avro_t *ka, const void *buf, size_t len, char **out,
                          size_t *outlen, bool *poison, char *errbuf, size_t errsize)
{
    event_dbz_avro_reader_t *rd = NULL;
    int32_t id = event_dbz_avro_id(buf, len);
    *out = NULL;
    *poison = false;
    if (id < 0) {
        *poison = true;
        snprintf(errbuf, errsize,
                 "not Avro in the Confluent wire format (magic byte 0 and a schema id); is the "
                 "producer writing JSON? (kafka.format)");
        return ERR_RUNTIME;
    }
    err_t err = kafka_dbz_avro_schema(ka, id, &rd, poison, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    *out = event_dbz_avro_reader_read(rd, buf, len, outlen, errbuf, errsize);
    if (*out != NULL)
        return ERR_OK;
    *poison = true;
    size_t n = strlen(errbuf);
    snprintf(errbuf + n, errsize - n, " (schema id %d)", (int)id);
    return ERR_RUNTIME;
}
