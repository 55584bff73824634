#!/usr/bin/env bash
# apply is killed with SIGKILL in the middle of the stream, twice, and started again: offsets
# stored with the rows make it resume exactly; pgbench_history (no key) shows no duplicate.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_kill json none
pgbench_schema
capture_start
apply_start
pgbench_load 1
pgbench_run 15 4 &
bench=$!
sleep 4
apply_kill
sleep 2
apply_start
sleep 4
apply_kill
apply_start
wait "$bench" || fail "pgbench failed"
wait_same 120 "${PGBENCH_TABLES[@]}"
capture_stop
apply_stop
assert_same_pgbench
