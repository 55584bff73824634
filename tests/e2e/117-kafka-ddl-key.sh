#!/usr/bin/env bash
# DDL through Kafka with partitioning "key" (issue 19): a DDL event in one partition would not be
# ordered against its table's rows in the others, so capture refuses it: it stops (exit 6) before
# sending it, naming the DDL, its tag and the setting, and confirms nothing of its transaction.
# With "ddl": "ignore" capture reads no DDL and goes on, as before DDL following; the DDL applied
# on the target by hand, apply brings the rows before and after it (the refused transaction
# included: it was not confirmed, so capture sends it again).
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

e2e_need_major src 14 "DDL following needs logical messages in pgoutput (14)"
kafka_e2e_setup kafka_ddl_key json key
both_sql "CREATE TABLE items (id int PRIMARY KEY, v int)"
capture_start --partitions 3
src_sql "INSERT INTO items SELECT g, g FROM generate_series(1, 50) g"
src_psql -c "BEGIN; INSERT INTO items VALUES (51, 51); ALTER TABLE items ADD COLUMN w int DEFAULT 7; INSERT INTO items VALUES (52, 52, 52); COMMIT;" >/dev/null ||
    fail "the DDL transaction failed on the source"
capture_wait_exit 30
assert_eq 6 "$CAPTURE_RC" "capture exit code on a DDL under partitioning key"
assert_contains "$E2E_TMP/capture.log" '(ALTER TABLE): kafka.partitioning "key" cannot carry DDL in order' \
    "capture names the DDL and the setting"

# "ddl": "ignore": logged, carried on; the DDL by hand on the target
write_config "$(config_json "\"ddl\": \"ignore\", \"kafka\": {\"brokers\": \"$KAFKA_BROKERS\", \"topic\": \"$TOPIC\", \
\"format\": \"json\", \"partitioning\": \"key\"}, \"apply\": {\"batch_ms\": 100}")"
capture_start --partitions 3
tgt_sql "ALTER TABLE items ADD COLUMN w int DEFAULT 7"
apply_start
src_sql "INSERT INTO items SELECT g, g, g FROM generate_series(53, 80) g"
wait_same 60 items
capture_running() { _e2e_alive "$CAPTURE_PID"; }
capture_running || fail "capture stopped under \"ddl\": \"ignore\": $(tail -n 5 "$E2E_TMP/capture.log")"
assert_eq "7|52" "$(tgt_sql "SELECT (SELECT w FROM items WHERE id = 51) || '|' || (SELECT w FROM items WHERE id = 52)")" \
    "the rows of the refused transaction arrived, before and after its DDL"
capture_stop
apply_stop
