/*
 * Unit tests for config: defaults, environment overrides, every class of invalid input
 * (with the exact message naming the path), hostile strings, table names and table
 * lookup. Configs are written with ` for " to keep them readable; no server needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/config.h"

#define ERRSIZE 256

/* The smallest valid configuration, without the enclosing braces. */
#define BASE                                                                                       \
    "`name`: `shop`, `source`: {`conninfo`: `host=src`}, `target`: {`conninfo`: `host=dst`}"
#define CANARY "canary123"

/* Returns a malloc'd copy of s with every ` turned into ". */
static char *ticks(const char *s)
{
    char *out = strdup(s);

    assert_non_null(out);
    for (char *p = out; *p; p++)
        if (*p == '`')
            *p = '"';
    return out;
}

static config_t *load(const char *tick_json, config_err_t *err, char *errbuf)
{
    char *json = ticks(tick_json);
    config_t *cfg = config_load_string(json, err, errbuf, ERRSIZE);

    free(json);
    return cfg;
}

static config_t *load_ok(const char *tick_json)
{
    char errbuf[ERRSIZE];
    config_err_t err;
    config_t *cfg = load(tick_json, &err, errbuf);

    if (!cfg)
        fail_msg("unexpected error: %s", errbuf);
    assert_int_equal(err, CONFIG_OK);
    assert_string_equal(errbuf, "");
    return cfg;
}

/* Loads an invalid config and checks the kind and the message: exact, or contained. */
static void expect_error(const char *tick_json, config_err_t kind, const char *msg, bool exact)
{
    char errbuf[ERRSIZE];
    config_err_t err = CONFIG_OK;
    config_t *cfg = load(tick_json, &err, errbuf);

    if (cfg)
        fail_msg("accepted: %s", tick_json);
    if (err != kind)
        fail_msg("error kind %d, not %d: %s", err, kind, errbuf);
    if (exact)
        assert_string_equal(errbuf, msg);
    else if (!strstr(errbuf, msg))
        fail_msg("\"%s\" does not contain \"%s\"", errbuf, msg);
}

typedef struct error_case {
    const char *json;
    const char *msg; /* the exact message */
} error_case_t;

static void expect_invalid_cases(const error_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        expect_error(cases[i].json, CONFIG_ERR_INVALID, cases[i].msg, true);
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A malloc'd config with a string of n copies of fill substituted for %s in fmt. */
static char *with_big_string(const char *fmt, size_t n, char fill)
{
    char *s = malloc(n + 1), *out;
    size_t size = strlen(fmt) + n + 1;

    assert_non_null(s);
    memset(s, fill, n);
    s[n] = '\0';
    out = malloc(size);
    assert_non_null(out);
    snprintf(out, size, fmt, s);
    free(s);
    return out;
}

static int unset_env(void **state)
{
    (void)state;
    unsetenv("SYNCLINE_SOURCE");
    unsetenv("SYNCLINE_TARGET");
    return 0;
}

/* ---- valid configs and defaults ---- */

static void test_minimal_defaults(void **state)
{
    config_t *cfg = load_ok("{" BASE "}");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN) / 2; /* one copy worker per two cores */

    (void)state;
    assert_string_equal(cfg->name, "shop");
    assert_string_equal(cfg->source_conninfo, "host=src");
    assert_string_equal(cfg->target_conninfo, "host=dst");
    assert_string_equal(cfg->publication, "syncline_shop");
    assert_string_equal(cfg->slot, "syncline_shop");
    assert_false(cfg->has_tables);
    assert_null(cfg->tables);
    assert_int_equal(cfg->ntables, 0);
    assert_int_equal(cfg->batch_rows, 10000);
    assert_int_equal(cfg->batch_ms, 200);
    assert_int_equal(cfg->status_interval_ms, 10000);
    assert_int_equal(cfg->target_timeout_s, 120);
    assert_false(cfg->binary);
    assert_false(cfg->on_missing_row_skip);
    assert_int_equal(cfg->snapshot_workers, ncpu < 1 ? 1 : ncpu > 64 ? 64 : ncpu);
    assert_null(cfg->kafka.brokers);
    config_free(cfg);
}

static void test_empty_blocks_give_defaults(void **state)
{
    config_t *cfg =
        load_ok("{" BASE ", `apply`: {}, `snapshot`: {}, `tables`: [{`source`: `users`}]}");

    (void)state;
    assert_int_equal(cfg->batch_rows, 10000);
    assert_int_equal(cfg->batch_ms, 200);
    assert_true(cfg->snapshot_workers >= 1 && cfg->snapshot_workers <= 64);
    assert_true(cfg->has_tables);
    assert_int_equal(cfg->ntables, 1);
    config_free(cfg);
}

static void test_every_key_set(void **state)
{
    config_t *cfg = load_ok("{`name`: `a_1`,"
                            " `source`: {`conninfo`: `s`, `publication`: `pub`, `slot`: `sl0t`},"
                            " `target`: {`conninfo`: ``},"
                            " `apply`: {`batch_rows`: 1, `batch_ms`: 60000,"
                            "   `status_interval_ms`: 100, `binary`: true,"
                            "   `on_missing_row`: `skip`, `target_timeout_s`: 0},"
                            " `snapshot`: {`workers`: 64},"
                            " `kafka`: {`brokers`: `k:9092`, `topic`: `t.x-1`, `format`: `json`,"
                            "   `partitioning`: `key`, `schema_registry`: `http://r:8081`,"
                            "   `properties`: {}}}");

    (void)state;
    assert_string_equal(cfg->name, "a_1");
    assert_string_equal(cfg->publication, "pub");
    assert_string_equal(cfg->slot, "sl0t");
    assert_string_equal(cfg->target_conninfo, "");
    assert_int_equal(cfg->batch_rows, 1);
    assert_int_equal(cfg->batch_ms, 60000);
    assert_int_equal(cfg->status_interval_ms, 100);
    assert_int_equal(cfg->target_timeout_s, 0);
    assert_true(cfg->binary);
    assert_true(cfg->on_missing_row_skip);
    assert_int_equal(cfg->snapshot_workers, 64);
    assert_string_equal(cfg->kafka.brokers, "k:9092");
    assert_string_equal(cfg->kafka.topic, "t.x-1");
    assert_string_equal(cfg->kafka.format, "json");
    assert_string_equal(cfg->kafka.partitioning, "key");
    assert_string_equal(cfg->kafka.schema_registry, "http://r:8081");
    assert_int_equal(cfg->kafka.nproperties, 0);
    config_free(cfg);
}

static void test_on_missing_row_error(void **state)
{
    config_t *cfg = load_ok("{" BASE ", `apply`: {`on_missing_row`: `error`}}");

    (void)state;
    assert_false(cfg->on_missing_row_skip);
    config_free(cfg);
}

/* ---- schema and loader agree on defaults ---- */

typedef enum field_kind { F_INT, F_BOOL, F_STR, F_FLAG } field_kind_t;

