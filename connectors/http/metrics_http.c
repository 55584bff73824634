/*
 * metrics_http: the /metrics endpoint on libmicrohttpd's internal polling
 * thread. Each request renders the registry afresh; nothing is cached.
 */
#include "http/metrics_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct metrics_http {
    struct MHD_Daemon *daemon;
    metrics_t *m;
};

static enum MHD_Result metrics_http_reply(struct MHD_Connection *conn, unsigned int status,
                                          char *body, enum MHD_ResponseMemoryMode mode,
                                          const char *type)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), body, mode);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result metrics_http_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                           const char *method, const char *version,
                                           const char *upload_data, size_t *upload_data_size,
                                           void **req_cls)
{
    metrics_http_t *h = cls;
    (void)version, (void)upload_data, (void)upload_data_size, (void)req_cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return metrics_http_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
                                  MHD_RESPMEM_PERSISTENT, "text/plain");
    if (strcmp(url, "/metrics") != 0)
        return metrics_http_reply(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n",
                                  MHD_RESPMEM_PERSISTENT, "text/plain");
    char *body = metrics_render(h->m);
    if (body == NULL)
        return metrics_http_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n",
                                  MHD_RESPMEM_PERSISTENT, "text/plain");
    return metrics_http_reply(conn, MHD_HTTP_OK, body, MHD_RESPMEM_MUST_FREE,
                              "text/plain; version=0.0.4; charset=utf-8");
}

/* Parses addr into ss; 0 on success. */
static int metrics_http_parse(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[128] = "127.0.0.1";
    const char *port = addr, *colon = strrchr(addr, ':');
    memset(ss, 0, sizeof(*ss));
    if (colon != NULL) {
        size_t n = (size_t)(colon - addr);
        if (n >= sizeof(host))
            return -1;
        memcpy(host, addr, n);
        host[n] = '\0';
        port = colon + 1;
    }
    char *end = NULL;
    long p = strtol(port, &end, 10);
    if (end == port || *end != '\0' || p < 1 || p > 65535)
        return -1;
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        host[hl - 1] = '\0';
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)p);
        *len = sizeof(*s6);
        return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0 : -1;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)p);
    *len = sizeof(*s4);
    return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
}

metrics_http_t *metrics_http_start(const char *addr, metrics_t *m, err_t *err, char *errbuf,
                                   size_t errsize)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    if (metrics_http_parse(addr, &ss, &sslen) != 0) {
        snprintf(errbuf, errsize,
                 "--metrics %s: expected PORT, IPV4:PORT or [IPV6]:PORT (numeric address)", addr);
        *err = ERR_USAGE;
        return NULL;
    }
    metrics_http_t *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        *err = ERR_RUNTIME;
        return NULL;
    }
    h->m = m;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, metrics_http_handle, h, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned int)10, MHD_OPTION_END);
    if (h->daemon == NULL) {
        snprintf(errbuf, errsize, "--metrics %s: cannot listen (address in use or not local?)",
                 addr);
        *err = ERR_RUNTIME;
        free(h);
        return NULL;
    }
    *err = ERR_OK;
    return h;
}

void metrics_http_stop(metrics_http_t *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
