/*
 * Unit tests for event_dbz_avro and event_dbz's Avro mode: the Avro schema
 * of Debezium's change events as Confluent's AvroConverter makes it (record
 * names, unions with null first, Decimal and io.debezium.time.* with their
 * connect.* properties), and Avro messages read back to the same document
 * the JsonConverter form gives.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <cmocka.h>

#include "event/event_dbz.h"
#include "event/event_dbz_avro.h"

#define NUMERIC_TYPMOD(p, s) ((((p) << 16) | (s)) + 4)

/* A registry of the test: subjects and schemas in order, ids from 1. */
typedef struct fake_registry {
    char subjects[16][200];
    json_t *schemas[16];
    int n;
} fake_registry_t;

static int fake_register(void *ctx, const char *subject, const char *schema, int32_t *id,
                         char *errbuf, size_t errsize)
{
    fake_registry_t *r = ctx;
    (void)errbuf;
    (void)errsize;
    assert_true(r->n < 16);
    snprintf(r->subjects[r->n], sizeof(r->subjects[r->n]), "%s", subject);
    r->schemas[r->n] = json_loads(schema, 0, NULL);
    assert_non_null(r->schemas[r->n]);
    *id = ++r->n;
    return 0;
}

static change_column_t cols[] = {
    {.name = "id", .type_oid = 23, .typmod = -1, .is_key = true},
    {.name = "amount", .type_oid = 1700, .typmod = NUMERIC_TYPMOD(10, 2)},
    {.name = "n", .type_oid = 1700, .typmod = -1},
    {.name = "ts", .type_oid = 1114, .typmod = -1},
    {.name = "small", .type_oid = 21, .typmod = -1},
    {.name = "note", .type_oid = 25, .typmod = -1},
};
static change_relation_t rel = {
    .relid = 1, .nspname = "public", .relname = "t", .replident = 'd', .ncols = 6, .cols = cols};

/* The field named name of record rec. */
static json_t *field(const json_t *rec, const char *name)
{
    const json_t *f;
    size_t i;
    json_array_foreach(json_object_get(rec, "fields"), i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
            return (json_t *)f;
    }
    fail_msg("no field %s", name);
    return NULL;
}

/*
 * An independent check by avro-c (Apache Avro's C library): schema parses
 * as Avro and msg's body reads under it and is written back byte for byte; the string field
 * name of the top record, when given, equals want.
 */
static void avro_c_reads(const json_t *schema, const char *msg, size_t len, const char *name,
                         const char *want)
{
    char *text = json_dumps(schema, JSON_COMPACT);
    avro_schema_t as;
    if (avro_schema_from_json_length(text, strlen(text), &as) != 0)
        fail_msg("avro-c refuses the schema: %s\n%s", avro_strerror(), text);
    avro_value_iface_t *iface = avro_generic_class_from_schema(as);
    avro_value_t v;
    assert_int_equal(avro_generic_value_new(iface, &v), 0);
    avro_reader_t r =
        avro_reader_memory(msg + EVENT_DBZ_AVRO_HEADER, (int64_t)(len - EVENT_DBZ_AVRO_HEADER));
    if (avro_value_read(r, &v) != 0)
        fail_msg("avro-c cannot read the message: %s", avro_strerror());
    size_t size = 0; /* what avro-c would write of what it read: every byte of the body */
    assert_int_equal(avro_value_sizeof(&v, &size), 0);
    assert_int_equal(size, len - EVENT_DBZ_AVRO_HEADER);
    char *again = malloc(size + 1);
    avro_writer_t w = avro_writer_memory(again, (int64_t)size);
    assert_int_equal(avro_value_write(w, &v), 0);
    assert_memory_equal(again, msg + EVENT_DBZ_AVRO_HEADER, size);
    avro_writer_free(w);
    free(again);
    if (name != NULL) {
        avro_value_t f;
        const char *str = NULL;
        size_t n = 0;
        assert_int_equal(avro_value_get_by_name(&v, name, &f, NULL), 0);
        assert_int_equal(avro_value_get_string(&f, &str, &n), 0);
        assert_string_equal(str, want);
    }
    avro_reader_free(r);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(as);
    free(text);
}