typedef struct default_case {
    const char *path; /* dotted, as in the schema's nested "properties" */
    field_kind_t kind;
    size_t offset;
    const char *flag_true; /* F_FLAG: the choice that sets the bool */
} default_case_t;

static const default_case_t constant_defaults[] = {
    {"apply.batch_rows", F_INT, offsetof(config_t, batch_rows), NULL},
    {"apply.batch_ms", F_INT, offsetof(config_t, batch_ms), NULL},
    {"apply.status_interval_ms", F_INT, offsetof(config_t, status_interval_ms), NULL},
    {"apply.target_timeout_s", F_INT, offsetof(config_t, target_timeout_s), NULL},
    {"apply.binary", F_BOOL, offsetof(config_t, binary), NULL},
    {"apply.on_missing_row", F_FLAG, offsetof(config_t, on_missing_row_skip), "skip"},
    {"apply.collapse", F_BOOL, offsetof(config_t, collapse), NULL},
    {"apply.large_value_mb", F_INT, offsetof(config_t, large_value_mb), NULL},
    {"snapshot.chunk_mb", F_INT, offsetof(config_t, snapshot_chunk_mb), NULL},
    {"snapshot.defer_indexes", F_BOOL, offsetof(config_t, snapshot_defer_indexes), NULL},
    {"kafka.format", F_STR, offsetof(config_t, kafka.format), NULL},
    {"kafka.partitioning", F_STR, offsetof(config_t, kafka.partitioning), NULL},
};

/* The repository root, from this file's path as the compiler saw it. */
static char *schema_path(void)
{
    const char *suffix = "tests/unit/test_config.c";
    size_t root = strlen(__FILE__) - strlen(suffix);
    char *path = malloc(root + sizeof "schemas/config.schema.json");

    assert_non_null(path);
    snprintf(path, root + sizeof "schemas/config.schema.json", "%.*sschemas/config.schema.json",
             (int)root, __FILE__);
    return path;
}

/* Walks "a.b" through nested "properties" of the schema; NULL when absent. */
static json_t *schema_prop(json_t *schema, const char *path)
{
    char buf[128], *save = NULL;

    snprintf(buf, sizeof buf, "%s", path);
    for (char *part = strtok_r(buf, ".", &save); part && schema; part = strtok_r(NULL, ".", &save))
        schema = json_object_get(json_object_get(schema, "properties"), part);
    return schema;
}

static void assert_default_matches(const config_t *cfg, const default_case_t *c, json_t *def)
{
    const char *base = (const char *)cfg;

    assert_non_null(def);
    switch (c->kind) {
    case F_INT:
        assert_int_equal(json_integer_value(def), *(const int *)(base + c->offset));
        break;
    case F_BOOL:
        assert_int_equal(json_is_true(def), *(const bool *)(base + c->offset));
        break;
    case F_STR:
        assert_string_equal(json_string_value(def), *(char *const *)(base + c->offset));
        break;
    case F_FLAG:
        assert_int_equal(strcmp(json_string_value(def), c->flag_true) == 0,
                         *(const bool *)(base + c->offset));
        break;
    }
}

/* Counts "default" annotations under the schema's properties, recursively. */
static size_t count_defaults(json_t *schema)
{
    json_t *props = json_object_get(schema, "properties");
    size_t n = 0;

    for (void *it = json_object_iter(props); it; it = json_object_iter_next(props, it)) {
        json_t *v = json_object_iter_value(it);

        n += (json_object_get(v, "default") ? 1 : 0) + count_defaults(v);
    }
    return n;
}

static void test_schema_defaults_match(void **state)
{
    char *path = schema_path();
    json_t *schema = json_load_file(path, 0, NULL);
    config_t *cfg;

    (void)state;
    free(path);
    if (!schema)
        skip();
    cfg = load_ok("{" BASE "}");
    for (size_t i = 0; i < NELEM(constant_defaults); i++) {
        json_t *prop = schema_prop(schema, constant_defaults[i].path);

        assert_default_matches(cfg, &constant_defaults[i], json_object_get(prop, "default"));
    }
    /* no other "default" under nested "properties": every one is checked above */
    assert_int_equal(count_defaults(schema), NELEM(constant_defaults));
    config_free(cfg);
    json_decref(schema);
}

/* ---- environment ---- */

static void test_env_overrides(void **state)
{
    config_t *cfg;

    (void)state;
    setenv("SYNCLINE_SOURCE", "host=env-src", 1);
    setenv("SYNCLINE_TARGET", "host=env-dst", 1);
    cfg = load_ok("{" BASE "}");
    assert_string_equal(cfg->source_conninfo, "host=env-src");
    assert_string_equal(cfg->target_conninfo, "host=env-dst");
    config_free(cfg);

    cfg = load_ok("{`name`: `shop`}"); /* the conninfo keys become optional */
    assert_string_equal(cfg->source_conninfo, "host=env-src");
    assert_string_equal(cfg->target_conninfo, "host=env-dst");
    config_free(cfg);

    /* the file is still validated */
    expect_error("{`name`: `shop`, `source`: {`conninfo`: 1}}", CONFIG_ERR_INVALID,
                 "source.conninfo: expected a string", true);
    unset_env(NULL);
}

static void test_env_empty_is_unset(void **state)
{
    config_t *cfg;

    (void)state;
    setenv("SYNCLINE_SOURCE", "", 1);
    cfg = load_ok("{" BASE "}");
    assert_string_equal(cfg->source_conninfo, "host=src");
    config_free(cfg);
    expect_error("{`name`: `shop`, `target`: {`conninfo`: `x`}}", CONFIG_ERR_INVALID,
                 "source.conninfo: required (or set SYNCLINE_SOURCE)", true);
    unset_env(NULL);
}

static void test_env_only_one(void **state)
{
    config_t *cfg;

    (void)state;
    setenv("SYNCLINE_TARGET", "host=env-dst", 1);
    cfg = load_ok("{`name`: `shop`, `source`: {`conninfo`: `host=src`}}");
    assert_string_equal(cfg->source_conninfo, "host=src");
    assert_string_equal(cfg->target_conninfo, "host=env-dst");
    config_free(cfg);
    unset_env(NULL);
}

/* ---- malformed JSON ---- */

static void test_malformed_json(void **state)
{
    static const char *const cases[] = {
        "",    "{",         "{`name`: }", "{`name` `shop`}", "[1, 2", "{} x", "{`a`: tru}",
        "{,}", "{`a`: 1,}", "nul",        "{`a`: 01}",       "\xff",  "42",   "`just a string`",
    };
    char *deep;

    (void)state;
    for (size_t i = 0; i < NELEM(cases); i++)
        expect_error(cases[i], CONFIG_ERR_PARSE, "line 1, column ", false);
    expect_error("{\n  `name`: `shop`,\n  `x`: ]\n}", CONFIG_ERR_PARSE, "line 3, column ", false);
    deep = with_big_string("%s", 100000, '['); /* nesting beyond jansson's limit */
    expect_error(deep, CONFIG_ERR_PARSE, "maximum parsing depth reached", false);
    free(deep);
}

