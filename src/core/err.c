/*
 * err: names and classes of the error codes in err.h; no I/O.
 */
#include "core/err.h"

const char *err_name(err_t err)
{
    switch (err) {
    case ERR_OK:
        return "ok";
    case ERR_RUNTIME:
        return "runtime";
    case ERR_USAGE:
        return "usage";
    case ERR_CONFIG:
        return "config";
    case ERR_CONNECT:
        return "connect";
    case ERR_SOURCE:
        return "source";
    case ERR_SCHEMA:
        return "schema";
    case ERR_LAG:
        return "lag";
    }
    return "unknown";
}

int err_retryable(err_t err)
{
    return err == ERR_CONNECT;
}
