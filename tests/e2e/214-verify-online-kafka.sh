#!/usr/bin/env bash
# Online and incremental verify through Kafka (issue 21): capture -> Kafka (one partition) ->
# apply while pgbench writes, no fence. apply holds at the source position of verify's temporary
# slot, exactly as `run` does (every transaction committed before it applied, none after), so
# `verify` exits 0 on equal data and names a cell tampered on the target; apply marks the key
# ranges it changes, so the next verify is incremental; `cutover --fence` through Kafka then
# re-checks only what changed since, inside the write pause.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup t214 json none
pgbench_schema
both_sql "ALTER TABLE pgbench_history REPLICA IDENTITY FULL"
both_sql "CREATE TABLE quiet (id int PRIMARY KEY, v text)"
cutover_orders_setup
capture_start
apply_start
pgbench_load 2
src_sql "INSERT INTO quiet SELECT g, md5(g::text) FROM generate_series(1, 20000) g"
wait_same 120 "${PGBENCH_TABLES[@]}" quiet

pgbench_start -n -T 300 -c 2 -j 2 -R 500 -b tpcb-like
sleep 2
before=$(src_sql "SELECT count(*) FROM pgbench_history")
rc=$(verify --full --chunk-rows 20000)
tail -n 5 "$E2E_TMP/verify.err"
assert_eq 0 "$rc" "verify through Kafka exits 0 on equal data while pgbench writes (no fence)"
for t in pgbench_accounts pgbench_branches pgbench_tellers pgbench_history quiet; do
    assert_contains "$E2E_TMP/verify.out" "table public.$t -> public.$t: match" "$t matches"
done
assert_contains "$E2E_TMP/verify.err" "online point" "verify took an online point"
assert_contains "$E2E_TMP/apply.1.log" "verify hold: held at" "apply held at the point"
assert_contains "$E2E_TMP/verify.out" "the next verify re-checks only what changes" "the full verify set a base"
(($(src_sql "SELECT count(*) FROM pgbench_history") > before)) || fail "pgbench wrote nothing during verify"

# apply marked what it changed since: the next verify re-checks key ranges, not tables
sleep 2
assert_eq 0 "$(verify)" "incremental verify through Kafka exits 0 while pgbench writes"
assert_contains "$E2E_TMP/verify.out" "verify: incremental:" "the second verify is incremental"
assert_contains "$E2E_TMP/verify.out" "table public.pgbench_accounts -> public.pgbench_accounts: match (" "accounts match"
grep -q "pgbench_accounts.*changed key range(s) re-checked" "$E2E_TMP/verify.out" ||
    fail "pgbench_accounts was not re-checked by key range (apply did not mark its buckets)"

# a cell tampered on the target, in a table pgbench does not touch
tgt_sql "UPDATE quiet SET v = 'tampered' WHERE id = 12345"
assert_eq 1 "$(verify --full --chunk-rows 5000)" "verify through Kafka exits 1 on a tampered cell while pgbench writes"
assert_contains "$E2E_TMP/verify.out" "row (id)=(12345) differs" "the tampered cell is named"
grep -q "pgbench_.*DIFFERENT" "$E2E_TMP/verify.out" && fail "a false difference in a pgbench table"
tgt_sql "UPDATE quiet SET v = md5('12345') WHERE id = 12345"
assert_eq 0 "$(verify --full)" "verify exits 0 again once the cell is repaired (new base)"

# the fenced cutover through Kafka: online passes first, then only what changed since
pgbench_stop
cutover_under_pgbench "Kafka mode"
assert_contains "$E2E_TMP/cutover.out" "verify:              incremental" "the fenced verify through Kafka is incremental"
assert_unfence
echo "ok: online and incremental verify through Kafka"
