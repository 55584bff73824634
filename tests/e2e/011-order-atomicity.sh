#!/usr/bin/env bash
# Atomicity and order under a concurrent workload: 4 pgbench clients run many small transactions
# that each move money between rows of two tables (and a ledger table, by INSERT and DELETE), so
# that sum(acct_a) + sum(acct_b) + sum(ledger) is constant in every committed state. With tiny
# apply batches, the target is probed continuously: every observation must show that sum, i.e.
# no source transaction is ever split or applied out of order; at the end the tables are equal.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ACCOUNTS=100
TOTAL=$((2 * ACCOUNTS * 1000))
WORKLOAD_SECONDS=15

e2e_setup t011
# Batches that end in the middle of most source transactions if syncline ever splits them.
write_config "$(config_json '"apply": {"batch_rows": 3, "batch_ms": 5}')"

both_sql "
CREATE TABLE acct_a (id int PRIMARY KEY, bal bigint NOT NULL);
CREATE TABLE acct_b (id int PRIMARY KEY, bal bigint NOT NULL);
CREATE TABLE ledger (id bigint PRIMARY KEY, amt bigint NOT NULL);
CREATE SEQUENCE ledger_id;"

INVARIANT="SELECT coalesce((SELECT sum(bal) FROM acct_a), 0) + coalesce((SELECT sum(bal) FROM acct_b), 0)
                + coalesce((SELECT sum(amt) FROM ledger), 0)"

# Lock order everywhere: acct_a row, then acct_b row(s), then ledger: no deadlocks.
cat >"$E2E_TMP/a_to_b.sql" <<'SQL'
\set x random(1, 100)
\set y random(1, 100)
\set amt random(1, 50)
BEGIN;
UPDATE acct_a SET bal = bal - :amt WHERE id = :x;
UPDATE acct_b SET bal = bal + :amt WHERE id = :y;
COMMIT;
SQL
cat >"$E2E_TMP/b_to_a.sql" <<'SQL'
\set x random(1, 100)
\set y random(1, 100)
\set amt random(1, 50)
BEGIN;
UPDATE acct_a SET bal = bal + :amt WHERE id = :x;
UPDATE acct_b SET bal = bal - :amt WHERE id = :y;
COMMIT;
SQL
cat >"$E2E_TMP/a_to_ledger.sql" <<'SQL'
\set x random(1, 100)
\set amt random(1, 20)
BEGIN;
UPDATE acct_a SET bal = bal - :amt WHERE id = :x;
INSERT INTO ledger VALUES (nextval('ledger_id'), :amt);
COMMIT;
SQL
cat >"$E2E_TMP/ledger_to_b.sql" <<'SQL'
\set y random(1, 100)
BEGIN;
WITH d AS (DELETE FROM ledger WHERE id = (SELECT min(id) FROM ledger) RETURNING amt)
UPDATE acct_b SET bal = bal + (SELECT coalesce(sum(amt), 0) FROM d) WHERE id = :y;
COMMIT;
SQL
cat >"$E2E_TMP/spread.sql" <<'SQL'
\set x random(1, 100)
BEGIN;
UPDATE acct_a SET bal = bal + 10 * 100 WHERE id = :x;
UPDATE acct_b SET bal = bal - 10;
COMMIT;
SQL

syncline_start
# The accounts, in one transaction; afterwards the progress row exists for the probes.
src_sql "BEGIN;
INSERT INTO acct_a SELECT g, 1000 FROM generate_series(1, $ACCOUNTS) g;
INSERT INTO acct_b SELECT g, 1000 FROM generate_series(1, $ACCOUNTS) g;
COMMIT;"
wait_synced
assert_eq "$TOTAL" "$(src_sql "$INVARIANT")" "control: initial total on the source"
assert_eq "$TOTAL" "$(tgt_sql "$INVARIANT")" "initial total on the target"

"$PG_BIN/pgbench" -h 127.0.0.1 -p "$SRC_PORT" -U postgres -n -c 4 -j 4 -T "$WORKLOAD_SECONDS" \
    --max-tries=20 \
    -f "$E2E_TMP/a_to_b.sql@10" -f "$E2E_TMP/b_to_a.sql@10" -f "$E2E_TMP/a_to_ledger.sql@5" \
    -f "$E2E_TMP/ledger_to_b.sql@4" -f "$E2E_TMP/spread.sql@1" \
    "$SRC_DB" >"$E2E_TMP/pgbench.log" 2>&1 &
WORKLOAD_PID=$!
e2e_on_exit "kill $WORKLOAD_PID 2>/dev/null || true"

# Probe the target while the workload runs (and while syncline catches up just after).
PROBE="SELECT ($INVARIANT) || ' ' || (SELECT count(*) FROM ledger) || ' ' ||
              coalesce((SELECT applied_lsn::text FROM syncline.progress WHERE name = 't011'), '-')"
observations=0
declare -A lsns=()
probe() {
    local ans total
    ans=$(tgt_psql -c "$PROBE") || fail "probe query failed on the target"
    total=${ans%% *}
    observations=$((observations + 1))
    lsns[${ans##* }]=1
    if [[ "$total" != "$TOTAL" ]]; then
        fail "observation #$observations on the target: total is $total, not $TOTAL" \
            "(answer: $ans): a source transaction was split or applied out of order"
    fi
}
while kill -0 "$WORKLOAD_PID" 2>/dev/null; do
    probe
    syncline_running || fail "syncline died during the workload"
    sleep 0.05
done
wrc=0
wait "$WORKLOAD_PID" || wrc=$?
cat "$E2E_TMP/pgbench.log"
assert_eq 0 "$wrc" "pgbench exit code"
done_tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$E2E_TMP/pgbench.log")
((${done_tx:-0} > 500)) || fail "the workload did too little (${done_tx:-?} transactions)"

# Keep probing while syncline catches up, until it has applied everything.
target_lsn=$(src_sql "SELECT pg_current_wal_lsn()")
deadline=$(($(date +%s) + 120))
until [[ "$(tgt_sql "SELECT coalesce((SELECT applied_lsn >= '$target_lsn' FROM syncline.progress WHERE name = 't011'), false)")" == t ]]; do
    probe
    (($(date +%s) < deadline)) || fail "not caught up 120 s after the workload"
    syncline_running || fail "syncline died while catching up"
    sleep 0.05
done
probe
_e2e_log "$observations observations of the target, ${#lsns[@]} distinct applied positions, all with total $TOTAL"
((${#lsns[@]} >= 5)) || fail "only ${#lsns[@]} distinct applied positions observed: the probe did not watch the apply"

wait_synced
for t in acct_a acct_b ledger; do
    assert_same "$t"
done
assert_eq "$TOTAL" "$(tgt_sql "$INVARIANT")" "final total on the target"

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