static void test_schema_shape(void **state)
{
    (void)state;
    fake_registry_t reg = {0};
    event_dbz_t *dz = event_dbz_new("pfx", "db");
    event_dbz_set_avro(dz, fake_register, &reg);
    change_value_t newv[] = {{.kind = CHANGE_TEXT, .len = 1, .data = "7"},
                             {.kind = CHANGE_TEXT, .len = 5, .data = "12.50"},
                             {.kind = CHANGE_TEXT, .len = 6, .data = "-3.125"},
                             {.kind = CHANGE_TEXT, .len = 26, .data = "2024-02-29 12:34:56.789012"},
                             {.kind = CHANGE_TEXT, .len = 2, .data = "-5"},
                             {.kind = CHANGE_NULL, .len = 0, .data = NULL}};
    change_tuple_t newt = {6, newv};
    change_row_t ch = {.op = CHANGE_INSERT, .rel = &rel, .new_tuple = &newt};
    event_txn_t txn = {.xid = 7, .commit_lsn = 100};
    event_dbz_block_t blk = {.total_order = 1, .data_collection_order = 1};
    char *out, errbuf[256];
    size_t len;

    event_dbz_txn_id(&txn, &blk);
    assert_int_equal(event_dbz_key(dz, &rel, &newt, &out, &len, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(event_dbz_avro_id(out, len), 1);
    avro_c_reads(reg.schemas[0], out, len, NULL, NULL);
    free(out);
    assert_int_equal(
        event_dbz_value(dz, &ch, EVENT_CREATE, &txn, &blk, 5, &out, &len, errbuf, sizeof(errbuf)),
        0);
    assert_int_equal(event_dbz_avro_id(out, len), 2);
    avro_c_reads(reg.schemas[1], out, len, "op", "c");
    free(out);
    assert_string_equal(reg.subjects[0], "pfx.public.t-key");
    assert_string_equal(reg.subjects[1], "pfx.public.t-value");

    json_t *key = reg.schemas[0], *env = reg.schemas[1];
    assert_string_equal(json_string_value(json_object_get(key, "name")), "Key");
    assert_string_equal(json_string_value(json_object_get(key, "namespace")), "pfx.public.t");
    assert_string_equal(json_string_value(json_object_get(env, "name")), "Envelope");
    assert_string_equal(json_string_value(json_object_get(env, "connect.name")),
                        "pfx.public.t.Envelope");
    assert_int_equal(json_integer_value(json_object_get(env, "connect.version")), 2);

    /* before: ["null", Value record] with default null; after: a reference to it */
    json_t *before = json_object_get(field(env, "before"), "type");
    assert_string_equal(json_string_value(json_array_get(before, 0)), "null");
    json_t *value = json_array_get(before, 1);
    assert_string_equal(json_string_value(json_object_get(value, "name")), "Value");
    assert_true(json_is_null(json_object_get(field(env, "before"), "default")));
    json_t *after = json_object_get(field(env, "after"), "type");
    assert_string_equal(json_string_value(json_array_get(after, 1)), "pfx.public.t.Value");

    /* id: int, not optional */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(field(value, "id"), "type"), "type")),
        "int");
    /* amount: ["null", bytes decimal(10,2)] with connect.* properties */
    json_t *amount = json_array_get(json_object_get(field(value, "amount"), "type"), 1);
    assert_string_equal(json_string_value(json_object_get(amount, "type")), "bytes");
    assert_string_equal(json_string_value(json_object_get(amount, "logicalType")), "decimal");
    assert_int_equal(json_integer_value(json_object_get(amount, "precision")), 10);
    assert_int_equal(json_integer_value(json_object_get(amount, "scale")), 2);
    assert_string_equal(json_string_value(json_object_get(amount, "connect.name")),
                        "org.apache.kafka.connect.data.Decimal");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(amount, "connect.parameters"), "scale")),
        "2");
    /* n: VariableScaleDecimal record */
    json_t *n = json_array_get(json_object_get(field(value, "n"), "type"), 1);
    assert_string_equal(json_string_value(json_object_get(n, "type")), "record");
    assert_string_equal(json_string_value(json_object_get(n, "namespace")), "io.debezium.data");
    assert_string_equal(json_string_value(json_object_get(n, "name")), "VariableScaleDecimal");
    /* ts: long with connect.name io.debezium.time.MicroTimestamp */
    json_t *ts = json_array_get(json_object_get(field(value, "ts"), "type"), 1);
    assert_string_equal(json_string_value(json_object_get(ts, "type")), "long");
    assert_string_equal(json_string_value(json_object_get(ts, "connect.name")),
                        "io.debezium.time.MicroTimestamp");
    /* small: int with connect.type int16 */
    json_t *small = json_array_get(json_object_get(field(value, "small"), "type"), 1);
    assert_string_equal(json_string_value(json_object_get(small, "connect.type")), "int16");
    /* source: io.debezium.connector.postgresql.Source; snapshot [string, null] default "false" */
    json_t *source = json_object_get(field(env, "source"), "type");
    assert_string_equal(json_string_value(json_object_get(source, "namespace")),
                        "io.debezium.connector.postgresql");
    assert_string_equal(json_string_value(json_object_get(source, "name")), "Source");
    json_t *snap = field(source, "snapshot");
    assert_string_equal(json_string_value(json_array_get(json_object_get(snap, "type"), 1)),
                        "null");
    assert_string_equal(json_string_value(json_object_get(snap, "default")), "false");

    for (int i = 0; i < reg.n; i++)
        json_decref(reg.schemas[i]);
    event_dbz_free(dz);
}

