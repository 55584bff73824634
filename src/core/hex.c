/*
 * hex: hexadecimal digits and bytea's hex form. Pure; no I/O.
 */
#include "core/hex.h"

int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long hex_bytea_size(const char *s, size_t len)
{
    if (len < 2 || s[0] != '\\' || s[1] != 'x' || len % 2 != 0)
        return -1;
    return (long)((len - 2) / 2);
}

int hex_decode(const char *hex, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}