static void test_not_an_object(void **state)
{
    (void)state;
    expect_error("[]", CONFIG_ERR_INVALID, "(top level): expected an object", true);
    expect_error("[{" BASE "}]", CONFIG_ERR_INVALID, "(top level): expected an object", true);
}

static void test_duplicate_keys(void **state)
{
    static const char *const cases[] = {
        "{" BASE ", `name`: `other`}",
        "{" BASE ", `apply`: {`batch_ms`: 1, `batch_ms`: 2}}",
        "{" BASE ", `apply`: {}, `apply`: {}}",
        "{" BASE ", `tables`: [{`source`: `a`, `source`: `b`}]}",
        "{" BASE ", `tables`: [{`source`: `a`, `columns`: {`x`: `1`, `x`: `2`}}]}",
        "{" BASE ", `kafka`: {`brokers`: `b`, `properties`: {`acks`: `1`, `acks`: `all`}}}",
    };

    (void)state;
    for (size_t i = 0; i < NELEM(cases); i++)
        expect_error(cases[i], CONFIG_ERR_PARSE, "duplicate object key near '\"", false);
}

/* ---- unknown keys and wrong types ---- */

static void test_unknown_keys(void **state)
{
    static const error_case_t cases[] = {
        {"{" BASE ", `nmae`: `x`}", "nmae: unknown key"},
        {"{" BASE ", ``: 1}", ": unknown key"},
        {"{`name`: `shop`, `source`: {`conninfo`: `a`, `password`: `x`}}",
         "source.password: unknown key"},
        {"{`name`: `shop`, `source`: {`conninfo`: `a`}, `target`: {`conninfo`: `b`, `slot`: `x`}}",
         "target.slot: unknown key"},
        {"{" BASE ", `apply`: {`batch_row`: 5}}", "apply.batch_row: unknown key"},
        {"{" BASE ", `snapshot`: {`workers`: 2, `mode`: `auto`}}", "snapshot.mode: unknown key"},
        {"{" BASE ", `kafka`: {`brokers`: `b`, `acks`: `all`}}", "kafka.acks: unknown key"},
        {"{" BASE ", `tables`: [{`source`: `a`}, {`source`: `b`, `filter`: `x`}]}",
         "tables[1].filter: unknown key"},
        {"{" BASE ", `apply.batch_rows`: 5}", "apply.batch_rows: unknown key"},
    };

    (void)state;
    expect_invalid_cases(cases, NELEM(cases));
}

static void test_wrong_types(void **state)
{
    static const error_case_t cases[] = {
        {"{`name`: 5}", "name: expected a string"},
        {"{`name`: null}", "name: expected a string"},
        {"{`name`: `shop`, `source`: `host=x`}", "source: expected an object"},
        {"{`name`: `shop`, `source`: {`conninfo`: [`x`]}}", "source.conninfo: expected a string"},
        {"{`name`: `shop`, `source`: {`conninfo`: `a`}, `target`: null}",
         "target: expected an object"},
        {"{" BASE ", `apply`: []}", "apply: expected an object"},
        {"{" BASE ", `apply`: {`batch_rows`: `10`}}", "apply.batch_rows: expected an integer"},
        {"{" BASE ", `apply`: {`batch_rows`: 10.0}}", "apply.batch_rows: expected an integer"},
        {"{" BASE ", `apply`: {`batch_ms`: 1e3}}", "apply.batch_ms: expected an integer"},
        {"{" BASE ", `apply`: {`status_interval_ms`: true}}",
         "apply.status_interval_ms: expected an integer"},
        {"{" BASE ", `apply`: {`binary`: 1}}", "apply.binary: expected true or false"},
        {"{" BASE ", `apply`: {`binary`: `true`}}", "apply.binary: expected true or false"},
        {"{" BASE ", `apply`: {`on_missing_row`: false}}",
         "apply.on_missing_row: expected a string"},
        {"{" BASE ", `apply`: {`on_missing_row`: `ignore`}}",
         "apply.on_missing_row: expected one of \"error\", \"skip\""},
        {"{" BASE ", `snapshot`: {`workers`: `4`}}", "snapshot.workers: expected an integer"},
        {"{" BASE ", `tables`: {}}", "tables: expected an array"},
        {"{" BASE ", `tables`: [`public.users`]}", "tables[0]: expected an object"},
        {"{" BASE ", `tables`: [{`source`: 1}]}", "tables[0].source: expected a string"},
        {"{" BASE ", `tables`: [{`source`: `a`, `target`: null}]}",
         "tables[0].target: expected a string"},
        {"{" BASE ", `tables`: [{`source`: `a`, `skip`: `yes`}]}",
         "tables[0].skip: expected true or false"},
        {"{" BASE ", `tables`: [{`source`: `a`, `columns`: []}]}",
         "tables[0].columns: expected an object"},
        {"{" BASE ", `tables`: [{`source`: `a`, `columns`: {`x`: 1}}]}",
         "tables[0].columns.x: expected a string"},
        {"{" BASE ", `tables`: [{`source`: `a`, `exclude`: `x`}]}",
         "tables[0].exclude: expected an array"},
        {"{" BASE ", `tables`: [{`source`: `a`, `exclude`: [`x`, 2]}]}",
         "tables[0].exclude[1]: expected a string"},
        {"{" BASE ", `tables`: [{`source`: `a`, `where`: true}]}",
         "tables[0].where: expected a string"},
        {"{" BASE ", `kafka`: `k:9092`}", "kafka: expected an object"},
        {"{" BASE ", `kafka`: {`brokers`: [`a`, `b`]}}", "kafka.brokers: expected a string"},
        {"{" BASE ", `kafka`: {`brokers`: `b`, `format`: `protobuf`}}",
         "kafka.format: expected one of \"avro\", \"json\""},
        {"{" BASE ", `kafka`: {`brokers`: `b`, `partitioning`: `hash`}}",
         "kafka.partitioning: expected one of \"none\", \"table\", \"key\""},
        {"{" BASE ", `kafka`: {`brokers`: `b`, `properties`: []}}",
         "kafka.properties: expected an object"},
        {"{" BASE ", `kafka`: {`brokers`: `b`, `properties`: {`linger.ms`: 5}}}",
         "kafka.properties.linger.ms: expected a string"},
    };

    (void)state;
    expect_invalid_cases(cases, NELEM(cases));
}

