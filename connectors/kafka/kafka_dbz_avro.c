/*
 * kafka_dbz_avro: Avro messages of the debezium layout to the JsonConverter
 * document, with the writer schemas fetched from the registry by the id in
 * each message's header and kept by id (a registry's ids never change their
 * schema) as a reader (event_dbz_avro_reader), so each schema is fetched and
 * turned into its Connect schema once per run; schemas it references (as
 * Apicurio's converter registers nested records) are fetched with it.
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

/* Bounds on the schemas one writer schema may reference, nested references included. */
#define KAFKA_DBZ_AVRO_REFS 256
#define KAFKA_DBZ_AVRO_REF_DEPTH 16

/* Appends to out the schemas that refs (the JSON text of a registry answer's
 * "references": [{"name", "subject", "version"}]) names, each after those it
 * references itself. */
static err_t kafka_dbz_avro_refs(kafka_dbz_avro_t *ka, int32_t id, const char *refs, json_t *out,
                                 int depth, bool *poison, char *errbuf, size_t errsize)
{
    json_error_t jerr;
    json_t *list = json_loads(refs, 0, &jerr), *ref;
    size_t i;
    err_t err = ERR_OK;
    if (!json_is_array(list) || depth > KAFKA_DBZ_AVRO_REF_DEPTH) {
        *poison = true;
        snprintf(errbuf, errsize, "schema id %d from the registry: %s", (int)id,
                 depth > KAFKA_DBZ_AVRO_REF_DEPTH ? "references nested too deep"
                                                  : "its references are not a list");
        err = ERR_RUNTIME;
    }
    json_array_foreach(list, i, ref)
    {
        const char *subject = json_string_value(json_object_get(ref, "subject"));
        const json_t *version = json_object_get(ref, "version");
        char *text = NULL, *more = NULL;
        if (subject == NULL || !json_is_integer(version) ||
            json_array_size(out) >= KAFKA_DBZ_AVRO_REFS) {
            *poison = true;
            snprintf(errbuf, errsize, "schema id %d from the registry: %s", (int)id,
                     json_array_size(out) >= KAFKA_DBZ_AVRO_REFS
                         ? "too many schema references"
                         : "a schema reference without subject and version");
            err = ERR_RUNTIME;
            break;
        }
        err = schema_registry_fetch(ka->sr, 0, subject, (int)json_integer_value(version), &text,
                                    &more, errbuf, errsize);
        if (err == ERR_OK && more != NULL)
            err = kafka_dbz_avro_refs(ka, id, more, out, depth + 1, poison, errbuf, errsize);
        json_t *j = err == ERR_OK ? json_loads(text, JSON_DECODE_ANY, &jerr) : NULL;
        if (err == ERR_OK && j == NULL) {
            *poison = true;
            snprintf(errbuf, errsize,
                     "schema id %d from the registry: its reference %s version %d is not JSON: %s",
                     (int)id, subject, (int)json_integer_value(version), jerr.text);
            err = ERR_RUNTIME;
        }
        free(text);
        free(more);
        if (err != ERR_OK)
            break;
        json_array_append_new(out, j);
    }
    json_decref(list);
    return err;
}

/* The writer schema of id, fetched on first use. */
static err_t kafka_dbz_avro_schema(kafka_dbz_avro_t *ka, int32_t id, event_dbz_avro_reader_t **rd,
                                   bool *poison, char *errbuf, size_t errsize)
{
    char *text = NULL, *refs = NULL;
    json_error_t jerr;
    for (int i = 0; i < ka->n; i++)
        if (ka->schemas[i].id == id) {
            *rd = ka->schemas[i].rd;
            return ERR_OK;
        }
    err_t err = schema_registry_fetch(ka->sr, id, NULL, 0, &text, &refs, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr), *deps = json_array();
    free(text);
    if (j == NULL) {
        *poison = true;
        snprintf(errbuf, errsize, "schema id %d from the registry is not JSON: %s", (int)id,
                 jerr.text);
        err = ERR_RUNTIME;
    } else if (deps == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        err = ERR_RUNTIME;
    } else if (refs != NULL) {
        err = kafka_dbz_avro_refs(ka, id, refs, deps, 0, poison, errbuf, errsize);
    }
    free(refs);
    if (err != ERR_OK) {
        json_decref(j);
        json_decref(deps);
        return err;
    }
    char why[400];
    size_t nrefs = json_array_size(deps);
    *rd = event_dbz_avro_reader_new_refs(j, deps, why, sizeof(why));
    json_decref(j);
    json_decref(deps);
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
    log_info("schema fetched registry=%s id=%d references=%zu", schema_registry_url(ka->sr),
             (int)id, nrefs);
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
