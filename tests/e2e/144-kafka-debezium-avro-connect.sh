#!/usr/bin/env bash
# apply reads Avro written by the real Debezium PostgreSQL connector (3.6.1.Final, defaults plus
# provide.transaction.metadata=true, in Kafka Connect 4.1.1) through a real Avro converter in the
# Confluent wire format: Apicurio's AvroConverter (Maven Central) with apicurio.registry.as-confluent
# (magic byte 0 + a 4-byte content id, no headers) registering into a real Apicurio Registry
# 2.4.2.Final (tests/lib/apicurio.sh); syncline fetches the schemas by id from its Confluent API
# (ccompat). Mixed workload: inserts, updates, deletes (tombstones), a key change, NULLs, numerics
# (precise and variable scale), timestamps, a transaction over two tables: the target converges.
# The converter registers nested records as schemas of their own that the envelope references
# (Confluent schema references); apply fetches those too.
# Slow (three JVMs): skipped unless E2E_SLOW=1 (tests/e2e/README.md).
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"
# shellcheck source=tests/lib/connect.sh
source "$(dirname "$0")/../lib/connect.sh"
# shellcheck source=tests/lib/apicurio.sh
source "$(dirname "$0")/../lib/apicurio.sh"

[[ "${E2E_SLOW:-}" == 1 ]] || e2e_skip "slow (Kafka Connect and Apicurio Registry JVMs): set E2E_SLOW=1"

PREFIX="dbzac$(date +%s%N | tail -c 8)"
dbz_avro_e2e_setup kafka_dbz_avro_connect "$PREFIX"

TABLES=(items acct)
both_sql "
$DBZ_ITEMS_TABLE
CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL, memo text);
INSERT INTO acct SELECT g, 1000, NULL FROM generate_series(1, 5) g;"
src_sql "CREATE PUBLICATION dbz_pub FOR TABLE items, acct;
SELECT 1 FROM pg_create_logical_replication_slot('dbz_slot', 'pgoutput');" >/dev/null

connect_e2e_start dbz_slot
dbz_source_create "$(apicurio_converter key auto-register true find-latest true)
$(apicurio_converter value auto-register true find-latest true)
  \"table.include.list\": \"public.items,public.acct\","
src_sql "
BEGIN;
$(dbz_items_insert "repeat('big text ', 20000)" doomed)
COMMIT;
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

wait_until 90 bash -c "kcat -C -b '$KAFKA_BROKERS' -t '$PREFIX.public.acct' -o beginning -e -q -f '%S\n' 2>/dev/null | grep -qx -- -1" ||
    fail "no tombstone in $PREFIX.public.acct"
apply_start
wait_same 120 "${TABLES[@]}"
assert_eq "big text" "$(tgt_sql "SELECT left(note, 8) FROM items WHERE id = 3")" \
    "the unchanged TOAST value stayed on the target"
grep -q "schema fetched registry=" "$E2E_TMP/apply.1.log" || fail "apply fetched no schema by id"
# Apicurio's converter registers nested records (Source, Value, block) as schemas of their own that
# the envelope references (Confluent schema references): apply fetches them with it
grep "schema fetched registry=" "$E2E_TMP/apply.1.log" | grep -q "references=[1-9]" ||
    fail "no schema with references: what this scenario checks did not happen"
apply_stop
connect_stop "$CONNECT_DIR"
assert_same items
assert_same acct

# what the converter wrote: Confluent frames (magic 0 + 4-byte id) naming ids the ccompat API serves
kcat -C -b "$KAFKA_BROKERS" -t "$PREFIX.public.items" -o beginning -e -q -f '%o %S:%s' >"$E2E_TMP/values"
out=$(python3 "$(dirname "$0")/../lib/kafka_frames.py" <"$E2E_TMP/values")
echo "items values: $out"
python3 -c '
import json, sys
f = json.load(sys.stdin)
sys.exit(0 if f["confluent"] == f["messages"] - f["empty"] and not f["other"] and f["empty"] > 0 else 1)
' <<<"$out" || fail "the items values are not all Confluent framed: $out"
subjects=$(curl -sf "$SR/subjects") || fail "GET $SR/subjects"
for s in "$PREFIX.public.items-key" "$PREFIX.public.items-value" "$PREFIX.transaction-value"; do
    [[ "$subjects" == *"\"$s\""* ]] || fail "no subject $s in [$subjects]"
done
echo "ok: subjects $subjects"
