/*
 * metrics_http: serves a metrics_t over HTTP (libmicrohttpd, one internal
 * thread) at GET /metrics in the Prometheus text format. Binds to loopback
 * unless an address is given. Reads the registry; never changes it.
 */
#ifndef SYNCLINE_METRICS_HTTP_H
#define SYNCLINE_METRICS_HTTP_H

#include <stddef.h>

#include "core/err.h"
#include "core/metrics.h"

typedef struct metrics_http metrics_http_t;

/*
 * Starts serving m (borrowed: it must outlive the server) on addr: "PORT"
 * (127.0.0.1), "HOST:PORT" with a numeric IPv4 host, or "[V6]:PORT".
 * NULL on failure with *err (ERR_USAGE for a malformed address, ERR_RUNTIME
 * when it cannot bind) and errbuf naming the address. Stop with
 * metrics_http_stop.
 */
metrics_http_t *metrics_http_start(const char *addr, metrics_t *m, err_t *err, char *errbuf,
                                   size_t errsize);
void metrics_http_stop(metrics_http_t *h);

#endif
