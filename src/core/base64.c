/*
 * base64: encodes and decodes the standard padded base64 alphabet.
 * Pure; no I/O.
 */
#include "core/base64.h"

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(sbuf_t *b, const unsigned char *data, size_t n)
{
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)data[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)data[i + 1] << 8;
        if (i + 2 < n)
            v |= data[i + 2];
        q[0] = base64_alphabet[(v >> 18) & 63];
        q[1] = base64_alphabet[(v >> 12) & 63];
        q[2] = i + 1 < n ? base64_alphabet[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? base64_alphabet[v & 63] : '=';
        sbuf_addn(b, q, 4);
    }
}

static int base64_digit(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

size_t base64_decoded_max(size_t len)
{
    return len / 4 * 3 + 3;
}

long base64_decode(const char *s, size_t len, unsigned char *out)
{
    long n = 0;
    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int d[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            if (s[i + j] == '=' && i + 4 == len && j >= 2) {
                d[j] = 0;
                pad++;
                continue;
            }
            if (pad > 0 || (d[j] = base64_digit(s[i + j])) < 0)
                return -1;
        }
        unsigned v = (unsigned)d[0] << 18 | (unsigned)d[1] << 12 | (unsigned)d[2] << 6 | d[3];
        out[n++] = (unsigned char)(v >> 16);
        if (pad < 2)
            out[n++] = (unsigned char)(v >> 8);
        if (pad < 1)
            out[n++] = (unsigned char)v;
    }
    return n;
}
