#!/usr/bin/env bash
# apply reads a topic of the real Debezium PostgreSQL connector (3.6.1.Final in Kafka Connect 4.1.1,
# from Maven Central: tests/lib/connect.sh) with its default settings (JsonConverter with schemas,
# tombstones on delete, decimal.handling.mode=precise, time.precision.mode=adaptive) plus
# provide.transaction.metadata=true: tombstones are skipped, Decimal, VariableScaleDecimal,
# io.debezium.time.* and bytes are decoded back to PostgreSQL values, unchanged TOAST values stay,
# and the target converges. (Each message is its own transaction: one topic, no reassembly yet.)
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"
# shellcheck source=tests/lib/connect.sh
source "$(dirname "$0")/../lib/connect.sh"

PREFIX="dbzsrc$(date +%s%N | tail -c 8)"
kafka_e2e_setup kafka_dbz_source json none
TOPIC="$PREFIX.public.items"
kafka_config json none

both_sql "
$DBZ_ITEMS_TABLE"
src_sql "CREATE PUBLICATION dbz_pub FOR TABLE items;
SELECT 1 FROM pg_create_logical_replication_slot('dbz_slot', 'pgoutput');" >/dev/null

connect_e2e_start dbz_slot
dbz_source_create '"table.include.list": "public.items",'

src_sql "
BEGIN;
$(dbz_items_insert "repeat('big text ', 20000)" doomed)
COMMIT;
UPDATE items SET qty = 8, at = at + interval '1 second' WHERE id = 3;
UPDATE items SET name = 'two', price = 0.001, atz = '2000-01-01 00:00:00+00' WHERE id = 2;
UPDATE items SET id = 10, name = 'one, renumbered' WHERE id = 1;
DELETE FROM items WHERE id = 4;"

wait_until 60 bash -c "kcat -C -b '$KAFKA_BROKERS' -t '$TOPIC' -o beginning -e -q -f '%S\n' 2>/dev/null | grep -qx -- -1" ||
    fail "no tombstone in $TOPIC"
apply_start
wait_same 120 items
assert_eq "big text" "$(tgt_sql "SELECT left(note, 8) FROM items WHERE id = 3")" \
    "the unchanged TOAST value stayed on the target"
assert_eq "0" "$(grep -c 'poison\|dead letter' "$E2E_TMP/apply.1.log")" "no message was refused"
apply_stop
connect_stop "$CONNECT_DIR"
