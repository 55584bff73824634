/*
 * Unit tests for transform: the expression lexer's guard (what may sit in an
 * expression's slot of generated SQL), column references, and plans built
 * from "tables" entries. No server needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/transform.h"

#define NELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- transform_expr_ok ---------------------------------------------------- */

static void assert_expr_ok(const char *expr)
{
    char err[256] = "";
    if (!transform_expr_ok(expr, err, sizeof(err)))
        fail_msg("rejected [%s]: %s", expr, err);
}

/* Rejected, with a message containing fragment. */
static void assert_expr_bad(const char *expr, const char *fragment)
{
    char err[256] = "";
    if (transform_expr_ok(expr, err, sizeof(err)))
        fail_msg("accepted [%s]", expr);
    if (strstr(err, fragment) == NULL)
        fail_msg("[%s]: message [%s] lacks [%s]", expr, err, fragment);
}

static void test_expr_ok_accepts(void **state)
{
    (void)state;
    assert_expr_ok("email");
    assert_expr_ok("lower(email)");
    assert_expr_ok("btrim(name)");
    assert_expr_ok("coalesce(modified_date, created_date)");
    assert_expr_ok("price::numeric(12,2)");
    assert_expr_ok("CAST(id AS bigint)");
    assert_expr_ok("'active'");
    assert_expr_ok("42");
    assert_expr_ok("-1");
    assert_expr_ok("a - b");
    assert_expr_ok("a / b * c");
    assert_expr_ok("CASE WHEN qty > 0 THEN 'in stock' ELSE 'out' END");
    assert_expr_ok("'a;b'");
    assert_expr_ok("'-- not a comment'");
    assert_expr_ok("'/* not a comment */'");
    assert_expr_ok("'it''s; -- fine'");
    assert_expr_ok("E'\\''");
    assert_expr_ok("E'\\'; -- still inside'");
    assert_expr_ok("e'a\\\\'");
    assert_expr_ok("\"quoted \"\"ids\"\"\"");
    assert_expr_ok("\"a;b\" || \"--x\" || \"/*y\" || \"(\"");
    assert_expr_ok("$$dollar; quoted$$");
    assert_expr_ok("$tag$ a $$ b; -- c /* d ) $tag$");
    assert_expr_ok("$a$x$a$ || $b$y$b$");
    assert_expr_ok("((((a))) + (b))");
    assert_expr_ok("f(g(h(x), (y)), '(')");
    assert_expr_ok("jsonb_build_object('k', v)->>'k'");
    assert_expr_ok("arr[1]");
    assert_expr_ok("  lower( email )  ");
    assert_expr_ok("name_$1");
}

static void test_expr_ok_rejects(void **state)
{
    (void)state;
    assert_expr_bad("", "empty");
    assert_expr_bad("   \t\n ", "empty");
    assert_expr_bad("1; DROP TABLE t", "';'");
    assert_expr_bad("a;", "';'");
    assert_expr_bad("lower(email) -- trailing", "comment");
    assert_expr_bad("a --", "comment");
    assert_expr_bad("a /* b */", "comment");
    assert_expr_bad("a/*", "comment");
    assert_expr_bad("(a", "unbalanced '('");
    assert_expr_bad("f(g(x)", "unbalanced '('");
    assert_expr_bad("a)", "unbalanced ')'");
    assert_expr_bad(") (", "unbalanced ')'");
    assert_expr_bad("1) UNION SELECT (1", "unbalanced ')'");
    assert_expr_bad("'abc", "unterminated string");
    assert_expr_bad("'it''s", "unterminated string");
    assert_expr_bad("E'abc\\'", "unterminated string");
    assert_expr_bad("\"abc", "unterminated quoted");
    assert_expr_bad("\"a\"\"", "unterminated quoted");
    assert_expr_bad("$$abc", "unterminated dollar");
    assert_expr_bad("$tag$abc$tga$", "unterminated dollar");
    assert_expr_bad("$a$ x $", "unterminated dollar");
    assert_expr_bad("1); DROP TABLE t; --", "unbalanced ')'");
    /* the guard rejects it whichever check trips first */
    assert_false(transform_expr_ok("1); DROP TABLE t; --", (char[64]){0}, 64));
}