static void test_required(void **state)
{
    static const error_case_t cases[] = {
        {"{}", "name: required"},
        {"{`source`: {`conninfo`: `a`}, `target`: {`conninfo`: `b`}}", "name: required"},
        {"{`name`: `shop`, `target`: {`conninfo`: `b`}}",
         "source.conninfo: required (or set SYNCLINE_SOURCE)"},
        {"{`name`: `shop`, `source`: {`slot`: `s`}, `target`: {`conninfo`: `b`}}",
         "source.conninfo: required (or set SYNCLINE_SOURCE)"},
        {"{" BASE ", `kafka`: {}}", "kafka.brokers: required"},
        {"{" BASE ", `kafka`: {`brokers`: ``}}", "kafka.brokers: must not be empty"},
        {"{" BASE ", `tables`: [{`target`: `a`}]}", "tables[0].source: required"},
    };

    (void)state;
    expect_invalid_cases(cases, NELEM(cases));
}

/* capture needs no target: the file may leave it out; the other commands
 * check it with config_require_target */
static void test_target_optional(void **state)
{
    char errbuf[ERRSIZE] = "";
    config_t *cfg;

    (void)state;
    cfg = load_ok("{`name`: `shop`, `source`: {`conninfo`: `a`}}");
    assert_null(cfg->target_conninfo);
    assert_int_equal(config_require_target(cfg, errbuf, sizeof(errbuf)), -1);
    assert_string_equal(errbuf, "target.conninfo: required (or set SYNCLINE_TARGET)");
    config_free(cfg);
    setenv("SYNCLINE_TARGET", "host=env-dst", 1);
    cfg = load_ok("{`name`: `shop`, `source`: {`conninfo`: `a`}}");
    assert_int_equal(config_require_target(cfg, errbuf, sizeof(errbuf)), 0);
    config_free(cfg);
    unset_env(NULL);
    cfg = load_ok("{" BASE "}");
    assert_int_equal(config_require_target(cfg, errbuf, sizeof(errbuf)), 0);
    config_free(cfg);
}

/* ---- ranges and names ---- */

typedef struct range_case {
    const char *block, *key;
    long long min, max;
} range_case_t;

static void load_int(const range_case_t *c, long long value, bool valid)
{
    char json[512], msg[128];

    snprintf(json, sizeof json, "{" BASE ", `%s`: {`%s`: %lld}}", c->block, c->key, value);
    snprintf(msg, sizeof msg, "%s.%s: must be between %lld and %lld", c->block, c->key, c->min,
             c->max);
    if (valid)
        config_free(load_ok(json));
    else
        expect_error(json, CONFIG_ERR_INVALID, msg, true);
}

static void test_int_ranges(void **state)
{
    static const range_case_t cases[] = {
        {"apply", "batch_rows", 1, 1000000},
        {"apply", "batch_ms", 1, 60000},
        {"apply", "status_interval_ms", 100, 600000},
        {"apply", "target_timeout_s", 0, 86400},
        {"snapshot", "workers", 1, 64},
    };

    (void)state;
    for (size_t i = 0; i < NELEM(cases); i++) {
        load_int(&cases[i], cases[i].min, true);
        load_int(&cases[i], cases[i].max, true);
        load_int(&cases[i], cases[i].min - 1, false);
        load_int(&cases[i], cases[i].max + 1, false);
        load_int(&cases[i], -1, false);
        load_int(&cases[i], INT64_MAX, false);
        load_int(&cases[i], INT64_MIN, false);
        load_int(&cases[i], 4294967296LL + cases[i].min, false); /* would wrap as int */
    }
    expect_error("{" BASE ", `apply`: {`batch_rows`: 99999999999999999999}}", CONFIG_ERR_PARSE,
                 "too big integer", false);
}

static void test_names(void **state)
{
    static const char *const good[] = {
        "shop", "a", "0", "_", "shop_2024", "abcdefghijklmnopqrstuvwxyz0123456789_abcdefghijk"};
    static const char *const bad[] = {"",
                                      "Shop",
                                      "shop-1",
                                      "shop 1",
                                      "shöp",
                                      "a.b",
                                      "a\\\"b",
                                      "a\\\\nb",
                                      "\\t",
                                      "syncline;drop",
                                      "a\\/b",
                                      "%s",
                                      "abcdefghijklmnopqrstuvwxyz0123456789_abcdefghijkl"};
    char json[512];
    config_t *cfg;

    (void)state;
    for (size_t i = 0; i < NELEM(good); i++) {
        snprintf(json, sizeof json,
                 "{`name`: `%s`, `source`: {`conninfo`: `a`},"
                 " `target`: {`conninfo`: `b`}}",
                 good[i]);
        cfg = load_ok(json);
        assert_string_equal(cfg->name, good[i]);
        assert_int_equal(strlen(cfg->publication), strlen("syncline_") + strlen(good[i]));
        config_free(cfg);
    }
    for (size_t i = 0; i < NELEM(bad); i++) {
        snprintf(json, sizeof json,
                 "{`name`: `%s`, `source`: {`conninfo`: `a`},"
                 " `target`: {`conninfo`: `b`}}",
                 bad[i]);
        expect_error(json, CONFIG_ERR_INVALID,
                     "name: must match ^[a-z0-9_]+$ and be at most 48 bytes", true);
    }
}

static void test_slot_and_publication(void **state)
{
    static const char *const keys[] = {"slot", "publication"};
    char json[512], msg[128];
    const char *long63 = "abcdefghijklmnopqrstuvwxyz0123456789_abcdefghijklmnopqrstuvwxyz";

    (void)state;
    for (size_t i = 0; i < NELEM(keys); i++) {
        snprintf(json, sizeof json,
                 "{`name`: `shop`, `target`: {`conninfo`: `b`},"
                 " `source`: {`conninfo`: `a`, `%s`: `%.63s`}}",
                 keys[i], long63);
        config_free(load_ok(json));
        snprintf(msg, sizeof msg, "source.%s: must match ^[a-z0-9_]+$ and be at most 63 bytes",
                 keys[i]);
        snprintf(json, sizeof json,
                 "{`name`: `shop`, `target`: {`conninfo`: `b`},"
                 " `source`: {`conninfo`: `a`, `%s`: `%s0`}}",
                 keys[i], long63); /* 64 bytes */
        expect_error(json, CONFIG_ERR_INVALID, msg, true);
        snprintf(json, sizeof json,
                 "{`name`: `shop`, `target`: {`conninfo`: `b`},"
                 " `source`: {`conninfo`: `a`, `%s`: `My-Slot`}}",
                 keys[i]);
        expect_error(json, CONFIG_ERR_INVALID, msg, true);
        snprintf(json, sizeof json,
                 "{`name`: `shop`, `target`: {`conninfo`: `b`},"
                 " `source`: {`conninfo`: `a`, `%s`: ``}}",
                 keys[i]);
        expect_error(json, CONFIG_ERR_INVALID, msg, true);
    }
}

/* ---- hostile strings ---- */

