#!/usr/bin/env bash
# Rows are located with each column's own type and equality, not through ::text casts: a
# composite-typed primary key (insert, update, key change, delete); REPLICA IDENTITY FULL tables
# whose boolean ('f' on the wire, 'false' as ::text), inet ('/32' added by ::text) and char(n)
# (trailing blanks dropped by ::text) columns are updated and deleted; FULL with numeric scale
# (1.0 vs 1.00: both equal, the identical one is changed), float (-0 and 0, NaN, shortest digits)
# and timestamptz; FULL with types that have no equality operator (json, point), compared exactly;
# FULL where the target's numeric(10,2) row (1.50) is equal but not identical to the old tuple (1.5).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t024

both_sql "
CREATE TYPE pair AS (x int, y text);
CREATE TABLE t_comp (k pair PRIMARY KEY, v text);
CREATE TABLE t_keys (kb bit(8), kc char(4), kn numeric(6, 2), kv varchar(5), v text,
                     PRIMARY KEY (kb, kc, kn, kv));
CREATE TABLE t_fullt (id int, b boolean, i inet, c char(6), v text);
CREATE TABLE t_fullnum (id int, n numeric, f float8, ts timestamptz, v text);
CREATE TABLE t_noeq (id int, doc json, p point, v text);"
# The target keeps two decimals where the source keeps what it was given: equal, not identical.
src_sql "CREATE TABLE t_scale (id int, n numeric, v text)"
tgt_sql "CREATE TABLE t_scale (id int, n numeric(10, 2), v text)"
src_sql "
ALTER TABLE t_fullt REPLICA IDENTITY FULL;
ALTER TABLE t_fullnum REPLICA IDENTITY FULL;
ALTER TABLE t_noeq REPLICA IDENTITY FULL;
ALTER TABLE t_scale REPLICA IDENTITY FULL;"

syncline_start

# ---- composite-typed primary key
src_sql "INSERT INTO t_comp SELECT ROW(g, 'y' || g)::pair, 'v' || g FROM generate_series(1, 10) g"
src_sql "INSERT INTO t_comp VALUES (ROW(11, 'with \"quote'' and , comma')::pair, 'odd')"
src_sql "BEGIN;
UPDATE t_comp SET v = 'changed' WHERE (k).x <= 3;
UPDATE t_comp SET k = ROW(100, 'moved')::pair WHERE (k).x = 4;
UPDATE t_comp SET v = 'odd, changed' WHERE (k).x = 11;
DELETE FROM t_comp WHERE (k).x IN (5, 6);
COMMIT;"

# ---- keys whose parameter type is the unlimited form (bit varying, bpchar, numeric, varchar)
src_sql "INSERT INTO t_keys VALUES (B'00000001', 'a', 1.5, 'x', 'one'), (B'10000000', 'bb  ', 2, 'yy', 'two'),
                                   (B'11111111', '', 3.25, '', 'three')"
src_sql "UPDATE t_keys SET v = 'one, updated' WHERE v = 'one'"
src_sql "UPDATE t_keys SET kc = 'cc', v = 'two, rekeyed' WHERE v = 'two'"
src_sql "DELETE FROM t_keys WHERE v = 'three'"

# ---- FULL: boolean, inet, char(n)
src_sql "INSERT INTO t_fullt VALUES
  (1, false, '10.0.0.1', 'ab', 'one'),
  (2, true, '10.0.0.0/8', 'cd    ', 'two'),
  (3, NULL, '::1', 'x', 'three'),
  (4, false, '192.168.1.7/24', '', 'four'),
  (5, true, '10.0.0.5', 'ef', 'five')"
src_sql "UPDATE t_fullt SET v = 'one, updated' WHERE id = 1"
src_sql "UPDATE t_fullt SET v = 'two, updated', b = false WHERE id = 2"
src_sql "UPDATE t_fullt SET c = 'y' WHERE id = 3"
src_sql "UPDATE t_fullt SET v = 'four, updated' WHERE id = 4"
src_sql "DELETE FROM t_fullt WHERE id = 5"

# ---- FULL: numeric scale, float, timestamptz
src_sql "INSERT INTO t_fullnum VALUES
  (1, 1.0, 0.1, '2024-02-29 12:00:00.123456+05:30', 'a'),
  (1, 1.00, 0.1, '2024-02-29 12:00:00.123456+05:30', 'a'),
  (2, 2, '-0', 'infinity', 'b'),
  (2, 2, 0.0, 'infinity', 'b'),
  (3, 'NaN', 'NaN', '-infinity', 'c'),
  (4, 1e-30, 1.0/3, '1999-12-31 23:59:59.999999-08', 'd'),
  (5, 5.5, 1e308, now(), 'e')"
src_sql "UPDATE t_fullnum SET v = 'a, 1.00' WHERE n::text = '1.00'"
src_sql "UPDATE t_fullnum SET v = 'b, minus zero' WHERE f::text = '-0'"
src_sql "UPDATE t_fullnum SET v = 'c, updated' WHERE id = 3"
src_sql "UPDATE t_fullnum SET v = 'd, updated' WHERE id = 4"
src_sql "DELETE FROM t_fullnum WHERE id = 5"

# ---- FULL: json and point have no equality operator
src_sql "INSERT INTO t_noeq VALUES
  (1, '{\"a\":1}', '(1.5,2)', 'tight'),
  (1, '{\"a\": 1}', '(1.5,2)', 'spaced'),
  (2, '[1]', '(0.1,0.3333333333333333)', 'thirds'),
  (3, NULL, NULL, 'nulls'),
  (4, '{}', '(1e300,-1e-300)', 'far')"
src_sql "UPDATE t_noeq SET v = 'spaced, updated' WHERE doc::text = '{\"a\": 1}'"
src_sql "UPDATE t_noeq SET v = 'thirds, updated' WHERE id = 2"
src_sql "UPDATE t_noeq SET p = '(3,3)' WHERE id = 3"
src_sql "DELETE FROM t_noeq WHERE id = 4"

# ---- FULL: the target's row is equal to the old tuple (1.50 = 1.5) but prints differently
src_sql "INSERT INTO t_scale VALUES (1, 1.5, 'a'), (2, 2, 'b'), (3, 3.25, 'c')"
src_sql "UPDATE t_scale SET v = 'a, updated' WHERE id = 1"
src_sql "DELETE FROM t_scale WHERE id = 2"

wait_synced
assert_eq "1:1.50:a, updated,3:3.25:c" \
    "$(tgt_sql "SELECT string_agg(id || ':' || n || ':' || v, ',' ORDER BY id) FROM t_scale")" \
    "t_scale: rows equal but not identical to the old tuple were updated and deleted"
for t in t_comp t_keys t_fullt t_fullnum t_noeq; do
    assert_same "$t"
done
assert_eq "1" "$(tgt_sql "SELECT count(*) FROM t_fullnum WHERE v = 'a, 1.00' AND n::text = '1.00'")" \
    "t_fullnum: the row with 1.00 (not the equal 1.0) was updated"
assert_eq "1" "$(tgt_sql "SELECT count(*) FROM t_fullnum WHERE v = 'b, minus zero' AND f::text = '-0'")" \
    "t_fullnum: the row with -0 (not the equal 0) was updated"

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
