/*
 * lsn: parses, formats and subtracts WAL positions and converts PostgreSQL
 * timestamps. Pure arithmetic and string work; no I/O and no allocation.
 */
#include "core/lsn.h"

#include <stdio.h>
#include <time.h>

#include "core/hex.h"

/* Each half of "X/X" is a uint32, so at most 8 hex digits (as pg_lsn_in). */
#define LSN_HALF_MAX_DIGITS 8

/* Parses 1..8 hex digits at *s into *half; advances *s past them. */
static bool parse_half(const char **s, uint32_t *half)
{
    uint32_t v = 0;
    int n = 0;

    for (int d; (d = hex_digit(**s)) >= 0; (*s)++) {
        if (++n > LSN_HALF_MAX_DIGITS)
            return false;
        v = (v << 4) | (uint32_t)d;
    }
    *half = v;
    return n > 0;
}

bool lsn_parse(const char *s, lsn_t *out)
{
    uint32_t hi, lo;

    if (s == NULL || !parse_half(&s, &hi) || *s++ != '/')
        return false;
    if (!parse_half(&s, &lo) || *s != '\0')
        return false;
    *out = ((lsn_t)hi << 32) | lo;
    return true;
}

char *lsn_format(lsn_t lsn, char *buf, size_t size)
{
    snprintf(buf, size, "%X/%X", (unsigned)(uint32_t)(lsn >> 32), (unsigned)(uint32_t)lsn);
    return buf;
}

uint64_t lsn_diff(lsn_t to, lsn_t from)
{
    return to > from ? to - from : 0;
}

/* Saturates instead of overflowing: timestamps may come from fuzzed input. */
int64_t lsn_pgtime_to_unix_us(int64_t pg_us)
{
    if (pg_us > INT64_MAX - LSN_PG_EPOCH_OFFSET_US)
        return INT64_MAX;
    return pg_us + LSN_PG_EPOCH_OFFSET_US;
}

int64_t lsn_pgtime_now(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - LSN_PG_EPOCH_OFFSET_US;
}