static void test_huge_strings(void **state)
{
    static const struct {
        const char *fmt, *msg;
    } cases[] = {
        {"{`name`: `shop`, `source`: {`conninfo`: `%s`}, `target`: {`conninfo`: `b`}}",
         "source.conninfo: longer than 65536 bytes"},
        {"{`name`: `shop`, `source`: {`conninfo`: `a`}, `target`: {`conninfo`: `%s`}}",
         "target.conninfo: longer than 65536 bytes"},
        {"{" BASE ", `tables`: [{`source`: `a`, `columns`: {`x`: `%s`}}]}",
         "tables[0].columns.x: longer than 65536 bytes"},
        {"{" BASE ", `tables`: [{`source`: `a`, `where`: `%s`}]}",
         "tables[0].where: longer than 65536 bytes"},
        {"{" BASE ", `tables`: [{`source`: `%s`}]}", "tables[0].source: longer than 65536 bytes"},
        {"{" BASE ", `tables`: [{`source`: `a`, `exclude`: [`%s`]}]}",
         "tables[0].exclude[0]: longer than 65536 bytes"},
        {"{" BASE ", `kafka`: {`brokers`: `%s`}}", "kafka.brokers: longer than 65536 bytes"},
        {"{" BASE ", `kafka`: {`brokers`: `b`, `properties`: {`sasl.password`: `%s`}}}",
         "kafka.properties.sasl.password: longer than 65536 bytes"},
    };

    (void)state;
    for (size_t i = 0; i < NELEM(cases); i++) {
        char *json = with_big_string(cases[i].fmt, 65536, 'x');

        config_free(load_ok(json)); /* exactly the limit is fine */
        free(json);
        json = with_big_string(cases[i].fmt, 65537, 'x');
        expect_error(json, CONFIG_ERR_INVALID, cases[i].msg, true);
        free(json);
    }
}

static void test_huge_keys(void **state)
{
    char *json;

    (void)state;
    json = with_big_string("{" BASE ", `tables`: [{`source`: `a`, `columns`: {`%s`: `1`}}]}", 65537,
                           'c');
    expect_error(json, CONFIG_ERR_INVALID, "tables[0].columns: key longer than 65536 bytes", true);
    free(json);
    json = with_big_string("{" BASE ", `%s`: 1}", 1 << 20, 'k'); /* message is truncated */
    expect_error(json, CONFIG_ERR_INVALID, "kkkkkkkk", false);
    free(json);
    json = with_big_string("{" BASE ", `apply`: {`%s`: 1}}", 1 << 20, 'k');
    expect_error(json, CONFIG_ERR_INVALID, "apply.kkkkkkkk", false);
    free(json);
}

static void test_embedded_nul(void **state)
{
    static const error_case_t cases[] = {
        {"{`name`: `sh\\u0000op`}", "name: contains a NUL byte"},
        {"{`name`: `shop`, `source`: {`conninfo`: `host=a\\u0000`}}",
         "source.conninfo: contains a NUL byte"},
        {"{" BASE ", `apply`: {`on_missing_row`: `skip\\u0000`}}",
         "apply.on_missing_row: contains a NUL byte"},
        {"{" BASE ", `tables`: [{`source`: `a\\u0000.b`}]}",
         "tables[0].source: contains a NUL byte"},
        {"{" BASE ", `tables`: [{`source`: `a`, `columns`: {`x`: `\\u0000`}}]}",
         "tables[0].columns.x: contains a NUL byte"},
        {"{" BASE ", `tables`: [{`source`: `a`, `exclude`: [`\\u0000`]}]}",
         "tables[0].exclude[0]: contains a NUL byte"},
        {"{" BASE ", `tables`: [{`source`: `a`, `where`: `x\\u0000y`}]}",
         "tables[0].where: contains a NUL byte"},
        {"{" BASE ", `kafka`: {`brokers`: `b`, `properties`: {`p`: `\\u0000`}}}",
         "kafka.properties.p: contains a NUL byte"},
    };

    (void)state;
    expect_invalid_cases(cases, NELEM(cases));
    expect_error("{" BASE ", `a\\u0000b`: 1}", CONFIG_ERR_PARSE, "NUL byte in object key", false);
}

/* A config that fails for a reason other than its conninfo must not quote the conninfo. */
static void test_password_never_echoed(void **state)
{
    static const struct {
        const char *json;
        config_err_t kind;
    } cases[] = {
#define SRC "`source`: {`conninfo`: `host=a password=" CANARY "`}"
        {"{`name`: `shop`, " SRC ", `apply`: {`batch_rows`: 0}}", CONFIG_ERR_INVALID},
        {"{`name`: `Shop`, " SRC "}", CONFIG_ERR_INVALID},
        {"{`name`: `shop`, " SRC ", `bogus`: 1}", CONFIG_ERR_INVALID},
        {"{`name`: `shop`, " SRC ", `kafka`: {}}", CONFIG_ERR_INVALID}, /* brokers missing */
        {"{`name`: `shop`, " SRC ", `source`: {}}", CONFIG_ERR_PARSE},
        {"{`name`: `shop`, `source`: {`conninfo` `password=" CANARY "`}}", CONFIG_ERR_PARSE},
        {"{`name`: `shop`, `source`: {`conninfo`: `password=" CANARY "\n`}}", CONFIG_ERR_PARSE},
        {"{`name`: `shop`, `source`: {`conninfo`: `password=" CANARY "\\q`}}", CONFIG_ERR_PARSE},
        {"{`name`: `shop`, `source`: {`conninfo`: `password=" CANARY "` `x`}}", CONFIG_ERR_PARSE},
        {"{`name`: `shop`, `source`: {`conninfo`: password=" CANARY "}}", CONFIG_ERR_PARSE},
        {"{`name`: `shop`, `source`: {`conninfo`: `password=" CANARY "\\u0000`}}",
         CONFIG_ERR_INVALID},
        {"{`name`: `shop`, `source`: {`conninfo`: `password=" CANARY "`, `slot`: `X`}}",
         CONFIG_ERR_INVALID},
        {"{`name`: `shop`, " SRC ", `target`: {`conninfo`: `password=" CANARY "`, `x`: 1}}",
         CONFIG_ERR_INVALID},
        {"{`name`: `shop`, " SRC ", `target`: {`conninfo`: `b`}, `kafka`: {`brokers`: `b`,"
         " `properties`: {`sasl.password`: `" CANARY "`, `x`: 1}}}",
         CONFIG_ERR_INVALID},
#undef SRC
    };

    (void)state;
    for (size_t i = 0; i < NELEM(cases); i++) {
        char errbuf[ERRSIZE];
        config_err_t err;
        config_t *cfg = load(cases[i].json, &err, errbuf);

        assert_null(cfg);
        assert_int_equal(err, cases[i].kind);
        assert_true(errbuf[0] != '\0');
        if (strstr(errbuf, CANARY))
            fail_msg("case %zu echoes the password: %s", i, errbuf);
    }
}

static void test_password_from_env_never_echoed(void **state)
{
    char errbuf[ERRSIZE];
    config_err_t err;

    (void)state;
    setenv("SYNCLINE_SOURCE", "password=" CANARY, 1);
    assert_null(load("{`name`: `shop`, `apply`: {`binary`: 1}}", &err, errbuf));
    assert_null(strstr(errbuf, CANARY));
    unset_env(NULL);
}

