#!/usr/bin/env bash
# Online verify (issue 21): `syncline verify` while pgbench writes to the source and `run` streams,
# with no fence. The applier holds for a moment at the source position of a temporary slot's
# snapshot while verify opens its target snapshot, then goes on: verify exits 0 on equal data
# (no false difference although every pgbench table moves), exits 1 and names a cell tampered on
# the target (no missed difference), and takes new consistent points as it goes (--point-seconds).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t211
pgbench_setup 2
both_sql "CREATE TABLE quiet (id int PRIMARY KEY, v text)"
src_sql "INSERT INTO quiet SELECT g, md5(g::text) FROM generate_series(1, 50000) g"

syncline_start
wait_synced 120

VERIFY_TIMEOUT=60

pgbench_start -n -T 300 -c 2 -j 2 -R 1500 -b tpcb-like
sleep 2
before=$(src_sql "SELECT count(*) FROM pgbench_history")
t0=$(date +%s)
rc=$(verify --full --chunk-rows 20000)
tail -n 5 "$E2E_TMP/verify.err"
assert_eq 0 "$rc" "verify exits 0 on equal data while pgbench writes (no fence)"
echo "online verify of $(src_sql "SELECT count(*) FROM pgbench_accounts") accounts took $(($(date +%s) - t0)) s"
for t in pgbench_accounts pgbench_branches pgbench_tellers quiet; do
    assert_contains "$E2E_TMP/verify.out" "table public.$t -> public.$t: match" "$t matches"
done
assert_contains "$E2E_TMP/verify.out" "table public.pgbench_history -> public.pgbench_history: match" "history (no key) matches whole"
assert_contains "$E2E_TMP/verify.err" "online point" "verify took an online point"
assert_contains "$E2E_TMP/syncline.log" "verify hold: held at" "the applier held at the point"
_e2e_alive "$PGBENCH_PID" || fail "pgbench stopped during verify: $(tail -n 5 "$E2E_TMP/pgbench.log")"
(($(src_sql "SELECT count(*) FROM pgbench_history") > before)) || fail "pgbench wrote nothing during verify"

# a cell tampered on the target, in a table pgbench does not touch, and one pgbench does
tgt_sql "UPDATE quiet SET v = 'tampered' WHERE id = 31415;
         INSERT INTO pgbench_branches (bid, bbalance) VALUES (99, 7)"
assert_eq 1 "$(verify --full --chunk-rows 5000)" "verify exits 1 on a tampered cell while pgbench writes"
assert_contains "$E2E_TMP/verify.out" "row (id)=(31415) differs" "the tampered cell is named"
assert_contains "$E2E_TMP/verify.out" "row (bid)=(99) is on the target only" "the extra row is named"
assert_contains "$E2E_TMP/verify.out" "table public.pgbench_accounts -> public.pgbench_accounts: match" "accounts still match"
grep -q "pgbench_tellers.*DIFFERENT" "$E2E_TMP/verify.out" && fail "a false difference in pgbench_tellers"

# new points as it goes: one every second. Chunks of 40 rows (about 6,300)
# keep the verify busy for several seconds even on a fast machine: with
# 1,000-row chunks a fast CI machine finished inside the first second.
tgt_sql "UPDATE quiet SET v = md5('31415') WHERE id = 31415; DELETE FROM pgbench_branches WHERE bid = 99"
t0=$(date +%s%N)
assert_eq 0 "$(verify --full --chunk-rows 40 --point-seconds 1)" "verify with a new point every second exits 0"
ms=$((($(date +%s%N) - t0) / 1000000))
points=$(grep -c "online point" "$E2E_TMP/verify.err" || true)
((ms >= 1500)) || fail "verify took only $ms ms: too short to show --point-seconds 1"
((points >= 2)) || fail "verify --point-seconds 1 took $points point(s) in $ms ms"
echo "ok: $points consistent points in $ms ms"

pgbench_stop
wait_synced
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code"
# stopped syncline, idle source: the fenceless verify of before still works (no applier to hold)
assert_eq 0 "$(verify --full)" "verify passes with syncline stopped and an idle source"
grep -q "online point" "$E2E_TMP/verify.err" && fail "verify held a stopped applier"
echo "ok: online verify"
