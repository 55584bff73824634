#!/usr/bin/env bash
# Kafka transport, Avro format (single-object encoding, writer schemas in <topic>.schemas):
# pgbench and a table of every Avro-mapped type through capture -> Kafka -> apply; then
# ALTER TABLE ADD COLUMN mid-stream: capture publishes a second schema for the relation, apply
# (running) finds the unknown fingerprint by reading <topic>.schemas again, and a fresh apply
# reads both at its start; the target equals the source every time. A message naming a
# fingerprint in no schema record stops apply, naming message and fingerprint.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_avro avro none
pgbench_schema
typed_schema
capture_start
apply_start
pgbench_load 1
pgbench_run 6 4
typed_changes
wait_same 120 "${PGBENCH_TABLES[@]}" typed

# an idle apply fetches nothing from <topic>.schemas between reads: it paused those partitions
# (before, its schema consumer fetched about 50 times a second: some 26,000 bytes in 5 s)
broker_bytes_sent() { # PID: bytes the process sent to the broker so far, all its connections
    ss -tinpH "dport = :${KAFKA_BROKERS##*:}" | grep -A1 "pid=$1," | grep -o 'bytes_sent:[0-9]*' |
        awk -F: '{ s += $2 } END { print s + 0 }'
}
sent0=$(broker_bytes_sent "${APPLY_PIDS[1]}")
sleep 5
sent=$(($(broker_bytes_sent "${APPLY_PIDS[1]}") - sent0))
((sent0 > 0 && sent < 10000)) ||
    fail "an idle apply sent $sent bytes to the broker in 5 s (before: $sent0), expected under 10000"

# a new version of pgbench_accounts while capture and apply run (the target first, as before DDL
# following: apply skips the replayed command, the target has it already)
tgt_sql "ALTER TABLE pgbench_accounts ADD COLUMN note text, ADD COLUMN score float8"
src_sql "ALTER TABLE pgbench_accounts ADD COLUMN note text, ADD COLUMN score float8"
src_sql "UPDATE pgbench_accounts SET note = 'n' || aid, score = CASE aid % 3 WHEN 0 THEN 'NaN'
           WHEN 1 THEN aid / 7.0 ELSE '-Infinity' END WHERE aid % 97 = 0"
pgbench_run 3 4
wait_same 120 "${PGBENCH_TABLES[@]}" typed
apply_stop
reads=$(grep -c "kafka schemas read topic=$TOPIC.schemas" "$E2E_TMP/apply.1.log")
[[ "$reads" -ge 2 ]] || fail "apply read $TOPIC.schemas $reads times (at start, and for the new fingerprint)"

# a fresh apply on an emptied target reads every schema at its start and converges again
tgt_sql "TRUNCATE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history, typed;
         DELETE FROM syncline.kafka_offsets WHERE name = 'kafka_avro';
         DELETE FROM syncline.progress WHERE name = 'kafka_avro'"
apply_start 2
wait_same 120 "${PGBENCH_TABLES[@]}" typed
capture_stop
apply_stop 2
assert_same_pgbench
assert_same typed
reads=$(grep -c "kafka schemas read topic=$TOPIC.schemas schemas=" "$E2E_TMP/apply.2.log")
assert_eq 1 "$reads" "schema topic reads of a fresh apply (all schemas at its start)"

# the schema topic: every writer schema keyed by its fingerprint; two for pgbench_accounts
kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC.schemas" -o beginning -e -q -f '%k %s\n' >"$E2E_TMP/schemas"
grep -Eqv '^[0-9a-f]{16} \{' "$E2E_TMP/schemas" && fail "schema topic holds [$(head -c 300 "$E2E_TMP/schemas")]"
n=$(grep -c '"namespace":"syncline.public.pgbench_accounts"' "$E2E_TMP/schemas")
assert_eq 2 "$n" "writer schemas of pgbench_accounts in $TOPIC.schemas"
n=$(grep -c '"namespace":"syncline.public.typed"' "$E2E_TMP/schemas")
assert_eq 1 "$n" "writer schemas of typed in $TOPIC.schemas"
echo "ok: $(wc -l <"$E2E_TMP/schemas") writer schemas published in $TOPIC.schemas"

# every message with a value is single-object encoded with a published fingerprint
kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC" -o beginning -e -q -f '%o %S:%s' >"$E2E_TMP/raw"
frames=$(python3 "$(dirname "$0")/../lib/kafka_frames.py" <"$E2E_TMP/raw")
check=$(python3 -c '
import json, sys
f = json.loads(sys.argv[1])
published = {line.split(" ", 1)[0] for line in open(sys.argv[2]) if line.strip()}
bad = [fp for fp in f["fingerprints"] if fp not in published]
if f["single_object"] != f["messages"] - f["empty"] or f["other"] or f["confluent"]:
    bad.append("not all single-object encoded")
print("BAD: %s" % bad if bad else "%d messages, %d fingerprints" % (f["single_object"], len(f["fingerprints"])))
' "$frames" "$E2E_TMP/schemas")
[[ "$check" != BAD* ]] || fail "$check ($frames)"
echo "ok: $check, all published"

# a message naming a fingerprint that is in no schema record: apply reads the schema topic
# again, then stops (exit 1) naming the message and the fingerprint
printf '\xc3\x01\x01\x02\x03\x04\x05\x06\x07\x08\x02c\n' | kcat -P -b "$KAFKA_BROKERS" -t "$TOPIC" -p 0
apply_start 2
apply_wait_exit 2 60
assert_eq 1 "$APPLY_RC" "apply on an unknown writer schema: exit code"
assert_contains "$E2E_TMP/apply.2.log" "unknown Avro writer schema fingerprint 0807060504030201, not in $TOPIC.schemas (topic=$TOPIC partition=0 offset=" \
    "the message and the fingerprint are named"
