/*
 * Unit tests for event_schema: the PostgreSQL -> Avro type mapping, name
 * mangling (quotes, spaces, digits, UTF-8, clashes), the derived writer
 * schema (avro-c accepts it; one field per column, default null), the
 * Parsing Canonical Form and the fingerprint, and schemas/envelope.avsc
 * being the derived schema of its example relation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <cmocka.h>

#include "event/event_schema.h"

static void test_types(void **state)
{
    (void)state;
    static const struct {
        uint32_t oid;
        const char *avro;
    } map[] = {{16, "boolean"},  {17, "bytes"},    {20, "long"},     {21, "int"},
               {23, "int"},      {700, "float"},   {701, "double"},  {25, "string"},
               {1700, "string"}, {26, "string"},   {1184, "string"}, {3802, "string"},
               {1043, "string"}, {2950, "string"}, {1007, "string"}, {99999, "string"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        assert_string_equal(event_schema_type_name(event_schema_type_of(map[i].oid)), map[i].avro);
}

static int valid_avro_name(const char *s)
{
    if (!(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
        return 0;
    for (const char *p = s; *p; p++) {
        if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
              (*p >= '0' && *p <= '9')))
            return 0;
    }
    return 1;
}

/* name mangles to prefix followed by "_" and 8 hex digits */
static void assert_mangled(const char *name, const char *prefix)
{
    char out[EVENT_SCHEMA_NAMELEN], again[EVENT_SCHEMA_NAMELEN];
    event_schema_mangle(name, out, sizeof(out));
    event_schema_mangle(name, again, sizeof(again));
    assert_string_equal(out, again); /* deterministic */
    if (!valid_avro_name(out))
        fail_msg("[%s] -> [%s] is not an Avro name", name, out);
    size_t n = strlen(prefix);
    if (strncmp(out, prefix, n) != 0 || strlen(out) != n + 9 || out[n] != '_')
        fail_msg("[%s] -> [%s], expected [%s_xxxxxxxx]", name, out, prefix);
}

static void test_mangle(void **state)
{
    (void)state;
    char out[EVENT_SCHEMA_NAMELEN];
    event_schema_mangle("order_items", out, sizeof(out));
    assert_string_equal(out, "order_items");
    event_schema_mangle("_X9", out, sizeof(out));
    assert_string_equal(out, "_X9");
    assert_mangled("Order Items", "Order_Items");
    assert_mangled("a\"b", "a_b");
    assert_mangled("it's", "it_s");
    assert_mangled("1st", "_1st");
    assert_mangled("my.schema", "my_schema");
    assert_mangled("gr\xc3\xb6\xc3\x9f"
                   "e",
                   "gr__e");                 /* größe: one '_' per character */
    assert_mangled("\xf0\x9f\x90\x98", "_"); /* an emoji */
    assert_mangled("", "");                  /* not a PostgreSQL name, still safe */
    assert_mangled("caf\xc3\xa9", "caf_");
    /* different names that read alike get different hashes */
    char a[EVENT_SCHEMA_NAMELEN], b[EVENT_SCHEMA_NAMELEN];
    event_schema_mangle("a b", a, sizeof(a));
    event_schema_mangle("a-b", b, sizeof(b));
    assert_string_not_equal(a, b);
    /* 63 two-byte characters (126 bytes, PostgreSQL's limit is 63 bytes: still bounded) */
    char longname[200] = "";
    for (int i = 0; i < 63; i++)
        strcat(longname, "\xc3\xa9");
    event_schema_mangle(longname, out, sizeof(out));
    assert_true(valid_avro_name(out));
    assert_true(strlen(out) < sizeof(out));
}

/* The Value record of a derived schema. */
static json_t *value_record(json_t *env)
{
    json_t *before = json_array_get(json_object_get(env, "fields"), 1);
    assert_string_equal(json_string_value(json_object_get(before, "name")), "before");
    json_t *value = json_array_get(json_object_get(before, "type"), 1);
    assert_string_equal(json_string_value(json_object_get(value, "name")), "Value");
    return value;
}

static const char *field_name(json_t *value, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(value, "fields"), i), "name"));
}

