#!/usr/bin/env bash
# Layout "debezium": capture writes what the Debezium PostgreSQL connector would, and the real
# Debezium JDBC sink (3.6.0.Final in Kafka Connect 4.1.1, from Maven Central: tests/lib/connect.sh)
# consumes those topics into the target, which converges: inserts, updates, deletes (tombstones
# after them), primary-key changes (delete + tombstone + create), NULLs, numerics, timestamps and
# unchanged TOAST values: filled from the old row under REPLICA IDENTITY FULL; under the default
# identity the JDBC sink gets Debezium's placeholder, which a trigger on the target keeps out
# (Debezium's own recipe). Intervals hold no days or months here: Debezium's MicroDuration is a
# count of microseconds, which the sink writes back as hours. Transaction metadata and heartbeats go to their topics, and the slot
# is confirmed once Kafka acknowledged.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"
# shellcheck source=tests/lib/connect.sh
source "$(dirname "$0")/../lib/connect.sh"

PREFIX="dbz$(date +%s%N | tail -c 8)"
kafka_e2e_setup kafka_dbz_sink json none "\"layout\": \"debezium\", \"topic_prefix\": \"$PREFIX\""

TABLES=(items wide)
both_sql "
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(12,3), amount numeric,
    qty int2, big int8, ratio float8, flag bool, day date, at timestamp, at3 timestamp(3),
    atz timestamptz, tod time, span interval, u uuid, j jsonb, raw bytea, note text);
CREATE TABLE wide (id int PRIMARY KEY, k int, doc text);
ALTER TABLE wide REPLICA IDENTITY FULL;"
# The target keeps a column whose update carries Debezium's unchanged-TOAST placeholder.
tgt_sql "$DBZ_KEEP_TOAST"
capture_start

src_sql "
BEGIN;
INSERT INTO items VALUES
 (1, 'one', 12.5, 3.14159, 7, 9007199254740993, 0.1, true, '2024-02-29', '2024-01-02 03:04:05.123456',
  '2024-01-02 03:04:05.123', '2024-01-02 03:04:05.5+02', '23:59:59.999999', '26:03:04.5',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}', '\\x00ff10', 'short'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, 'negative', -99999.999, -0.000001, -32768, -9223372036854775808, -1e300, false, '1900-01-01',
  '1969-12-31 23:59:59.999999', '1969-12-31 23:59:59.999', '1969-12-31 23:59:59+00', '00:00:00',
  '-00:00:01', NULL, '[]', '\\x', repeat('big text ', 20000));
INSERT INTO wide SELECT g, g, repeat(md5(g::text), 3000) FROM generate_series(1, 5) g;
COMMIT;"

# The Debezium JDBC sink, configured as its users do (tests/lib/connect.sh: the worker).
connect_e2e_start
_e2e_log "kafka connect: $(cat "$CONNECT_DIR/url")"
jdbc_sink_create

jdbc_sink_converge

# Updates (unchanged TOAST under both identities), a key change, deletes, back to NULL.
src_sql "
BEGIN;
UPDATE items SET qty = 8, at = at + interval '1 second' WHERE id = 3;
UPDATE items SET id = 10, name = 'one, renumbered' WHERE id = 1;
UPDATE items SET name = 'two', price = 0.001, atz = '2000-01-01 00:00:00+00' WHERE id = 2;
UPDATE wide SET k = k + 100 WHERE id <= 3;
UPDATE wide SET id = 50 WHERE id = 4;
DELETE FROM wide WHERE id = 5;
COMMIT;
UPDATE items SET name = NULL, price = NULL WHERE id = 2;
DELETE FROM items WHERE id = 10;
INSERT INTO items (id, name) VALUES (1, 'one again');"
jdbc_sink_converge
assert_eq "big text" "$(tgt_sql "SELECT left(note, 8) FROM items WHERE id = 3")" \
    "the unchanged TOAST value stayed on the target"

# What a Debezium consumer finds in the topics.
kc() { kcat -C -b "$KAFKA_BROKERS" -o beginning -e -q "$@" 2>/dev/null; }
kc -t "$PREFIX.public.items" -f '%k\t%S\n' >"$E2E_TMP/items.txt"
tombstones=$(awk -F'\t' '$2 == "-1"' "$E2E_TMP/items.txt" | wc -l)
assert_eq 2 "$tombstones" "a tombstone after the key change's delete and after the delete"
grep -q '"payload":{"id":10}' "$E2E_TMP/items.txt" || fail "keys are Debezium's key struct"
kc -t "$PREFIX.transaction" -f '%s\n' >"$E2E_TMP/txn.txt"
# the second transaction: items 3 updates (one a key change: 2 events), wide 3 updates, a key
# change and a delete
grep -q '"status":"END".*"event_count":10,"data_collections":\[{"data_collection":"public.items","event_count":4},{"data_collection":"public.wide","event_count":6}\]' \
    "$E2E_TMP/txn.txt" || {
    cat "$E2E_TMP/txn.txt" >&2
    fail "the transaction topic has END with per-table counts"
}
assert_eq "$(grep -c '"status":"BEGIN"' "$E2E_TMP/txn.txt")" "$(grep -c '"status":"END"' "$E2E_TMP/txn.txt")" \
    "one BEGIN per END"
wait_until 30 bash -c "kcat -C -b '$KAFKA_BROKERS' -t '__debezium-heartbeat.$PREFIX' -o beginning -e -q 2>/dev/null | grep -q ts_ms" ||
    fail "heartbeats in __debezium-heartbeat.$PREFIX"

# The slot is confirmed past the last change, once Kafka acknowledged it.
lsn=$(src_sql "SELECT pg_current_wal_lsn()")
wait_until 30 bash -c "[[ \$(psql -X -qAt -h 127.0.0.1 -p $SRC_PORT -U postgres -d $SRC_DB -c \
    \"SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = 'syncline_kafka_dbz_sink'\") == t ]]" ||
    fail "the slot was not confirmed up to $lsn"
capture_stop
connect_stop "$CONNECT_DIR"
