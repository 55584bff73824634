#!/usr/bin/env bash
# Partitioned tables published via their root (issue 15, class 5): the target has only the
# root, as a plain table. The stream also sends Relation messages of the leaf partitions; only
# tables whose rows arrive need a target, so the copy and inserts, updates (also moving rows
# across partitions) and deletes routed into the leaves arrive in the root table. A published
# table whose rows do arrive but that has no target still stops (exit 6) naming table and LSN.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t608

src_sql "
CREATE TABLE measures (id int, day date, v text, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE TABLE measures_2020 PARTITION OF measures FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE measures_2021 PARTITION OF measures FOR VALUES FROM ('2021-01-01') TO ('2022-01-01')
    PARTITION BY HASH (id);
CREATE TABLE measures_2021_h0 PARTITION OF measures_2021 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE measures_2021_h1 PARTITION OF measures_2021 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE measures_other PARTITION OF measures DEFAULT;
INSERT INTO measures SELECT g, date '2020-01-01' + (g * 7) % 900, 'copied ' || g FROM generate_series(1, 200) g;"
tgt_sql "CREATE TABLE measures (id int, day date, v text, PRIMARY KEY (id, day))"

syncline_start # copies the 200 rows, then streams
src_sql "INSERT INTO measures SELECT g, date '2020-01-01' + (g * 11) % 900, 'streamed' FROM generate_series(201, 300) g"
src_sql "INSERT INTO measures_2021_h1 SELECT g, '2021-03-03', 'direct into a leaf' FROM generate_series(1001, 1040) g
           WHERE satisfies_hash_partition('measures_2021'::regclass, 2, 1, g)"
src_sql "BEGIN;
UPDATE measures SET v = 'same partition' WHERE day < '2020-03-01';
UPDATE measures SET day = '2021-06-30', v = 'moved 2020 -> 2021' WHERE id IN (SELECT id FROM measures_2020 ORDER BY id LIMIT 5);
UPDATE measures SET day = '2030-01-01', v = 'moved -> default' WHERE id IN (SELECT id FROM measures_2021 ORDER BY id LIMIT 5);
COMMIT;"
src_sql "DELETE FROM measures WHERE id % 10 = 0"
src_sql "DELETE FROM measures_2021_h0 WHERE id % 3 = 0"
wait_synced
assert_same measures
assert_eq "5" "$(tgt_sql "SELECT count(*) FROM measures WHERE v = 'moved -> default' AND day = '2030-01-01'")" \
    "rows moved across partitions are updated in the root table"

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"

# A table that joins the publication (FOR ALL TABLES) while syncline runs and has no target:
# its first row stops syncline with exit 6, naming the table and the LSN ("ddl": "ignore": with
# DDL followed, the CREATE TABLE would create it on the target, 041).
write_config "$(config_json '"ddl": "ignore"')"
syncline_start
src_sql "CREATE TABLE late (id int PRIMARY KEY); INSERT INTO late VALUES (1)"
syncline_wait_exit 30 "a row of a table without target"
assert_eq 6 "$SYNCLINE_RC" "exit code for a row of a table without target"
assert_contains "$E2E_TMP/syncline.log" "public.late" "the error names the table"
assert_contains "$E2E_TMP/syncline.log" "lsn=" "the error names the LSN"
