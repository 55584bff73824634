/*
 * event_json_env: the spans of a JsonConverter envelope's schema and
 * payload. See event_json_env.h.
 */
#include "event/event_json_env.h"

#include <string.h>

/* The index of the first byte at or after i that is not JSON whitespace. */
static size_t event_json_env_ws(const char *b, size_t n, size_t i)
{
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
        i++;
    return i;
}

/* The index after the string whose opening quote is b[i]; 0 when it does not
 * end. A quote ends it unless an odd number of backslashes precede it. */
static size_t event_json_env_string(const char *b, size_t n, size_t i)
{
    size_t from = i + 1;
    while (from < n) {
        const char *q = memchr(b + from, '"', n - from);
        if (q == NULL)
            return 0;
        size_t at = (size_t)(q - b), bs = 0;
        while (at - bs > i + 1 && b[at - bs - 1] == '\\')
            bs++;
        if (bs % 2 == 0)
            return at + 1;
        from = at + 1;
    }
    return 0;
}

/* The index after the object or array that opens at b[i], counting brackets
 * outside strings; 0 when it does not close. */
static size_t event_json_env_nested(const char *b, size_t n, size_t i)
{
    size_t depth = 0;
    while (i < n) {
        char c = b[i];
        if (c == '"') {
            i = event_json_env_string(b, n, i);
            if (i == 0)
                return 0;
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            return i + 1;
        i++;
    }
    return 0;
}

/* One member at b[*i]: its key must be "schema" or "payload" and not seen
 * before (*seen: 1 schema, 2 payload), its value an object. */
static int event_json_env_member(const char *b, size_t n, size_t *i, int *seen,
                                 event_json_span_t *schema, event_json_span_t *payload)
{
    size_t k = *i;
    size_t end = k < n && b[k] == '"' ? event_json_env_string(b, n, k) : 0;
    if (end == 0)
        return 0;
    int which = end - k == 8 && memcmp(b + k, "\"schema\"", 8) == 0    ? 1
                : end - k == 9 && memcmp(b + k, "\"payload\"", 9) == 0 ? 2
                                                                       : 0;
    if (which == 0 || (*seen & which))
        return 0;
    *seen |= which;
    size_t v = event_json_env_ws(b, n, end);
    if (v >= n || b[v] != ':')
        return 0;
    v = event_json_env_ws(b, n, v + 1);
    end = v < n && b[v] == '{' ? event_json_env_nested(b, n, v) : 0;
    if (end == 0)
        return 0;
    *(which == 1 ? schema : payload) = (event_json_span_t){.p = b + v, .len = end - v};
    *i = event_json_env_ws(b, n, end);
    return 1;
}

int event_json_env_find(const char *buf, size_t len, event_json_span_t *schema,
                        event_json_span_t *payload)
{
    int seen = 0;
    size_t i = event_json_env_ws(buf, len, 0);
    if (i >= len || buf[i] != '{')
        return 0;
    i = event_json_env_ws(buf, len, i + 1);
    if (!event_json_env_member(buf, len, &i, &seen, schema, payload))
        return 0;
    if (i >= len || buf[i] != ',')
        return 0;
    i = event_json_env_ws(buf, len, i + 1);
    if (!event_json_env_member(buf, len, &i, &seen, schema, payload))
        return 0;
    if (i >= len || buf[i] != '}')
        return 0;
    return event_json_env_ws(buf, len, i + 1) == len;
}
