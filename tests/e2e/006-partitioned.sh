#!/usr/bin/env bash
# Partitioned tables arrive as their root (publish_via_partition_root): a range-partitioned
# table with a default partition and a sub-partitioned (hash) partition; rows inserted through
# the root and directly into partitions, updates inside a partition, updates that move rows across
# partitions (also into and out of the sub-partitioned one), deletes. The target routes every
# row into the same partition as the source.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t006

both_sql "
CREATE TABLE measures (id int, day date, v text, n int, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE TABLE measures_2020 PARTITION OF measures FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE measures_2021 PARTITION OF measures FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
CREATE TABLE measures_2022 PARTITION OF measures FOR VALUES FROM ('2022-01-01') TO ('2023-01-01')
    PARTITION BY HASH (id);
CREATE TABLE measures_2022_h0 PARTITION OF measures_2022 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE measures_2022_h1 PARTITION OF measures_2022 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE measures_other PARTITION OF measures DEFAULT;"

syncline_start

src_sql "INSERT INTO measures
         SELECT g, date '2020-01-01' + (g * 7) % 1500, 'v' || g, g FROM generate_series(1, 300) g"
src_sql "INSERT INTO measures_2021 VALUES (1001, '2021-06-01', 'direct into a partition', 1)"
src_sql "INSERT INTO measures_2022_h1 SELECT g, '2022-03-03', 'direct into a leaf', g
           FROM generate_series(2001, 2100) g WHERE satisfies_hash_partition('measures_2022'::regclass, 2, 1, g)"

src_sql "BEGIN;
UPDATE measures SET v = 'same partition', n = -n WHERE day < '2020-06-01';
UPDATE measures SET day = '2022-12-31', v = 'moved 2020 -> 2022' WHERE id IN (1, 2, 3);
UPDATE measures SET day = '2020-02-02', v = 'moved 2022 -> 2020' WHERE id IN (SELECT id FROM measures_2022 WHERE id > 100 ORDER BY id LIMIT 5);
UPDATE measures SET day = '2030-01-01', v = 'moved -> default' WHERE id IN (SELECT id FROM measures_2021 ORDER BY id LIMIT 5);
UPDATE measures SET day = '2021-01-01', v = 'moved default -> 2021' WHERE id IN (SELECT id FROM measures_other ORDER BY id DESC LIMIT 3);
UPDATE measures SET id = id + 5000 WHERE id IN (SELECT id FROM measures_2022_h0 ORDER BY id LIMIT 4);
COMMIT;"
src_sql "DELETE FROM measures WHERE n % 10 = 0"
src_sql "DELETE FROM measures_2021 WHERE id % 7 = 0"
src_sql "UPDATE measures_2020 SET v = v || ' (updated via partition)' WHERE id % 3 = 0"

wait_synced
assert_same measures
for p in measures_2020 measures_2021 measures_2022 measures_2022_h0 measures_2022_h1 measures_other; do
    assert_same "$p"
done
assert_eq "3" "$(tgt_sql "SELECT count(*) FROM measures_2022 WHERE v = 'moved 2020 -> 2022'")" \
    "rows moved across partitions are in their new partition on the target"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM measures_2020 WHERE id IN (1, 2, 3)")" \
    "and no longer in their old one"

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