/* Both absent, or equal (json_equal is false for two NULLs). */
static bool same(const json_t *x, const json_t *y)
{
    return (x == NULL && y == NULL) || json_equal((json_t *)x, (json_t *)y);
}

/* The Avro message of mode avro read back equals the JSON form's document. */
static void test_roundtrip(void **state)
{
    (void)state;
    fake_registry_t reg = {0};
    event_dbz_t *dj = event_dbz_new("pfx", "db"), *da = event_dbz_new("pfx", "db");
    event_dbz_set_avro(da, fake_register, &reg);
    change_value_t oldv[] = {{.kind = CHANGE_TEXT, .len = 1, .data = "7"},
                             {.kind = CHANGE_NULL, .len = 0, .data = NULL},
                             {.kind = CHANGE_NULL, .len = 0, .data = NULL},
                             {.kind = CHANGE_NULL, .len = 0, .data = NULL},
                             {.kind = CHANGE_NULL, .len = 0, .data = NULL},
                             {.kind = CHANGE_NULL, .len = 0, .data = NULL}};
    change_value_t newv[] = {{.kind = CHANGE_TEXT, .len = 1, .data = "8"},
                             {.kind = CHANGE_TEXT, .len = 7, .data = "-123.45"},
                             {.kind = CHANGE_TEXT, .len = 7, .data = "1.00001"},
                             {.kind = CHANGE_TEXT, .len = 19, .data = "1969-12-31 23:59:59"},
                             {.kind = CHANGE_TEXT, .len = 6, .data = "-32768"},
                             {.kind = CHANGE_UNCHANGED, .len = 0, .data = NULL}};
    change_tuple_t oldt = {6, oldv}, newt = {6, newv};
    change_row_t ch = {
        .op = CHANGE_UPDATE, .rel = &rel, .old_kind = 'K', .old_tuple = &oldt, .new_tuple = &newt};
    event_txn_t txn = {.xid = 9, .commit_lsn = 200};
    event_dbz_block_t blk = {.total_order = 2, .data_collection_order = 1};
    char *js, *av, errbuf[256];
    size_t jlen, alen, dlen;

    event_dbz_txn_id(&txn, &blk);
    assert_int_equal(
        event_dbz_value(dj, &ch, EVENT_UPDATE, &txn, &blk, 5, &js, &jlen, errbuf, sizeof(errbuf)),
        0);
    assert_int_equal(
        event_dbz_value(da, &ch, EVENT_UPDATE, &txn, &blk, 5, &av, &alen, errbuf, sizeof(errbuf)),
        0);
    assert_true(alen < jlen / 4); /* the schema travels by id */
    avro_c_reads(reg.schemas[0], av, alen, "op", "u");
    char *doc = event_dbz_avro_read(reg.schemas[0], av, alen, &dlen, errbuf, sizeof(errbuf));
    if (doc == NULL)
        fail_msg("%s", errbuf);
    json_t *a = json_loads(doc, 0, NULL), *j = json_loads(js, 0, NULL);
    if (!json_equal(json_object_get(a, "payload"), json_object_get(j, "payload")))
        fail_msg("payloads differ:\n%s\n%s", doc, js);
    /* the schema read back names the same types */
    json_t *af = json_object_get(json_object_get(a, "schema"), "fields");
    json_t *jf = json_object_get(json_object_get(j, "schema"), "fields");
    json_t *aafter = json_object_get(json_array_get(af, 1), "fields");
    json_t *jafter = json_object_get(json_array_get(jf, 1), "fields");
    for (size_t i = 0; i < json_array_size(jafter); i++) {
        json_t *x = json_array_get(aafter, i), *y = json_array_get(jafter, i);
        assert_true(same(json_object_get(x, "name"), json_object_get(y, "name")));
        assert_true(same(json_object_get(x, "type"), json_object_get(y, "type")));
        assert_true(same(json_object_get(x, "optional"), json_object_get(y, "optional")));
        assert_true(same(json_object_get(x, "parameters"), json_object_get(y, "parameters")));
    }
    json_decref(a);
    json_decref(j);
    free(doc);
    free(js);
    free(av);

    /* metadata in Avro too, its subjects named by the transaction topic */
    event_dbz_count_t counts[] = {{"public.t", 1}};
    av = event_dbz_txn_value(da, &blk, true, 9, counts, 1, &alen, errbuf, sizeof(errbuf));
    assert_non_null(av);
    assert_string_equal(reg.subjects[reg.n - 1], "pfx.transaction-value");
    avro_c_reads(reg.schemas[reg.n - 1], av, alen, "status", "END");
    doc = event_dbz_avro_read(reg.schemas[reg.n - 1], av, alen, &dlen, errbuf, sizeof(errbuf));
    assert_non_null(doc);
    a = json_loads(doc, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "payload"), "status")),
                        "END");
    json_decref(a);
    free(doc);
    free(av);

    /* a truncated message is refused, not read past its end */
    av = event_dbz_heartbeat_value(da, 77, &alen, errbuf, sizeof(errbuf));
    assert_null(
        event_dbz_avro_read(reg.schemas[reg.n - 1], av, alen - 1, &dlen, errbuf, sizeof(errbuf)));
    free(av);

    for (int i = 0; i < reg.n; i++)
        json_decref(reg.schemas[i]);
    event_dbz_free(dj);
    event_dbz_free(da);
}

