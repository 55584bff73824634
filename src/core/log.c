/*
 * log: formats timestamped log lines to stderr; holds no state.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static const char *log_level_name(log_level_t level)
{
    switch (level) {
    case LOG_DEBUG:
        return "debug";
    case LOG_INFO:
        return "info";
    case LOG_WARN:
        return "warn";
    case LOG_ERROR:
        return "error";
    }
    return "?";
}

void log_write(log_level_t level, const char *fmt, ...)
{
    struct timespec ts;
    struct tm tm;
    char stamp[32];
    char line[4096];
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* one fprintf per line so concurrent writers do not interleave mid-line */
    fprintf(stderr, "%s.%03ldZ %s %s\n", stamp, ts.tv_nsec / 1000000, log_level_name(level), line);
}
