#!/usr/bin/env bash
# A table without columns (CREATE TABLE t ()) is copied by the initial copy (its row count) and
# streamed: inserts (single rows and many in one transaction), deletes under REPLICA IDENTITY
# FULL (an old tuple of zero columns removes one row, as native logical replication does) and
# TRUNCATE; a table whose only column was dropped behaves the same. Tables with columns next
# to them keep working.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t025

both_sql "
CREATE TABLE t_none ();
CREATE TABLE t_full ();
CREATE TABLE t_dropped (gone int);
ALTER TABLE t_dropped DROP COLUMN gone;
CREATE TABLE t_normal (id int PRIMARY KEY, v text);"
src_sql "
ALTER TABLE t_full REPLICA IDENTITY FULL;
INSERT INTO t_none SELECT FROM generate_series(1, 5);
INSERT INTO t_full SELECT FROM generate_series(1, 4);
INSERT INTO t_dropped SELECT FROM generate_series(1, 3);
INSERT INTO t_normal VALUES (1, 'copied');"

counts() { # side -> "none|full|dropped|normal"
    "${1}_sql" "SELECT (SELECT count(*) FROM t_none) || '|' || (SELECT count(*) FROM t_full)
                || '|' || (SELECT count(*) FROM t_dropped) || '|' || (SELECT count(*) FROM t_normal)"
}

syncline_start
wait_synced
assert_eq "5|4|3|1" "$(counts tgt)" "row counts after the initial copy"
grep -q "t_full: no replica identity" "$E2E_TMP/syncline.log" &&
    fail "check warned that t_full (REPLICA IDENTITY FULL, no columns) has no replica identity"

src_sql "INSERT INTO t_none DEFAULT VALUES"
src_sql "BEGIN;
INSERT INTO t_none SELECT FROM generate_series(1, 10);
INSERT INTO t_full SELECT FROM generate_series(1, 3);
INSERT INTO t_dropped DEFAULT VALUES;
INSERT INTO t_normal VALUES (2, 'streamed');
COMMIT;"
src_sql "DELETE FROM t_full WHERE ctid = (SELECT min(ctid) FROM t_full)"
src_sql "BEGIN;
DELETE FROM t_full WHERE ctid IN (SELECT ctid FROM t_full LIMIT 2);
INSERT INTO t_normal VALUES (3, 'after deletes');
COMMIT;"
wait_synced
assert_eq "$(counts src)" "$(counts tgt)" "row counts after streamed inserts and deletes"
assert_eq "16|4|4|3" "$(counts tgt)" "row counts on the target after streaming"

src_sql "TRUNCATE t_none, t_dropped"
src_sql "INSERT INTO t_none DEFAULT VALUES"
wait_synced
assert_eq "1|4|0|3" "$(counts tgt)" "row counts after TRUNCATE"
for t in t_none t_full t_dropped t_normal; do
    assert_same "$t"
done

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
