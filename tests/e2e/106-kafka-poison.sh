#!/usr/bin/env bash
# A message that cannot be decoded stops apply (exit 1) with topic, partition and offset; with
# --dead-letter TOPIC it is copied there, logged, and apply goes on.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_poison json none
both_sql "CREATE TABLE t (id int PRIMARY KEY, v text)"
capture_start
src_sql "INSERT INTO t VALUES (1, 'one')"
# the change is in the topic (a message with a value: capture's idle heartbeats have none)
change_in_topic() { kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC" -o beginning -e -q -f '%S\n' | awk '$1 > 0 { f = 1 } END { exit !f }'; }
wait_until 30 change_in_topic
echo 'this is not a change' | kcat -P -b "$KAFKA_BROKERS" -t "$TOPIC" -p 0 || fail "kcat produce"
# its offset (capture's idle heartbeats may come before it)
poison_at() { kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC" -o beginning -e -q -f '%o %s\n' | awk '$2 == "this" && f == "" { f = $1 } END { print f }'; }
poison_seen() { [[ -n "$(poison_at)" ]]; }
wait_until 30 poison_seen
POISON=$(poison_at)
src_sql "INSERT INTO t VALUES (2, 'two')"
apply_start
apply_wait_exit 1 60
assert_eq 1 "$APPLY_RC" "apply exits 1 on the poison message"
assert_contains "$E2E_TMP/apply.1.log" "cannot decode message topic=$TOPIC partition=0 offset=$POISON" \
    "the error names topic, partition and offset"
assert_eq 1 "$(tgt_sql "SELECT count(*) FROM t")" "the change before the poison message is applied"

apply_start 2 --dead-letter "$TOPIC.dead"
wait_same 60 t
assert_contains "$E2E_TMP/apply.2.log" "dead-letter topic=$TOPIC partition=0 offset=$POISON" "dead letter logged"
dead=$(kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC.dead" -o beginning -c 1 -e -q)
assert_eq "this is not a change" "$dead" "the raw message is in the dead-letter topic"
src_sql "INSERT INTO t VALUES (3, 'three')"
wait_same 60 t
apply_stop 2
# restarted, it does not stop on the poison message again: the offset past it is stored
apply_start 3
src_sql "UPDATE t SET v = 'uno' WHERE id = 1"
wait_same 60 t
apply_stop 3
capture_stop
