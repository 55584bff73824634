/*
 * event_dbz_read: decodes the values of Debezium's change events into the
 * text PostgreSQL's input functions take, following each field's Connect
 * schema: Decimal (big-endian two's complement, base64, scale parameter),
 * VariableScaleDecimal, io.debezium.time.{Date, Time, MicroTime, NanoTime,
 * Timestamp, MicroTimestamp, NanoTimestamp, MicroDuration} and bytes (as
 * bytea's hex form). Zoned times and the string types are PostgreSQL input
 * already. MicroDuration comes back as microseconds: the months Debezium
 * folded into days at 30.4375 days each are not restored.
 */
#include "event/event_dbz_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/sbuf.h"
#include "event/event_dbz_type.h"

json_t *event_dbz_read_fields(const json_t *s)
{
    json_t *fields = json_object_get(s, "fields");
    if (!json_is_array(fields))
        return NULL;
    json_t *map = json_object();
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        const char *name = json_string_value(json_object_get(f, "field"));
        if (name != NULL)
            json_object_set(map, name, f);
    }
    return map;
}

/* base64 text to bytes (malloc'd into *raw); the count, or -1. */
static long event_dbz_read_b64(const json_t *v, unsigned char **raw)
{
    const char *s = json_string_value(v);
    if (s == NULL)
        return -1;
    size_t len = json_string_length(v);
    *raw = malloc(base64_decoded_max(len) + 1);
    if (*raw == NULL)
        return -1;
    long n = base64_decode(s, len, *raw);
    if (n < 0) {
        free(*raw);
        *raw = NULL;
    }
    return n;
}

/* The decimal text of the two's complement big-endian integer raw[0..n)
 * divided by 10^scale. */
static char *event_dbz_read_unscaled(unsigned char *raw, long n, long scale)
{
    bool neg = n > 0 && (raw[0] & 0x80) != 0;
    if (neg) { /* magnitude: invert and add one */
        unsigned carry = 1;
        for (long i = n - 1; i >= 0; i--) {
            unsigned x = (unsigned)(unsigned char)~raw[i] + carry;
            raw[i] = (unsigned char)x;
            carry = x >> 8;
        }
    }
    sbuf_t digits = {0}; /* least significant first */
    long start = 0;
    while (start < n) {
        unsigned rem = 0;
        for (long i = start; i < n; i++) {
            unsigned cur = rem * 256 + raw[i];
            raw[i] = (unsigned char)(cur / 10);
            rem = cur % 10;
        }
        sbuf_addc(&digits, (char)('0' + rem));
        while (start < n && raw[start] == 0)
            start++;
    }
    while ((long)digits.len <= scale)
        sbuf_addc(&digits, '0');
    sbuf_t out = {0};
    if (neg)
        sbuf_addc(&out, '-');
    for (long i = (long)digits.len - 1; i >= 0; i--) {
        sbuf_addc(&out, digits.s[i]);
        if (i == scale && scale > 0)
            sbuf_addc(&out, '.');
    }
    sbuf_clear(&digits);
    return sbuf_take(&out);
}

static long event_dbz_read_scale(const json_t *fs)
{
    const char *s = json_string_value(json_object_get(json_object_get(fs, "parameters"), "scale"));
    return s != NULL ? strtol(s, NULL, 10) : 0;
}

/* The bytes of base64 value v, malloc'd into *raw, their count into *n:
 * EVENT_DBZ_READ_TEXT when there are bytes to convert; _UNAVAILABLE for
 * Debezium's placeholder of an unchanged TOAST value, _ERROR when v is no
 * base64 (nothing to free in either). */
static event_dbz_read_result_t event_dbz_read_raw(const json_t *v, unsigned char **raw, long *n)
{
    *n = event_dbz_read_b64(v, raw);
    if (*n < 0)
        return EVENT_DBZ_READ_ERROR;
    if ((size_t)*n == strlen(EVENT_DBZ_UNAVAILABLE) &&
        memcmp(*raw, EVENT_DBZ_UNAVAILABLE, (size_t)*n) == 0) {
        free(*raw);
        *raw = NULL;
        return EVENT_DBZ_READ_UNAVAILABLE;
    }
    return EVENT_DBZ_READ_TEXT;
}

static event_dbz_read_result_t event_dbz_read_decimal(const json_t *v, long scale, char **out)
{
    unsigned char *raw;
    long n;
    event_dbz_read_result_t r = event_dbz_read_raw(v, &raw, &n);
    if (r != EVENT_DBZ_READ_TEXT)
        return r;
    *out = n > 0 ? event_dbz_read_unscaled(raw, n, scale) : strdup("0");
    free(raw);
    return *out != NULL ? EVENT_DBZ_READ_TEXT : EVENT_DBZ_READ_ERROR;
}

static event_dbz_read_result_t event_dbz_read_bytes(const json_t *v, char **out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char *raw;
    long n;
    event_dbz_read_result_t r = event_dbz_read_raw(v, &raw, &n);
    if (r != EVENT_DBZ_READ_TEXT)
        return r;
    *out = malloc(2 * (size_t)n + 3);
    if (*out != NULL) {
        (*out)[0] = '\\';
        (*out)[1] = 'x';
        for (long i = 0; i < n; i++) {
            (*out)[2 + 2 * i] = hex[raw[i] >> 4];
            (*out)[3 + 2 * i] = hex[raw[i] & 15];
        }
        (*out)[2 + 2 * n] = '\0';
    }
    free(raw);
    return *out != NULL ? EVENT_DBZ_READ_TEXT : EVENT_DBZ_READ_ERROR;
}

