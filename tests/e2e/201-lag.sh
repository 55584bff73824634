#!/usr/bin/env bash
# syncline lag: exit 7 above a tiny --max-bytes while pgbench writes, 0 with a huge limit, lag 0
# (bytes and seconds) on an idle source within a few seconds, lag seconds > 0 while syncline is
# stopped and the source has a pending write, and --json output.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t201
PGB=("$PG_BIN/pgbench" -h 127.0.0.1 -U postgres)
"${PGB[@]}" -p "$TGT_PORT" -i -I dtp "$TGT_DB" >/dev/null 2>&1 || fail "pgbench -i on the target"
"${PGB[@]}" -p "$SRC_PORT" -i -s 2 -I dtgvp "$SRC_DB" >/dev/null 2>&1 || fail "pgbench -i on the source"
# pgbench_history has no primary key: syncline wants a replica identity for it
both_sql "ALTER TABLE pgbench_history REPLICA IDENTITY FULL"

syncline_start
wait_synced 120

lag_rc() { # ARGS... -> prints the exit code of syncline lag
    local rc=0
    "$SYNCLINE" lag -c "$CFG" "$@" >>"$E2E_TMP/lag.out" 2>>"$E2E_TMP/lag.err" </dev/null || rc=$?
    echo "$rc"
}

"${PGB[@]}" -p "$SRC_PORT" -n -T 60 -c 4 "$SRC_DB" >"$E2E_TMP/pgbench.log" 2>&1 &
PGBENCH_PID=$!
e2e_on_exit 'kill $PGBENCH_PID 2>/dev/null; wait $PGBENCH_PID 2>/dev/null'
sleep 2

seen7=0
for _ in $(seq 1 20); do
    rc=$(lag_rc --max-bytes 1)
    [[ "$rc" == 0 || "$rc" == 7 ]] || fail "lag --max-bytes 1 exited $rc: $(tail -n 3 "$E2E_TMP/lag.err")"
    if [[ "$rc" == 7 ]]; then seen7=1 && break; fi
    sleep 0.2
done
assert_eq 1 "$seen7" "lag --max-bytes 1 exits 7 while pgbench writes"
assert_eq 0 "$(lag_rc --max-bytes 100000000000)" "lag --max-bytes 100 GB exits 0 under pgbench"
assert_eq 0 "$(lag_rc --max-seconds 100000)" "lag --max-seconds 100000 exits 0 under pgbench"
assert_eq 0 "$(lag_rc --max-bytes 100000000000 --max-seconds 3600)" "both limits, within"
tail -n 3 "$E2E_TMP/lag.out"

kill "$PGBENCH_PID" 2>/dev/null || true
wait "$PGBENCH_PID" 2>/dev/null || true

# idle: lag reaches 0 bytes and 0 seconds within 15 s
deadline=$(($(date +%s) + 15))
until [[ "$(lag_rc --max-bytes 0 --max-seconds 0)" == 0 ]]; do
    (($(date +%s) < deadline)) || fail "lag did not reach 0 on an idle source within 15 s: $(tail -n 1 "$E2E_TMP/lag.out")"
    sleep 0.5
done
echo "ok: idle lag reached 0 ($(tail -n 1 "$E2E_TMP/lag.out"))"

"$SYNCLINE" lag -c "$CFG" --json >"$E2E_TMP/lag.json" </dev/null || fail "lag --json failed"
cat "$E2E_TMP/lag.json"
python3 - "$E2E_TMP/lag.json" <<'PY' || fail "lag --json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["lag_bytes"] == 0 and d["lag_seconds"] == 0, d
assert d["within_limits"] is True and d["slot_active"] is True, d
for k in ("source_lsn", "confirmed_lsn", "applied_lsn"):
    assert "/" in d[k], k
PY
echo "ok: lag --json"

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