static void test_clash(void **state)
{
    (void)state;
    char m[EVENT_SCHEMA_NAMELEN];
    event_schema_mangle("a b", m, sizeof(m));
    /* "a b" mangles to m; a real column named m comes first; and a duplicate "x" */
    event_schema_column_t cols[] = {{m, 25}, {"a b", 25}, {"x", 23}, {"x", 23}, {"x", 23}};
    json_t *env = event_schema_derive("public", "t", cols, 5);
    assert_non_null(env);
    json_t *value = value_record(env);
    assert_string_equal(field_name(value, 0), m);
    const char *clash = field_name(value, 1);
    assert_int_equal(strncmp(clash, m, strlen(m)), 0);
    assert_true(strlen(clash) == strlen(m) + 9 && valid_avro_name(clash));
    assert_string_equal(field_name(value, 2), "x");
    const char *x1 = field_name(value, 3), *x2 = field_name(value, 4);
    assert_true(strncmp(x1, "x_", 2) == 0 && valid_avro_name(x1));
    assert_true(strncmp(x2, x1, strlen(x1)) == 0 && strcmp(x2 + strlen(x1), "_4") == 0);
    /* the real names travel as docs of the mangled fields */
    json_t *f1 = json_array_get(json_object_get(value, "fields"), 1);
    assert_string_equal(json_string_value(json_object_get(f1, "doc")), "column \"a b\"");
    /* avro-c accepts the result */
    char *text = json_dumps(env, JSON_COMPACT), err[256];
    char *canon = event_schema_canonical(text, strlen(text), err, sizeof(err));
    assert_non_null(canon);
    avro_schema_t s;
    if (avro_schema_from_json_length(canon, strlen(canon), &s) != 0)
        fail_msg("avro-c: %s", avro_strerror());
    avro_schema_decref(s);
    free(canon);
    free(text);
    json_decref(env);
}

static void test_derive(void **state)
{
    (void)state;
    event_schema_column_t cols[] = {{"id", 20}, {"Größe", 701}, {"photo", 17}, {"ok", 16}};
    json_t *env = event_schema_derive("Sales Dept", "orders", cols, 4);
    assert_non_null(env);
    const char *ns = json_string_value(json_object_get(env, "namespace"));
    assert_int_equal(strncmp(ns, "syncline.Sales_Dept_", 20), 0);
    assert_string_equal(ns + strlen(ns) - 7, ".orders");
    json_t *value = value_record(env);
    json_t *fields = json_object_get(value, "fields");
    assert_int_equal(json_array_size(fields), 4);
    static const char *types[] = {"long", "double", "bytes", "boolean"};
    for (size_t i = 0; i < 4; i++) {
        json_t *f = json_array_get(fields, i);
        json_t *t = json_object_get(f, "type");
        assert_string_equal(json_string_value(json_array_get(t, 0)), "null");
        assert_string_equal(json_string_value(json_array_get(t, 1)), types[i]);
        assert_true(json_is_null(json_object_get(f, "default")));
    }
    assert_int_equal(strncmp(field_name(value, 1), "Gr__e_", 6), 0);
    /* after refers to the Value record by its full name */
    json_t *after = json_array_get(json_object_get(env, "fields"), 2);
    char ref[256];
    snprintf(ref, sizeof(ref), "%s.Value", ns);
    assert_string_equal(json_string_value(json_array_get(json_object_get(after, "type"), 1)), ref);
    /* a relation change is a different schema; types that map alike are not */
    char *t1 = json_dumps(env, JSON_COMPACT), err[256];
    cols[0].type_oid = 23;
    json_t *env2 = event_schema_derive("Sales Dept", "orders", cols, 4);
    char *t2 = json_dumps(env2, JSON_COMPACT);
    char *c1 = event_schema_canonical(t1, strlen(t1), err, sizeof(err));
    char *c2 = event_schema_canonical(t2, strlen(t2), err, sizeof(err));
    assert_string_not_equal(c1, c2);
    assert_true(event_schema_fingerprint(c1) != event_schema_fingerprint(c2));
    /* the canonical form defines Value once, in before, with its full name */
    char *def = strstr(c1, "{\"name\":\"syncline.Sales_Dept_");
    assert_non_null(def);
    assert_non_null(strstr(c1, ".orders.Value\",\"type\":\"record\""));
    assert_null(strstr(c1, "default"));
    assert_null(strstr(c1, "doc"));
    /* no columns is still a record (CREATE TABLE t ()) */
    json_t *empty = event_schema_derive("public", "t", NULL, 0);
    assert_int_equal(json_array_size(json_object_get(value_record(empty), "fields")), 0);
    json_decref(empty);
    free(c1);
    free(c2);
    free(t1);
    free(t2);
    json_decref(env);
    json_decref(env2);
}