/* A writer schema naming a record that only a referenced schema defines
 * (Confluent schema references, as Apicurio's converter registers Debezium's
 * Source): refused alone, read with its references. */
static void test_references(void **state)
{
    (void)state;
    json_t *ref = json_loads("{\"type\": \"record\", \"name\": \"Source\", \"namespace\": "
                             "\"io.x\", \"fields\": [{\"name\": \"lsn\", \"type\": \"long\"}]}",
                             0, NULL);
    json_t *env = json_loads("{\"type\": \"record\", \"name\": \"Envelope\", \"namespace\": "
                             "\"t\", \"fields\": [{\"name\": \"source\", \"type\": "
                             "\"io.x.Source\"}, {\"name\": \"op\", \"type\": \"string\"}]}",
                             0, NULL);
    json_t *refs = json_pack("[O]", ref);
    const char msg[] = {0, 0, 0, 0, 5, 0x06, 0x02, 'c'};
    char errbuf[256];
    size_t len;
    assert_non_null(ref);
    assert_non_null(env);
    assert_null(event_dbz_avro_reader_new(env, errbuf, sizeof(errbuf)));
    assert_non_null(strstr(errbuf, "unknown type io.x.Source"));
    event_dbz_avro_reader_t *rd = event_dbz_avro_reader_new_refs(env, refs, errbuf, sizeof(errbuf));
    if (rd == NULL)
        fail_msg("%s", errbuf);
    char *doc = event_dbz_avro_reader_read(rd, msg, sizeof(msg), &len, errbuf, sizeof(errbuf));
    if (doc == NULL)
        fail_msg("%s", errbuf);
    json_t *d = json_loads(doc, 0, NULL),
           *want = json_pack("{s:{s:i}, s:s}", "source", "lsn", 3, "op", "c");
    assert_true(json_equal(json_object_get(d, "payload"), want));
    json_t *sf = json_array_get(json_object_get(json_object_get(d, "schema"), "fields"), 0);
    assert_string_equal(json_string_value(json_object_get(sf, "name")), "io.x.Source");
    json_decref(d);
    json_decref(want);
    free(doc);
    event_dbz_avro_reader_free(rd);
    json_decref(refs);
    json_decref(ref);
    json_decref(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_shape),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_references),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
