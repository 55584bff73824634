#!/usr/bin/env bash
# syncline cutover --fence in Kafka mode (capture + apply, no run) under a running pgbench:
# pgbench writes until the fence and fails after it; the report prints the write pause; afterwards
# the target equals the source (all pgbench tables), target sequences >= source; unfence. Then a
# cutover with apply stopped times out (exit 7) and leaves the source writable.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup t208 json none
pgbench_schema
both_sql "ALTER TABLE pgbench_history REPLICA IDENTITY FULL"
cutover_orders_setup
capture_start
apply_start
pgbench_load 1
wait_same 120 "${PGBENCH_TABLES[@]}"

cutover_under_pgbench "Kafka mode"
assert_unfence

# a failed cutover: apply stopped, so the target never applies the final LSN
rc=0
apply_stop || rc=$?
src_sql "INSERT INTO orders (aid) VALUES (1)"
assert_cutover_times_out
src_sql "INSERT INTO orders (aid) VALUES (2)"
echo "ok: the source takes writes after the failed cutover"
apply_start
wait_same 60 orders
