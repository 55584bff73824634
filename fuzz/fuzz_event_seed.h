/*
 * The relation the Kafka message seeds are written for (gen_event_corpus.c)
 * and what the decoder targets know before they decode (fuzz_event.h): its
 * writer schema (single-object fingerprint, and Confluent schema id
 * FUZZ_EVENT_SCHEMA_ID) and the fixed envelope of syncline 0.1, whose
 * messages the regress-* inputs are.
 */
#ifndef SYNCLINE_FUZZ_EVENT_SEED_H
#define SYNCLINE_FUZZ_EVENT_SEED_H

#include <string.h>

#include "event/event.h"
#include "event/event_codec.h"
#include "support/event_oracle.h"
#include "event/event_schema.h"

#define FUZZ_EVENT_SCHEMA_ID 1

static change_column_t fuzz_event_cols[] = {
    {.name = "id", .type_oid = 23, .typmod = -1, .is_key = true},
    {.name = "note", .type_oid = 25, .typmod = -1, .is_key = false},
    {.name = "big", .type_oid = 25, .typmod = -1, .is_key = false},
    {.name = "\xf0\x9f\x90\x98 col", .type_oid = 3802, .typmod = -1, .is_key = false},
    {.name = "flag", .type_oid = 16, .typmod = -1, .is_key = false},
    {.name = "n8", .type_oid = 20, .typmod = -1, .is_key = false},
    {.name = "f4", .type_oid = 700, .typmod = -1, .is_key = false},
    {.name = "f8", .type_oid = 701, .typmod = -1, .is_key = false},
    {.name = "raw", .type_oid = 17, .typmod = -1, .is_key = false},
};
static change_relation_t fuzz_event_rel = {.relid = 16384,
                                           .nspname = "public",
                                           .relname = "items",
                                           .replident = 'd',
                                           .ncols = 9,
                                           .cols = fuzz_event_cols};

/* Teaches an Avro codec the seeds' writer schemas. 0 or -1. */
static int fuzz_event_prepare(event_codec_t *codec)
{
    char err[512];
    change_row_t ch = {.op = CHANGE_TRUNCATE, .rel = &fuzz_event_rel};
    event_truncate_t tpos = {.n = 1};
    event_txn_t txn = {.commit_lsn = 1};
    json_t *env = event_oracle_build(&ch, &tpos, &txn, "shop", err, sizeof(err));
    event_avro_writer_t *w = env ? event_oracle_writer(codec, env, err, sizeof(err)) : NULL;
    json_decref(env);
    if (w == NULL)
        return -1;
    event_avro_writer_set_published(w, FUZZ_EVENT_SCHEMA_ID);
    event_avro_ref_t v0 = {.fingerprint = event_schema_fingerprint(event_oracle_v0_schema)};
    return event_codec_add_schema(codec, event_oracle_v0_schema, strlen(event_oracle_v0_schema),
                                  &v0, err, sizeof(err));
}

#endif
