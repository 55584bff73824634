/*
 * event_dbz_type: PostgreSQL text values to the Kafka Connect values the
 * Debezium PostgreSQL connector writes with its default settings.
 *
 * pgoutput sends each value in its type's output form; these parsers read
 * the forms PostgreSQL writes with DateStyle ISO and IntervalStyle postgres
 * (its defaults, and what the walsender uses unless the server changed
 * them). A form they do not know is an error naming the column, never a
 * value dropped. Types Debezium maps to structures or arrays (geometry,
 * arrays, ranges) travel as their text, with schema type string.
 */
#include "event/event_dbz_type.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/hex.h"
#include "core/sbuf.h"

/* Debezium's values for 'infinity' and '-infinity' timestamps (PgJDBC's). */
#define EVENT_DBZ_TS_POS_INF INT64_C(9223372036825200000)
#define EVENT_DBZ_TS_NEG_INF INT64_C(-9223372036832400000)
#define EVENT_DBZ_US_PER_DAY INT64_C(86400000000)

event_dbz_kind_t event_dbz_type_kind(uint32_t oid, int32_t typmod)
{
    switch (oid) {
    case 16: /* bool */
        return EVENT_DBZ_BOOL;
    case 17: /* bytea */
        return EVENT_DBZ_BYTES;
    case 21: /* int2 */
        return EVENT_DBZ_INT16;
    case 23: /* int4 */
        return EVENT_DBZ_INT32;
    case 20: /* int8 */
    case 26: /* oid */
        return EVENT_DBZ_INT64;
    case 700:
        return EVENT_DBZ_FLOAT32;
    case 701:
        return EVENT_DBZ_FLOAT64;
    case 790: /* money */
        return EVENT_DBZ_DECIMAL;
    case 1700:
        return typmod >= 4 ? EVENT_DBZ_DECIMAL : EVENT_DBZ_VARDECIMAL;
    case 1082:
        return EVENT_DBZ_DATE;
    case 1083: /* time(p): typmod is p, -1 is 6 */
        return typmod >= 0 && typmod <= 3 ? EVENT_DBZ_TIME_MS : EVENT_DBZ_TIME_US;
    case 1114:
        return typmod >= 0 && typmod <= 3 ? EVENT_DBZ_TS_MS : EVENT_DBZ_TS_US;
    case 1184:
        return EVENT_DBZ_ZONED_TS;
    case 1266:
        return EVENT_DBZ_ZONED_TIME;
    case 1186:
        return EVENT_DBZ_INTERVAL;
    case 2950:
        return EVENT_DBZ_UUID;
    case 114:
    case 3802:
        return EVENT_DBZ_JSON;
    case 142:
        return EVENT_DBZ_XML;
    }
    return EVENT_DBZ_STRING;
}

/* ---- schemas -------------------------------------------------------------- */

static json_t *event_dbz_schema_base(const char *type, const char *name, int version)
{
    json_t *s = json_pack("{s:s}", "type", type);
    if (s != NULL && name != NULL) {
        json_object_set_new(s, "name", json_string(name));
        json_object_set_new(s, "version", json_integer(version));
    }
    return s;
}