/* ---- qualified names ---- */

typedef struct qname_case {
    const char *in, *schema, *name;
} qname_case_t;

static void test_qname_valid(void **state)
{
    static const qname_case_t cases[] = {
        {"public.users", "public", "users"},
        {"users", "public", "users"},
        {"Sales.Orders", "Sales", "Orders"}, /* no case folding */
        {"\"Sales\".\"Orders\"", "Sales", "Orders"},
        {"\"my.schema\".\"my.table\"", "my.schema", "my.table"},
        {"\"a b\".c", "a b", "c"},
        {"s.\"say \"\"hi\"\"\"", "s", "say \"hi\""},
        {"\"\"\"\"", "public", "\""},
        {"\"x\"\"\".y", "x\"", "y"},
        {"\"semi;colon\".\"select\"", "semi;colon", "select"},
        {"sales.*", "sales", "*"},
        {"\"Sales Dept\".*", "Sales Dept", "*"},
        {"*", "public", "*"},
        {"s.\"a*b\"", "s", "a*b"},
        {"\"*\".t", "*", "t"},
        {"schéma.tàble", "schéma", "tàble"},
        {"a$1.b_2", "a$1", "b_2"},
        {" a . b ", " a ", " b "}, /* kept as written */
    };

    (void)state;
    for (size_t i = 0; i < NELEM(cases); i++) {
        config_qname_t q = {NULL, NULL};

        if (!config_parse_qname(cases[i].in, &q))
            fail_msg("rejected: %s", cases[i].in);
        assert_string_equal(q.schema, cases[i].schema);
        assert_string_equal(q.name, cases[i].name);
        free(q.schema);
        free(q.name);
    }
}

static void test_qname_invalid(void **state)
{
    static const char *const cases[] = {
        "",        ".",      "a.",       ".a",   "a..b",         "a.b.c", "\"a\".\"b\".\"c\"",
        "\"\"",    "\"\".a", "a.\"\"",   "\"a",  "\"a\"\"",      "a.\"b", "\"a\\\"b",
        "a\"b\"",  "ab\"",   "\"a\"x.b", "*.a",  "*.*",          "a.b*",  "a*.b",
        "a.\"*\"", "\"*\"",  "a.*b",     "a.**", "\"a\".\"b\"c",
    };

    (void)state;
    for (size_t i = 0; i < NELEM(cases); i++) {
        config_qname_t q = {NULL, NULL};

        if (config_parse_qname(cases[i], &q))
            fail_msg("accepted: %s -> %s.%s", cases[i], q.schema, q.name);
        assert_null(q.schema);
        assert_null(q.name);
    }
    assert_false(config_parse_qname(NULL, &(config_qname_t){NULL, NULL}));
    assert_false(config_parse_qname("a.b", NULL));
}

/* ---- tables ---- */

static void test_tables_transform(void **state)
{
    config_t *cfg =
        load_ok("{" BASE ", `tables`: [{`source`: `public.users`, `target`: `app.accounts`,"
                " `columns`: {`email`: `lower(email)`, `full_name`: `btrim(name)`,"
                "   `created_at`: `created_date`,"
                "   `updated_at`: `coalesce(modified_date, created_date)`, `status`: `'active'`},"
                " `exclude`: [`password_hash`, `legacy`], `where`: `is_active`}]}");
    const config_table_t *t = &cfg->tables[0];
    static const char *const order[] = {"email", "full_name", "created_at", "updated_at", "status"};

    (void)state;
    assert_true(cfg->has_tables);
    assert_int_equal(cfg->ntables, 1);
    assert_string_equal(t->source.schema, "public");
    assert_string_equal(t->source.name, "users");
    assert_string_equal(t->target.schema, "app");
    assert_string_equal(t->target.name, "accounts");
    assert_false(t->skip);
    assert_int_equal(t->ncolumns, 5);
    for (int i = 0; i < t->ncolumns; i++)
        assert_string_equal(t->columns[i].target_column, order[i]);
    assert_string_equal(t->columns[1].expression, "btrim(name)");
    assert_string_equal(t->columns[4].expression, "'active'");
    assert_int_equal(t->nexclude, 2);
    assert_string_equal(t->exclude[0], "password_hash");
    assert_string_equal(t->exclude[1], "legacy");
    assert_string_equal(t->where, "is_active");
    config_free(cfg);
}

static void test_tables_defaults(void **state)
{
    config_t *cfg = load_ok("{" BASE ", `tables`: [{`source`: `users`},"
                            " {`source`: `\\`Odd.Name\\``, `columns`: {}, `exclude`: []}]}");

    (void)state;
    assert_int_equal(cfg->ntables, 2);
    for (int i = 0; i < 2; i++) {
        const config_table_t *t = &cfg->tables[i];

        assert_string_equal(t->target.schema, t->source.schema);
        assert_string_equal(t->target.name, t->source.name);
        assert_false(t->skip);
        assert_int_equal(t->ncolumns, 0);
        assert_null(t->columns);
        assert_int_equal(t->nexclude, 0);
        assert_null(t->exclude);
        assert_null(t->where);
    }
    assert_string_equal(cfg->tables[0].source.schema, "public");
    assert_string_equal(cfg->tables[1].source.schema, "public");
    assert_string_equal(cfg->tables[1].source.name, "Odd.Name");
    config_free(cfg);
}

static void test_tables_patterns_and_skip(void **state)
{
    config_t *cfg = load_ok("{" BASE ", `tables`: ["
                            " {`source`: `sales.*`, `target`: `archive.*`},"
                            " {`source`: `hr.*`},"
                            " {`source`: `sales.secret`, `skip`: true},"
                            " {`source`: `sales.big`, `skip`: false, `where`: `id > 0`}]}");

    (void)state;
    assert_string_equal(cfg->tables[0].target.schema, "archive");
    assert_string_equal(cfg->tables[0].target.name, "*");
    assert_string_equal(cfg->tables[1].target.schema, "hr");
    assert_string_equal(cfg->tables[1].target.name, "*");
    assert_true(cfg->tables[2].skip);
    assert_false(cfg->tables[3].skip);
    config_free(cfg);
}

