#!/usr/bin/env bash
# syncline verify on a 1,000,000-row table: passes on equal data (syncline running and idle, and
# stopped); with syncline stopped it detects a changed cell, a missing row and an extra row made
# directly on the target and names each key; --mode count sees the missing and extra rows but not
# the changed cell; a table without a primary key is compared whole; --tables selects.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t202
both_sql "CREATE TABLE big (id bigint PRIMARY KEY, a int, b text);
          CREATE TABLE pair (k1 int, k2 text, v numeric, PRIMARY KEY (k1, k2));
          CREATE TABLE nokey (x int, y text);
          ALTER TABLE nokey REPLICA IDENTITY FULL"
# even keys only, so that an odd key can be added in the middle
src_sql "INSERT INTO big SELECT g * 2, g, md5(g::text) FROM generate_series(1, 1000000) g;
         INSERT INTO pair SELECT g % 7, 'k' || g, g / 3.0 FROM generate_series(1, 5000) g;
         INSERT INTO nokey SELECT g % 10, 'y' FROM generate_series(1, 1000) g"

syncline_start
wait_synced 180
src_sql "UPDATE big SET a = -1 WHERE id = 4"
wait_synced

t0=$(date +%s)
assert_eq 0 "$(verify)" "verify passes with syncline running on an idle source"
echo "verify of 1,000,000 rows took $(($(date +%s) - t0)) s"
assert_contains "$E2E_TMP/verify.out" "table public.big -> public.big: match (1000000 rows" "big matches"
assert_contains "$E2E_TMP/verify.out" "table public.nokey -> public.nokey: match (1000 rows, 1 whole table" "nokey matches whole"

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code"
# A transaction without a row change (catalog only) is nothing to wait for: before PostgreSQL 15
# pgoutput still sends its BEGIN and COMMIT, which the peek at the stopped slot must not count.
src_sql "COMMENT ON TABLE big IS 'no row changed'"
assert_eq 0 "$(verify)" "verify passes with syncline stopped"

# the defects, made on the target directly
tgt_sql "UPDATE big SET b = 'changed' WHERE id = 246912;
         DELETE FROM big WHERE id = 1000000;
         INSERT INTO big VALUES (1500001, 0, 'extra');
         UPDATE pair SET v = v + 1 WHERE k1 = 5 AND k2 = 'k2000';
         DELETE FROM nokey WHERE ctid = (SELECT min(ctid) FROM nokey)"
assert_eq 1 "$(verify)" "verify exits 1 on differences"
assert_contains "$E2E_TMP/verify.out" "table public.big -> public.big: DIFFERENT (source 1000000 rows, target 1000000 rows, 3 of 100 chunks differ)" "big differs in 3 chunks"
assert_contains "$E2E_TMP/verify.out" "row (id)=(246912) differs" "changed cell named"
assert_contains "$E2E_TMP/verify.out" "row (id)=(1000000) is missing on the target" "missing row named"
assert_contains "$E2E_TMP/verify.out" "row (id)=(1500001) is on the target only" "extra row named"
grep -E '^  key range \(id\) >= \([0-9]+\) AND \(id\) < \([0-9]+\): source 10000 rows, target 10000 rows' "$E2E_TMP/verify.out" >/dev/null ||
    fail "the differing key range of the changed cell is not printed"
assert_contains "$E2E_TMP/verify.out" 'row (k1, k2)=(5,k2000) differs' "composite key row named"
assert_contains "$E2E_TMP/verify.out" "table public.nokey -> public.nokey: DIFFERENT (source 1000 rows, target 999 rows" "nokey differs"
assert_contains "$E2E_TMP/verify.out" "no primary key: whole table compared" "nokey compared whole"

assert_eq 1 "$(verify --mode count --tables public.big)" "verify --mode count exits 1"
assert_contains "$E2E_TMP/verify.out" "2 of 100 chunks differ" "count mode sees 2 chunks (missing, extra)"
grep -q "246912" "$E2E_TMP/verify.out" && fail "count mode should not see the changed cell"
grep -q "nokey" "$E2E_TMP/verify.out" && fail "--tables public.big verified nokey"

assert_eq 2 "$(verify --tables public.nosuch)" "verify --tables with an unknown table exits 2"

# repair and pass again
tgt_sql "UPDATE big SET b = md5('123456') WHERE id = 246912;
         INSERT INTO big VALUES (1000000, 500000, md5('500000'));
         DELETE FROM big WHERE id = 1500001;
         UPDATE pair SET v = v - 1 WHERE k1 = 5 AND k2 = 'k2000';
         INSERT INTO nokey VALUES (1, 'y')"
assert_eq 0 "$(verify --chunk-rows 250000)" "verify passes after the repair (chunks of 250000)"
assert_contains "$E2E_TMP/verify.out" "match (1000000 rows, 4 key-range chunks)" "4 chunks of 250000"
