/*
 * Writes the seed corpora of fuzz_event_json and fuzz_event_avro with the
 * real encoders (event_oracle_build + event_oracle_encode), plus Debezium samples, in the
 * fuzz_event.h layout (key length byte, key, value). The Avro seeds come in
 * both framings: single-object (syncline-*) and Confluent (confluent-*,
 * schema id FUZZ_EVENT_SCHEMA_ID). Run by fuzz/gen_corpus.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_event_seed.h"

static int write_seed(const char *dir, const char *name, const char *key, const char *val,
                      size_t len)
{
    char path[4096];
    size_t keylen = key ? strlen(key) : 0;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    fputc((int)keylen, f);
    fwrite(key, 1, keylen, f);
    fwrite(val, 1, len, f);
    return fclose(f);
}

static change_value_t text(const char *s)
{
    return (change_value_t){.kind = CHANGE_TEXT, .len = (uint32_t)strlen(s), .data = s};
}

static int encode_all(const char *dir, event_format_t fmt, const char *prefix)
{
    static const change_value_t nul = {.kind = CHANGE_NULL}, unch = {.kind = CHANGE_UNCHANGED};
    change_relation_t *rel = &fuzz_event_rel;
    change_value_t oldv[9] = {text("41"), nul, nul, nul, nul, nul, nul, nul, nul};
    change_value_t newv[9] = {
        text("42"), text("it's \"quoted\"\n"),    unch,        text("[[[[1]]]]"),
        text("t"),  text("-9223372036854775808"), text("NaN"), text("1e-05"),
        unch};
    change_value_t fullv[9] = {
        text("41"), text("old"),       text("x"),   text("{\"a\": null}"), text("f"),
        text("7"),  text("-Infinity"), text("0.1"), text("\\x00ff")};
    change_tuple_t oldk = {9, oldv}, newt = {9, newv}, oldf = {9, fullv};
    const change_row_t changes[] = {
        {.op = CHANGE_INSERT, .rel = rel, .new_tuple = &newt},
        {.op = CHANGE_UPDATE, .rel = rel, .old_kind = 'K', .old_tuple = &oldk, .new_tuple = &newt},
        {.op = CHANGE_UPDATE, .rel = rel, .old_kind = 'O', .old_tuple = &oldf, .new_tuple = &newt},
        {.op = CHANGE_UPDATE, .rel = rel, .new_tuple = &newt},
        {.op = CHANGE_DELETE, .rel = rel, .old_kind = 'K', .old_tuple = &oldk},
        {.op = CHANGE_DELETE, .rel = rel, .old_kind = 'O', .old_tuple = &oldf},
        {.op = CHANGE_TRUNCATE, .rel = rel},
        {.op = CHANGE_INSERT, .rel = rel, .new_tuple = &newt}, /* written as a read */
    };
    const event_truncate_t tpos = {.options = 3, .n = 2, .i = 1}; /* of the truncate */
    const size_t n = sizeof(changes) / sizeof(changes[0]);
    char err[256];
    event_codec_t *codec = event_codec_new(fmt, err, sizeof(err));
    if (codec == NULL || (fmt != EVENT_FORMAT_JSON && fuzz_event_prepare(codec) != 0))
        return -1;
    for (size_t i = 0; i < n; i++) {
        for (int last = 0; last < 2; last++) {
            event_txn_t txn = {.xid = 700 + (uint32_t)i,
                               .commit_lsn = 0x16B3748 + i,
                               .commit_time = 756000000000000,
                               .seq = (int64_t)i};
            const event_truncate_t *tp = changes[i].op == CHANGE_TRUNCATE ? &tpos : NULL;
            json_t *env = event_oracle_build(&changes[i], tp, &txn, "shop", err, sizeof(err));
            if (env != NULL && i == n - 1) /* a snapshot row: Debezium's op 'r' */
                json_object_set_new(env, "op", json_string("r"));
            char *buf, *key, name[64];
            size_t len, keylen;
            if (env == NULL || (last && event_oracle_mark_last(env, 0x16B3800 + i) != 0) ||
                event_oracle_encode(codec, env, &buf, &len, err, sizeof(err)) != 0)
                return -1;
            key = event_key(&changes[i], last ? "key" : "table", &keylen);
            snprintf(name, sizeof(name), "%s-%zu-%s", prefix, i, last ? "last" : "mid");
            if (write_seed(dir, name, key, buf, len) != 0)
                return -1;
            free(key);
            free(buf);
            json_decref(env);
        }
    }
    event_codec_free(codec);
    return 0;
}

static int debezium(const char *dir)
{
    static const char *const seeds[][3] = {
        {"dbz-insert", "{\"id\":1}",
         "{\"before\":null,\"after\":{\"id\":1,\"name\":\"a\",\"j\":{\"x\":[1,2]}},"
         "\"source\":{\"schema\":\"public\",\"table\":\"t\",\"lsn\":123},\"op\":\"c\","
         "\"ts_ms\":1700000000000}"},
        {"dbz-update-wrapped", "{\"schema\":{},\"payload\":{\"id\":1}}",
         "{\"schema\":{\"type\":\"struct\"},\"payload\":{\"before\":{\"id\":1,\"name\":\"a\"},"
         "\"after\":{\"id\":1,\"name\":\"b\",\"f\":1.5,\"t\":true},\"source\":{\"schema\":"
         "\"public\",\"table\":\"t\"},\"op\":\"u\"}}"},
        {"dbz-delete", "{\"id\":2}",
         "{\"before\":{\"id\":2,\"name\":\"__debezium_unavailable_value\"},\"after\":null,"
         "\"source\":{\"schema\":\"s\",\"table\":\"t\"},\"op\":\"d\"}"},
        {"dbz-read-nokey", "",
         "{\"after\":{\"id\":3},\"source\":{\"schema\":\"s\",\"table\":\"t\"},\"op\":\"r\"}"},
        {"dbz-truncate", "", "{\"source\":{\"schema\":\"s\",\"table\":\"t\"},\"op\":\"t\"}"},
    };
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        if (write_seed(dir, seeds[i][0], seeds[i][1], seeds[i][2], strlen(seeds[i][2])) != 0)
            return -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s JSON_DIR AVRO_DIR\n", argv[0]);
        return 2;
    }
    if (encode_all(argv[1], EVENT_FORMAT_JSON, "syncline") != 0 || debezium(argv[1]) != 0 ||
        encode_all(argv[2], EVENT_FORMAT_AVRO, "syncline") != 0 ||
        encode_all(argv[2], EVENT_FORMAT_AVRO_CONFLUENT, "confluent") != 0 ||
        debezium(argv[2]) != 0) {
        fprintf(stderr, "gen_event_corpus: failed\n");
        return 1;
    }
    return 0;
}
