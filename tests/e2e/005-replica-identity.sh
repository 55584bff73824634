#!/usr/bin/env bash
# REPLICA IDENTITY DEFAULT (primary key, also composite and changed), USING INDEX (unique index on
# NOT NULL columns, no primary key, key changes), FULL without a primary key (duplicate identical
# rows: an UPDATE or DELETE of one of them changes exactly one on the target; NULLs in the
# identity), and FULL with json (no equality operator) and jsonb columns.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t005

both_sql "
CREATE TABLE t_default (a int, b text, v text, PRIMARY KEY (a, b));
CREATE TABLE t_index (a int NOT NULL, b text NOT NULL, v text, w int);
CREATE UNIQUE INDEX t_index_ab ON t_index (a, b);
CREATE TABLE t_full (a int, b text, c numeric);
CREATE TABLE t_full_scale (a int, c numeric);
CREATE TABLE t_fulljson (k int, doc json, jb jsonb, note text);"
src_sql "
ALTER TABLE t_index REPLICA IDENTITY USING INDEX t_index_ab;
ALTER TABLE t_full REPLICA IDENTITY FULL;
ALTER TABLE t_full_scale REPLICA IDENTITY FULL;
ALTER TABLE t_fulljson REPLICA IDENTITY FULL;"

syncline_start

# ---- DEFAULT (composite primary key)
src_sql "INSERT INTO t_default SELECT g, 'k' || g, 'v' || g FROM generate_series(1, 20) g"
src_sql "BEGIN;
UPDATE t_default SET v = 'changed' WHERE a <= 5;
UPDATE t_default SET b = 'rekeyed' WHERE a = 6;
UPDATE t_default SET a = 100, v = NULL WHERE a = 7;
DELETE FROM t_default WHERE a IN (8, 9);
INSERT INTO t_default VALUES (8, 'k8', 'reinserted');
COMMIT;"

# ---- USING INDEX
src_sql "INSERT INTO t_index SELECT g, 'k' || g, 'v' || g, g FROM generate_series(1, 20) g"
src_sql "BEGIN;
UPDATE t_index SET v = 'changed', w = NULL WHERE a <= 5;
UPDATE t_index SET b = 'rekeyed' WHERE a = 6;
UPDATE t_index SET a = 100, b = 'moved' WHERE a = 7;
DELETE FROM t_index WHERE a IN (8, 9);
INSERT INTO t_index VALUES (9, 'k9', 'reinserted', -9);
UPDATE t_index SET v = NULL WHERE a = 10;
COMMIT;"
src_sql "UPDATE t_index SET a = a + 1000 WHERE a BETWEEN 11 AND 15"

# ---- FULL, no primary key, duplicates and NULLs
src_sql "INSERT INTO t_full VALUES
  (1, 'x', 1.0), (1, 'x', 1.0),
  (2, 'y', NULL), (2, 'y', NULL),
  (3, NULL, 3), (3, NULL, 3), (3, NULL, 3),
  (5, 'del', 5), (5, 'del', 5)"
# One of two identical rows (picked by ctid on the source).
src_sql "UPDATE t_full SET b = 'z' WHERE ctid = (SELECT ctid FROM t_full WHERE a = 1 LIMIT 1)"
src_sql "UPDATE t_full SET c = 2 WHERE ctid = (SELECT ctid FROM t_full WHERE a = 2 LIMIT 1)"
src_sql "UPDATE t_full SET b = 'was null' WHERE ctid = (SELECT ctid FROM t_full WHERE a = 3 LIMIT 1)"
src_sql "DELETE FROM t_full WHERE ctid = (SELECT ctid FROM t_full WHERE a = 5 LIMIT 1)"
# numeric 4.0 and 4.00 are equal (=) but not identical: the target must update the row whose
# value is 4.00, as the source did, or the replica's numbers lose their display scale.
src_sql "INSERT INTO t_full_scale VALUES (4, 4.0), (4, 4.00), (5, 5.0), (5, 5.000)"
src_sql "UPDATE t_full_scale SET a = 40 WHERE c::text = '4.00'"
src_sql "DELETE FROM t_full_scale WHERE c::text = '5.000'"

# ---- FULL with json (whitespace variants are different values) and jsonb
src_sql "INSERT INTO t_fulljson VALUES
  (1, '{\"a\":1}', '{\"a\": 1}', 'tight'),
  (1, '{\"a\": 1}', '{\"a\": 1}', 'spaced'),
  (2, '[1, 2]', '[1, 2]', 'dup'),
  (2, '[1, 2]', '[1, 2]', 'dup'),
  (3, NULL, NULL, 'nulls'),
  (4, '{\"k\": \"v\", \"k\": \"w\"}', '{\"k\": \"w\"}', 'dupkeys')"
src_sql "UPDATE t_fulljson SET note = 'spaced, updated' WHERE doc::text = '{\"a\": 1}'"
src_sql "DELETE FROM t_fulljson WHERE ctid = (SELECT ctid FROM t_fulljson WHERE k = 2 LIMIT 1)"
src_sql "UPDATE t_fulljson SET doc = '{\"now\": \"set\"}', jb = '[]' WHERE k = 3"
src_sql "UPDATE t_fulljson SET note = 'dupkeys, updated' WHERE k = 4"
src_sql "UPDATE t_fulljson SET jb = jb || '{\"b\": 2}' WHERE note = 'tight'"

wait_synced
for t in t_default t_index t_full t_fulljson; do
    assert_same "$t"
done

counts() { # side table -> "row text:count" lines, deterministic
    "${1}_sql" "SELECT string_agg(r || '=' || n, ' ; ' ORDER BY r COLLATE \"C\")
                  FROM (SELECT t::text AS r, count(*) AS n FROM $2 t GROUP BY 1) s"
}
assert_eq "$(counts src t_full)" "$(counts tgt t_full)" "t_full: multiplicity of every distinct row"
assert_eq "1|1" "$(tgt_sql "SELECT (SELECT count(*) FROM t_full WHERE a = 1 AND b = 'x') || '|' ||
                                  (SELECT count(*) FROM t_full WHERE a = 1 AND b = 'z')")" \
    "t_full: updating one of two identical rows changed exactly one"
assert_eq "1|2" "$(tgt_sql "SELECT (SELECT count(*) FROM t_full WHERE a = 3 AND b = 'was null') || '|' ||
                                  (SELECT count(*) FROM t_full WHERE a = 3 AND b IS NULL)")" \
    "t_full: one of three identical rows with a NULL updated"
assert_eq "1" "$(tgt_sql "SELECT count(*) FROM t_full WHERE a = 5")" \
    "t_full: deleting one of two identical rows left one"
assert_eq "$(counts src t_fulljson)" "$(counts tgt t_fulljson)" "t_fulljson: multiplicity of every row"
assert_eq "1" "$(tgt_sql "SELECT count(*) FROM t_fulljson WHERE k = 2")" \
    "t_fulljson: one of two identical json rows deleted"

# Second round on the same tables: deletes of everything matching, re-inserts.
src_sql "BEGIN;
DELETE FROM t_full WHERE a = 1;
DELETE FROM t_fulljson WHERE k = 1;
INSERT INTO t_full VALUES (1, 'x', 1.0);
DELETE FROM t_index WHERE a = 100;
DELETE FROM t_default WHERE a = 100;
COMMIT;"
wait_synced
for t in t_default t_index t_full t_fulljson; do
    assert_same "$t"
done
assert_eq "$(counts src t_full)" "$(counts tgt t_full)" "t_full: multiplicity after the second round"

# Last, as the finest point: rows equal by = but different in text (numeric scale).
assert_same t_full_scale

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
