#!/usr/bin/env bash
# Layout "debezium" in Avro: capture writes each key and value in the Confluent wire format (magic
# byte 0, a 4-byte schema id, Avro binary), registering the schemas the AvroConverter makes from
# Debezium's Connect schemas under the TopicNameStrategy subjects <topic>-key and <topic>-value
# (the Schema Registry stand-in, or $SCHEMA_REGISTRY_URL, e.g. tests/lib/apicurio.sh's), and apply
# reads them back through the registry: under a small concurrent load with inserts, updates,
# deletes (tombstones skipped), primary-key changes, NULLs, numerics (precise and variable
# scale), timestamps and unchanged TOAST values, the target converges. The subjects, the shape of
# the registered schemas and the ids every message names are checked against the registry.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

PREFIX="dbzavro$(date +%s%N | tail -c 8)"
kafka_e2e_setup kafka_dbz_avro avro none
registry_start
kafka_config avro none "\"layout\": \"debezium\", \"topic_prefix\": \"$PREFIX\", \
\"schema_registry\": \"$SR_URL\""

TABLES=(items wide)
both_sql "
$DBZ_ITEMS_TABLE
CREATE TABLE wide (id int PRIMARY KEY, k int, doc text);
ALTER TABLE wide REPLICA IDENTITY FULL;"
capture_start
apply_start

src_sql "
BEGIN;
$(dbz_items_insert "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g)")
INSERT INTO wide SELECT g, g, (SELECT string_agg(md5((g * 1000 + h)::text), '')
    FROM generate_series(1, 300) h) FROM generate_series(1, 5) g;
COMMIT;"

# a small load: many transactions of inserts, updates, deletes and key changes
load() {
    local i
    for ((i = 10; i < 70; i++)); do
        src_sql "
BEGIN;
INSERT INTO items (id, name, price, amount, qty, at, atz, note)
    VALUES ($i, 'n$i', $i.125, $i / 7.0, $i, now(), now(), repeat('x', $i));
UPDATE items SET price = price + 1, amount = amount * 3, at = at + interval '1 second'
    WHERE id = $((i - 1));
UPDATE items SET ratio = $i.5 WHERE id = 3;
DELETE FROM items WHERE id = $((i - 5)) AND $i % 3 = 0;
UPDATE items SET id = id + 1000 WHERE id = $((i - 4)) AND $i % 4 = 0;
UPDATE wide SET k = k + 1 WHERE id = $((i % 5 + 1));
COMMIT;" >/dev/null
    done
}
load &
loader=$!
# unchanged TOAST under the default identity (Debezium's placeholder) and under FULL (old image)
src_sql "UPDATE items SET name = 'still big' WHERE id = 3;
         UPDATE items SET flag = NULL, day = NULL WHERE id = 1;
         UPDATE wide SET k = -k WHERE id <= 2;
         UPDATE items SET id = 4 WHERE id = 2;
         DELETE FROM wide WHERE id = 5;"
wait "$loader" || fail "the load failed"
wait_same 120 "${TABLES[@]}"
capture_stop
apply_stop
assert_same items
assert_same wide
[[ "$(tgt_sql "SELECT length(note) FROM items WHERE id = 3")" == 12800 ]] ||
    fail "the unchanged TOAST value of items 3 did not survive"
grep -q "schema fetched registry=" "$E2E_TMP/apply.1.log" || fail "apply fetched no schema by id"

# the registry: <topic>-key and <topic>-value per table, the transaction topic's too
subjects=$(registry_get subjects)
for s in "$PREFIX.public.items-key" "$PREFIX.public.items-value" "$PREFIX.public.wide-key" \
    "$PREFIX.public.wide-value" "$PREFIX.transaction-key" "$PREFIX.transaction-value"; do
    [[ "$subjects" == *"\"$s\""* ]] || fail "no subject $s in [$subjects]"
