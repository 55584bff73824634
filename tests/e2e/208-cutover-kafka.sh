#!/usr/bin/env bash
# syncline cutover --fence in Kafka mode (capture + apply, no run) under a running pgbench:
# pgbench writes until the fence and fails after it; the report prints the write pause; afterwards
# the target equals the source (all pgbench tables), target sequences >= source; unfence. Then a
# cutover with apply stopped times out (exit 7) and leaves the source writable.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup t208 json none
pgbench_schema
both_sql "ALTER TABLE pgbench_history REPLICA IDENTITY FULL;
          CREATE TABLE orders (id bigserial PRIMARY KEY, aid int, at timestamptz DEFAULT now())"
cat >"$E2E_TMP/orders.sql" <<'SQL'
\set aid random(1, 100000)
INSERT INTO orders (aid) VALUES (:aid);
SQL
e2e_on_exit '"$SYNCLINE" unfence -c "$CFG" >/dev/null 2>&1'
capture_start
apply_start
pgbench_load 1
wait_same 120 "${PGBENCH_TABLES[@]}"

"$PG_BIN/pgbench" -h 127.0.0.1 -U postgres -p "$SRC_PORT" -n -T 120 -c 4 -b tpcb-like \
    -f "$E2E_TMP/orders.sql" "$SRC_DB" >"$E2E_TMP/pgbench.log" 2>&1 &
PGBENCH_PID=$!
e2e_on_exit '[[ -z $PGBENCH_PID ]] || { kill $PGBENCH_PID; wait $PGBENCH_PID; } 2>/dev/null || true'
sleep 3
before=$(src_sql "SELECT count(*) FROM pgbench_history")
((before > 0)) || fail "pgbench wrote nothing before the cutover"
_e2e_alive "$PGBENCH_PID" || fail "pgbench stopped before the cutover: $(tail -n 5 "$E2E_TMP/pgbench.log")"

rc=0
"$SYNCLINE" cutover -c "$CFG" --fence --max-lag-bytes 50000000 --timeout 120 \
    >"$E2E_TMP/cutover.out" 2>"$E2E_TMP/cutover.err" </dev/null || rc=$?
cat "$E2E_TMP/cutover.out"
tail -n 20 "$E2E_TMP/cutover.err"
assert_eq 0 "$rc" "cutover --fence exit code (Kafka mode)"
for k in final_lsn: fenced_at: write_pause_seconds: rows_verified: "SAFE TO SWITCH"; do
    assert_contains "$E2E_TMP/cutover.out" "$k" "report has $k"
done
pause=$(sed -n 's/^ *write_pause_seconds: *\([0-9.]*\).*/\1/p' "$E2E_TMP/cutover.out")
[[ "$pause" =~ ^[0-9]+\.[0-9]$ ]] || fail "write pause not a number: [$pause]"
stopped_at=$(sed -n 's/^ *writes_stopped_at: *\(.*\) (source clock.*/\1/p' "$E2E_TMP/cutover.out")
[[ -n "$stopped_at" ]] || fail "no writes_stopped_at in the report"
echo "write pause $pause s, writes stopped at $stopped_at"

for _ in $(seq 1 100); do _e2e_alive "$PGBENCH_PID" || break; sleep 0.2; done
_e2e_alive "$PGBENCH_PID" && fail "pgbench still running 20 s after the fence"
prc=0
wait "$PGBENCH_PID" || prc=$?
PGBENCH_PID=""
((prc != 0)) || fail "pgbench exited 0 although its sessions were ended"
grep -qiE "terminating connection|aborted|read-only" "$E2E_TMP/pgbench.log" || fail "pgbench log shows no fence error"
echo "ok: pgbench failed once fenced (exit $prc)"
assert_eq t "$(src_sql "SELECT coalesce(max(mtime), '-infinity') <= '$stopped_at'::timestamptz FROM pgbench_history")" \
    "no pgbench transaction started after the fence ended the sessions"
(($(src_sql "SELECT count(*) FROM pgbench_history") > before)) || fail "pgbench did not write between the check and the fence"
src_psql -c "INSERT INTO orders (aid) VALUES (0)" >"$E2E_TMP/ro.out" 2>&1 && fail "a new session could write while fenced"
assert_contains "$E2E_TMP/ro.out" "read-only transaction" "new sessions are read-only while fenced"

for t in "${PGBENCH_TABLES[@]}" orders; do assert_same "$t"; done
s=$(src_sql "SELECT last_value FROM orders_id_seq")
t=$(tgt_sql "SELECT last_value FROM orders_id_seq")
((t >= s)) || fail "target orders_id_seq $t < source $s"
echo "ok: target sequence $t >= source $s"

rc=0
"$SYNCLINE" unfence -c "$CFG" </dev/null || rc=$?
assert_eq 0 "$rc" "unfence exit code"
assert_eq off "$(src_sql "SHOW default_transaction_read_only")" "unfenced: new sessions are writable"

# a failed cutover: apply stopped, so the target never applies the final LSN
rc=0
apply_stop || rc=$?
src_sql "INSERT INTO orders (aid) VALUES (1)"
rc=0
"$SYNCLINE" cutover -c "$CFG" --fence --max-lag-bytes 100000000 --timeout 4 \
    >"$E2E_TMP/c1.out" 2>"$E2E_TMP/c1.err" </dev/null || rc=$?
cat "$E2E_TMP/c1.out" "$E2E_TMP/c1.err"
assert_eq 7 "$rc" "cutover with apply stopped times out with exit 7"
assert_contains "$E2E_TMP/c1.out" "fence was lifted" "timeout: says the fence was lifted"
assert_eq off "$(src_sql "SHOW default_transaction_read_only")" "after the timeout: new sessions not read-only"
src_sql "INSERT INTO orders (aid) VALUES (2)"
echo "ok: the source takes writes after the failed cutover"
apply_start
wait_same 60 orders