static json_t *event_dbz_schema_kind(event_dbz_kind_t kind, const change_column_t *col)
{
    switch (kind) {
    case EVENT_DBZ_BOOL:
        return event_dbz_schema_base("boolean", NULL, 0);
    case EVENT_DBZ_INT16:
        return event_dbz_schema_base("int16", NULL, 0);
    case EVENT_DBZ_INT32:
        return event_dbz_schema_base("int32", NULL, 0);
    case EVENT_DBZ_INT64:
        return event_dbz_schema_base("int64", NULL, 0);
    case EVENT_DBZ_FLOAT32:
        return event_dbz_schema_base("float", NULL, 0);
    case EVENT_DBZ_FLOAT64:
        return event_dbz_schema_base("double", NULL, 0);
    case EVENT_DBZ_DECIMAL: {
        json_t *s = event_dbz_schema_base("bytes", "org.apache.kafka.connect.data.Decimal", 1);
        int precision = col->type_oid == 790 ? 0 : ((col->typmod - 4) >> 16) & 0xffff;
        int scale = col->type_oid == 790 ? 2 : (col->typmod - 4) & 0xffff;
        json_t *p = json_object();
        char buf[16];
        snprintf(buf, sizeof(buf), "%d", scale);
        json_object_set_new(p, "scale", json_string(buf));
        if (precision > 0) {
            snprintf(buf, sizeof(buf), "%d", precision);
            json_object_set_new(p, "connect.decimal.precision", json_string(buf));
        }
        json_object_set_new(s, "parameters", p);
        return s;
    }
    case EVENT_DBZ_VARDECIMAL: {
        json_t *s = json_pack("{s:s, s:[{s:s, s:b, s:s}, {s:s, s:b, s:s}], s:b, s:s, s:i, s:s}",
                              "type", "struct", "fields", "type", "int32", "optional", 0, "field",
                              "scale", "type", "bytes", "optional", 0, "field", "value", "optional",
                              0, "name", "io.debezium.data.VariableScaleDecimal", "version", 1,
                              "doc", "Variable scaled decimal");
        return s;
    }
    case EVENT_DBZ_BYTES:
        return event_dbz_schema_base("bytes", NULL, 0);
    case EVENT_DBZ_DATE:
        return event_dbz_schema_base("int32", "io.debezium.time.Date", 1);
    case EVENT_DBZ_TIME_MS:
        return event_dbz_schema_base("int32", "io.debezium.time.Time", 1);
    case EVENT_DBZ_TIME_US:
        return event_dbz_schema_base("int64", "io.debezium.time.MicroTime", 1);
    case EVENT_DBZ_TS_MS:
        return event_dbz_schema_base("int64", "io.debezium.time.Timestamp", 1);
    case EVENT_DBZ_TS_US:
        return event_dbz_schema_base("int64", "io.debezium.time.MicroTimestamp", 1);
    case EVENT_DBZ_ZONED_TS:
        return event_dbz_schema_base("string", "io.debezium.time.ZonedTimestamp", 1);
    case EVENT_DBZ_ZONED_TIME:
        return event_dbz_schema_base("string", "io.debezium.time.ZonedTime", 1);
    case EVENT_DBZ_INTERVAL:
        return event_dbz_schema_base("int64", "io.debezium.time.MicroDuration", 1);
    case EVENT_DBZ_UUID:
        return event_dbz_schema_base("string", "io.debezium.data.Uuid", 1);
    case EVENT_DBZ_JSON:
        return event_dbz_schema_base("string", "io.debezium.data.Json", 1);
    case EVENT_DBZ_XML:
        return event_dbz_schema_base("string", "io.debezium.data.Xml", 1);
    case EVENT_DBZ_STRING:
        break;
    }
    return event_dbz_schema_base("string", NULL, 0);
}

json_t *event_dbz_type_schema(const change_column_t *col, bool optional)
{
    json_t *s = event_dbz_schema_kind(event_dbz_type_kind(col->type_oid, col->typmod), col);
    if (s == NULL)
        return NULL;
    json_object_set_new(s, "optional", json_boolean(optional));
    json_object_set_new(s, "field", json_string(col->name));
    return s;
}

/* ---- numbers -------------------------------------------------------------- */

/* The minimal big-endian two's complement bytes (Java's BigInteger.toByteArray)
 * of the decimal integer digits[0..n), negated when neg, as base64 text. */
static json_t *event_dbz_unscaled(const char *digits, size_t n, bool neg)
{
    size_t cap = n / 2 + 2, len = 1;
    unsigned char *mag = calloc(cap, 1); /* little-endian while building */
    if (mag == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned carry = (unsigned)(digits[i] - '0');
        for (size_t j = 0; j < len; j++) {
            unsigned v = mag[j] * 10u + carry;
            mag[j] = (unsigned char)v;
            carry = v >> 8;
        }
        if (carry != 0)
            mag[len++] = (unsigned char)carry;
    }
    mag[len++] = 0; /* room for the sign bit */
    if (neg) {
        unsigned carry = 1;
        for (size_t j = 0; j < len; j++) {
            unsigned v = (unsigned)(unsigned char)~mag[j] + carry;
            mag[j] = (unsigned char)v;
            carry = v >> 8;
        }
    }
    unsigned char fill = neg ? 0xff : 0x00;
    while (len > 1 && mag[len - 1] == fill && ((mag[len - 2] & 0x80) == (fill & 0x80)))
        len--;
    unsigned char *be = malloc(len);
    sbuf_t b = {0};
    if (be != NULL) {
        for (size_t j = 0; j < len; j++)
            be[j] = mag[len - 1 - j];
        base64_encode(&b, be, len);
    }
    free(be);
    free(mag);
    char *s = sbuf_take(&b);
    json_t *v = s != NULL ? json_string(s) : NULL;
    free(s);
    return v;
}

