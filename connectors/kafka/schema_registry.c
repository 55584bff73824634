/*
 * schema_registry: the Schema Registry REST client (libcurl easy interface,
 * one handle reused so the connection stays open).
 *
 * Design. The URL is split with curl's URL parser: userinfo goes to
 * CURLOPT_USERNAME/PASSWORD (basic auth) and the URL used for requests and
 * messages has none, so curl's own error texts cannot contain the password
 * either. Redirects are not followed (they could carry the credentials
 * elsewhere). A try fails transiently on a transport error or HTTP 408,
 * 429, 500, 502, 503, 504; those are retried with doubling pauses, then
 * reported as ERR_CONNECT so that the command's session retry takes over.
 * Any other non-2xx answer is the registry refusing: ERR_RUNTIME.
 */
#include "kafka/schema_registry.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/sbuf.h"

#define SCHEMA_REGISTRY_MAX_BODY (64 * 1024 * 1024)
#define SCHEMA_REGISTRY_CONTENT_TYPE "application/vnd.schemaregistry.v1+json"

struct schema_registry {
    CURL *curl;
    struct curl_slist *headers;
    char *base; /* scheme://host[:port][/path], no userinfo, no trailing '/' */
    char *user, *password;
    schema_registry_opts_t opts;
};

/* One answer: HTTP status (0: none) and body. */
typedef struct schema_registry_reply {
    long status;
    sbuf_t body;
    bool too_big;
} schema_registry_reply_t;

/* ---- setup ---------------------------------------------------------------- */

static char *schema_registry_part(CURLU *u, CURLUPart part)
{
    char *v = NULL, *copy = NULL;
    if (curl_url_get(u, part, &v, CURLU_URLDECODE) == CURLUE_OK && v != NULL)
        copy = strdup(v);
    curl_free(v);
    return copy;
}

/* Splits url into base and credentials; 0, or -1 with errbuf. */
static int schema_registry_parse(schema_registry_t *sr, const char *url, char *errbuf,
                                 size_t errsize)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *query = NULL, *base = NULL;
    int rc = -1;
    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        snprintf(errbuf, errsize, "kafka.schema_registry: not a URL");
    } else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
               (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(errbuf, errsize, "kafka.schema_registry: the URL must be http:// or https://");
    } else if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
        snprintf(errbuf, errsize, "kafka.schema_registry: the URL must not have a ?query");
    } else {
        sr->user = schema_registry_part(u, CURLUPART_USER);
        sr->password = schema_registry_part(u, CURLUPART_PASSWORD);
        curl_url_set(u, CURLUPART_USER, NULL, 0);
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
        if (curl_url_get(u, CURLUPART_URL, &base, 0) == CURLUE_OK &&
            (sr->base = strdup(base)) != NULL) {
            size_t n = strlen(sr->base);
            while (n > 0 && sr->base[n - 1] == '/')
                sr->base[--n] = '\0';
            rc = 0;
        } else {
            snprintf(errbuf, errsize, "out of memory");
        }
    }
    curl_free(scheme);
    curl_free(query);
    curl_free(base);
    curl_url_cleanup(u);
    return rc;
}

static size_t schema_registry_write(char *data, size_t size, size_t n, void *ctx)
{
    schema_registry_reply_t *r = ctx;
    size_t len = size * n;
    if (r->body.len + len > SCHEMA_REGISTRY_MAX_BODY) {
        r->too_big = true;
        return 0;
    }
    char *chunk = malloc(len + 1);
    if (chunk == NULL)
        return 0;
    memcpy(chunk, data, len);
    chunk[len] = '\0';
    sbuf_add(&r->body, chunk); /* a NUL inside a JSON answer ends it: the parse fails */
    free(chunk);
    return len;
}

schema_registry_t *schema_registry_new(const char *url, const schema_registry_opts_t *opts,
                                       err_t *err, char *errbuf, size_t errsize)
{
    schema_registry_t *sr = calloc(1, sizeof(*sr));
    *err = ERR_RUNTIME;
    if (sr == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(errbuf, errsize, "out of memory");
        free(sr);
        return NULL;
    }
    sr->opts = *opts;
    if (sr->opts.attempts <= 0)
        sr->opts.attempts = 6;
    if (sr->opts.backoff_ms <= 0)
        sr->opts.backoff_ms = 250;
    if (sr->opts.timeout_ms <= 0)
        sr->opts.timeout_ms = 30000;
    if (schema_registry_parse(sr, url, errbuf, errsize) != 0) {
        *err = strstr(errbuf, "memory") ? ERR_RUNTIME : ERR_CONFIG;
        schema_registry_free(sr);
        return NULL;
    }
    sr->curl = curl_easy_init();
    sr->headers = curl_slist_append(NULL, "Content-Type: " SCHEMA_REGISTRY_CONTENT_TYPE);
    if (sr->headers != NULL)
        sr->headers = curl_slist_append(sr->headers,
                                        "Accept: " SCHEMA_REGISTRY_CONTENT_TYPE
                                        ", application/vnd.schemaregistry+json, application/json");
    if (sr->curl == NULL || sr->headers == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        schema_registry_free(sr);
        return NULL;
    }
    *err = ERR_OK;
    return sr;
}

