#!/usr/bin/env bash
# Kafka transport, Avro format (single-object encoding, writer schema in <topic>.schemas):
# pgbench through capture -> Kafka -> apply; the target equals the source.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_avro avro none
pgbench_schema
capture_start
apply_start
pgbench_load 1
pgbench_run 10 4
wait_same 120 "${PGBENCH_TABLES[@]}"
capture_stop
apply_stop
assert_same_pgbench
# the writer schema is published, keyed by its fingerprint
schemas=$(kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC.schemas" -o beginning -e -q -f '%k %s\n')
[[ "$schemas" =~ ^[0-9a-f]{16}\ \{\"name\":\"syncline.Envelope\" ]] || fail "schema topic holds [$schemas]"
echo "ok: writer schema published in $TOPIC.schemas"
# messages start with the single-object magic 0xC3 0x01 (the first with a value: capture's idle
# heartbeats have none)
first=$(kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC" -o beginning -e -q -f '%o %S\n' | awk '$2 > 0 && f == "" { f = $1 } END { print f }')
[[ -n "$first" ]] || fail "no message with a value in $TOPIC"
magic=$(kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC" -o "$first" -c 1 -e -q -f '%s' | head -c 2 | od -An -tx1 | tr -d ' \n')
assert_eq c301 "$magic" "Avro single-object header"
