#!/usr/bin/env bash
# Partitioned tables through Kafka (capture -> apply) arrive as their root, whatever the source
# major: from 13 publish_via_partition_root names the root; a PostgreSQL 12 source publishes the
# leaves and capture renames them to the root (docs/versions.md), so the events name the root
# and apply routes every row as the target's table decides. Inserts through the root and into a
# leaf, an update that moves a row across partitions, a delete, and a TRUNCATE of the root in
# the same transaction as inserts.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_part json none
both_sql "CREATE TABLE meas (id int, day date, v text, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE TABLE meas_2020 PARTITION OF meas FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE meas_2021 PARTITION OF meas FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');"
capture_start
apply_start

src_sql "INSERT INTO meas SELECT g, date '2020-01-01' + g, 'v' || g FROM generate_series(1, 500) g"
src_sql "INSERT INTO meas_2021 VALUES (1001, '2021-06-01', 'into a leaf')"
src_sql "UPDATE meas SET day = '2021-03-03', v = 'moved' WHERE id IN (1, 2, 3)"
src_sql "DELETE FROM meas WHERE id % 10 = 0"
wait_same 60 meas meas_2020 meas_2021
src_sql "BEGIN; TRUNCATE meas; INSERT INTO meas VALUES (7, '2020-07-07', 'after truncate'); COMMIT;"
wait_same 60 meas meas_2020 meas_2021
capture_stop
apply_stop
assert_same meas
kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC" -o beginning -e -q -f '%s\n' >"$E2E_TMP/events" 2>/dev/null
grep -q '"meas"' "$E2E_TMP/events" || fail "no event names the root table meas"
assert_eq 0 "$(grep -c 'meas_20' "$E2E_TMP/events" || true)" "no event names a leaf"
