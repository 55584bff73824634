#!/usr/bin/env bash
# partitioning "key": capture spreads rows over 4 partitions by primary key; two apply
# processes in one consumer group share them and the target converges to the source.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_group json key
# The same initial rows on both sides (pgbench's data is deterministic): a TRUNCATE in the
# stream would not be ordered with the table's rows in other partitions (see docs/kafka.md).
for port in "$SRC_PORT" "$TGT_PORT"; do
    PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/pgbench" -q -i -I dtgp -s 1 \
        -h 127.0.0.1 -p "$port" -U postgres "$SRC_DB" >/dev/null 2>&1 || fail "pgbench -i"
done
# pgbench_history has no key: give it one so that rows can be keyed and located
both_sql "ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY"
capture_start --partitions 4
apply_start 1
apply_start 2
pgbench_run 10 4
wait_same 180 "${PGBENCH_TABLES[@]}"
parts=$(tgt_sql "SELECT count(DISTINCT partition) FROM syncline.kafka_offsets WHERE name = 'kafka_group'")
assert_eq 4 "$parts" "offsets of all 4 partitions stored"
grep -q "kafka assigned" "$E2E_TMP/apply.1.log" || fail "apply 1 got no partition"
grep -q "kafka assigned" "$E2E_TMP/apply.2.log" || fail "apply 2 got no partition"
echo "ok: both apply processes were assigned partitions"
apply_stop 1
apply_stop 2
capture_stop
assert_same_pgbench
