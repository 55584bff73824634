/*
 * base64: the standard base64 alphabet with padding (RFC 4648), as Kafka
 * Connect's JsonConverter writes bytes values. Pure; no I/O.
 */
#ifndef SYNCLINE_BASE64_H
#define SYNCLINE_BASE64_H

#include <stddef.h>

#include "core/sbuf.h"

/* Appends the base64 text of data[0..n) to b. */
void base64_encode(sbuf_t *b, const unsigned char *data, size_t n);

/* Decodes s[0..len) into out (room for base64_decoded_max(len) bytes); the
 * byte count, or -1 when s is not padded base64. */
long base64_decode(const char *s, size_t len, unsigned char *out);

/* An upper bound of the bytes that len characters of base64 decode to. */
size_t base64_decoded_max(size_t len);

#endif
