/*
 * Unit tests for change: a relation naming a column twice is found (apply
 * refuses such a message, fuzz finding 4 in fuzz/README.md); a row's key as
 * error messages name it, in text and in binary (apply.binary).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/change.h"

static void test_relation_duplicate(void **state)
{
    (void)state;
    change_column_t cols[4] = {{.name = "id"}, {.name = "f4"}, {.name = "note"}, {.name = "f4"}};
    change_relation_t rel = {.nspname = "public", .relname = "items", .ncols = 4, .cols = cols};
    assert_string_equal(change_relation_duplicate(&rel), "f4");
    rel.ncols = 3;
    assert_null(change_relation_duplicate(&rel));
    rel.ncols = 0;
    assert_null(change_relation_duplicate(&rel));
    assert_null(change_relation_duplicate(NULL));
}

/* The key text of one key column of type oid holding v. */
static void assert_key(uint32_t oid, change_kind_t kind, const char *data, size_t len,
                       const char *want)
{
    change_column_t cols[2] = {{.name = "k", .type_oid = oid, .is_key = true},
                               {.name = "note", .type_oid = 25}};
    change_relation_t rel = {.nspname = "public", .relname = "t", .ncols = 2, .cols = cols};
    change_value_t vals[2] = {{.kind = kind, .data = (char *)data, .len = len},
                              {.kind = CHANGE_TEXT, .data = "x", .len = 1}};
    change_tuple_t t = {.ncols = 2, .values = vals};
    char buf[256];
    change_key_text(&rel, &t, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void test_key_text(void **state)
{
    (void)state;
    assert_key(20, CHANGE_TEXT, "42", 2, "(k)=(42)");
    assert_key(20, CHANGE_NULL, NULL, 0, "(k)=(NULL)");
    /* binary values (apply.binary): the send functions' bytes, read back */
    assert_key(20, CHANGE_BINARY, "\xff\xff\xff\xff\xff\xff\xff\xd6", 8, "(k)=(-42)");
    assert_key(20, CHANGE_BINARY, "\0\0\0\0\0\0\0\x2a", 8, "(k)=(42)");
    assert_key(23, CHANGE_BINARY, "\x80\0\0\0", 4, "(k)=(-2147483648)");
    assert_key(21, CHANGE_BINARY, "\x01\x00", 2, "(k)=(256)");
    assert_key(16, CHANGE_BINARY, "\x01", 1, "(k)=(t)");
    assert_key(25, CHANGE_BINARY, "abc", 3, "(k)=(abc)");
    assert_key(1043, CHANGE_BINARY, "d\xc3\xa9j\xc3\xa0", 6, "(k)=(d\xc3\xa9j\xc3\xa0)");
    assert_key(2950, CHANGE_BINARY,
               "\x12\x34\x56\x78\x9a\xbc\xde\xf0\x01\x23\x45\x67\x89\xab\xcd\xef", 16,
               "(k)=(12345678-9abc-def0-0123-456789abcdef)");
    /* any other type, or a length its type cannot have: the bytes in hex */
    assert_key(1700, CHANGE_BINARY, "\0\x01\xff", 3, "(k)=(\\x0001ff)");
    assert_key(20, CHANGE_BINARY, "\0\x01", 2, "(k)=(\\x0001)");
    assert_key(25, CHANGE_BINARY, "a\nb", 3, "(k)=(\\x610a62)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relation_duplicate),
        cmocka_unit_test(test_key_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
