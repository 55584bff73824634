/*
 * sbuf: growable strings for SQL and JSON text.
 */
#include "core/sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sbuf_reserve(sbuf_t *b, size_t more)
{
    if (b->oom)
        return -1;
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = (b->cap ? b->cap * 2 : 256) + more;
    char *s = realloc(b->s, cap);
    if (s == NULL) {
        b->oom = 1;
        return -1;
    }
    b->s = s;
    b->cap = cap;
    return 0;
}

void sbuf_addn(sbuf_t *b, const char *data, size_t n)
{
    if (sbuf_reserve(b, n) != 0)
        return;
    memcpy(b->s + b->len, data, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void sbuf_add(sbuf_t *b, const char *text)
{
    sbuf_addn(b, text, strlen(text));
}

void sbuf_addc(sbuf_t *b, char c)
{
    sbuf_addn(b, &c, 1);
}

size_t sbuf_int_text(long long v, char out[SBUF_INTLEN])
{
    char tmp[SBUF_INTLEN], *p = tmp + sizeof(tmp);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(out, p, n);
    return n;
}

void sbuf_add_int(sbuf_t *b, long long v)
{
    char tmp[SBUF_INTLEN];
    sbuf_addn(b, tmp, sbuf_int_text(v, tmp));
}

void sbuf_addf(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sbuf_reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *sbuf_take(sbuf_t *b)
{
    char *s = b->oom ? NULL : b->s;
    if (b->oom)
        free(b->s);
    if (s == NULL && !b->oom)
        s = calloc(1, 1); /* nothing added: the empty string */
    memset(b, 0, sizeof(*b));
    return s;
}

void sbuf_clear(sbuf_t *b)
{
    free(b->s);
    memset(b, 0, sizeof(*b));
}