static void assert_canonical(const char *text, const char *expect)
{
    char err[256];
    char *c = event_schema_canonical(text, strlen(text), err, sizeof(err));
    if (c == NULL)
        fail_msg("canonical of %s: %s", text, err);
    assert_string_equal(c, expect);
    free(c);
}

static void test_canonical(void **state)
{
    (void)state;
    char err[256];
    assert_canonical("\"int\"", "\"int\"");
    assert_canonical("{\"type\": \"int\"}", "\"int\"");
    assert_canonical("{\"type\": \"string\", \"logicalType\": \"uuid\"}", "\"string\"");
    assert_canonical("[\"null\", {\"type\": \"array\", \"items\": \"long\", \"x\": 1}]",
                     "[\"null\",{\"type\":\"array\",\"items\":\"long\"}]");
    /* [FULLNAMES] [STRIP] [ORDER]: namespaces resolved, docs and defaults gone */
    assert_canonical(
        "{\"fields\": [{\"type\": [\"null\", \"Inner\"], \"name\": \"a\", \"default\": null, "
        "\"doc\": \"d\"}, {\"name\": \"b\", \"type\": {\"type\": \"enum\", \"name\": \"E\", "
        "\"symbols\": [\"X\", \"Y\"]}}, {\"name\": \"c\", \"type\": {\"type\": \"fixed\", "
        "\"name\": \"other.F\", \"size\": 16}}, {\"name\": \"d\", \"type\": {\"type\": \"map\", "
        "\"values\": \"E\"}}], \"type\": \"record\", \"name\": \"R\", \"namespace\": \"ns\", "
        "\"doc\": \"x\"}",
        "{\"name\":\"ns.R\",\"type\":\"record\",\"fields\":[{\"name\":\"a\",\"type\":[\"null\","
        "\"ns.Inner\"]},{\"name\":\"b\",\"type\":{\"name\":\"ns.E\",\"type\":\"enum\","
        "\"symbols\":[\"X\",\"Y\"]}},{\"name\":\"c\",\"type\":{\"name\":\"other.F\",\"type\":"
        "\"fixed\",\"size\":16}},{\"name\":\"d\",\"type\":{\"type\":\"map\",\"values\":"
        "\"ns.E\"}}]}");
    assert_null(event_schema_canonical("{", 1, err, sizeof(err)));
    assert_non_null(strstr(err, "not JSON"));
    static const char noname[] = "{\"type\": \"record\", \"fields\": []}";
    assert_null(event_schema_canonical(noname, strlen(noname), err, sizeof(err)));
    assert_non_null(strstr(err, "not an Avro schema"));
    assert_null(event_schema_canonical("42", 2, err, sizeof(err)));
    /* the Avro specification's test suite (share/test/data/schema-tests.txt) */
    static const struct {
        const char *in, *canonical;
        int64_t fp;
    } spec[] = {
        {"\"null\"", "\"null\"", 7195948357588979594},
        {"{\"type\":\"null\"}", "\"null\"", 7195948357588979594},
        {"\"boolean\"", "\"boolean\"", -6970731678124411036},
        {"\"int\"", "\"int\"", 8247732601305521295},
        {"{\"type\":\"long\"}", "\"long\"", -3434872931120570953},
        {"\"float\"", "\"float\"", 5583340709985441680},
        {"\"double\"", "\"double\"", -8181574048448539266},
        {"\"bytes\"", "\"bytes\"", 5746618253357095269},
        {"\"string\"", "\"string\"", -8142146995180207161},
        {"[  ]", "[]", -1241056759729112623},
        {"[ \"int\" , {\"type\":\"boolean\"} ]", "[\"int\",\"boolean\"]", 5392556393470105090},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\"}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"namespace\":\"x.y\"}",
         "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}", 5916914534497305771},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"a.b.foo\", \"namespace\":\"x.y\"}",
         "{\"name\":\"a.b.foo\",\"type\":\"record\",\"fields\":[]}", -4616218487480524110},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"foo\", "
         "\"aliases\":[\"foo\",\"bar\"]}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922},
        {"{ \"fields\":[{\"type\":\"boolean\", \"aliases\":[], \"name\":\"f1\", "
         "\"default\":\"true\"}, {\"order\":\"descending\",\"name\":\"f2\",\"doc\":\"Hello\","
         "\"type\":\"int\"}], \"type\":\"record\", \"name\":\"foo\" }",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":"
         "\"boolean\"},{\"name\":\"f2\",\"type\":\"int\"}]}",
         -4860222112080293046},
        {"{\"namespace\":\"x.y.z\", \"type\":\"enum\", \"name\":\"foo\", \"doc\":\"foo bar\", "
         "\"symbols\":[\"A1\", \"A2\"]}",
         "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\",\"A2\"]}",
         -4448647247586288245},
        {"{\"namespace\":\"x.y.z\", \"type\":\"fixed\", \"name\":\"foo\", \"doc\":\"foo bar\", "
         "\"size\":32}",
         "{\"name\":\"x.y.z.foo\",\"type\":\"fixed\",\"size\":32}", -3064184465700546786},
        {"{ \"items\":{\"type\":\"null\"}, \"type\":\"array\"}",
         "{\"type\":\"array\",\"items\":\"null\"}", -589620603366471059},
        {"{ \"values\":\"string\", \"type\":\"map\"}", "{\"type\":\"map\",\"values\":\"string\"}",
         -8732877298790414990},
        {"{\"name\":\"PigValue\",\"type\":\"record\", \"fields\":[{\"name\":\"value\", "
         "\"type\":[\"null\", \"int\", \"long\", \"PigValue\"]}]}",
         "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":\"value\",\"type\":"
         "[\"null\",\"int\",\"long\",\"PigValue\"]}]}",
         -1759257747318642341},
    };
    for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++) {
        assert_canonical(spec[i].in, spec[i].canonical);
        assert_true((int64_t)event_schema_fingerprint(spec[i].canonical) == spec[i].fp);
    }
}

