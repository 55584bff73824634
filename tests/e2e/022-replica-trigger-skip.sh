#!/usr/bin/env bash
# Triggers on the target that fire under session_replication_role = replica (ENABLE REPLICA or
# ENABLE ALWAYS) and return NULL from BEFORE UPDATE/DELETE skip the change on purpose (issue 15,
# class 3): like native logical replication, syncline carries on. A row that is really missing
# from such a table is still an error. ("locked" is an int: under REPLICA IDENTITY FULL a boolean
# column is compared as bool::text 'true' against the sent 't', a separate known problem.)
#   1. REPLICA trigger (key identity) and ALWAYS trigger (REPLICA IDENTITY FULL) skip the
#      changes to "locked" rows; the others and the rest of the transaction apply. (Under FULL
#      the old row must match in every column, so b's locked rows are deleted before updated.)
#   2. A row deleted on the target of such a table: `run` stops with "no such row".
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t022
write_config "$(config_json '"apply": {"batch_rows": 100000, "batch_ms": 500}')"
both_sql "
CREATE TABLE a (id int PRIMARY KEY, v int, locked int NOT NULL DEFAULT 0);
CREATE TABLE b (id int, v int, locked int NOT NULL DEFAULT 0);
ALTER TABLE b REPLICA IDENTITY FULL;
CREATE TABLE plain (id int PRIMARY KEY, v int);"
tgt_keep_locked_triggers a:REPLICA b:ALWAYS

syncline_start
src_sql "INSERT INTO a SELECT g, g, (g <= 3)::int FROM generate_series(1, 10) g;
         INSERT INTO b SELECT g, g, (g <= 3)::int FROM generate_series(1, 10) g;"
wait_synced

# ---------------------------------------------------------------- 1: trigger skips carry on
src_sql "BEGIN;
UPDATE a SET v = v + 100;
DELETE FROM a WHERE id IN (2, 9);
DELETE FROM b WHERE id IN (2, 9);
UPDATE b SET v = v + 100;
INSERT INTO plain VALUES (1, 1);
COMMIT;"
wait_synced 30
syncline_running || fail "syncline stopped on a change a replica trigger skipped"
assert_eq 1 "$(tgt_sql "SELECT count(*) FROM plain")" "the rest of the transaction applied"
for t in a b; do
    assert_eq "1:1 2:2 3:3 4:104 5:105 6:106 7:107 8:108 10:110" \
        "$(tgt_sql "SELECT string_agg(id || ':' || v, ' ' ORDER BY id) FROM $t")" \
        "$t: locked rows kept by the trigger, the others updated and deleted"
done
syncline_stop

# ---------------------------------------------------------------- 2: a really missing row
n=0
for t in a b; do
    tgt_sql "DELETE FROM $t WHERE id = 5"
    before=$(_e2e_applied_lsn)
    src_sql "BEGIN; UPDATE $t SET v = 500 WHERE id = 5; INSERT INTO plain VALUES ($((++n + 1)), 0); COMMIT;"
    rc=0
    timeout -k 5 60 "$SYNCLINE" run -c "$CFG" >"$E2E_TMP/missing_$t.out" 2>"$E2E_TMP/missing_$t.err" </dev/null || rc=$?
    cat "$E2E_TMP/missing_$t.err"
    assert_eq 1 "$rc" "$t: a missing row stops run"
    assert_contains "$E2E_TMP/missing_$t.err" "no such row" "$t: the error says no such row"
    assert_contains "$E2E_TMP/missing_$t.err" "public.$t" "$t: the error names the table"
    assert_eq "$n" "$(tgt_sql "SELECT count(*) FROM plain")" "$t: nothing of the failed transaction applied"
    assert_eq "$before" "$(_e2e_applied_lsn)" "$t: progress unchanged"
    tgt_sql "INSERT INTO $t VALUES (5, 105, 0)"
    syncline_start
    wait_synced
    syncline_stop
    assert_eq $((n + 1)) "$(tgt_sql "SELECT count(*) FROM plain")" "$t: converged after the fix"
    assert_eq 500 "$(tgt_sql "SELECT v FROM $t WHERE id = 5")" "$t: the update applied after the fix"
done
