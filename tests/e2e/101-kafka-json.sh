#!/usr/bin/env bash
# Kafka transport, JSON format: pgbench through capture -> Kafka -> apply; the target equals
# the source, including a multi-table TRUNCATE (pgbench -i) and no duplicate in pgbench_history.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_json json none
pgbench_schema
capture_start
apply_start
pgbench_load 1
pgbench_run 10 4
wait_same 120 "${PGBENCH_TABLES[@]}"
capture_stop
apply_stop
assert_same_pgbench
assert_contains "$E2E_TMP/apply.1.log" "apply stopped" "apply logged its stop"
copied=$(grep -E 'apply stopped applied_lsn=' "$E2E_TMP/apply.1.log" | tail -n 1 |
    sed -nE 's/.* rows_copied=([0-9]+).*/\1/p' || true)
[[ -n $copied ]] && ((copied >= 100000)) ||
    fail "apply's stopped line: rows_copied=[$copied], expected at least the 100000 accounts of pgbench -i"
n=$(tgt_sql "SELECT count(*) FROM syncline.kafka_offsets WHERE name = 'kafka_json' AND topic = '$TOPIC'")
assert_eq 1 "$n" "offsets of the one partition stored in the target"