/* "YYYY-MM-DD" (" BC" appended by the caller when *bc). */
static void event_dbz_read_date(int64_t days, char *buf, size_t size, bool *bc)
{
    int64_t y;
    int m, d;
    event_dbz_civil(days, &y, &m, &d);
    *bc = y <= 0;
    snprintf(buf, size, "%04lld-%02d-%02d", (long long)(*bc ? 1 - y : y), m, d);
}

/* "HH:MM:SS[.ffffff]" of us microseconds into the day. */
static void event_dbz_read_tod(int64_t us, char *buf, size_t size)
{
    int64_t s = us / 1000000, f = us % 1000000;
    int n = snprintf(buf, size, "%02lld:%02lld:%02lld", (long long)(s / 3600),
                     (long long)(s / 60 % 60), (long long)(s % 60));
    if (f != 0 && n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ".%06lld", (long long)f);
}

static char *event_dbz_read_timestamp(int64_t us)
{
    char date[32], tod[32], buf[80];
    bool bc;
    int64_t days = us / 86400000000LL, rest = us % 86400000000LL;
    if (rest < 0) {
        rest += 86400000000LL;
        days--;
    }
    event_dbz_read_date(days, date, sizeof(date), &bc);
    event_dbz_read_tod(rest, tod, sizeof(tod));
    snprintf(buf, sizeof(buf), "%s %s%s", date, tod, bc ? " BC" : "");
    return strdup(buf);
}

/* The io.debezium.time.* and Decimal names, as text; NULL: not one of them. */
static event_dbz_read_result_t event_dbz_read_named(const char *name, const json_t *fs,
                                                    const json_t *v, char **out)
{
    char buf[80];
    bool bc;
    int64_t i = json_integer_value(v);
    if (strcmp(name, "org.apache.kafka.connect.data.Decimal") == 0)
        return event_dbz_read_decimal(v, event_dbz_read_scale(fs), out);
    if (strcmp(name, "io.debezium.data.VariableScaleDecimal") == 0)
        return event_dbz_read_decimal(json_object_get(v, "value"),
                                      (long)json_integer_value(json_object_get(v, "scale")), out);
    if (!json_is_integer(v))
        return EVENT_DBZ_READ_AS_IS;
    if (strcmp(name, "io.debezium.time.Date") == 0) {
        event_dbz_read_date(i, buf, sizeof(buf), &bc);
        if (bc)
            strcat(buf, " BC");
        *out = strdup(buf);
    } else if (strcmp(name, "io.debezium.time.Time") == 0) {
        event_dbz_read_tod(i * 1000, buf, sizeof(buf));
        *out = strdup(buf);
    } else if (strcmp(name, "io.debezium.time.MicroTime") == 0) {
        event_dbz_read_tod(i, buf, sizeof(buf));
        *out = strdup(buf);
    } else if (strcmp(name, "io.debezium.time.NanoTime") == 0) {
        event_dbz_read_tod(i / 1000, buf, sizeof(buf));
        *out = strdup(buf);
    } else if (strcmp(name, "io.debezium.time.Timestamp") == 0) {
        *out = event_dbz_read_timestamp(i * 1000);
    } else if (strcmp(name, "io.debezium.time.MicroTimestamp") == 0) {
        *out = event_dbz_read_timestamp(i);
    } else if (strcmp(name, "io.debezium.time.NanoTimestamp") == 0) {
        *out = event_dbz_read_timestamp(i / 1000);
    } else if (strcmp(name, "io.debezium.time.MicroDuration") == 0) {
        snprintf(buf, sizeof(buf), "%lld microseconds", (long long)i);
        *out = strdup(buf);
    } else {
        return EVENT_DBZ_READ_AS_IS;
    }
    return *out != NULL ? EVENT_DBZ_READ_TEXT : EVENT_DBZ_READ_ERROR;
}

event_dbz_read_result_t event_dbz_read_text(const json_t *fs, const json_t *v, char **out,
                                            char *errbuf, size_t errsize)
{
    const char *name = json_string_value(json_object_get(fs, "name"));
    const char *type = json_string_value(json_object_get(fs, "type"));
    event_dbz_read_result_t r = EVENT_DBZ_READ_AS_IS;
    *out = NULL;
    if (fs == NULL)
        return r;
    if (name != NULL)
        r = event_dbz_read_named(name, fs, v, out);
    else if (type != NULL && strcmp(type, "bytes") == 0)
        r = event_dbz_read_bytes(v, out);
    if (r == EVENT_DBZ_READ_AS_IS && (json_is_integer(v) || json_is_string(v)))
        return r;
    if (r == EVENT_DBZ_READ_ERROR)
        snprintf(errbuf, errsize, "field \"%s\": a %s value that does not decode",
                 json_string_value(json_object_get(fs, "field")), name != NULL ? name : type);
    return r;
}