/* Unquoted identifiers may hold non-ASCII letters: the lexer must move on. */
static void test_expr_ok_non_ascii(void **state)
{
    (void)state;
    assert_expr_ok("lower(caf\xc3\xa9)");
    assert_expr_ok("\xc3\xa9t\xc3\xa9 || 'x'");
    assert_expr_bad("\xc3\xa9; DROP TABLE t", "';'");
}

/* A tiny errbuf truncates the message but never overflows. */
static void test_expr_ok_small_errbuf(void **state)
{
    (void)state;
    char err[4];
    memset(err, 'x', sizeof(err));
    assert_false(transform_expr_ok("(", err, sizeof(err)));
    assert_int_equal(err[3], '\0');
}

/* ---- transform_expr_refs / transform_expr_column ---------------------------- */

static const char *const REF_COLS[] = {"id", "email", "name", "Mixed", "select", "a;b", "big"};

static void refs_of(const char *expr, uint8_t *refs)
{
    memset(refs, 0, (size_t)NELEMS(REF_COLS));
    transform_expr_refs(expr, REF_COLS, NELEMS(REF_COLS), refs);
}

static void assert_refs(const char *expr, const char *expected)
{
    uint8_t refs[NELEMS(REF_COLS)];
    char got[NELEMS(REF_COLS) + 1];
    refs_of(expr, refs);
    for (int i = 0; i < NELEMS(REF_COLS); i++)
        got[i] = refs[i] ? '1' : '0';
    got[NELEMS(REF_COLS)] = '\0';
    if (strcmp(got, expected) != 0)
        fail_msg("refs of [%s]: expected %s, got %s", expr, expected, got);
}

static void test_expr_refs(void **state)
{
    (void)state;
    /*                                   id email name Mixed select a;b big */
    assert_refs("lower(email)", "0100000");
    assert_refs("LOWER(EMAIL)", "0100000");
    assert_refs("Email || Name", "0110000");
    assert_refs("coalesce(name, email) || id::text", "1110000");
    /* unquoted words fold: Mixed is not reachable unquoted */
    assert_refs("mixed || MIXED || Mixed", "0000000");
    assert_refs("\"Mixed\"", "0001000");
    assert_refs("\"mixed\"", "0000000");
    assert_refs("\"EMAIL\"", "0000000");
    assert_refs("\"email\"", "0100000");
    assert_refs("\"select\" || \"a;b\"", "0000110");
    /* words inside literals are not references */
    assert_refs("'email' || 'id'", "0000000");
    assert_refs("E'name\\' big'", "0000000");
    assert_refs("$$ email $$ || $t$ name $t$", "0000000");
    assert_refs("'x' || big", "0000001");
    assert_refs("CASE WHEN id > 0 THEN big ELSE 'name' END", "1000001");
    assert_refs("'active'", "0000000");
    assert_refs("s.email", "0100000");
}

static void test_expr_column(void **state)
{
    (void)state;
    const char *const *c = REF_COLS;
    int n = NELEMS(REF_COLS);
    assert_int_equal(transform_expr_column("email", c, n), 1);
    assert_int_equal(transform_expr_column("  EMAIL  ", c, n), 1);
    assert_int_equal(transform_expr_column("\"Mixed\"", c, n), 3);
    assert_int_equal(transform_expr_column("\"a;b\"", c, n), 5);
    assert_int_equal(transform_expr_column("\"select\"", c, n), 4);
    assert_int_equal(transform_expr_column("Mixed", c, n), -1);
    assert_int_equal(transform_expr_column("nosuch", c, n), -1);
    assert_int_equal(transform_expr_column("lower(email)", c, n), -1);
    assert_int_equal(transform_expr_column("email::text", c, n), -1);
    assert_int_equal(transform_expr_column("(email)", c, n), -1);
    assert_int_equal(transform_expr_column("'email'", c, n), -1);
    assert_int_equal(transform_expr_column("email || name", c, n), -1);
    assert_int_equal(transform_expr_column("", c, n), -1);
}

