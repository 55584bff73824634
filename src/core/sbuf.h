/*
 * sbuf: a growable NUL-terminated string for building SQL and JSON text. Allocation
 * failure is sticky (sbuf_t.oom) so a builder can append freely and check
 * once at the end. No I/O.
 */
#ifndef SYNCLINE_SBUF_H
#define SYNCLINE_SBUF_H

#include <stddef.h>

typedef struct sbuf {
    char *s; /* owned; NULL until something was added */
    size_t len, cap;
    int oom;
} sbuf_t;

/* Appends text (no-op after an allocation failure). */
void sbuf_add(sbuf_t *b, const char *text);

/* Appends n bytes of data (which need not be NUL-terminated). */
void sbuf_addn(sbuf_t *b, const char *data, size_t n);

/* Appends one character. */
void sbuf_addc(sbuf_t *b, char c);

/* Appends a signed integer in decimal. */
void sbuf_add_int(sbuf_t *b, long long v);

/* Room for sbuf_int_text's digits: a sign and 19 digits. */
#define SBUF_INTLEN 20

/* Writes v in decimal at out (not NUL-terminated); returns its length. */
size_t sbuf_int_text(long long v, char out[SBUF_INTLEN]);

/* Appends printf-style. */
void sbuf_addf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hands the string to the caller (free it), or NULL after an allocation
 * failure (the buffer is then freed). Leaves b empty. */
char *sbuf_take(sbuf_t *b);

/* Frees what b holds. */
void sbuf_clear(sbuf_t *b);

#endif
