/*
 * Unit tests for ddl: event parsing, picking the statement of a multi-statement
 * query string (quotes, dollar quotes, comments, DO blocks), ADD COLUMN
 * detection, and the decision under the configuration (scope, modes, mapped tables).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/ddl.h"

static ddl_event_t parse(const char *json)
{
    ddl_event_t ev;
    char eb[256];
    assert_int_equal(ddl_event_parse(json, strlen(json), &ev, eb, sizeof(eb)), 0);
    return ev;
}

static char *statement_of(const char *tag, const char *query, int ordinal)
{
    ddl_event_t ev = {.tag = (char *)tag, .query = (char *)query, .ordinal = ordinal};
    char eb[256];
    return ddl_statement(&ev, eb, sizeof(eb));
}

static void test_parse(void **state)
{
    (void)state;
    ddl_event_t ev =
        parse("{\"tag\": \"ALTER TABLE\", \"query\": \"ALTER TABLE t ADD c int\", \"ordinal\": 1, "
              "\"search_path\": \"public\", \"objects\": [{\"type\": \"table\", \"identity\": "
              "\"public.t\", \"schema\": \"public\", \"table_schema\": \"public\", \"table\": "
              "\"t\"}, {\"type\": \"index\", \"identity\": \"public.i\", \"schema\": \"public\", "
              "\"table_schema\": null, \"table\": null}]}");
    assert_string_equal(ev.tag, "ALTER TABLE");
    assert_int_equal(ev.nobjects, 2);
    assert_string_equal(ev.objects[0].table, "t");
    assert_null(ev.objects[1].table);
    assert_null(ev.error);
    ddl_event_clear(&ev);

    char eb[256];
    assert_int_equal(ddl_event_parse("{\"tag\": 1}", 10, &ev, eb, sizeof(eb)), -1);
    ddl_event_clear(&ev);
    assert_int_equal(ddl_event_parse("not json", 8, &ev, eb, sizeof(eb)), -1);
    ddl_event_clear(&ev);
}

static void test_signed_message(void **state)
{
    (void)state;
    const char *sig, *body;
    size_t n;
    char msg[200];
    snprintf(msg, sizeof(msg),
             "%s{\"tag\": \"DROP TABLE\", \"query\": \"DROP TABLE t\", "
             "\"ordinal\": 1, \"search_path\": \"public\", \"xid\": \"4294967301\"}",
             "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF");
    assert_int_equal(ddl_message_split(msg, strlen(msg), &sig, &body, &n), 0);
    assert_ptr_equal(sig, msg);
    assert_int_equal(body[0], '{');
    assert_int_equal(n, strlen(msg) - DDL_SIG_HEX);
    ddl_event_t ev = parse(body);
    assert_true(ev.xid == 4294967301ULL); /* epoch 1, xid 5 */
    assert_int_equal((uint32_t)ev.xid, 5);
    ddl_event_clear(&ev);

    /* an unsigned message (the trigger before signing, or a forged one) */
    const char *plain = "{\"tag\": \"DROP TABLE\", \"query\": \"DROP TABLE victim, other, "
                        "more, tables, here, and, there\"}";
    assert_int_equal(ddl_message_split(plain, strlen(plain), &sig, &body, &n), -1);
    assert_int_equal(ddl_message_split(msg, DDL_SIG_HEX, &sig, &body, &n), -1);
    ev = parse("{\"tag\": \"T\", \"query\": \"q\", \"ordinal\": 1, \"search_path\": \"p\"}");
    assert_true(ev.xid == 0);
    ddl_event_clear(&ev);
}

