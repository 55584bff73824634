/*
 * libFuzzer target for the JSON Kafka message decoder (event_decode with a
 * JSON codec): syncline envelopes and Debezium messages, with a key.
 */
#include "fuzz_event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_event_one(EVENT_FORMAT_JSON, data, size);
}
