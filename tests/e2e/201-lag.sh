#!/usr/bin/env bash
# syncline lag: exit 7 above a tiny --max-bytes while pgbench writes, 0 with a huge limit, lag 0
# (bytes and seconds) on an idle source within a few seconds, lag seconds > 0 while syncline is
# stopped and the source has a pending write, and --json output.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t201
pgbench_setup 2

syncline_start
wait_synced 120

pgbench_start -n -T 60 -c 4
sleep 2
assert_lag_under_load
pgbench_stop

# idle: lag reaches 0 bytes and 0 seconds within 15 s
wait_lag_zero 15 "lag did not reach 0 on an idle source within 15 s"
echo "ok: idle lag reached 0 ($(tail -n 1 "$E2E_TMP/lag.out"))"
assert_lag_json_idle

# --watch prints a line per second until SIGINT, and exits 0 when within limits
"$SYNCLINE" lag -c "$CFG" --watch --max-bytes 100000000000 >"$E2E_TMP/watch.out" 2>&1 </dev/null &
WATCH_PID=$!
sleep 2.5
kill -INT "$WATCH_PID"
rc=0
wait "$WATCH_PID" || rc=$?
assert_eq 0 "$rc" "lag --watch exit code after SIGINT"
(($(grep -c lag_bytes= "$E2E_TMP/watch.out") >= 2)) || fail "lag --watch printed fewer than 2 lines"

# syncline stopped and a write pending: lag in bytes and seconds grows
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code"
src_sql "UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1"
sleep 2.2
assert_eq 7 "$(lag_rc --max-seconds 2)" "lag --max-seconds 2 exits 7 with a write pending for 2 s"
assert_eq 7 "$(lag_rc --max-bytes 0)" "lag --max-bytes 0 exits 7 with a write pending"
tail -n 1 "$E2E_TMP/lag.out"

# errors: a progress row that does not exist is not a lag
write_config "$(config_json | sed 's/"name": "t201"/"name": "t201_none"/')"
assert_eq 5 "$(lag_rc)" "lag without a progress row exits 5"
write_config "$(config_json)"
