/*
 * utf8: validates UTF-8 the way jansson does (overlong forms, surrogates and
 * code points above U+10FFFF refused), for the writers that skip jansson.
 * Pure.
 */
#ifndef SYNCLINE_UTF8_H
#define SYNCLINE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid multi-byte sequence at p (p[0] >= 0x80), n bytes
 * available; 0 when it is not valid. */
size_t utf8_seq_len(const unsigned char *p, size_t n);

/* True when s[0..n) is valid UTF-8 (NUL bytes included, as jansson takes
 * them with a length). */
bool utf8_valid(const char *s, size_t n);

#endif
