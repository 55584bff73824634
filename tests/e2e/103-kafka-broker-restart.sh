#!/usr/bin/env bash
# The broker stops and comes back while capture runs under pgbench: capture pauses (nothing
# confirmed that Kafka did not acknowledge), then goes on; nothing is lost, reordered or doubled.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_broker json none
pgbench_schema
capture_start
apply_start
pgbench_load 1
pgbench_run 20 4 &
bench=$!
sleep 5
_e2e_log "stopping the broker"
kafka_stop "$KAFKA_DIR"
sleep 5
_e2e_log "starting the broker again"
kafka_restart "$KAFKA_DIR" || fail "broker did not come back"
wait "$bench" || fail "pgbench failed"
wait_same 180 "${PGBENCH_TABLES[@]}"
syncline_alive=0
_e2e_alive "$CAPTURE_PID" && syncline_alive=1
assert_eq 1 "$syncline_alive" "capture survived the broker restart"
capture_stop
apply_stop
assert_same_pgbench