/* ---- transform_plan_new ------------------------------------------------------ */

/* The example: public.users -> app.accounts. */
static const char *const USERS[] = {
    "id", "email", "name", "created_date", "modified_date", "password_hash", "is_active"};
static const char *const ACCOUNTS[] = {"id",         "email",  "full_name", "created_at",
                                       "updated_at", "status", "is_active", "note"};

static config_column_map_t USERS_MAP[] = {
    {"email", "lower(email)"},      {"full_name", "btrim(name)"},
    {"created_at", "created_date"}, {"updated_at", "coalesce(modified_date, created_date)"},
    {"status", "'active'"},
};
static char *USERS_EXCLUDE[] = {"password_hash"};

static config_table_t users_entry(void)
{
    return (config_table_t){.source = {"public", "users"},
                            .target = {"app", "accounts"},
                            .columns = USERS_MAP,
                            .ncolumns = NELEMS(USERS_MAP),
                            .exclude = USERS_EXCLUDE,
                            .nexclude = NELEMS(USERS_EXCLUDE),
                            .where = "is_active"};
}

static transform_plan_t *plan_of(const config_table_t *t, const char *const *src, int nsrc,
                                 const char *const *tgt, int ntgt, char *err, size_t errsize)
{
    err[0] = '\0';
    return transform_plan_new(t, src, nsrc, tgt, ntgt, "public.users", err, errsize);
}

static void assert_plan_error(const config_table_t *t, const char *const *src, int nsrc,
                              const char *const *tgt, int ntgt, const char *fragment)
{
    char err[512];
    transform_plan_t *p = plan_of(t, src, nsrc, tgt, ntgt, err, sizeof(err));
    if (p != NULL) {
        transform_plan_free(p);
        fail_msg("plan built; expected an error with [%s]", fragment);
    }
    if (strstr(err, fragment) == NULL)
        fail_msg("error [%s] lacks [%s]", err, fragment);
    assert_non_null(strstr(err, "public.users"));
}

static void test_plan_passthrough(void **state)
{
    (void)state;
    char err[256];
    transform_plan_t *p = plan_of(NULL, USERS, NELEMS(USERS), USERS, NELEMS(USERS), err, 256);
    assert_non_null(p);
    assert_true(p->passthrough);
    assert_int_equal(p->ncols, 0);
    assert_null(p->where);
    transform_plan_free(p);

    /* a renaming entry without columns/exclude/where needs no transform */
    config_table_t t = {.source = {"public", "users"}, .target = {"app", "accounts"}};
    p = plan_of(&t, USERS, NELEMS(USERS), ACCOUNTS, NELEMS(ACCOUNTS), err, 256);
    assert_non_null(p);
    assert_true(p->passthrough);
    transform_plan_free(p);

    transform_plan_free(NULL);
}