static void test_statement_pick(void **state)
{
    (void)state;
    const char *q = "BEGIN; INSERT INTO t VALUES (1, ';'); -- ALTER TABLE x;\n"
                    "ALTER TABLE t ADD COLUMN \"a;b\" text DEFAULT $$;$$;"
                    "/* CREATE INDEX /* nested; */ ; */ INSERT INTO t VALUES (E'\\';');"
                    "  create unique index i on t (a) ; ALTER TABLE t ALTER a SET NOT NULL; COMMIT";
    char *s = statement_of("ALTER TABLE", q, 1);
    assert_non_null(s);
    assert_string_equal(s, "ALTER TABLE t ADD COLUMN \"a;b\" text DEFAULT $$;$$");
    free(s);
    s = statement_of("CREATE INDEX", q, 2);
    assert_non_null(s);
    assert_string_equal(s, "create unique index i on t (a)");
    free(s);
    s = statement_of("ALTER TABLE", q, 3);
    assert_non_null(s);
    assert_string_equal(s, "ALTER TABLE t ALTER a SET NOT NULL");
    free(s);
    /* the tag does not fit: DDL run by a function called from the query */
    assert_null(statement_of("CREATE TABLE", "SELECT migrate(); ALTER TABLE t ADD c int", 1));
    assert_null(statement_of("ALTER TABLE", "SELECT migrate()", 1));
    /* a DO block is refused, not guessed */
    assert_null(statement_of("ALTER TABLE", "DO $x$ BEGIN ALTER TABLE t ADD c int; END $x$", 1));
    /* CREATE ROLE fires no event trigger: not counted */
    s = statement_of("CREATE TABLE", "CREATE ROLE r; CREATE TEMP TABLE x (a int)", 1);
    assert_non_null(s);
    assert_string_equal(s, "CREATE TEMP TABLE x (a int)");
    free(s);
}

static void test_add_column(void **state)
{
    (void)state;
    assert_true(ddl_is_add_column("ALTER TABLE t ADD COLUMN c int DEFAULT f(1, 2)"));
    assert_true(ddl_is_add_column("alter table if exists only s.t add c text default 'a,b'"));
    assert_false(ddl_is_add_column("ALTER TABLE t ADD COLUMN c int, ADD COLUMN d int"));
    assert_false(ddl_is_add_column("ALTER TABLE t ADD CONSTRAINT k CHECK (c > 0)"));
    assert_false(ddl_is_add_column("ALTER TABLE t ADD PRIMARY KEY (c)"));
    assert_false(ddl_is_add_column("ALTER TABLE t DROP COLUMN c"));
    assert_false(ddl_is_add_column("CREATE INDEX ON t (c)"));
}

static config_t *load(const char *json)
{
    config_err_t err;
    char eb[256];
    config_t *cfg = config_load_string(json, &err, eb, sizeof(eb));
    if (cfg == NULL)
        fail_msg("%s", eb);
    return cfg;
}

#define EVENT(tag, query, tschema, table)                                                          \
    "{\"tag\": \"" tag "\", \"query\": \"" query "\", \"ordinal\": 1, \"search_path\": "           \
    "\"public\", \"objects\": [{\"type\": \"table\", \"identity\": \"x\", \"schema\": \"" tschema  \
    "\", \"table_schema\": \"" tschema "\", \"table\": \"" table "\"}]}"

static ddl_action_t decide(const config_t *cfg, const char *json, char *reason, size_t size)
{
    ddl_event_t ev = parse(json);
    ddl_decision_t d;
    assert_int_equal(ddl_decide(cfg, &ev, &d), 0);
    assert_true((d.action == DDL_RUN) == (d.statement != NULL));
    snprintf(reason, size, "%s", d.reason);
    free(d.statement);
    ddl_event_clear(&ev);
    return d.action;
}

