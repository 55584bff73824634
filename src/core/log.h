/*
 * log: one line per event on stderr, "ts level msg key=value...". Stateless:
 * callers decide verbosity. Never pass secrets (conninfo strings) to it.
 */
#ifndef SYNCLINE_LOG_H
#define SYNCLINE_LOG_H

typedef enum log_level {
    LOG_DEBUG,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR,
} log_level_t;

/* printf-style; the message should read "event key=value key=value". */
void log_write(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
