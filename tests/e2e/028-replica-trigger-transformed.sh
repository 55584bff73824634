#!/usr/bin/env bash
# 022 for transformed tables (a "tables" entry with "columns"): a replica-enabled BEFORE
# UPDATE/DELETE trigger on the target that returns NULL skips the change on purpose, and
# syncline carries on like native replication instead of stopping with "no such row"
# (issue 15, class 3); also on a filtered table ("where") whose UPDATE left a TOAST value
# unchanged (not sent). A row really missing from such a table still stops run, atomically.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t028
write_config "$(config_json '"apply": {"batch_rows": 100000, "batch_ms": 500},
  "tables": [{"source": "public.a", "columns": {"v10": "v * 10"}}, {"source": "public.plain"},
             {"source": "public.flt", "where": "v >= 0"}]')"
src_sql "CREATE TABLE a (id int PRIMARY KEY, v int, locked int NOT NULL DEFAULT 0);"
tgt_sql "CREATE TABLE a (id int PRIMARY KEY, v int, v10 int, locked int NOT NULL DEFAULT 0);"
both_sql "CREATE TABLE plain (id int PRIMARY KEY, v int);
CREATE TABLE flt (id int PRIMARY KEY, v int, big text, locked int NOT NULL DEFAULT 0);"
tgt_keep_locked_triggers a:REPLICA flt:REPLICA

syncline_start
src_sql "INSERT INTO a SELECT g, g, (g <= 3)::int FROM generate_series(1, 10) g;
INSERT INTO flt SELECT g, g, (SELECT string_agg(md5(random()::text || g || i), '')
                              FROM generate_series(1, 400) i), (g <= 3)::int
FROM generate_series(1, 6) g;"
wait_synced

src_sql "BEGIN;
UPDATE a SET v = v + 100;
DELETE FROM a WHERE id IN (2, 9);
UPDATE flt SET v = v + 100;
INSERT INTO plain VALUES (1, 1);
COMMIT;"
wait_synced 30
syncline_running || fail "syncline stopped on a change a replica trigger skipped (transformed table)"
assert_eq 1 "$(tgt_sql "SELECT count(*) FROM plain")" "the rest of the transaction applied"
assert_eq "1:1:10 2:2:20 3:3:30 4:104:1040 5:105:1050 6:106:1060 7:107:1070 8:108:1080 10:110:1100" \
    "$(tgt_sql "SELECT string_agg(id || ':' || v || ':' || v10, ' ' ORDER BY id) FROM a")" \
    "locked rows kept by the trigger, the others updated (and mapped) and deleted"
assert_eq "1:1 2:2 3:3 4:104 5:105 6:106" \
    "$(tgt_sql "SELECT string_agg(id || ':' || v, ' ' ORDER BY id) FROM flt")" \
    "filtered table, TOAST value not sent: locked rows kept by the trigger, the others updated"
assert_query_same "SELECT id, big FROM flt" "(SELECT id, big FROM flt) x" "the TOAST values kept"
syncline_stop

# a really missing row: run stops, nothing of its transaction applied, progress unchanged
tgt_sql "DELETE FROM a WHERE id = 5"
before=$(_e2e_applied_lsn)
src_sql "BEGIN; UPDATE a SET v = 500 WHERE id = 5; INSERT INTO plain VALUES (2, 0); COMMIT;"
rc=0
timeout -k 5 60 "$SYNCLINE" run -c "$CFG" >"$E2E_TMP/missing.out" 2>"$E2E_TMP/missing.err" </dev/null || rc=$?
cat "$E2E_TMP/missing.err"
assert_eq 1 "$rc" "a missing row stops run"
assert_contains "$E2E_TMP/missing.err" "no such row" "the error says no such row"
assert_contains "$E2E_TMP/missing.err" "public.a" "the error names the table"
assert_eq 1 "$(tgt_sql "SELECT count(*) FROM plain")" "nothing of the failed transaction applied"
assert_eq "$before" "$(_e2e_applied_lsn)" "progress unchanged"
tgt_sql "INSERT INTO a VALUES (5, 105, 1050, 0)"
syncline_start
wait_synced
syncline_stop
assert_eq "500:5000" "$(tgt_sql "SELECT v || ':' || v10 FROM a WHERE id = 5")" "the update applied after the fix"
