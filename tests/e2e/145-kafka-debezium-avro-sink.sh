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
$DBZ_ITEMS_TABLE
CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL, memo text);
INSERT INTO acct SELECT g, 1000, NULL FROM generate_series(1, 5) g;"
tgt_sql "$DBZ_KEEP_TOAST"
capture_start

src_sql "
BEGIN;
$(dbz_items_insert "repeat('big text ', 20000)" doomed)
UPDATE acct SET memo = 'seen' WHERE id = 3;
COMMIT;"

# both topics exist before the sink subscribes (topics.regex sees later topics only at its next
# metadata refresh, 5 minutes by default)
connect_e2e_start
jdbc_sink_create "$(apicurio_converter key)
$(apicurio_converter value)"

# the rows first (so that the unchanged-TOAST placeholder of a later update meets a row: the sink
# reduces an insert and its updates in one batch to the last, as in 140)
jdbc_sink_converge
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

jdbc_sink_converge
assert_eq "big text" "$(tgt_sql "SELECT left(note, 8) FROM items WHERE id = 3")" \
    "the unchanged TOAST value stayed on the target"
assert_eq 0 "$(grep -c "isn't a Debezium record" "$CONNECT_DIR/logs/connect.log")" \
    "the sink dropped no record"
capture_stop
connect_stop "$CONNECT_DIR"
assert_same items
assert_same acct
