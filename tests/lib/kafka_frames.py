#!/usr/bin/env python3
"""kafka_frames: summarizes the framing of raw Kafka messages, for the Avro scenarios.

    kcat -C -b BROKERS -t TOPIC -o beginning -e -q -f '%o %S:%s' | kafka_frames.py

Reads kcat's output in that format (offset, value size, ':', the value's bytes; a message
without value has size -1) and prints one JSON object:

    {"messages": N, "empty": N (no value: heartbeats), "confluent": N, "single_object": N,
     "other": [offsets...], "ids": {"ID": count}, "fingerprints": {"HEX16": count}}

"confluent": magic byte 0 and a 4-byte big-endian schema id; "single_object": 0xC3 0x01 and an
8-byte little-endian fingerprint. Python 3.7+, stdlib only.
"""
import json
import sys


def main():
    data = sys.stdin.buffer.read()
    pos, out = 0, {"messages": 0, "empty": 0, "confluent": 0, "single_object": 0, "other": [],
                   "ids": {}, "fingerprints": {}}
    while pos < len(data):
        space = data.index(b" ", pos)
        colon = data.index(b":", space)
        offset, size = int(data[pos:space]), int(data[space + 1:colon])
        value = data[colon + 1:colon + 1 + max(size, 0)]
        if len(value) != max(size, 0):
            sys.exit("kafka_frames: truncated input at offset %d" % offset)
        pos = colon + 1 + max(size, 0)
        out["messages"] += 1
        if size <= 0:
            out["empty"] += 1
        elif value[0] == 0 and len(value) >= 5:
            out["confluent"] += 1
            key = str(int.from_bytes(value[1:5], "big"))
            out["ids"][key] = out["ids"].get(key, 0) + 1
        elif value[:2] == b"\xc3\x01" and len(value) >= 10:
            out["single_object"] += 1
            key = "%016x" % int.from_bytes(value[2:10], "little")
            out["fingerprints"][key] = out["fingerprints"].get(key, 0) + 1
        else:
            out["other"].append(offset)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
