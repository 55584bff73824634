/*
 * schema_registry: a client of the Confluent Schema Registry REST API over
 * libcurl: register an Avro schema under a subject, fetch a schema by id.
 * Credentials come from the URL's userinfo (basic auth) and never appear in
 * a message; transient failures are retried with backoff.
 */
#ifndef SYNCLINE_SCHEMA_REGISTRY_H
#define SYNCLINE_SCHEMA_REGISTRY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct schema_registry schema_registry_t;

typedef struct schema_registry_opts {
    int attempts;                /* tries per request on transient failures (0: 6) */
    int backoff_ms;              /* first pause between tries, doubled each time (0: 250) */
    long timeout_ms;             /* per try (0: 30000) */
    volatile sig_atomic_t *stop; /* optional: stop retrying when set */
} schema_registry_opts_t;

/*
 * A client of the registry at url (http or https, optionally
 * https://user:password@host:port/base/path). No request is made yet.
 * NULL with ERR_CONFIG and errbuf (never quoting the password) when url is
 * not such a URL. Free with schema_registry_free.
 */
schema_registry_t *schema_registry_new(const char *url, const schema_registry_opts_t *opts,
                                       err_t *err, char *errbuf, size_t errsize);
void schema_registry_free(schema_registry_t *sr);

/* The registry's URL without userinfo, for logs. */
const char *schema_registry_url(const schema_registry_t *sr);

/* GET /config: the registry answers and accepts the credentials. */
err_t schema_registry_check(schema_registry_t *sr, char *errbuf, size_t errsize);

/*
 * POST /subjects/{subject}/versions: registers the Avro schema text (or
 * finds it registered) and returns its global id. Errors name the path,
 * subject, HTTP status and the registry's error_code and message;
 * ERR_CONNECT once retries of a transient failure are exhausted,
 * ERR_RUNTIME when the registry refuses (e.g. 409, incompatible).
 */
err_t schema_registry_register(schema_registry_t *sr, const char *subject, const char *schema,
                               int32_t *id, char *errbuf, size_t errsize);

/*
 * GET /schemas/ids/{id} (subject NULL) or /subjects/{subject}/versions/{version}:
 * the schema text (*schema malloc'd) and, when refs is not NULL and the schema
 * references others (Confluent's schema references, as Apicurio's converter
 * registers nested records), their list as JSON text ([{"name", "subject",
 * "version"}], *refs malloc'd; NULL when none). Caller frees both.
 */
err_t schema_registry_fetch(schema_registry_t *sr, int32_t id, const char *subject, int version,
                            char **schema, char **refs, char *errbuf, size_t errsize);

/* GET /schemas/ids/{id}: the schema text (*schema malloc'd, caller frees). */
err_t schema_registry_schema(schema_registry_t *sr, int32_t id, char **schema, char *errbuf,
                             size_t errsize);

#endif