static void test_tables_errors(void **state)
{
    static const error_case_t cases[] = {
        {"{" BASE ", `tables`: []}", "tables: empty; omit it to sync every table"},
        {"{" BASE ", `tables`: [{}]}", "tables[0].source: required"},
        {"{" BASE ", `tables`: [{`source`: ``}]}",
         "tables[0].source: expected schema.table, table or schema.* (quote a part with \"...\")"},
        {"{" BASE ", `tables`: [{`source`: `a.b.c`}]}",
         "tables[0].source: expected schema.table, table or schema.* (quote a part with \"...\")"},
        {"{" BASE ", `tables`: [{`source`: `a`, `target`: `x.`}]}",
         "tables[0].target: expected schema.table, table or schema.* (quote a part with \"...\")"},
        {"{" BASE ", `tables`: [{`source`: `sales.*`, `target`: `archive.t`}]}",
         "tables[0].target: must be a pattern schema.* like the source"},
        {"{" BASE ", `tables`: [{`source`: `sales.t`, `target`: `archive.*`}]}",
         "tables[0].target: a pattern needs a pattern source"},
        {"{" BASE ", `tables`: [{`source`: `a`, `skip`: true, `columns`: {}}]}",
         "tables[0].columns: not allowed with \"skip\": true"},
        {"{" BASE ", `tables`: [{`source`: `a`, `skip`: true, `exclude`: [`x`]}]}",
         "tables[0].exclude: not allowed with \"skip\": true"},
        {"{" BASE ", `tables`: [{`source`: `a`, `skip`: true, `where`: `x`}]}",
         "tables[0].where: not allowed with \"skip\": true"},
        {"{" BASE ", `tables`: [{`source`: `a`, `where`: ``}]}",
         "tables[0].where: must not be empty"},
        {"{" BASE ", `tables`: [{`source`: `a`, `columns`: {`x`: ``}}]}",
         "tables[0].columns.x: must not be empty"},
        {"{" BASE ", `tables`: [{`source`: `a`, `columns`: {``: `x`}}]}",
         "tables[0].columns: empty key"},
        {"{" BASE ", `tables`: [{`source`: `a`, `exclude`: [``]}]}",
         "tables[0].exclude[0]: must not be empty"},
        {"{" BASE ", `tables`: [{`source`: `public.users`}, {`source`: `users`}]}",
         "tables[1].source: same source as tables[0]"},
        {"{" BASE
         ", `tables`: [{`source`: `a.b`}, {`source`: `c`}, {`source`: `\\`a\\`.\\`b\\``}]}",
         "tables[2].source: same source as tables[0]"},
        {"{" BASE ", `tables`: [{`source`: `s.*`}, {`source`: `s.*`, `target`: `t.*`}]}",
         "tables[1].source: same source as tables[0]"},
        {"{" BASE ", `tables`: [{`source`: `x`, `skip`: true}, {`source`: `x`}]}",
         "tables[1].source: same source as tables[0]"},
    };
    config_t *cfg;

    (void)state;
    expect_invalid_cases(cases, NELEM(cases));
    /* case matters, as written: these are different tables */
    cfg = load_ok("{" BASE ", `tables`: [{`source`: `Users`}, {`source`: `users`},"
                  " {`source`: `s.t`}, {`source`: `s.*`}]}");
    assert_int_equal(cfg->ntables, 4);
    config_free(cfg);
}

static void test_tables_many(void **state)
{
    size_t n = 5000, size = n * 40 + 256, used;
    char *json = malloc(size);
    config_t *cfg;

    (void)state;
    assert_non_null(json);
    used = (size_t)snprintf(json, size, "{" BASE ", `tables`: [");
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(json + used, size - used, "%s{`source`: `s.t%zu`}", i ? ", " : "",
                                 (i * 7919) % n);
    snprintf(json + used, size - used, "]}");
    cfg = load_ok(json);
    assert_int_equal(cfg->ntables, (int)n);
    config_free(cfg);
    snprintf(json + used, size - used, ", {`source`: `s.t4999`}]}");
    expect_error(json, CONFIG_ERR_INVALID, "tables[5000].source: same source as tables[", false);
    free(json);
}

static void test_find_table(void **state)
{
    config_t *cfg = load_ok("{" BASE ", `tables`: ["
                            " {`source`: `sales.*`, `target`: `archive.*`},"
                            " {`source`: `sales.secret`, `skip`: true},"
                            " {`source`: `users`, `target`: `app.accounts`},"
                            " {`source`: `\\`Big Co\\`.\\`Orders\\``}]}");

    (void)state;
    assert_ptr_equal(config_find_table(cfg, "sales", "secret"), &cfg->tables[1]);
    assert_ptr_equal(config_find_table(cfg, "sales", "orders"), &cfg->tables[0]);
    assert_ptr_equal(config_find_table(cfg, "public", "users"), &cfg->tables[2]);
    assert_ptr_equal(config_find_table(cfg, "Big Co", "Orders"), &cfg->tables[3]);
    assert_null(config_find_table(cfg, "Big Co", "orders"));
    assert_null(config_find_table(cfg, "public", "Users"));
    assert_null(config_find_table(cfg, "Sales", "orders"));
    assert_null(config_find_table(cfg, "app", "accounts")); /* matches sources only */
    assert_null(config_find_table(cfg, NULL, "users"));
    assert_null(config_find_table(NULL, "public", "users"));
    config_free(cfg);

    cfg = load_ok("{" BASE "}");
    assert_null(config_find_table(cfg, "public", "users"));
    config_free(cfg);
}

/* ---- kafka ---- */

static void test_kafka_defaults(void **state)
{
    config_t *cfg = load_ok("{" BASE ", `kafka`: {`brokers`: `k1:9092,k2:9092`}}");

    (void)state;
    assert_string_equal(cfg->kafka.brokers, "k1:9092,k2:9092");
    assert_string_equal(cfg->kafka.topic, "syncline.shop");
    assert_string_equal(cfg->kafka.format, "avro");
    assert_string_equal(cfg->kafka.partitioning, "none");
    assert_null(cfg->kafka.schema_registry);
    assert_int_equal(cfg->kafka.nproperties, 0);
    assert_null(cfg->kafka.property_keys);
    assert_null(cfg->kafka.property_values);
    config_free(cfg);

    cfg = load_ok("{" BASE "}"); /* no block: no brokers, the rest still defaulted */
    assert_null(cfg->kafka.brokers);
    assert_string_equal(cfg->kafka.topic, "syncline.shop");
    assert_string_equal(cfg->kafka.format, "avro");
    assert_string_equal(cfg->kafka.partitioning, "none");
    config_free(cfg);
}

static void test_kafka_properties(void **state)
{
    config_t *cfg = load_ok("{" BASE ", `kafka`: {`brokers`: `b`, `properties`: {"
                            " `security.protocol`: `SASL_SSL`, `sasl.mechanisms`: `PLAIN`,"
                            " `compression.type`: `zstd`, `linger.ms`: `20`, `x.empty`: ``}}}");
    static const char *const keys[] = {"security.protocol", "sasl.mechanisms", "compression.type",
                                       "linger.ms", "x.empty"};
    static const char *const values[] = {"SASL_SSL", "PLAIN", "zstd", "20", ""};

    (void)state;
    assert_int_equal(cfg->kafka.nproperties, 5);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(cfg->kafka.property_keys[i], keys[i]);
        assert_string_equal(cfg->kafka.property_values[i], values[i]);
    }
    config_free(cfg);
}

