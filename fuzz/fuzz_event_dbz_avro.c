/*
 * libFuzzer target for the debezium layout's Avro reader (event_dbz_avro_read):
 * the bytes as a message in the Confluent wire format, read with the writer
 * schema event_dbz makes for a relation of many Debezium types.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event/event_dbz.h"
#include "event/event_dbz_avro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NUMERIC_TYPMOD(p, s) ((((p) << 16) | (s)) + 4)

static json_t *fuzz_schema; /* the value schema; built once, kept for the run */

static int fuzz_register(void *ctx, const char *subject, const char *schema, int32_t *id,
                         char *errbuf, size_t errsize)
{
    (void)errbuf;
    (void)errsize;
    if (strstr(subject, "-value") != NULL && fuzz_schema == NULL)
        fuzz_schema = json_loads(schema, 0, NULL);
    *id = ++*(int32_t *)ctx;
    return 0;
}

/* The Envelope schema of a table of int, numeric(10,2), numeric, timestamp,
 * int2, text, bytea, date and timestamptz columns. */
static void fuzz_build(void)
{
    static change_column_t cols[] = {
        {.name = "id", .type_oid = 23, .typmod = -1, .is_key = true},
        {.name = "amount", .type_oid = 1700, .typmod = NUMERIC_TYPMOD(10, 2)},
        {.name = "n", .type_oid = 1700, .typmod = -1},
        {.name = "ts", .type_oid = 1114, .typmod = -1},
        {.name = "small", .type_oid = 21, .typmod = -1},
        {.name = "note", .type_oid = 25, .typmod = -1},
        {.name = "raw", .type_oid = 17, .typmod = -1},
        {.name = "day", .type_oid = 1082, .typmod = -1},
        {.name = "atz", .type_oid = 1184, .typmod = -1},
    };
    static change_relation_t rel = {.relid = 1,
                                    .nspname = "public",
                                    .relname = "t",
                                    .replident = 'd',
                                    .ncols = 9,
                                    .cols = cols};
    change_value_t v[] = {{.kind = CHANGE_TEXT, .len = 1, .data = "1"},
                          {.kind = CHANGE_NULL, .len = 0, .data = NULL},
                          {.kind = CHANGE_NULL, .len = 0, .data = NULL},
                          {.kind = CHANGE_NULL, .len = 0, .data = NULL},
                          {.kind = CHANGE_NULL, .len = 0, .data = NULL},
                          {.kind = CHANGE_NULL, .len = 0, .data = NULL},
                          {.kind = CHANGE_NULL, .len = 0, .data = NULL},
                          {.kind = CHANGE_NULL, .len = 0, .data = NULL},
                          {.kind = CHANGE_NULL, .len = 0, .data = NULL}};
    change_tuple_t t = {9, v};
    change_row_t ch = {.op = CHANGE_INSERT, .rel = &rel, .new_tuple = &t};
    event_txn_t txn = {.xid = 1, .commit_lsn = 1};
    int32_t ids = 0;
    char *out = NULL, errbuf[256];
    size_t len;
    event_dbz_t *dz = event_dbz_new("fuzz", "db");
    event_dbz_set_avro(dz, fuzz_register, &ids);
    if (event_dbz_value(dz, &ch, EVENT_CREATE, &txn, NULL, 0, &out, &len, errbuf, sizeof(errbuf)) ==
        0)
        free(out);
    event_dbz_free(dz);
    if (fuzz_schema == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errbuf[512];
    size_t outlen;
    if (fuzz_schema == NULL)
        fuzz_build();
    char *doc = event_dbz_avro_read(fuzz_schema, data, size, &outlen, errbuf, sizeof(errbuf));
    free(doc);
    return 0;
}
