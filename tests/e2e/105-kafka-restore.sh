#!/usr/bin/env bash
# The target is restored from a dump taken earlier in the stream (data, progress row and Kafka
# offsets together): apply seeks back to the restored offsets by itself and converges with no
# duplicate.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

e2e_need_major tgt 13 "DROP DATABASE ... WITH (FORCE)"
((TGT_PG_MAJOR <= 15)) || e2e_skip "pg_dump 15 refuses a PostgreSQL $TGT_PG_MAJOR target"
kafka_e2e_setup kafka_restore json none
pgbench_schema
capture_start
apply_start
pgbench_load 1
pgbench_run 5 4
wait_same 120 "${PGBENCH_TABLES[@]}"
"$PG_BIN/pg_dump" -h 127.0.0.1 -p "$TGT_PORT" -U postgres -Fc -f "$E2E_TMP/target.dump" "$TGT_DB" ||
    fail "pg_dump of the target"
# the offset as the dump holds it (apply keeps moving it on capture's idle heartbeats, so a
# separate query could see a later one)
before=$("$PG_BIN/pg_restore" -a -n syncline -t kafka_offsets -f - "$E2E_TMP/target.dump" |
    awk -F '\t' '$1 == "kafka_restore" { print $4 }')
[[ "$before" =~ ^[0-9]+$ ]] || fail "no kafka_restore offset in the dump: [$before]"
_e2e_log "dumped the target at next_offset $before"
pgbench_run 5 4
wait_same 120 "${PGBENCH_TABLES[@]}"
apply_kill
_e2e_psql_or_fail "restore" "$TGT_PORT" postgres -c "DROP DATABASE $TGT_DB WITH (FORCE)" \
    -c "CREATE DATABASE $TGT_DB"
"$PG_BIN/pg_restore" -h 127.0.0.1 -p "$TGT_PORT" -U postgres -d "$TGT_DB" "$E2E_TMP/target.dump" ||
    fail "pg_restore"
restored=$(tgt_sql "SELECT next_offset FROM syncline.kafka_offsets WHERE name = 'kafka_restore'")
assert_eq "$before" "$restored" "the restored target holds the older offset"
apply_start
pgbench_run 3 2
wait_same 120 "${PGBENCH_TABLES[@]}"
capture_stop
apply_stop
assert_contains "$E2E_TMP/apply.1.log" "offset=$((before - 1))" "apply sought back to the restored offset"
assert_same_pgbench
