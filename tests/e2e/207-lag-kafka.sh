#!/usr/bin/env bash
# syncline lag in Kafka mode (capture + apply, no run): exit 7 above a tiny --max-bytes while
# pgbench writes, 0 with huge limits, lag 0 (bytes and seconds) on an idle source within a few
# seconds (capture's heartbeats carry idle positions to apply), --json with the consumer lag in
# messages, and lag 7 / messages behind with apply stopped.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup t207 json none
pgbench_schema
both_sql "ALTER TABLE pgbench_history REPLICA IDENTITY FULL"
capture_start
apply_start
pgbench_load 2
wait_same 120 "${PGBENCH_TABLES[@]}"

pgbench_start -n -T 60 -c 4
sleep 2
assert_lag_under_load "Kafka mode"
_e2e_alive "$PGBENCH_PID" || fail "pgbench stopped early: $(tail -n 3 "$E2E_TMP/pgbench.log")"
pgbench_stop

# idle: lag reaches 0 bytes and 0 seconds within 15 s
wait_lag_zero 15 "lag did not reach 0 on an idle source within 15 s"
echo "ok: idle lag reached 0 in Kafka mode ($(tail -n 1 "$E2E_TMP/lag.out"))"
# and stays there while idle (the source LSN keeps moving with checkpoints and other databases)
sleep 3
wait_lag_zero 10 "idle lag did not come back to 0"
echo "ok: idle lag still reaches 0"
assert_lag_json_idle 'assert d["kafka"]["partitions"] == 1 and d["kafka"]["topic"], d'

messages_behind() {
    "$SYNCLINE" lag -c "$CFG" --json </dev/null 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["kafka"]["messages_behind"])'
}
idle_consumed() { [[ "$(messages_behind)" == 0 ]]; }
# a heartbeat may be in flight for a moment (the source LSN moves with checkpoints)
wait_until 10 idle_consumed
echo "ok: consumer lag 0 messages on an idle source"

# apply stopped while the source writes: lag grows
rc=0
apply_stop || rc=$?
assert_eq 0 "$rc" "apply exit code"
src_sql "UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1;
         UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 2"
sleep 2.2
assert_eq 7 "$(lag_rc --max-bytes 0)" "lag --max-bytes 0 exits 7 with apply stopped and a write pending"
assert_eq 7 "$(lag_rc --max-seconds 2)" "lag --max-seconds 2 exits 7 with a write pending for 2 s"
"$SYNCLINE" lag -c "$CFG" --json >"$E2E_TMP/lag2.json" </dev/null || true
cat "$E2E_TMP/lag2.json"
python3 - "$E2E_TMP/lag2.json" <<'PY' || fail "lag --json: messages behind with apply stopped"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["lag_bytes"] > 0 and d["within_limits"] is True, d
assert d["kafka"]["messages_behind"] >= 2, d
PY
echo "ok: consumer lag counts the messages apply has not stored"
grep -q "kafka_messages_behind=" "$E2E_TMP/lag.out" || fail "text output lacks kafka_messages_behind"

apply_start
wait_lag_zero 30 "lag did not return to 0 after apply restarted"
wait_until 10 idle_consumed
echo "ok: consumer lag back to 0 after apply restarted"
assert_same_pgbench
