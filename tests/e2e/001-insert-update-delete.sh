#!/usr/bin/env bash
# INSERT, UPDATE (also of the primary key) and DELETE in several source transactions reach the
# target; SIGTERM stops syncline with exit code 0; changes made while it is stopped are applied
# when it runs again (resume).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

e2e_setup t001

both_sql "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int, note text)"
syncline_start

src_sql "INSERT INTO items SELECT g, 'item ' || g, g * 10, NULL FROM generate_series(1, 100) g"
src_sql "BEGIN;
         UPDATE items SET qty = qty + 1 WHERE id % 3 = 0;
         DELETE FROM items WHERE id % 10 = 0;
         INSERT INTO items VALUES (1000, 'it''s ünïcødé ✓', NULL, '');
         COMMIT;"
# Primary-key changes: one statement moving several rows, then a mixed transaction.
src_sql "UPDATE items SET id = id + 500 WHERE id BETWEEN 1 AND 5"
src_sql "BEGIN;
         UPDATE items SET name = 'renamed', note = 'n' WHERE id = 501;
         DELETE FROM items WHERE id = 502;
         UPDATE items SET id = 2, qty = -1 WHERE id = 503;
         INSERT INTO items VALUES (3, 'reused key', 3, NULL);
         COMMIT;"
src_sql "UPDATE items SET note = NULL, qty = 7 WHERE id = 1000"

wait_synced
assert_same items
assert_eq "renamed|n" "$(tgt_sql "SELECT name || '|' || note FROM items WHERE id = 501")" "update applied"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM items WHERE id IN (1, 4, 5, 10, 502, 503)")" \
    "deleted and re-keyed rows are gone"
assert_eq "item 3|-1" "$(tgt_sql "SELECT name || '|' || qty FROM items WHERE id = 2")" \
    "row moved to key 2"
assert_eq "reused key" "$(tgt_sql "SELECT name FROM items WHERE id = 3")" "freed key reused"

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"

# Changes while syncline is stopped stay in the slot and are applied on the next run.
src_sql "INSERT INTO items SELECT g, 'second run ' || g, g, 'x' FROM generate_series(2001, 2050) g"
src_sql "BEGIN; DELETE FROM items WHERE id BETWEEN 11 AND 20; UPDATE items SET id = 3000 WHERE id = 2001; COMMIT;"

syncline_start
src_sql "UPDATE items SET qty = qty * 2 WHERE id > 2000"
wait_synced
assert_same items
assert_eq "$(src_sql "SELECT count(*) FROM items")" "$(tgt_sql "SELECT count(*) FROM items")" \
    "row count after resume"

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after the second SIGTERM"
