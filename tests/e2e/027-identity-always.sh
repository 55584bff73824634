#!/usr/bin/env bash
# Columns GENERATED ALWAYS AS IDENTITY on the target take the source's values, as native logical
# replication writes them (issue 15; tests/diff/cases/identity_always-key-update.sql): the
# initial copy, inserts, updates of other columns (row by row and collapsed), updates that
# change the identity column (UPDATE ... SET id = DEFAULT on the source: a key, a non-key
# column, and under REPLICA IDENTITY FULL) and deletes. The target refuses a plain UPDATE of such
# a column ("can only be updated to DEFAULT"); afterwards its columns are still ALWAYS.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t027
write_config "$(config_json '"apply": {"batch_rows": 100000, "batch_ms": 300}')"
both_sql "
CREATE TABLE k (id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n int);
CREATE TABLE nk (code text PRIMARY KEY, serial int8 GENERATED ALWAYS AS IDENTITY, n int);
CREATE TABLE f (id int8 GENERATED ALWAYS AS IDENTITY, n int);
ALTER TABLE f REPLICA IDENTITY FULL;
CREATE TABLE other (id int PRIMARY KEY);"
# the target's sequences start elsewhere: a value the target generated would show
tgt_sql "ALTER TABLE k ALTER COLUMN id RESTART WITH 1000;
         ALTER TABLE nk ALTER COLUMN serial RESTART WITH 1000;
         ALTER TABLE f ALTER COLUMN id RESTART WITH 1000;"
src_sql "INSERT INTO k (n) SELECT g FROM generate_series(1, 5) g;
         INSERT INTO nk (code, n) SELECT 'c' || g, g FROM generate_series(1, 5) g;
         INSERT INTO f (n) SELECT g FROM generate_series(1, 5) g;"

syncline_start
wait_synced
for t in k nk f; do assert_same $t; done

# inserts, updates of other columns (one transaction of many rows: collapsed) and deletes
src_sql "BEGIN;
INSERT INTO k (n) SELECT g FROM generate_series(6, 300) g;
INSERT INTO nk (code, n) SELECT 'c' || g, g FROM generate_series(6, 300) g;
INSERT INTO f (n) SELECT g FROM generate_series(6, 300) g;
UPDATE k SET n = n + 1000 WHERE id % 3 = 0;
UPDATE nk SET n = n + 1000 WHERE n % 3 = 0;
UPDATE f SET n = n + 1000 WHERE n % 7 = 0;
DELETE FROM k WHERE id % 10 = 0;
DELETE FROM f WHERE n % 10 = 1;
COMMIT;"
src_sql "UPDATE k SET n = -1 WHERE id = 2"
wait_synced 60
for t in k nk f; do assert_same $t; done

# the identity column itself changes: alone, and with other changes in one transaction
src_sql "UPDATE k SET id = DEFAULT WHERE id = 1"
src_sql "UPDATE nk SET serial = DEFAULT WHERE code = 'c1'"
src_sql "UPDATE f SET id = DEFAULT WHERE n = 2"
src_sql "BEGIN;
UPDATE k SET id = DEFAULT, n = n * 2 WHERE id BETWEEN 3 AND 40;
UPDATE nk SET serial = DEFAULT WHERE n % 5 = 0;
UPDATE f SET id = DEFAULT WHERE n BETWEEN 3 AND 30;
INSERT INTO other VALUES (1);
UPDATE k SET n = 7 WHERE id = 5;
COMMIT;"
wait_synced 60
syncline_running || fail "syncline stopped on an update of a GENERATED ALWAYS identity column"
assert_eq 1 "$(tgt_sql "SELECT count(*) FROM other")" "the rest of the transaction applied"
for t in k nk f; do assert_same $t; done
assert_eq "a a a" "$(tgt_sql "SELECT string_agg(attidentity, ' ' ORDER BY attrelid::regclass::text)
    FROM pg_attribute WHERE attrelid IN ('k'::regclass, 'nk'::regclass, 'f'::regclass)
    AND attidentity <> ''")" "the target's identity columns are still GENERATED ALWAYS"
syncline_stop
