#!/usr/bin/env bash
# The fenced cutover's write pause after a full online verify (issue 21): pgbench (TPC-B + orders)
# writes while `run` streams; `verify` (full, online) runs during the sync; then `cutover --fence`
# fences, drains, sets sequences and verifies only what changed since (incremental): the report
# shows each step's duration and the pause is shorter than the full online verify took (and, when
# E2E_CUTOVER_MAX_PAUSE_MS is set, under it) at scale E2E_CUTOVER_SCALE (default 10: 1,000,000
# accounts). Target equal, sequences carried.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SCALE=${E2E_CUTOVER_SCALE:-10}
MAX_PAUSE_MS=${E2E_CUTOVER_MAX_PAUSE_MS:-}

e2e_setup t213
pgbench_setup "$SCALE"
cutover_orders_setup

syncline_start
wait_synced 600

pgbench_start -n -T 900 -c 4 -R 500 -b tpcb-like -f "$E2E_TMP/orders.sql"
sleep 2
t0=$(_e2e_now_ms)
rc=0
"$SYNCLINE" verify -c "$CFG" --timeout 120 >"$E2E_TMP/verify.out" 2>"$E2E_TMP/verify.err" </dev/null || rc=$?
cat "$E2E_TMP/verify.out"
[[ "$rc" == 0 ]] || tail -n 5 "$E2E_TMP/verify.err"
assert_eq 0 "$rc" "full online verify during the sync exits 0"
full_ms=$(($(_e2e_now_ms) - t0))
echo "full online verify at scale $SCALE took $full_ms ms"
assert_contains "$E2E_TMP/verify.out" "verify: full:" "the verify during the sync is full"
sleep 2
CUTOVER_BEFORE=$(src_sql "SELECT count(*) FROM pgbench_history")
_e2e_alive "$PGBENCH_PID" || fail "pgbench stopped before the cutover: $(tail -n 5 "$E2E_TMP/pgbench.log")"
_cutover_fence "scale $SCALE"
for k in fence_seconds: drain_seconds: sequences_seconds: verify_seconds: write_pause_ms:; do
    assert_contains "$E2E_TMP/cutover.out" "$k" "report has $k"
done
assert_contains "$E2E_TMP/cutover.out" "verify:              incremental" "the fenced verify is incremental"
assert_contains "$E2E_TMP/cutover.out" "online_verify:" "the report shows the online verify passes before the fence"
pause_ms=$(sed -n 's/^ *write_pause_ms: *\([0-9]*\).*/\1/p' "$E2E_TMP/cutover.out")
echo "scale $SCALE: write pause $pause_ms ms (full online verify: $full_ms ms)"
((pause_ms < full_ms)) || fail "write pause $pause_ms ms not shorter than a full verify ($full_ms ms) at scale $SCALE"
[[ -z "$MAX_PAUSE_MS" ]] || ((pause_ms <= MAX_PAUSE_MS)) || fail "write pause $pause_ms ms > $MAX_PAUSE_MS ms at scale $SCALE"
_cutover_pgbench_fenced
_cutover_assert_carried
assert_unfence
echo "ok: fenced cutover with an incremental verify"
