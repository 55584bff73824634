#!/usr/bin/env bash
# The reverse of 144: capture writes the debezium layout in Avro (Confluent wire format, schemas
# registered in a real Apicurio Registry 2.4.2.Final through its Confluent API), and the real
# Debezium JDBC sink (3.6.0.Final in Kafka Connect 4.1.1) reads those topics with Apicurio's
# AvroConverter in Confluent mode (magic byte 0 + 4-byte content id) into the target: inserts,
# updates, deletes (tombstones), a key change, NULLs, numerics, timestamps, a transaction over two
# tables; the target converges. Slow (JVMs): skipped unless E2E_SLOW=1 (tests/e2e/README.md).
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"
# shellcheck source=tests/lib/connect.sh
source "$(dirname "$0")/../lib/connect.sh"
# shellcheck source=tests/lib/apicurio.sh
source "$(dirname "$0")/../lib/apicurio.sh"

[[ "${E2E_SLOW:-}" == 1 ]] || e2e_skip "slow (Kafka Connect and Apicurio Registry JVMs): set E2E_SLOW=1"

PREFIX="dbzas$(date +%s%N | tail -c 8)"
dbz_avro_e2e_setup kafka_dbz_avro_sink "$PREFIX"

TABLES=(items acct)
both_sql "
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(12,3), amount numeric, qty int2,
    big int8, ratio float8, flag bool, day date, at timestamp, at3 timestamp(3), atz timestamptz,
    tod time, u uuid, j jsonb, raw bytea, note text);
CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL, memo text);
INSERT INTO acct SELECT g, 1000, NULL FROM generate_series(1, 5) g;"
tgt_sql "
CREATE FUNCTION keep_toast() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF NEW.note = '__debezium_unavailable_value' THEN NEW.note := OLD.note; END IF;
    RETURN NEW;
END \$\$;
CREATE TRIGGER keep_toast BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION keep_toast();"
capture_start

src_sql "
BEGIN;
INSERT INTO items VALUES
 (1, 'one', 12.5, 3.14159, 7, 9007199254740993, 0.1, true, '2024-02-29', '2024-01-02 03:04:05.123456',
  '2024-01-02 03:04:05.123', '2024-01-02 03:04:05.5+02', '23:59:59.999999',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}', '\\x00ff10', 'short'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, 'negative', -99999.999, -0.000001, -32768, -9223372036854775808, -1e300, false, '1900-01-01',
  '1969-12-31 23:59:59.999999', '1969-12-31 23:59:59.999', '1969-12-31 23:59:59+00', '00:00:00',
  NULL, '[]', '\\x', repeat('big text ', 20000)),
 (4, 'doomed', 1, 1, 1, 1, 1, true, '2000-01-01', '2000-01-01', '2000-01-01', '2000-01-01+00', '12:00',
  NULL, NULL, NULL, NULL);
UPDATE acct SET memo = 'seen' WHERE id = 3;
COMMIT;"

# both topics exist before the sink subscribes (topics.regex sees later topics only at its next
# metadata refresh, 5 minutes by default)
connect_e2e_start
conv() { # key|value
    local k=$1
    cat <<JSON
  "$k.converter": "io.apicurio.registry.utils.converter.AvroConverter",
  "$k.converter.apicurio.registry.url": "$NATIVE",
  "$k.converter.apicurio.registry.as-confluent": "true",
  "$k.converter.apicurio.registry.use-id": "contentId",
  "$k.converter.apicurio.registry.headers.enabled": "false",
JSON
}
connect_create "$CONNECT_DIR" jdbc-sink "{
$(conv key)
$(conv value)
  \"connector.class\": \"io.debezium.connector.jdbc.JdbcSinkConnector\",
  \"tasks.max\": \"1\",
  \"topics.regex\": \"$PREFIX\\\\.public\\\\..*\",
  \"connection.url\": \"jdbc:postgresql://127.0.0.1:$TGT_PORT/$TGT_DB\",
  \"connection.username\": \"postgres\",
  \"connection.password\": \"unused\",
  \"insert.mode\": \"upsert\",
  \"primary.key.mode\": \"record_key\",
  \"delete.enabled\": \"true\",
  \"schema.evolution\": \"none\",
  \"batch.size\": \"2000\",
  \"use.reduction.buffer\": \"true\",
  \"transforms\": \"route\",
  \"transforms.route.type\": \"org.apache.kafka.connect.transforms.RegexRouter\",
  \"transforms.route.regex\": \"$PREFIX\\\\.public\\\\.(.*)\",
  \"transforms.route.replacement\": \"\$1\"
}" || fail "could not create the JDBC sink"
connect_wait_running "$CONNECT_DIR" jdbc-sink 120 || fail "the JDBC sink is not running"

converge() {
    local t i
    for ((i = 0; i < 300; i++)); do
        _kafka_tables_same "${TABLES[@]}" && return 0
        if grep -q '"FAILED"' <<<"$(connect_status "$CONNECT_DIR" jdbc-sink 2>/dev/null)"; then
            connect_status "$CONNECT_DIR" jdbc-sink | head -c 3000 >&2
            fail "the JDBC sink task failed"
        fi
        sleep 0.3
    done
    for t in "${TABLES[@]}"; do
        echo "--- $t: source, then target ---" >&2
        src_sql "SELECT * FROM $t ORDER BY id" | cut -c1-300 >&2
        echo "---" >&2
        tgt_sql "SELECT * FROM $t ORDER BY id" | cut -c1-300 >&2
    done
    fail "the target did not converge"
}
# the rows first (so that the unchanged-TOAST placeholder of a later update meets a row: the sink
# reduces an insert and its updates in one batch to the last, as in 140)
converge
src_sql "
BEGIN;
UPDATE acct SET bal = bal - 250 WHERE id = 1;
UPDATE acct SET bal = bal + 250, memo = 'from 1' WHERE id = 2;
UPDATE items SET qty = 8, at = at + interval '1 second' WHERE id = 3;
COMMIT;
UPDATE items SET name = 'two', price = 0.001, atz = '2000-01-01 00:00:00+00' WHERE id = 2;
UPDATE items SET id = 10, name = 'one, renumbered' WHERE id = 1;
UPDATE items SET flag = NULL, day = NULL WHERE id = 10;
DELETE FROM items WHERE id = 4;
DELETE FROM acct WHERE id = 5;"

converge
assert_eq "big text" "$(tgt_sql "SELECT left(note, 8) FROM items WHERE id = 3")" \
    "the unchanged TOAST value stayed on the target"
assert_eq 0 "$(grep -c "isn't a Debezium record" "$CONNECT_DIR/logs/connect.log")" \
    "the sink dropped no record"
capture_stop
connect_stop "$CONNECT_DIR"
assert_same items
assert_same acct
