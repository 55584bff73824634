#!/usr/bin/env bash
# A replay (`apply --from-beginning`) over transactions with heartbeats between them: every
# transaction is dropped as applied before, and the heartbeats after them chain to them, so the
# replay finds no gap, never moves the stored offset back (heartbeats may move it on), and a later apply goes on without
# "kafka missing transaction" (before: skipped transactions did not count as the partition's
# last, each heartbeat after them opened a gap, the replay stored its offset there and the next
# apply stopped, exit 5).
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_replay_hb json none
both_sql "CREATE TABLE items (id int PRIMARY KEY, v int)"
capture_start
apply_start 1
for i in 1 2 3; do
    src_sql "INSERT INTO items SELECT g, g FROM generate_series($((i * 100)), $((i * 100 + 49))) g"
    sleep 1.5
    src_sql "SELECT pg_logical_emit_message(false, 'e2e.noise', 'x')" >/dev/null # WAL moves, no change
    sleep 1.5 # idle: capture sends a heartbeat
done
wait_same 60 items
apply_stop 1
stored=$(tgt_sql "SELECT next_offset FROM syncline.kafka_offsets WHERE name = 'kafka_replay_hb'")
apply_start 2 --from-beginning
sleep 8
apply_running 2 || fail "the replay stopped: $(tail -n 5 "$E2E_TMP/apply.2.log")"
apply_stop 2
after=$(tgt_sql "SELECT next_offset FROM syncline.kafka_offsets WHERE name = 'kafka_replay_hb'")
((after >= stored)) || fail "the replay moved the stored offset back from $stored to $after"
apply_start 3
src_sql "INSERT INTO items VALUES (1000, 1000)"
wait_same 60 items
sleep 6
apply_running 3 || fail "apply stopped after the replay: $(tail -n 5 "$E2E_TMP/apply.3.log")"
apply_stop 3
capture_stop
cat "$E2E_TMP"/apply.*.log >"$E2E_TMP/applies.log"
! grep -q "missing transaction" "$E2E_TMP/applies.log" || fail "a gap where none is: $(grep 'missing transaction' "$E2E_TMP/applies.log")"