done
latest() { registry_get "subjects/$1/versions/latest"; }
check=$(latest "$PREFIX.public.items-value" | python3 -c '
import json, sys
prefix = sys.argv[1]
env = json.loads(json.load(sys.stdin)["schema"])
bad = []
def want(cond, what):
    if not cond:
        bad.append(what)
want(env["type"] == "record" and env["name"] == "Envelope" and env["namespace"] == prefix + ".public.items", "envelope name")
want(env.get("connect.name") == prefix + ".public.items.Envelope", "envelope connect.name")
f = {x["name"]: x for x in env["fields"]}
want(f["before"]["type"][0] == "null" and f["before"]["type"][1]["name"] == "Value" and f["before"]["default"] is None, "before: [null, Value]")
want(f["after"]["type"][0] == "null" and f["after"]["type"][1] in ("Value", prefix + ".public.items.Value"), "after: a reference to Value")
src = f["source"]["type"]
want(src["name"] == "Source" and src["namespace"] == "io.debezium.connector.postgresql", "source record")
v = {x["name"]: x["type"] for x in f["before"]["type"][1]["fields"]}
want(v["id"] == "int" or v["id"].get("type") == "int", "id: int, not optional")
price = v["price"][1]
want(price["type"] == "bytes" and price["logicalType"] == "decimal" and price["precision"] == 12 and price["scale"] == 3 and price["connect.name"] == "org.apache.kafka.connect.data.Decimal", "price: decimal(12,3)")
want(v["amount"][1]["name"] == "VariableScaleDecimal" and v["amount"][1]["namespace"] == "io.debezium.data", "amount: VariableScaleDecimal")
want(v["at"][1] == {"type": "long", "connect.version": 1, "connect.name": "io.debezium.time.MicroTimestamp"}, "at: MicroTimestamp")
want(v["day"][1]["connect.name"] == "io.debezium.time.Date" and v["day"][1]["type"] == "int", "day: Date")
want(v["qty"][1]["type"] == "int" and v["qty"][1]["connect.type"] == "int16", "qty: int16")
print("BAD: " + "; ".join(bad) if bad else "ok")
' "$PREFIX")
[[ "$check" == ok ]] || fail "the registered items-value schema: $check"
key_id=$(latest "$PREFIX.public.items-key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
value_id=$(latest "$PREFIX.public.items-value" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "ok: subjects and schema shapes; items key id $key_id, value id $value_id"

# every message of the items topic: Confluent framed values (tombstones aside) naming the
# value schema's id, keys naming the key schema's id
kcat -C -b "$KAFKA_BROKERS" -t "$PREFIX.public.items" -o beginning -e -q -f '%o %S:%s' >"$E2E_TMP/values"
kcat -C -b "$KAFKA_BROKERS" -t "$PREFIX.public.items" -o beginning -e -q -f '%o %K:%k' >"$E2E_TMP/keys"
frames() { python3 "$(dirname "$0")/../lib/kafka_frames.py" <"$1"; }
for kind in values keys; do
    want=$value_id
    [[ $kind == keys ]] && want=$key_id
    out=$(frames "$E2E_TMP/$kind" | python3 -c '
import json, sys
f = json.load(sys.stdin)
ok = f["confluent"] == f["messages"] - f["empty"] and not f["other"] and list(f["ids"]) == [sys.argv[1]]
print("ok %d messages, %d empty" % (f["messages"], f["empty"]) if ok else "BAD: %s" % json.dumps(f))
' "$want")
    [[ "$out" == ok* ]] || fail "items $kind: $out"
    echo "items $kind: $out"
done
tombstones=$(python3 "$(dirname "$0")/../lib/kafka_frames.py" <"$E2E_TMP/values" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["empty"])')
((tombstones > 0)) || fail "no tombstone after the deletes"

# a message naming a schema id the registry does not know stops apply, naming the message and
# the registry's request
capture_start
apply_start
src_sql "INSERT INTO items (id, name) VALUES (5000, 'before the poison')"
row_5000() { [[ "$(tgt_sql "SELECT count(*) FROM items WHERE id = 5000")" == 1 ]]; }
wait_until 60 row_5000
capture_stop
poison_offset=$(kcat -C -b "$KAFKA_BROKERS" -t "$PREFIX.public.items" -o beginning -e -q -f '.\n' | wc -l)
printf '\x00\x00\x01\x86\x9f\x02\n' | kcat -P -b "$KAFKA_BROKERS" -t "$PREFIX.public.items" -k poison
apply_wait_exit 1 60
assert_eq 1 "$APPLY_RC" "apply on an unknown schema id: exit code"
assert_contains "$E2E_TMP/apply.1.log" \
    "cannot decode message topic=$PREFIX.public.items partition=0 offset=$poison_offset" \
    "the message is named"
assert_contains "$E2E_TMP/apply.1.log" "schemas/ids/99999" "the registry request is named"
echo "ok: an unknown schema id stopped apply at offset $poison_offset"
