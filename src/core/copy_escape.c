/*
 * copy_escape: COPY text escaping of one value, piece by piece, into a
 * caller's buffer. Does no I/O and keeps no state between pieces.
 */
#include "core/copy_escape.h"

/* The letter after the backslash for a byte that needs an escape, else 0. */
static char copy_escape_letter(char c)
{
    switch (c) {
    case '\\':
        return '\\';
    case '\t':
        return 't';
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    default:
        return 0;
    }
}

size_t copy_escape(const char **in, const char *end, char *out, size_t outsize)
{
    const char *p = *in;
    size_t n = 0;
    while (p < end && n < outsize) {
        char e = copy_escape_letter(*p);
        if (e == 0) {
            out[n++] = *p++;
            continue;
        }
        if (outsize - n < 2)
            break;
        out[n++] = '\\';
        out[n++] = e;
        p++;
    }
    *in = p;
    return n;
}
