/*
 * Unit tests for copy_escape: COPY text escaping of one value in pieces,
 * with escapes at every piece boundary and tiny output buffers. No server.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/copy_escape.h"

/* Escapes in[0..n) feeding input slices of `step` bytes and output pieces
 * of at most outsize bytes; the concatenation into out (NUL-terminated). */
static size_t escape_pieces(const char *in, size_t n, size_t step, size_t outsize, char *out)
{
    size_t total = 0;
    char piece[64];
    assert_true(outsize <= sizeof(piece));
    for (size_t at = 0; at < n; at += step) {
        const char *p = in + at, *end = in + (at + step < n ? at + step : n);
        while (p < end) {
            const char *before = p;
            size_t w = copy_escape(&p, end, piece, outsize);
            assert_true(w <= outsize);
            assert_true(p > before); /* progresses */
            memcpy(out + total, piece, w);
            total += w;
        }
    }
    out[total] = '\0';
    return total;
}

static void test_plain_bytes_unchanged(void **state)
{
    (void)state;
    char out[64];
    const char *in = "abc żółw 🐢 \"'";
    const char *p = in;
    size_t w = copy_escape(&p, in + strlen(in), out, sizeof(out));
    assert_int_equal(w, strlen(in));
    assert_memory_equal(out, in, w);
    assert_ptr_equal(p, in + strlen(in));
}

static void test_every_escape(void **state)
{
    (void)state;
    char out[64];
    const char *in = "a\\b\tc\nd\re";
    const char *p = in;
    size_t w = copy_escape(&p, in + strlen(in), out, sizeof(out));
    out[w] = '\0';
    assert_string_equal(out, "a\\\\b\\tc\\nd\\re");
}

static void test_empty_input(void **state)
{
    (void)state;
    char out[4];
    const char *in = "";
    const char *p = in;
    assert_int_equal(copy_escape(&p, in, out, sizeof(out)), 0);
    assert_ptr_equal(p, in);
}

/* An escape that does not fit in what is left of the piece waits for the next one. */
static void test_escape_not_split(void **state)
{
    (void)state;
    char out[8];
    const char *in = "ab\\";
    const char *p = in;
    assert_int_equal(copy_escape(&p, in + 3, out, 3), 2);
    assert_ptr_equal(p, in + 2);
    assert_int_equal(copy_escape(&p, in + 3, out, 3), 2);
    assert_memory_equal(out, "\\\\", 2);
    assert_ptr_equal(p, in + 3);
    /* one byte of room takes a plain byte, never half an escape */
    p = in + 2;
    assert_int_equal(copy_escape(&p, in + 3, out, 1), 0);
    assert_ptr_equal(p, in + 2);
}

/* Any split of the input and any piece size give the whole escaping. */
static void test_pieces_equal_whole(void **state)
{
    (void)state;
    const char *in = "\\\\x\t\n\r\\n ż\r\n\t\t\\t🐢end\\";
    size_t n = strlen(in);
    char whole[256], got[256];
    size_t wn = escape_pieces(in, n, n, 64, whole);
    assert_string_equal(whole, "\\\\\\\\x\\t\\n\\r\\\\n ż\\r\\n\\t\\t\\\\t🐢end\\\\");
    for (size_t step = 1; step <= n; step++) {
        for (size_t outsize = 2; outsize <= 9; outsize++) {
            size_t gn = escape_pieces(in, n, step, outsize, got);
            assert_int_equal(gn, wn);
            assert_string_equal(got, whole);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_bytes_unchanged), cmocka_unit_test(test_every_escape),
        cmocka_unit_test(test_empty_input),           cmocka_unit_test(test_escape_not_split),
        cmocka_unit_test(test_pieces_equal_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
