#!/usr/bin/env bash
# Kafka retention gap (issue 15, class 7): records below apply's stored offset are deleted
# (deleteRecords, as retention would). apply does not jump to the low watermark: it exits 5
# naming topic, partition, stored offset and low watermark and says the target must be copied
# again; lag reports the gap (exit 5) instead of 0 messages behind; the target is unchanged.
# The same when the records are deleted while apply runs behind (auto.offset.reset=error).
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_retention json none
both_sql "CREATE TABLE t (id int PRIMARY KEY, v text)"
capture_start
apply_start
src_sql "INSERT INTO t VALUES (1, 'one')"
wait_same 60 t
apply_stop
stored=$(tgt_sql "SELECT next_offset FROM syncline.kafka_offsets WHERE name = '$E2E_NAME' AND topic = '$TOPIC' AND partition = 0")
[[ -n "$stored" ]] || fail "apply stored no offset"
src_sql "INSERT INTO t VALUES (2, 'two')"
src_sql "INSERT INTO t VALUES (3, 'three')"
# the two changes are in the topic
changes() { kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC" -o "$stored" -e -q -f '%S\n' | awk '$1 > 0' | wc -l; }
two_changes() { (($(changes) >= 2)); }
wait_until 30 two_changes
capture_stop
hi=$(kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC" -o beginning -e -q -f '%o\n' | tail -n 1)
hi=$((hi + 1))
((hi > stored + 1)) || fail "expected messages past the stored offset $stored (high watermark $hi)"
kafka_admin delete-records "$TOPIC" 0 "$hi" || fail "delete-records"

rc=0
"$SYNCLINE" lag -c "$CFG" >"$E2E_TMP/lag.gap.out" 2>&1 || rc=$?
cat "$E2E_TMP/lag.gap.out"
assert_eq 5 "$rc" "lag exits 5 on a retention gap"
assert_contains "$E2E_TMP/lag.gap.out" "kafka_gap=partition:0,stored_offset:$stored,low_watermark:$hi" \
    "lag names partition, stored offset and low watermark"
rc=0
"$SYNCLINE" lag --json -c "$CFG" >"$E2E_TMP/lag.gap.json" 2>/dev/null || rc=$?
assert_eq 5 "$rc" "lag --json exits 5 on a retention gap"
python3 - "$E2E_TMP/lag.gap.json" "$stored" "$hi" <<'PY' || fail "lag --json reports the gap"
import json, sys
d = json.loads(open(sys.argv[1]).read().splitlines()[0])
g = d["kafka"]["gaps"]
assert g == [{"partition": 0, "stored_offset": int(sys.argv[2]), "low_watermark": int(sys.argv[3])}], g
assert d["kafka"]["messages_behind"] != 0, d
PY
rc=0
"$SYNCLINE" status -c "$CFG" >"$E2E_TMP/status.gap.out" 2>&1 || rc=$?
cat "$E2E_TMP/status.gap.out"
assert_contains "$E2E_TMP/status.gap.out" "partition=0 stored_offset=$stored low_watermark=$hi" "status reports the gap"

apply_start
apply_wait_exit 1 60
assert_eq 5 "$APPLY_RC" "apply exits 5 on a retention gap"
assert_contains "$E2E_TMP/apply.1.log" "topic=$TOPIC partition=0 stored_offset=$stored low_watermark=$hi" \
    "apply names topic, partition, stored offset and low watermark"
assert_contains "$E2E_TMP/apply.1.log" "copied again" "apply says the target must be copied again"
assert_eq "1" "$(tgt_sql "SELECT string_agg(id::text, ',') FROM t")" "nothing past the gap applied"
assert_eq "$stored" "$(tgt_sql "SELECT next_offset FROM syncline.kafka_offsets WHERE name = '$E2E_NAME' AND topic = '$TOPIC' AND partition = 0")" \
    "the stored offset stays"

# Deleted while apply runs behind: it is paused (SIGSTOP) with changes waiting in the topic,
# the records up to the end are deleted, and once resumed its fetch position is out of range:
# exit 5 again, never a jump to either end.
# (a fresh start: the target forgets its offset; table u is new on both sides)
tgt_sql "DELETE FROM syncline.kafka_offsets WHERE name = '$E2E_NAME'" >/dev/null
both_sql "CREATE TABLE u (id int PRIMARY KEY, v text)"
capture_start
apply_start 2
src_sql "INSERT INTO u VALUES (10, 'ten')"
wait_same 60 u
kill -STOP "${APPLY_PIDS[2]}"
e2e_on_exit "kill -CONT ${APPLY_PIDS[2]} 2>/dev/null || true"
# A fetch apply sent before the stop may be answered into its socket while it is stopped, with
# whatever the broker holds by then: 12 is written a second later, so that only 11 can reach
# apply that way (were 11 and 12 both read, nothing deleted would be missing: no gap to report).
src_sql "INSERT INTO u VALUES (11, 'eleven')"
sleep 1
src_sql "INSERT INTO u VALUES (12, 'twelve')"
eleven_twelve() { (($(kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC" -o beginning -e -q -f '%S\n' | awk '$1 > 0' | wc -l) >= 3)); }
wait_until 30 eleven_twelve
capture_stop
hi2=$(kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC" -o beginning -e -q -f '%o\n' | tail -n 1)
hi2=$((hi2 + 1))
kafka_admin delete-records "$TOPIC" 0 "$hi2" || fail "delete-records while apply runs"
kill -CONT "${APPLY_PIDS[2]}"
apply_wait_exit 2 60
assert_eq 5 "$APPLY_RC" "apply exits 5 when records it has not read are deleted under it"
assert_contains "$E2E_TMP/apply.2.log" "low_watermark=$hi2" "apply names the low watermark"
# 11 may have been fetched before the deletion (a fetch answered while apply was stopped): then
# it is applied, in order, and the gap starts after it. Nothing deleted is applied, and the
# offset stored with the rows names the first message apply never got.
applied=$(tgt_sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM u")
[[ "$applied" == 10 || "$applied" == 10,11 ]] || fail "nothing past the gap applied: got [$applied]"
# (the offset in the error is where reading stopped, at or past the stored one: a heartbeat
# read after the last row is not stored until its own commit)
stored2=$(tgt_sql "SELECT next_offset FROM syncline.kafka_offsets WHERE name = '$E2E_NAME' AND topic = '$TOPIC' AND partition = 0")
at=$(grep -o "stored_offset=[0-9]* low_watermark=$hi2" "$E2E_TMP/apply.2.log" | head -n 1 | sed 's/stored_offset=\([0-9]*\).*/\1/')
[[ -n "$at" && -n "$stored2" ]] && ((stored2 <= at && at < hi2)) ||
    fail "the offset stored with the rows ($stored2) is at or before where the gap was met ($at), below $hi2"