static void schema_registry_wipe(char *s)
{
    if (s == NULL)
        return;
    volatile char *p = s;
    while (*p)
        *p++ = '\0';
    free(s);
}

void schema_registry_free(schema_registry_t *sr)
{
    if (sr == NULL)
        return;
    if (sr->curl != NULL)
        curl_easy_cleanup(sr->curl);
    curl_slist_free_all(sr->headers);
    schema_registry_wipe(sr->password);
    schema_registry_wipe(sr->user);
    free(sr->base);
    free(sr);
    curl_global_cleanup();
}

const char *schema_registry_url(const schema_registry_t *sr)
{
    return sr->base;
}

/* ---- requests -------------------------------------------------------------- */

static bool schema_registry_transient(CURLcode cc, long status)
{
    if (cc != CURLE_OK)
        return cc != CURLE_URL_MALFORMAT && cc != CURLE_UNSUPPORTED_PROTOCOL &&
               cc != CURLE_OUT_OF_MEMORY && cc != CURLE_WRITE_ERROR &&
               cc != CURLE_PEER_FAILED_VERIFICATION && cc != CURLE_SSL_CACERT_BADFILE;
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504;
}

/* One try of method path; the reply's status and body in *r. */
static CURLcode schema_registry_try(schema_registry_t *sr, const char *path, const char *body,
                                    schema_registry_reply_t *r, char *curlerr)
{
    char *url = malloc(strlen(sr->base) + strlen(path) + 1);
    if (url == NULL)
        return CURLE_OUT_OF_MEMORY;
    sprintf(url, "%s%s", sr->base, path);
    CURL *c = sr->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, sr->opts.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     sr->opts.timeout_ms < 10000 ? sr->opts.timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sr->headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, schema_registry_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curlerr);
    if (sr->user != NULL) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, sr->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, sr->password ? sr->password : "");
    }
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curlerr[0] = '\0';
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    free(url);
    return cc;
}

/* The registry's {"error_code": N, "message": "..."}, or the body's start. */
static void schema_registry_reason(const schema_registry_reply_t *r, char *out, size_t size)
{
    json_t *j = r->body.s ? json_loads(r->body.s, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(j, "message"));
    json_t *code = json_object_get(j, "error_code");
    if (msg != NULL)
        snprintf(out, size, "error_code=%lld message=%s", (long long)json_integer_value(code), msg);
    else
        snprintf(out, size, "body=%.200s", r->body.s ? r->body.s : "");
    json_decref(j);
}

