/*
 * copy_escape: the text format of COPY FROM STDIN for one value, produced in
 * pieces so that a large value never needs a second whole copy. Pure.
 */
#ifndef SYNCLINE_COPY_ESCAPE_H
#define SYNCLINE_COPY_ESCAPE_H

#include <stddef.h>

/*
 * Escapes bytes from *in up to end into out (outsize bytes): backslash, tab,
 * newline and carriage return become two-byte escapes, every other byte
 * stays. An escape is never split: the piece ends before one that does not
 * fit. Advances *in past what was escaped; returns the bytes written. Call
 * again with the same end until *in == end. outsize >= 2 always progresses.
 * (NUL bytes cannot occur in a text value; NULL is written by the caller.)
 */
size_t copy_escape(const char **in, const char *end, char *out, size_t outsize);

#endif
