#!/usr/bin/env bash
# A topic with cleanup.policy=compact (the broker refuses keyless messages there): capture keeps
# running across its idle heartbeats and apply follows (partitioning key: every change has a key).
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_compacted json key
kafka_admin create "$TOPIC" 2 cleanup.policy=compact || fail "create the compacted topic"
both_sql "CREATE TABLE t (id int PRIMARY KEY, v text)"
capture_start
apply_start
src_sql "INSERT INTO t VALUES (1, 'one'), (2, 'two')"
wait_same 60 t
# idle: capture sends a heartbeat per partition (at most once a second) when the source's
# position moves with nothing to publish; WAL without a change (a logical message) moves it
capture_running() { _e2e_alive "$CAPTURE_PID"; }
heartbeats() { kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC" -o beginning -e -q -f '%k|%S\n' | grep -c '^syncline.heartbeat|-1$' || true; }
idle_heartbeats() {
    capture_running || fail "capture exited on an idle compacted topic: $(tail -n 5 "$E2E_TMP/capture.log")"
    src_sql "SELECT pg_logical_emit_message(false, 'e2e', 'tick')" >/dev/null
    (($(heartbeats) >= 4))
}
wait_until 30 idle_heartbeats
sleep 2
capture_running || fail "capture exited on an idle compacted topic: $(tail -n 5 "$E2E_TMP/capture.log")"
src_sql "UPDATE t SET v = 'uno' WHERE id = 1; INSERT INTO t VALUES (3, 'three')"
wait_same 60 t
capture_running || fail "capture exited on an idle compacted topic: $(tail -n 5 "$E2E_TMP/capture.log")"
apply_stop
capture_stop