/*
 * A decimal number (digits, one optional point, a sign; money's currency
 * sign and group separators skipped) as the unscaled integer at scale
 * (scale < 0: the scale the text has, stored into *scale_out).
 */
static json_t *event_dbz_decimal(const char *text, size_t len, int scale, int *scale_out)
{
    char *digits = malloc(len + (scale > 0 ? (size_t)scale : 0) + 2);
    size_t n = 0;
    int frac = -1;
    bool neg = false;
    if (digits == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c >= '0' && c <= '9') {
            if (frac >= 0 && scale >= 0 && frac >= scale)
                continue; /* PostgreSQL writes exactly the scale; cut past it */
            digits[n++] = c;
            if (frac >= 0)
                frac++;
        } else if (c == '.') {
            frac = 0;
        } else if (c == '-' || c == '(') {
            neg = true;
        } else if (c == 'e' || c == 'E' || c == 'N' || c == 'I') {
            free(digits);
            return NULL; /* NaN, Infinity: no decimal */
        }
    }
    if (frac < 0)
        frac = 0;
    if (scale < 0)
        scale = frac;
    while (frac < scale) {
        digits[n++] = '0';
        frac++;
    }
    if (scale_out != NULL)
        *scale_out = scale;
    json_t *v = event_dbz_unscaled(digits, n, neg);
    free(digits);
    return v;
}

static json_t *event_dbz_integer(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return NULL;
    return json_integer(v);
}

static json_t *event_dbz_real(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || v != v || v * 0 != 0)
        return NULL; /* NaN and the infinities have no JSON number */
    return json_real(v);
}

/* ---- dates and times ------------------------------------------------------ */

