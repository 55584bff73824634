/*
 * err: the error codes every fallible function returns. They double as the
 * process exit codes documented in docs/operations.md ("Exit codes"); only
 * main turns them into exits.
 */
#ifndef SYNCLINE_ERR_H
#define SYNCLINE_ERR_H

typedef enum err {
    ERR_OK = 0,
    ERR_RUNTIME = 1, /* anything else at run time (apply failure, protocol error) */
    ERR_USAGE = 2,   /* bad command line */
    ERR_CONFIG = 3,  /* configuration file malformed or invalid */
    ERR_CONNECT = 4, /* cannot connect or authenticate; retryable */
    ERR_SOURCE = 5,  /* source precondition: wal_level, slot in use, slot lost */
    ERR_SCHEMA = 6,  /* target schema does not match what the source sends */
    ERR_LAG = 7,     /* a threshold given on the command line is exceeded */
} err_t;

/* Short stable name for logs ("connect", "schema", ...). */
const char *err_name(err_t err);

/* True for failures worth retrying with backoff (lost connections). */
int err_retryable(err_t err);

#endif
