#!/usr/bin/env bash
# Restart after kill -9: a pgbench workload (initial data load by COPY after a TRUNCATE of the
# four tables in one transaction, then TPC-B-like transactions from 2 clients) runs on the source
# while syncline is killed with SIGKILL every 2-4 s and restarted. Afterwards the target equals
# the source: nothing lost, nothing applied twice (pgbench_history has no key: a duplicate or a
# lost insert changes its row count and digest).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MIN_KILLS=6
WORKLOAD_SECONDS=24

e2e_setup t008

pgb() { # PORT DB ARGS...
    local port=$1 db=$2
    shift 2
    "$PG_BIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres "$@" "$db"
}

# Tables and primary keys on both sides, no data.
pgb "$SRC_PORT" "$SRC_DB" -q -i -I dtp >"$E2E_TMP/pgbench-init-src.log" 2>&1 ||
    fail "pgbench -i -I dtp on the source: $(cat "$E2E_TMP/pgbench-init-src.log")"
pgb "$TGT_PORT" "$TGT_DB" -q -i -I dtp >"$E2E_TMP/pgbench-init-tgt.log" 2>&1 ||
    fail "pgbench -i -I dtp on the target: $(cat "$E2E_TMP/pgbench-init-tgt.log")"
# pgbench only inserts into pgbench_history (no primary key); FULL keeps UPDATE/DELETE possible.
src_sql "ALTER TABLE pgbench_history REPLICA IDENTITY FULL"

syncline_start

# The workload: data generation (one transaction: TRUNCATE the four tables, COPY 200,000
# accounts), then 2 clients for WORKLOAD_SECONDS.
(
    pgb "$SRC_PORT" "$SRC_DB" -i -I g -s 2 &&
        pgb "$SRC_PORT" "$SRC_DB" -n -c 2 -j 2 -T "$WORKLOAD_SECONDS"
) >"$E2E_TMP/pgbench.log" 2>&1 &
WORKLOAD_PID=$!
e2e_on_exit "pkill -TERM -P $WORKLOAD_PID 2>/dev/null; kill $WORKLOAD_PID 2>/dev/null || true"

kills=0
workload_kills=0
while :; do
    workload_running=0
    kill -0 "$WORKLOAD_PID" 2>/dev/null && workload_running=1
    # Keep killing until the workload is over and at least MIN_KILLS kills happened.
    if ((!workload_running && kills >= MIN_KILLS)); then break; fi
    sleep "$((2 + RANDOM % 2)).$((RANDOM % 10))" # the kill schedule, not a synchronisation
    syncline_running || fail "syncline died on its own (see syncline.log)"
    syncline_kill
    kills=$((kills + 1))
    ((!workload_running)) || workload_kills=$((workload_kills + 1))
    src_lsn=$(src_sql "SELECT pg_current_wal_lsn()")
    _e2e_log "kill #$kills (workload running: $workload_running), source at $src_lsn," \
        "applied $(_e2e_applied_lsn)"
    syncline_start
done

wpid_rc=0
wait "$WORKLOAD_PID" || wpid_rc=$?
cat "$E2E_TMP/pgbench.log"
assert_eq 0 "$wpid_rc" "pgbench workload exit code"
((workload_kills >= 5)) || fail "only $workload_kills kills happened while the workload ran (want >= 5)"
echo "ok: $kills kills, $workload_kills of them while the workload ran"

tx=$(src_sql "SELECT count(*) FROM pgbench_history")
((tx > 100)) || fail "the workload did too little ($tx transactions)"

wait_synced 120
for t in pgbench_branches pgbench_tellers pgbench_accounts pgbench_history; do
    assert_same "$t"
done
assert_eq "$(src_sql "SELECT sum(abalance) FROM pgbench_accounts")" \
    "$(tgt_sql "SELECT sum(abalance) FROM pgbench_accounts")" "sum of account balances"
assert_eq "$tx" "$(tgt_sql "SELECT count(*) FROM pgbench_history")" \
    "pgbench_history rows (each transaction exactly once)"

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