static void test_plan_explicit_and_implicit(void **state)
{
    (void)state;
    char err[512];
    config_table_t t = users_entry();
    transform_plan_t *p =
        plan_of(&t, USERS, NELEMS(USERS), ACCOUNTS, NELEMS(ACCOUNTS), err, sizeof(err));
    if (p == NULL)
        fail_msg("%s", err);
    assert_false(p->passthrough);
    assert_int_equal(p->nsrc, NELEMS(USERS));
    /* five explicit, then id and is_active by name; note has no source: target default */
    assert_int_equal(p->ncols, 7);
    assert_int_equal(transform_plan_find(p, "note"), -1);
    assert_int_equal(transform_plan_find(p, "nosuch"), -1);

    int c = transform_plan_find(p, "email");
    assert_int_equal(c, 0);
    assert_string_equal(p->cols[c].expr, "lower(email)");
    assert_int_equal(p->cols[c].src_col, -1);
    assert_memory_equal(p->cols[c].refs, "\0\1\0\0\0\0\0", 7);

    c = transform_plan_find(p, "created_at");
    assert_string_equal(p->cols[c].expr, "created_date");
    assert_int_equal(p->cols[c].src_col, 3); /* a rename */

    c = transform_plan_find(p, "updated_at");
    assert_int_equal(p->cols[c].src_col, -1);
    assert_memory_equal(p->cols[c].refs, "\0\0\0\1\1\0\0", 7);

    c = transform_plan_find(p, "status");
    assert_memory_equal(p->cols[c].refs, "\0\0\0\0\0\0\0", 7);

    c = transform_plan_find(p, "id");
    assert_int_equal(c, 5);
    assert_null(p->cols[c].expr);
    assert_int_equal(p->cols[c].src_col, 0);
    assert_memory_equal(p->cols[c].refs, "\1\0\0\0\0\0\0", 7);

    c = transform_plan_find(p, "is_active");
    assert_int_equal(c, 6);
    assert_int_equal(p->cols[c].src_col, 6);

    assert_string_equal(p->where, "is_active");
    assert_memory_equal(p->where_refs, "\0\0\0\0\0\0\1", 7);
    transform_plan_free(p);
}

/* A target column named like an excluded source column gets its default. */
static void test_plan_exclude(void **state)
{
    (void)state;
    static const char *const src[] = {"id", "secret", "v"};
    static const char *const tgt[] = {"id", "secret", "v"};
    static char *ex[] = {"secret"};
    config_table_t t = {.source = {"public", "users"}, .exclude = ex, .nexclude = 1};
    char err[256];
    transform_plan_t *p = plan_of(&t, src, 3, tgt, 3, err, sizeof(err));
    if (p == NULL)
        fail_msg("%s", err);
    assert_false(p->passthrough);
    assert_int_equal(p->ncols, 2);
    assert_int_equal(transform_plan_find(p, "secret"), -1);
    assert_int_equal(p->cols[transform_plan_find(p, "v")].src_col, 2);
    assert_null(p->where);
    assert_null(p->where_refs);
    transform_plan_free(p);
}

static void test_plan_unknown_target_column(void **state)
{
    (void)state;
    static config_column_map_t map[] = {{"nosuch", "lower(email)"}};
    config_table_t t = users_entry();
    t.columns = map;
    t.ncolumns = 1;
    assert_plan_error(&t, USERS, NELEMS(USERS), ACCOUNTS, NELEMS(ACCOUNTS),
                      "target column \"nosuch\" does not exist");
}

static void test_plan_unknown_exclude_column(void **state)
{
    (void)state;
    static char *ex[] = {"password_hash", "nosuch"};
    config_table_t t = users_entry();
    t.exclude = ex;
    t.nexclude = 2;
    assert_plan_error(&t, USERS, NELEMS(USERS), ACCOUNTS, NELEMS(ACCOUNTS),
                      "exclude: source column \"nosuch\" does not exist");
}

static void test_plan_unmapped_source_column(void **state)
{
    (void)state;
    config_table_t t = users_entry();
    t.nexclude = 0;
    assert_plan_error(&t, USERS, NELEMS(USERS), ACCOUNTS, NELEMS(ACCOUNTS),
                      "source column \"password_hash\" maps nowhere");

    /* a column read only by the filter is used */
    static const char *const tgt[] = {"id",         "email",      "full_name",
                                      "created_at", "updated_at", "status"};
    t = users_entry();
    transform_plan_t *p;
    char err[512];
    p = plan_of(&t, USERS, NELEMS(USERS), tgt, NELEMS(tgt), err, sizeof(err));
    if (p == NULL)
        fail_msg("%s", err);
    assert_int_equal(transform_plan_find(p, "is_active"), -1);
    transform_plan_free(p);

    /* without the filter, is_active maps nowhere */
    t.where = NULL;
    assert_plan_error(&t, USERS, NELEMS(USERS), tgt, NELEMS(tgt),
                      "source column \"is_active\" maps nowhere");
}

