/*
 * kafka_dbz_avro: what apply reads of the debezium layout in Avro: a message
 * in the Confluent wire format, its writer schema fetched from the registry
 * by id (and kept), turned into the JsonConverter's document so that the
 * JSON path decodes it.
 */
#ifndef SYNCLINE_KAFKA_DBZ_AVRO_H
#define SYNCLINE_KAFKA_DBZ_AVRO_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

typedef struct kafka_dbz_avro kafka_dbz_avro_t;

/* A reader with the registry at url. NULL with *err and errbuf. Free with
 * kafka_dbz_avro_free. */
kafka_dbz_avro_t *kafka_dbz_avro_new(const char *url, volatile sig_atomic_t *stop, err_t *err,
                                     char *errbuf, size_t errsize);
void kafka_dbz_avro_free(kafka_dbz_avro_t *ka);

/*
 * The JsonConverter document ({"schema":..., "payload":...}) of the Avro
 * message buf[0..len) into *out (malloc'd; its length in *outlen). ERR_OK;
 * the registry's error (ERR_CONNECT when it does not answer); or
 * ERR_RUNTIME with *poison set when the message cannot be read (errbuf
 * says why).
 */
err_t kafka_dbz_avro_json(kafka_dbz_avro_t *ka, const void *buf, size_t len, char **out,
                          size_t *outlen, bool *poison, char *errbuf, size_t errsize);

#endif