int64_t event_dbz_days(int64_t y, int m, int d)
{
    /* days_from_civil (H. Hinnant) */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void event_dbz_civil(int64_t days, int64_t *y, int *m, int *d)
{
    /* civil_from_days (H. Hinnant) */
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* "YYYY-MM-DD": days since the epoch; *p moves past it. */
static bool event_dbz_parse_date(const char **p, int64_t *days)
{
    char *end;
    long long y = strtoll(*p, &end, 10);
    int m, d, n = 0;
    if (end == *p || sscanf(end, "-%2d-%2d%n", &m, &d, &n) != 2 || n != 6)
        return false;
    *p = end + n;
    if (strncmp(*p, " BC", 3) == 0 || strstr(*p, " BC") != NULL)
        y = 1 - y;
    *days = event_dbz_days(y, m, d);
    return true;
}

/* ".ffffff" (optional): microseconds; *p moves past it. */
static int64_t event_dbz_parse_fraction(const char **p)
{
    int64_t frac = 0, scale = 1000000;
    const char *q = *p;
    if (*q != '.')
        return 0;
    for (q++; isdigit((unsigned char)*q); q++) {
        if (scale > 1) {
            scale /= 10;
            frac += (*q - '0') * scale;
        }
    }
    *p = q;
    return frac;
}

/* "[-]H+:MM:SS[.ffffff]": microseconds; *p moves past it. */
static bool event_dbz_parse_hms(const char **p, int64_t *us)
{
    const char *t = *p;
    int sign = *t == '-' ? -1 : 1, m, s, n = 0;
    if (*t == '-' || *t == '+')
        t++;
    char *end;
    long long h = strtoll(t, &end, 10);
    if (end == t || !isdigit((unsigned char)*t) || sscanf(end, ":%2d:%2d%n", &m, &s, &n) != 2 ||
        n != 6)
        return false;
    const char *q = end + n;
    int64_t frac = event_dbz_parse_fraction(&q);
    *us = sign * ((h * 3600 + m * 60 + s) * INT64_C(1000000) + frac);
    *p = q;
    return true;
}

/* "HH:MM:SS[.ffffff]": microseconds of the day; *p moves past it. */
static bool event_dbz_parse_time(const char **p, int64_t *us)
{
    return isdigit((unsigned char)**p) && event_dbz_parse_hms(p, us);
}

/* "+HH[:MM[:SS]]" or "-...": seconds east of UTC; *p moves past it. */
static bool event_dbz_parse_offset(const char **p, int64_t *secs)
{
    const char *q = *p;
    int sign = *q == '-' ? -1 : 1, part[3] = {0, 0, 0};
    if (*q != '+' && *q != '-')
        return false;
    q++;
    for (int i = 0; i < 3; i++) {
        if (!isdigit((unsigned char)q[0]) || !isdigit((unsigned char)q[1]))
            return false;
        part[i] = (q[0] - '0') * 10 + (q[1] - '0');
        q += 2;
        if (*q != ':')
            break;
        q++;
    }
    *secs = sign * ((int64_t)part[0] * 3600 + part[1] * 60 + part[2]);
    *p = q;
    return true;
}

/* A timestamp (with zone when zoned) as microseconds since the epoch, UTC. */
static bool event_dbz_parse_timestamp(const char *s, bool zoned, int64_t *us)
{
    int64_t days, tod, off = 0;
    const char *p = s;
    if (strcmp(s, "infinity") == 0 || strcmp(s, "-infinity") == 0) {
        *us = s[0] == '-' ? EVENT_DBZ_TS_NEG_INF : EVENT_DBZ_TS_POS_INF;
        return true;
    }
    if (!event_dbz_parse_date(&p, &days) || *p++ != ' ' || !event_dbz_parse_time(&p, &tod))
        return false;
    if (zoned && !event_dbz_parse_offset(&p, &off))
        return false;
    if (*p != '\0' && strcmp(p, " BC") != 0)
        return false;
    *us = days * EVENT_DBZ_US_PER_DAY + tod - off * 1000000;
    return true;
}

/* "...T...[.ffffff]Z" from microseconds since the epoch (UTC). */
static json_t *event_dbz_zoned_text(int64_t us, bool with_date)
{
    int64_t days = us / EVENT_DBZ_US_PER_DAY, tod = us % EVENT_DBZ_US_PER_DAY;
    char buf[64], frac[16] = "";
    int n = 0;
    if (tod < 0) {
        tod += EVENT_DBZ_US_PER_DAY;
        days--;
    }
    if (with_date) {
        int64_t y;
        int m, d;
        event_dbz_civil(days, &y, &m, &d);
        n = snprintf(buf, sizeof(buf), "%04lld-%02d-%02dT", (long long)y, m, d);
    }
    int64_t f = tod % 1000000;
    if (f != 0) {
        snprintf(frac, sizeof(frac), ".%06lld", (long long)f);
        for (size_t i = strlen(frac); frac[i - 1] == '0'; i--)
            frac[i - 1] = '\0';
    }
    snprintf(buf + n, sizeof(buf) - (size_t)n, "%02d:%02d:%02d%sZ", (int)(tod / 3600000000),
             (int)(tod / 60000000 % 60), (int)(tod / 1000000 % 60), frac);
    return json_string(buf);
}

/* timetz "HH:MM:SS[.f]+HH[:MM]" as ZonedTime text in UTC. */
static json_t *event_dbz_zoned_time(const char *s)
{
    int64_t tod, off;
    const char *p = s;
    if (!event_dbz_parse_time(&p, &tod) || !event_dbz_parse_offset(&p, &off) || *p != '\0')
        return NULL;
    tod = (tod - off * 1000000) % EVENT_DBZ_US_PER_DAY;
    if (tod < 0)
        tod += EVENT_DBZ_US_PER_DAY;
    return event_dbz_zoned_text(tod, false);
}

/* An interval in IntervalStyle postgres ("1 year 2 mons -3 days +04:05:06.5")
 * as MicroDuration: months at Debezium's average month. */
static json_t *event_dbz_interval(const char *s)
{
    double days = 0;
    int64_t us = 0;
    const char *p = s;
    while (*p != '\0') {
        int64_t t;
        const char *q = p;
        if (event_dbz_parse_hms(&q, &t) && *q == '\0') {
            us += t;
            break;
        }
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || *end != ' ')
            return NULL;
        p = end + 1;
        if (strncmp(p, "year", 4) == 0)
            days += (double)v * 12 * EVENT_DBZ_DAYS_PER_MONTH;
        else if (strncmp(p, "mon", 3) == 0)
            days += (double)v * EVENT_DBZ_DAYS_PER_MONTH;
        else if (strncmp(p, "day", 3) == 0)
            days += (double)v;
        else
            return NULL;
        while (*p != '\0' && *p != ' ')
            p++;
        while (*p == ' ')
            p++;
    }
    return json_integer((json_int_t)(days * 86400e6) + us);
}

/* ---- values --------------------------------------------------------------- */

static json_t *event_dbz_bytes(const char *text, size_t len)
{
    long n = hex_bytea_size(text, len);
    if (n < 0)
        return NULL;
    unsigned char *raw = malloc((size_t)n + 1);
    sbuf_t b = {0};
    json_t *v = NULL;
    if (raw != NULL && hex_decode(text + 2, (size_t)n, raw) == 0) {
        base64_encode(&b, raw, (size_t)n);
        char *s = sbuf_take(&b);
        v = s != NULL ? json_string(s) : NULL;
        free(s);
    }
    free(raw);
    return v;
}

static json_t *event_dbz_vardecimal(const char *s, size_t len)
{
    int scale = 0;
    json_t *value = event_dbz_decimal(s, len, -1, &scale);
    return value != NULL ? json_pack("{s:i, s:o}", "scale", scale, "value", value) : NULL;
}

static json_t *event_dbz_value_kind(event_dbz_kind_t kind, const change_column_t *col,
                                    const char *s, size_t len)
{
    int64_t v;
    const char *p = s;
    switch (kind) {
    case EVENT_DBZ_BOOL:
        return s[0] == 't' ? json_true() : s[0] == 'f' ? json_false() : NULL;
    case EVENT_DBZ_INT16:
    case EVENT_DBZ_INT32:
    case EVENT_DBZ_INT64:
        return event_dbz_integer(s);
    case EVENT_DBZ_FLOAT32:
    case EVENT_DBZ_FLOAT64:
        return event_dbz_real(s);
    case EVENT_DBZ_DECIMAL:
        return event_dbz_decimal(s, len, col->type_oid == 790 ? 2 : (col->typmod - 4) & 0xffff,
                                 NULL);
    case EVENT_DBZ_VARDECIMAL:
        return event_dbz_vardecimal(s, len);
    case EVENT_DBZ_BYTES:
        return event_dbz_bytes(s, len);
    case EVENT_DBZ_DATE:
        if (!event_dbz_parse_date(&p, &v) || (*p != '\0' && strcmp(p, " BC") != 0))
            return NULL;
        return json_integer(v);
    case EVENT_DBZ_TIME_MS:
    case EVENT_DBZ_TIME_US:
        if (!event_dbz_parse_time(&p, &v) || *p != '\0')
            return NULL;
        return json_integer(kind == EVENT_DBZ_TIME_MS ? v / 1000 : v);
    case EVENT_DBZ_TS_MS:
    case EVENT_DBZ_TS_US:
        if (!event_dbz_parse_timestamp(s, false, &v))
            return NULL;
        if (kind == EVENT_DBZ_TS_MS && v != EVENT_DBZ_TS_POS_INF && v != EVENT_DBZ_TS_NEG_INF)
            v = v >= 0 ? v / 1000 : -((-v + 999) / 1000);
        return json_integer(v);
    case EVENT_DBZ_ZONED_TS:
        if (strcmp(s, "infinity") == 0 || strcmp(s, "-infinity") == 0)
            return json_string(s);
        return event_dbz_parse_timestamp(s, true, &v) ? event_dbz_zoned_text(v, true) : NULL;
    case EVENT_DBZ_ZONED_TIME:
        return event_dbz_zoned_time(s);
    case EVENT_DBZ_INTERVAL:
        return event_dbz_interval(s);
    case EVENT_DBZ_UUID:
    case EVENT_DBZ_JSON:
    case EVENT_DBZ_XML:
    case EVENT_DBZ_STRING:
        break;
    }
    return json_stringn(s, len);
}

json_t *event_dbz_type_value(const change_column_t *col, const char *text, size_t len, char *errbuf,
                             size_t errsize)
{
    event_dbz_kind_t kind = event_dbz_type_kind(col->type_oid, col->typmod);
    char *s = strndup(text, len);
    json_t *v = s != NULL ? event_dbz_value_kind(kind, col, s, len) : NULL;
    if (v == NULL)
        snprintf(errbuf, errsize,
                 "column \"%s\" (type oid %u): value \"%.64s\" has no Debezium encoding "
                 "(not UTF-8, NaN or infinite, or not in the ISO/postgres output style)",
                 col->name, col->type_oid, s != NULL ? s : "?");
    free(s);
    return v;
}

json_t *event_dbz_type_unavailable(const change_column_t *col)
{
    event_dbz_kind_t kind = event_dbz_type_kind(col->type_oid, col->typmod);
    if (kind != EVENT_DBZ_BYTES && kind != EVENT_DBZ_DECIMAL)
        return json_string(EVENT_DBZ_UNAVAILABLE);
    sbuf_t b = {0};
    base64_encode(&b, (const unsigned char *)EVENT_DBZ_UNAVAILABLE, strlen(EVENT_DBZ_UNAVAILABLE));
    char *s = sbuf_take(&b);
    json_t *v = s != NULL ? json_string(s) : NULL;
    free(s);
    return v;
}