static void test_kafka_errors(void **state)
{
    static const error_case_t cases[] = {
        {"{" BASE ", `kafka`: {`brokers`: `b`, `topic`: ``}}",
         "kafka.topic: must match ^[A-Za-z0-9._-]+$, be at most 249 bytes and not be . or .."},
        {"{" BASE ", `kafka`: {`brokers`: `b`, `topic`: `a b`}}",
         "kafka.topic: must match ^[A-Za-z0-9._-]+$, be at most 249 bytes and not be . or .."},
        {"{" BASE ", `kafka`: {`brokers`: `b`, `topic`: `..`}}",
         "kafka.topic: must match ^[A-Za-z0-9._-]+$, be at most 249 bytes and not be . or .."},
        {"{" BASE ", `kafka`: {`brokers`: `b`, `schema_registry`: ``}}",
         "kafka.schema_registry: must not be empty"},
        /* the message never quotes the value: it may hold a password */
        {"{" BASE ", `kafka`: {`brokers`: `b`, `schema_registry`: `ftp://u:Canary@r`}}",
         "kafka.schema_registry: must be an http:// or https:// URL (credentials as "
         "https://user:password@host)"},
        {"{" BASE ", `kafka`: {`brokers`: `b`, `schema_registry`: `https:///x`}}",
         "kafka.schema_registry: must be an http:// or https:// URL (credentials as "
         "https://user:password@host)"},
        {"{" BASE ", `kafka`: {`brokers`: `b`, `properties`: {``: `x`}}}",
         "kafka.properties: empty key"},
        {"{" BASE ", `kafka`: {`topic`: `t`}}", "kafka.brokers: required"},
    };
    char *json;

    (void)state;
    expect_invalid_cases(cases, NELEM(cases));
    json = with_big_string("{" BASE ", `kafka`: {`brokers`: `b`, `topic`: `%s`}}", 249, 't');
    config_free(load_ok(json));
    free(json);
    json = with_big_string("{" BASE ", `kafka`: {`brokers`: `b`, `topic`: `%s`}}", 250, 't');
    expect_error(json, CONFIG_ERR_INVALID, "kafka.topic: must match", false);
    free(json);
}

/* ---- files and arguments ---- */

static char *write_temp(const char *tick_json)
{
    char *path = strdup("/tmp/test_config_XXXXXX");
    char *json = ticks(tick_json);
    int fd;

    assert_non_null(path);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    free(json);
    return path;
}

static void test_load_file(void **state)
{
    char errbuf[ERRSIZE], expected[ERRSIZE];
    config_err_t err;
    char *path = write_temp("{" BASE ", `apply`: {`batch_ms`: 50}}");
    config_t *cfg = config_load(path, &err, errbuf, sizeof errbuf);

    (void)state;
    assert_non_null(cfg);
    assert_int_equal(err, CONFIG_OK);
    assert_int_equal(cfg->batch_ms, 50);
    config_free(cfg);
    unlink(path);
    free(path);

    path = write_temp("{\n`name`: `shop`,\n`x`: }\n");
    assert_null(config_load(path, &err, errbuf, sizeof errbuf));
    assert_int_equal(err, CONFIG_ERR_PARSE);
    snprintf(expected, sizeof expected, "%s:3:6: ", path);
    assert_memory_equal(errbuf, expected, strlen(expected));
    unlink(path);
    free(path);
}

static void test_load_file_io_errors(void **state)
{
    char errbuf[ERRSIZE];
    config_err_t err;

    (void)state;
    assert_null(config_load("/nonexistent/syncline.json", &err, errbuf, sizeof errbuf));
    assert_int_equal(err, CONFIG_ERR_IO);
    assert_non_null(strstr(errbuf, "/nonexistent/syncline.json"));
    assert_null(config_load("/tmp", &err, errbuf, sizeof errbuf));
    assert_int_equal(err, CONFIG_ERR_IO);
    assert_string_equal(errbuf, "/tmp: is a directory");
    assert_null(config_load(NULL, &err, errbuf, sizeof errbuf));
    assert_int_equal(err, CONFIG_ERR_IO);
}

/* A UTF-8 byte-order mark before the JSON loads; a FIFO without writer fails at once. */
static void test_load_file_bom_fifo(void **state)
{
    char errbuf[ERRSIZE];
    config_err_t err;
    char *path = write_temp("\xef\xbb\xbf{" BASE "}");
    config_t *cfg;

    (void)state;
    cfg = config_load(path, &err, errbuf, sizeof errbuf);
    assert_non_null(cfg);
    assert_string_equal(cfg->name, "shop");
    config_free(cfg);
    unlink(path);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_null(config_load(path, &err, errbuf, sizeof errbuf));
    assert_int_equal(err, CONFIG_ERR_IO);
    assert_non_null(strstr(errbuf, "is a FIFO with no writer"));
    unlink(path);
    free(path);
}

static void test_null_arguments(void **state)
{
    char errbuf[4];
    config_err_t err;
    char *json = ticks("{" BASE "}");
    config_t *cfg;

    (void)state;
    assert_null(config_load_string(NULL, &err, errbuf, sizeof errbuf));
    assert_int_equal(err, CONFIG_ERR_PARSE);
    cfg = config_load_string(json, NULL, NULL, 0);
    assert_non_null(cfg);
    config_free(cfg);
    assert_null(config_load_string("{}", NULL, NULL, 0));
    assert_null(config_load_string("{}", &err, errbuf, sizeof errbuf)); /* truncated message */
    assert_int_equal(err, CONFIG_ERR_INVALID);
    assert_string_equal(errbuf, "nam");
    config_free(NULL);
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_empty_blocks_give_defaults),
        cmocka_unit_test(test_every_key_set),
        cmocka_unit_test(test_on_missing_row_error),
        cmocka_unit_test(test_schema_defaults_match),
        cmocka_unit_test_teardown(test_env_overrides, unset_env),
        cmocka_unit_test_teardown(test_env_empty_is_unset, unset_env),
        cmocka_unit_test_teardown(test_env_only_one, unset_env),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_required),
        cmocka_unit_test_teardown(test_target_optional, unset_env),
        cmocka_unit_test(test_int_ranges),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_slot_and_publication),
        cmocka_unit_test(test_huge_strings),
        cmocka_unit_test(test_huge_keys),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_password_never_echoed),
        cmocka_unit_test_teardown(test_password_from_env_never_echoed, unset_env),
        cmocka_unit_test(test_qname_valid),
        cmocka_unit_test(test_qname_invalid),
        cmocka_unit_test(test_tables_transform),
        cmocka_unit_test(test_tables_defaults),
        cmocka_unit_test(test_tables_patterns_and_skip),
        cmocka_unit_test(test_tables_errors),
        cmocka_unit_test(test_tables_many),
        cmocka_unit_test(test_find_table),
        cmocka_unit_test(test_kafka_defaults),
        cmocka_unit_test(test_kafka_properties),
        cmocka_unit_test(test_kafka_errors),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_file_io_errors),
        cmocka_unit_test(test_load_file_bom_fifo),
        cmocka_unit_test(test_null_arguments),
    };

    unset_env(NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