/* schemas/envelope.avsc (documented, pretty) is the derived schema of its example relation. */
static void test_schema_file(void **state)
{
    (void)state;
    char path[1024], err[256];
    snprintf(path, sizeof(path), "%s", __FILE__);
    char *slash = strstr(path, "tests/unit/");
    assert_non_null(slash);
    snprintf(slash, sizeof(path) - (size_t)(slash - path), "schemas/envelope.avsc");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[32768];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    event_schema_column_t cols[] = {{"id", 23},      {"name", 25},     {"price", 1700},
                                    {"weight", 700}, {"in_stock", 16}, {"photo", 17},
                                    {"Größe", 25}};
    json_t *env = event_schema_derive("public", "items", cols, 7);
    char *derived = json_dumps(env, JSON_COMPACT);
    char *c1 = event_schema_canonical(text, n, err, sizeof(err));
    char *c2 = event_schema_canonical(derived, strlen(derived), err, sizeof(err));
    assert_non_null(c1);
    assert_non_null(c2);
    if (strcmp(c1, c2) != 0)
        fail_msg("schemas/envelope.avsc differs from the derived schema:\n%s\n%s", c1, c2);
    avro_schema_t s;
    assert_int_equal(avro_schema_from_json_length(text, n, &s), 0);
    avro_schema_decref(s);
    free(c1);
    free(c2);
    free(derived);
    json_decref(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),     cmocka_unit_test(test_mangle),
        cmocka_unit_test(test_clash),     cmocka_unit_test(test_derive),
        cmocka_unit_test(test_canonical), cmocka_unit_test(test_schema_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
