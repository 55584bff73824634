#!/usr/bin/env bash
# The initial copy handles tables of every size and kind: empty, one row, wide rows with TOASTed
# values of several MB, no primary key (REPLICA IDENTITY FULL, duplicate rows), a partitioned
# table (partitions on both sides), and a table split into several ctid ranges (snapshot.chunk_mb
# = 1 makes a few MB enough). Each table is equal after the copy, and again after changes streamed
# on top of the copied rows.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t302
TABLES=(t_empty t_one t_wide t_nopk t_part t_part_a t_part_b t_part_c t_big)

both_sql "
CREATE TABLE t_empty (id int PRIMARY KEY, v text);
CREATE TABLE t_one (id int PRIMARY KEY, v text, ts timestamptz);
CREATE TABLE t_wide (id int PRIMARY KEY, note text, doc text, blob bytea);
CREATE TABLE t_nopk (a int, b text);
ALTER TABLE t_nopk REPLICA IDENTITY FULL;
CREATE TABLE t_part (id int, k int, v text, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
CREATE TABLE t_part_a PARTITION OF t_part FOR VALUES FROM (0) TO (100);
CREATE TABLE t_part_b PARTITION OF t_part FOR VALUES FROM (100) TO (200);
CREATE TABLE t_part_c PARTITION OF t_part DEFAULT;
CREATE TABLE t_big (id bigint PRIMARY KEY, v text, n numeric);"

# ~3 MB of incompressible text and ~2 MB of bytea per row: TOASTed, out of line.
src_sql "
INSERT INTO t_one VALUES (1, 'only row', '2024-02-29 12:00:00+00');
INSERT INTO t_wide SELECT g, 'row ' || g,
    (SELECT string_agg(md5(random()::text || i), '') FROM generate_series(1, 100000) i),
    (SELECT decode(string_agg(md5(random()::text || i), ''), 'hex') FROM generate_series(1, 130000) i)
  FROM generate_series(1, 4) g;
INSERT INTO t_nopk SELECT g % 50, 'dup ' || (g % 50) FROM generate_series(1, 1000) g;
INSERT INTO t_nopk VALUES (NULL, NULL), (NULL, NULL);
INSERT INTO t_part SELECT g, g % 300, 'p' || g FROM generate_series(1, 3000) g;
INSERT INTO t_big SELECT g, repeat('x', 40) || g, g * 1.5 FROM generate_series(1, 150000) g;
ANALYZE;"
big_pages=$(src_sql "SELECT pg_relation_size('t_big') / 8192")
((big_pages > 2 * 128)) || fail "t_big has $big_pages pages: too small to be split at chunk_mb = 1"
wide_toast=$(src_sql "SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = 't_wide'")
((wide_toast > 8000000)) || fail "t_wide's values are not TOASTed out of line ($wide_toast bytes)"

write_config "$(config_json '"snapshot": {"workers": 3, "chunk_mb": 1}')"
E2E_START_TIMEOUT=120 syncline_start
assert_contains "$E2E_TMP/syncline.log" "copy done tables=" "the copy finished"
items=$(sed -n 's/.*copy plan tables=[0-9]* items=\([0-9]*\).*/\1/p' "$E2E_TMP/syncline.log" | head -n 1)
((items >= 8)) || fail "expected t_big split into several work items, the plan has $items items"
echo "ok: copy plan has $items work items for 6 published tables"
for t in "${TABLES[@]}"; do assert_same "$t"; done
assert_eq 1 "$(tgt_sql "SELECT count(*) FROM t_one")" "one-row table copied"
assert_eq 0 "$(tgt_sql "SELECT count(*) FROM t_empty")" "empty table still empty"

# Changes on top of the copy: TOAST left unchanged by an update, toasted value replaced, rows
# without a key updated and deleted, rows moved across partitions, rows in every ctid range.
src_sql "
UPDATE t_wide SET note = 'note changed' WHERE id = 1;
UPDATE t_wide SET doc = md5(doc) WHERE id = 2;
DELETE FROM t_wide WHERE id = 3;
INSERT INTO t_empty VALUES (1, 'first');
UPDATE t_one SET v = 'changed';
UPDATE t_nopk SET b = 'changed' WHERE a = 7;
DELETE FROM t_nopk WHERE a = 8;
UPDATE t_part SET k = 250 WHERE id % 100 = 0;
UPDATE t_big SET v = 'changed' WHERE id % 10000 = 0;
DELETE FROM t_big WHERE id > 149000;"
wait_synced 120
for t in "${TABLES[@]}"; do assert_same "$t"; done
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
