/*
 * hex: hexadecimal digits, for the parsers of LSNs and of PostgreSQL's
 * bytea hex form. Pure; no I/O.
 */
#ifndef SYNCLINE_HEX_H
#define SYNCLINE_HEX_H

#include <stddef.h>

/* 0-15 for [0-9a-fA-F], -1 for anything else. */
int hex_digit(char c);

/* The number of bytes in bytea's hex text form s[0..len) ("\x0a1b": 2), or
 * -1 when it does not have the form's shape ("\x" and an even length); the
 * digits are for hex_decode to check. */
long hex_bytea_size(const char *s, size_t len);

/* Decodes the 2 * n hex digits at hex into out[0..n). 0, or -1 at a
 * character that is not a hex digit. */
int hex_decode(const char *hex, size_t n, unsigned char *out);

#endif
