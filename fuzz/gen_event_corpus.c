/*
 * Writes the seed corpora of fuzz_event_json and fuzz_event_avro with the
 * real encoders (event_build + event_encode), plus Debezium samples, in the
 * fuzz_event.h layout (key length byte, key, value). Run by fuzz/gen_corpus.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

static change_column_t cols[] = {
    {.name = "id", .type_oid = 23, .typmod = -1, .is_key = true},
    {.name = "note", .type_oid = 25, .typmod = -1, .is_key = false},
    {.name = "big", .type_oid = 25, .typmod = -1, .is_key = false},
    {.name = "\xf0\x9f\x90\x98 col", .type_oid = 3802, .typmod = -1, .is_key = false},
};
static change_relation_t rel = {.relid = 16384,
                                .nspname = "public",
                                .relname = "items",
                                .replident = 'd',
                                .ncols = 4,
                                .cols = cols};

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

static int encode_all(const char *dir, event_format_t fmt)
{
    static const change_value_t nul = {.kind = CHANGE_NULL}, unch = {.kind = CHANGE_UNCHANGED};
    change_value_t oldv[4] = {text("41"), nul, nul, nul};
    change_value_t newv[4] = {text("42"), text("it's \"quoted\"\n"), unch, text("[[[[1]]]]")};
    change_value_t fullv[4] = {text("41"), text("old"), text("x"), text("{\"a\": null}")};
    change_tuple_t oldk = {4, oldv}, newt = {4, newv}, oldf = {4, fullv};
    const event_change_t changes[] = {
        {.op = EVENT_CREATE, .rel = &rel, .new_tuple = &newt},
        {.op = EVENT_UPDATE, .rel = &rel, .old_kind = 'K', .old_tuple = &oldk, .new_tuple = &newt},
        {.op = EVENT_UPDATE, .rel = &rel, .old_kind = 'O', .old_tuple = &oldf, .new_tuple = &newt},
        {.op = EVENT_UPDATE, .rel = &rel, .new_tuple = &newt},
        {.op = EVENT_DELETE, .rel = &rel, .old_kind = 'K', .old_tuple = &oldk},
        {.op = EVENT_DELETE, .rel = &rel, .old_kind = 'O', .old_tuple = &oldf},
        {.op = EVENT_TRUNCATE,
         .rel = &rel,
         .truncate_options = 3,
         .truncate_n = 2,
         .truncate_i = 1},
        {.op = EVENT_READ, .rel = &rel, .new_tuple = &newt},
    };
    char err[256];
    event_codec_t *codec = event_codec_new(fmt, err, sizeof(err));
    if (codec == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
        for (int last = 0; last < 2; last++) {
            event_txn_t txn = {.xid = 700 + (uint32_t)i,
                               .commit_lsn = 0x16B3748 + i,
                               .commit_time = 756000000000000,
                               .seq = (int64_t)i};
            json_t *env = event_build(&changes[i], &txn, "shop", err, sizeof(err));
            char *buf, *key, name[64];
            size_t len, keylen;
            if (env == NULL || (last && event_mark_last(env, 0x16B3800 + i) != 0) ||
                event_encode(codec, env, &buf, &len, err, sizeof(err)) != 0)
                return -1;
            key = event_key(&changes[i], last ? "key" : "table", &keylen);
            snprintf(name, sizeof(name), "syncline-%zu-%s", i, last ? "last" : "mid");
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
    if (encode_all(argv[1], EVENT_FORMAT_JSON) != 0 || debezium(argv[1]) != 0 ||
        encode_all(argv[2], EVENT_FORMAT_AVRO) != 0 || debezium(argv[2]) != 0) {
        fprintf(stderr, "gen_event_corpus: failed\n");
        return 1;
    }
    return 0;
}