static void test_decide(void **state)
{
    char r[1024];
    (void)state;
    config_t *all = load("{\"name\": \"n\", \"source\": {\"conninfo\": \"\"}}");
    assert_int_equal(
        decide(all, EVENT("ALTER TABLE", "ALTER TABLE t ADD c int", "public", "t"), r, sizeof(r)),
        DDL_RUN);
    ddl_event_t ev = parse(EVENT(
        "CREATE INDEX", "create unique index concurrently if not exists i on t (concurrently)",
        "public", "t"));
    ddl_decision_t d;
    assert_int_equal(ddl_decide(all, &ev, &d), 0);
    assert_int_equal(d.action, DDL_RUN);
    assert_string_equal(d.statement, "create unique index  if not exists i on t (concurrently)");
    free(d.statement);
    ddl_event_clear(&ev);
    assert_int_equal(
        decide(all, EVENT("CREATE FUNCTION", "CREATE FUNCTION f()", "public", "t"), r, sizeof(r)),
        DDL_SKIP);
    assert_int_equal(decide(all,
                            EVENT("CREATE TABLE AS", "CREATE TABLE t AS SELECT 1", "public", "t"),
                            r, sizeof(r)),
                     DDL_STOP);
    config_free(all);

    config_t *cfg =
        load("{\"name\": \"n\", \"source\": {\"conninfo\": \"\"}, \"ddl\": \"stop\", \"tables\": ["
             "{\"source\": \"public.a\", \"ddl\": \"apply\"}, {\"source\": \"public.s\"},"
             "{\"source\": \"public.i\", \"ddl\": \"ignore\"},"
             "{\"source\": \"public.r\", \"target\": \"public.r2\", \"ddl\": \"apply\"},"
             "{\"source\": \"public.x\", \"exclude\": [\"secret\"], \"ddl\": \"apply\"},"
             "{\"source\": \"public.k\", \"skip\": true}]}");
    assert_int_equal(
        decide(cfg, EVENT("ALTER TABLE", "ALTER TABLE a ADD c int", "public", "a"), r, sizeof(r)),
        DDL_RUN);
    assert_int_equal(
        decide(cfg, EVENT("ALTER TABLE", "ALTER TABLE s ADD c int", "public", "s"), r, sizeof(r)),
        DDL_STOP);
    assert_non_null(strstr(r, "ALTER TABLE s ADD c int"));
    assert_non_null(strstr(r, "--ddl-applied"));
    assert_int_equal(
        decide(cfg, EVENT("ALTER TABLE", "ALTER TABLE i ADD c int", "public", "i"), r, sizeof(r)),
        DDL_SKIP);
    assert_int_equal(
        decide(cfg, EVENT("ALTER TABLE", "ALTER TABLE k ADD c int", "public", "k"), r, sizeof(r)),
        DDL_SKIP);
    assert_int_equal(
        decide(cfg, EVENT("ALTER TABLE", "ALTER TABLE z ADD c int", "public", "z"), r, sizeof(r)),
        DDL_SKIP);
    /* a renamed table takes nothing; an exclude-mapped one takes an ADD COLUMN only */
    assert_int_equal(
        decide(cfg, EVENT("ALTER TABLE", "ALTER TABLE r ADD c int", "public", "r"), r, sizeof(r)),
        DDL_STOP);
    assert_non_null(strstr(r, "public.r"));
    assert_non_null(strstr(r, "maps"));
    assert_int_equal(
        decide(cfg, EVENT("ALTER TABLE", "ALTER TABLE x ADD c int", "public", "x"), r, sizeof(r)),
        DDL_RUN);
    assert_int_equal(
        decide(cfg, EVENT("ALTER TABLE", "ALTER TABLE x DROP secret", "public", "x"), r, sizeof(r)),
        DDL_STOP);
    config_free(cfg);
}

static void test_trigger_error_stops(void **state)
{
    char r[1024];
    (void)state;
    config_t *all = load("{\"name\": \"n\", \"source\": {\"conninfo\": \"\"}}");
    assert_int_equal(decide(all,
                            "{\"tag\": \"ALTER TABLE\", \"query\": \"ALTER TABLE t ADD c int\", "
                            "\"ordinal\": 1, \"search_path\": \"public\", \"objects\": [], "
                            "\"error\": \"boom\"}",
                            r, sizeof(r)),
                     DDL_STOP);
    assert_non_null(strstr(r, "boom"));
    config_free(all);
}

static void test_summary(void **state)
{
    char b[16];
    (void)state;
    ddl_summary("ALTER  TABLE\n\tt", b, sizeof(b));
    assert_string_equal(b, "ALTER TABLE t");
    ddl_summary("ALTER TABLE a_long_name ADD c int", b, sizeof(b));
    assert_int_equal(strlen(b), 15);
    assert_string_equal(b + 12, "...");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_statement_pick),
        cmocka_unit_test(test_add_column),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_trigger_error_stops),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_signed_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