static void schema_registry_sleep(const schema_registry_t *sr, int ms)
{
    for (int slept = 0; slept < ms && !(sr->opts.stop && *sr->opts.stop); slept += 50) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Describes a failed try into why. */
static void schema_registry_why(CURLcode cc, const char *curlerr, const schema_registry_reply_t *r,
                                char *why, size_t size)
{
    char reason[600];
    if (cc != CURLE_OK) {
        snprintf(why, size, "%s", curlerr[0] ? curlerr : curl_easy_strerror(cc));
        return;
    }
    schema_registry_reason(r, reason, sizeof(reason));
    snprintf(why, size, "HTTP %ld %s", r->status, reason);
}

/*
 * method (GET without body, POST with one) path, retried while transient;
 * on a 2xx answer its JSON in *out (new reference). what names the request
 * in errors ("subject x", "schema id 3").
 */
static err_t schema_registry_call(schema_registry_t *sr, const char *path, const char *body,
                                  const char *what, json_t **out, char *errbuf, size_t errsize)
{
    char curlerr[CURL_ERROR_SIZE], why[800];
    const char *method = body != NULL ? "POST" : "GET";
    int pause = sr->opts.backoff_ms;
    for (int attempt = 1;; attempt++) {
        schema_registry_reply_t r = {0};
        CURLcode cc = schema_registry_try(sr, path, body, &r, curlerr);
        if (cc == CURLE_OK && r.status >= 200 && r.status < 300) {
            json_error_t jerr;
            *out = r.body.s ? json_loads(r.body.s, 0, &jerr) : NULL;
            sbuf_clear(&r.body);
            if (*out != NULL)
                return ERR_OK;
            snprintf(errbuf, errsize, "schema registry %s %s%s (%s): HTTP %ld answer is not JSON",
                     method, sr->base, path, what, r.status);
            return ERR_RUNTIME;
        }
        schema_registry_why(cc, curlerr, &r, why, sizeof(why));
        bool transient = !r.too_big && schema_registry_transient(cc, r.status);
        sbuf_clear(&r.body);
        if (!transient || attempt >= sr->opts.attempts || (sr->opts.stop && *sr->opts.stop)) {
            snprintf(errbuf, errsize, "schema registry %s %s%s (%s): %s%s", method, sr->base, path,
                     what, why, transient ? " (gave up retrying)" : "");
            return transient ? ERR_CONNECT : ERR_RUNTIME;
        }
        log_warn("schema registry retrying method=%s path=%s attempt=%d/%d in_ms=%d reason=%s",
                 method, path, attempt, sr->opts.attempts, pause, why);
        schema_registry_sleep(sr, pause);
        pause = pause < 8000 ? pause * 2 : pause;
    }
}

err_t schema_registry_check(schema_registry_t *sr, char *errbuf, size_t errsize)
{
    json_t *j = NULL;
    err_t err =
        schema_registry_call(sr, "/config", NULL, "reachability check", &j, errbuf, errsize);
    json_decref(j);
    return err;
}

err_t schema_registry_register(schema_registry_t *sr, const char *subject, const char *schema,
                               int32_t *id, char *errbuf, size_t errsize)
{
    char *esc = curl_easy_escape(sr->curl, subject, 0);
    json_t *req = json_pack("{s:s}", "schema", schema), *res = NULL;
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    sbuf_t path = {0}, what = {0};
    sbuf_addf(&path, "/subjects/%s/versions", esc ? esc : "");
    sbuf_addf(&what, "subject %s", subject);
    err_t err = ERR_RUNTIME;
    if (esc == NULL || body == NULL || path.oom || what.oom) {
        snprintf(errbuf, errsize, "out of memory");
    } else {
        err = schema_registry_call(sr, path.s, body, what.s, &res, errbuf, errsize);
        json_t *jid = json_object_get(res, "id");
        if (err == ERR_OK && (!json_is_integer(jid) || json_integer_value(jid) < 0 ||
                              json_integer_value(jid) > INT32_MAX)) {
            snprintf(errbuf, errsize, "schema registry POST %s%s (%s): no id in the answer",
                     sr->base, path.s, what.s);
            err = ERR_RUNTIME;
        } else if (err == ERR_OK) {
            *id = (int32_t)json_integer_value(jid);
        }
    }
    curl_free(esc);
    free(body);
    json_decref(req);
    json_decref(res);
    sbuf_clear(&path);
    sbuf_clear(&what);
    return err;
}

err_t schema_registry_fetch(schema_registry_t *sr, int32_t id, const char *subject, int version,
                            char **schema, char **refs, char *errbuf, size_t errsize)
{
    char *esc = subject != NULL ? curl_easy_escape(sr->curl, subject, 0) : NULL;
    sbuf_t path = {0}, what = {0};
    json_t *res = NULL;
    *schema = NULL;
    if (refs != NULL)
        *refs = NULL;
    if (subject != NULL) {
        sbuf_addf(&path, "/subjects/%s/versions/%d", esc ? esc : "", version);
        sbuf_addf(&what, "subject %s version %d", subject, version);
    } else {
        sbuf_addf(&path, "/schemas/ids/%d", (int)id);
        sbuf_addf(&what, "schema id %d", (int)id);
    }
    err_t err = ERR_RUNTIME;
    if ((subject != NULL && esc == NULL) || path.oom || what.oom)
        snprintf(errbuf, errsize, "out of memory");
    else
        err = schema_registry_call(sr, path.s, NULL, what.s, &res, errbuf, errsize);
    const char *text = json_string_value(json_object_get(res, "schema"));
    const char *type = json_string_value(json_object_get(res, "schemaType"));
    const json_t *jrefs = json_object_get(res, "references");
    if (err == ERR_OK && (text == NULL || (type != NULL && strcmp(type, "AVRO") != 0))) {
        snprintf(errbuf, errsize, "schema registry GET %s%s (%s): %s", sr->base, path.s, what.s,
                 text == NULL ? "no schema in the answer" : "not an Avro schema");
        err = ERR_RUNTIME;
    }
    if (err == ERR_OK &&
        ((*schema = strdup(text)) == NULL || (refs != NULL && json_array_size(jrefs) > 0 &&
                                              (*refs = json_dumps(jrefs, JSON_COMPACT)) == NULL))) {
        free(*schema);
        *schema = NULL;
        snprintf(errbuf, errsize, "out of memory");
        err = ERR_RUNTIME;
    }
    curl_free(esc);
    json_decref(res);
    sbuf_clear(&path);
    sbuf_clear(&what);
    return err;
}

err_t schema_registry_schema(schema_registry_t *sr, int32_t id, char **schema, char *errbuf,
                             size_t errsize)
{
    return schema_registry_fetch(sr, id, NULL, 0, schema, NULL, errbuf, errsize);
}
