/*
 * libFuzzer target for the Avro Kafka message decoder (event_decode with an
 * Avro codec: single-object encoding, falling back to JSON), with a key.
 */
#include "fuzz_event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_event_one(EVENT_FORMAT_AVRO, data, size);
}