static void test_plan_bad_expressions(void **state)
{
    (void)state;
    static config_column_map_t map[] = {{"email", "1); DROP TABLE t; --"}};
    config_table_t t = users_entry();
    t.columns = map;
    t.ncolumns = 1;
    assert_plan_error(&t, USERS, NELEMS(USERS), ACCOUNTS, NELEMS(ACCOUNTS), "columns.email:");

    t = users_entry();
    t.where = "is_active; DELETE FROM t";
    assert_plan_error(&t, USERS, NELEMS(USERS), ACCOUNTS, NELEMS(ACCOUNTS), "where: ';'");
    t.where = "   ";
    assert_plan_error(&t, USERS, NELEMS(USERS), ACCOUNTS, NELEMS(ACCOUNTS), "where: empty");
}

static void test_plan_where_refs(void **state)
{
    (void)state;
    static const char *const src[] = {"id", "Kind", "qty", "note"};
    static const char *const tgt[] = {"id", "qty", "note"};
    static char *ex[] = {"Kind"};
    config_table_t t = {.source = {"public", "users"},
                        .exclude = ex,
                        .nexclude = 1,
                        .where = "\"Kind\" = 'kind' AND qty > 0 AND 'note' <> ''"};
    char err[256];
    transform_plan_t *p = plan_of(&t, src, 4, tgt, 3, err, sizeof(err));
    if (p == NULL)
        fail_msg("%s", err);
    assert_string_equal(p->where, t.where);
    assert_memory_equal(p->where_refs, "\0\1\1\0", 4);
    transform_plan_free(p);
}

/* Quoted, hostile names resolve exactly and flow through as refs. */
static void test_plan_hostile_names(void **state)
{
    (void)state;
    static const char *const src[] = {"Id", "select", "Col Name", "a;b"};
    static const char *const tgt[] = {"Id", "select", "Col Name", "a;b", "x"};
    static config_column_map_t map[] = {
        {"x", "\"select\" || \"Col Name\" || \"a;b\""},
        {"Col Name", "upper(\"Col Name\")"},
    };
    config_table_t t = {.source = {"public", "users"}, .columns = map, .ncolumns = 2};
    char err[256];
    transform_plan_t *p = plan_of(&t, src, 4, tgt, 5, err, sizeof(err));
    if (p == NULL)
        fail_msg("%s", err);
    assert_int_equal(p->ncols, 5);
    assert_memory_equal(p->cols[transform_plan_find(p, "x")].refs, "\0\1\1\1", 4);
    assert_int_equal(p->cols[transform_plan_find(p, "Id")].src_col, 0);
    assert_int_equal(p->cols[transform_plan_find(p, "a;b")].src_col, 3);
    transform_plan_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expr_ok_accepts),
        cmocka_unit_test(test_expr_ok_rejects),
        cmocka_unit_test(test_expr_ok_non_ascii),
        cmocka_unit_test(test_expr_ok_small_errbuf),
        cmocka_unit_test(test_expr_refs),
        cmocka_unit_test(test_expr_column),
        cmocka_unit_test(test_plan_passthrough),
        cmocka_unit_test(test_plan_explicit_and_implicit),
        cmocka_unit_test(test_plan_exclude),
        cmocka_unit_test(test_plan_unknown_target_column),
        cmocka_unit_test(test_plan_unknown_exclude_column),
        cmocka_unit_test(test_plan_unmapped_source_column),
        cmocka_unit_test(test_plan_bad_expressions),
        cmocka_unit_test(test_plan_where_refs),
        cmocka_unit_test(test_plan_hostile_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
