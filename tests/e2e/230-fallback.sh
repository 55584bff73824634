#!/usr/bin/env bash
# Fallback after cutover (issue 20): a sync under pgbench, `cutover --fence --fallback` (the
# report names the fallback slot made on the target at the switch point), forward run stopped,
# `syncline fallback` streams what the application then writes to the new database (pgbench
# TPC-B, inserts with the orders sequence, updates, deletes) back into the old one; a kill -9 of
# fallback mid-stream and a restart: exactly once (pgbench_history has no key, a doubled row
# shows); old == new; the old database stays read-only for applications; `run` is refused
# (exit 5) while fallback runs and after (the fallback slot exists), fallback refused while run
# runs. The restarted fallback serves --metrics; a plain drop removes the fallback slot too.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-fallback.sh"
source "$(dirname "$0")/../lib/pg.sh"

e2e_setup t230
fallback_setup
pgbench_setup 2
cutover_orders_setup

syncline_start
wait_synced 120

# fallback before any cutover: no slot to stream from
rc=0
"$SYNCLINE" fallback -c "$CFG" >"$E2E_TMP/fb0.log" 2>&1 </dev/null || rc=$?
cat "$E2E_TMP/fb0.log"
assert_eq 5 "$rc" "fallback is refused while run runs (exit 5)"
assert_contains "$E2E_TMP/fb0.log" "already running" "and says why"

cutover_fallback_under_pgbench
syncline_stop

rc=0
"$SYNCLINE" run -c "$CFG" >"$E2E_TMP/run1.log" 2>&1 </dev/null || rc=$?
cat "$E2E_TMP/run1.log"
assert_eq 5 "$rc" "run is refused once the fallback slot exists (exit 5)"
assert_contains "$E2E_TMP/run1.log" "cut over with --fallback" "and says why"

fallback_start
rc=0
timeout -k 5 60 "$SYNCLINE" run -c "$CFG" >"$E2E_TMP/run2.log" 2>&1 </dev/null || rc=$?
cat "$E2E_TMP/run2.log"
assert_eq 5 "$rc" "run is refused while fallback runs (exit 5)"
assert_contains "$E2E_TMP/run2.log" "already running" "and says why"

# the application now writes to the new database
tgt_sql "INSERT INTO orders (aid) SELECT g FROM generate_series(1, 500) g;
         UPDATE orders SET aid = -aid WHERE id % 7 = 0;
         DELETE FROM orders WHERE id % 11 = 0;"
pgbench_start_target -n -T 60 -c 2 -b tpcb-like -f "$E2E_TMP/orders.sql"
sleep 4
before=$(src_sql "SELECT count(*) FROM pgbench_history")
fallback_kill
sleep 2
metrics_port=$(pg_free_port 59230)
fallback_start --metrics "$metrics_port"
sleep 3
pgbench_stop
grep -qi "aborted\|error" "$E2E_TMP/pgbench-target.log" && fail "pgbench on the target failed: $(tail -n 5 "$E2E_TMP/pgbench-target.log")"
fallback_wait_synced
after=$(src_sql "SELECT count(*) FROM pgbench_history")
((after > before)) || fail "no history row came back after the restart ($before -> $after)"
echo "ok: history rows in the old database $before at the kill, $after after"

for t in "${PGBENCH_TABLES[@]}" orders; do assert_same "$t"; done
curl -sf "http://127.0.0.1:$metrics_port/metrics" -o "$E2E_TMP/metrics.txt" || fail "curl /metrics of fallback failed"
grep -qE '^syncline_transactions_total [1-9]' "$E2E_TMP/metrics.txt" || fail "fallback --metrics counts no transaction"
grep -qE '^syncline_applied_lsn [1-9]' "$E2E_TMP/metrics.txt" || fail "fallback --metrics has no applied_lsn"
echo "ok: fallback --metrics serves the reverse stream's metrics"
assert_eq t "$(tgt_sql "SELECT count(*) > 0 FROM orders WHERE aid < 0")" "control: updates were made"

# the old database stays fenced for applications
src_psql -c "INSERT INTO orders (aid) VALUES (0)" >"$E2E_TMP/ro.out" 2>&1 && fail "an application session could write to the old database"
assert_contains "$E2E_TMP/ro.out" "read-only transaction" "the old database is still read-only for applications"
# what syncline wrote carries its replication origin
assert_eq 1 "$(src_sql "SELECT count(*) FROM pg_replication_origin WHERE roname = 'syncline_fallback_t230'")" "the fallback origin exists"

fallback_stop

# a plain drop removes the fallback direction too (slot and publication on the target)
"$SYNCLINE" drop -c "$CFG" >"$E2E_TMP/drop.out" 2>&1 || fail "drop: $(cat "$E2E_TMP/drop.out")"
assert_eq 0 "$(tgt_sql "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$FB_SLOT'")" "drop removed the fallback slot"
assert_eq 0 "$(tgt_sql "SELECT count(*) FROM pg_publication WHERE pubname = '$FB_SLOT'")" "and its publication"
assert_eq 0 "$(src_sql "SELECT count(*) FROM pg_replication_origin WHERE roname = 'syncline_fallback_t230'")" "and the origin"
