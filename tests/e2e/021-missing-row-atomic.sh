#!/usr/bin/env bash
# A change that finds no row on a diverged target (issue 15, class 1) fails its whole source
# transaction: nothing of it commits on the target, progress stays before it, a restart stops at
# the same change with the same message, and once the target is fixed `run` converges.
#   1. UPDATE of a row deleted on the target + INSERT in one source transaction (direct `run`).
#   2. An earlier source transaction in the same target batch: progress never passes the failing
#      one and matches what was committed.
#   3. The collapsed (set-based) path: one UPDATE touching 8 rows, one of them missing.
#   4. apply.on_missing_row = skip: skipped with a warning, the rest applied.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t021
# Large batches: everything pending is applied in one target transaction.
write_config "$(config_json '"apply": {"batch_rows": 100000, "batch_ms": 2000}')"
both_sql "CREATE TABLE t (id int PRIMARY KEY, v int);"

# The run stops with the missing-row error naming table, key and LSN.
expect_missing() { # LABEL KEY
    e2e_run_fg "$1"
    assert_eq 1 "$RUN_RC" "$1: exit code"
    assert_contains "$E2E_TMP/$1.err" "no such row" "$1: the error says no such row"
    assert_contains "$E2E_TMP/$1.err" "public.t" "$1: the error names the table"
    assert_contains "$E2E_TMP/$1.err" "$2" "$1: the error names the key"
    assert_contains "$E2E_TMP/$1.err" "lsn=" "$1: the error names the LSN"
}

lsn_le() { [[ "$(src_sql "SELECT '$1'::pg_lsn <= '$2'::pg_lsn")" == t ]]; }

syncline_start
src_sql "INSERT INTO t SELECT g, g FROM generate_series(1, 20) g"
wait_synced
syncline_stop

# ---------------------------------------------------------------- 1: two statements, one fails
tgt_sql "DELETE FROM t WHERE id = 1"
src_sql "BEGIN; UPDATE t SET v = 100 WHERE id = 1; INSERT INTO t VALUES (101, 101); COMMIT;"
before=$(_e2e_applied_lsn)
for label in missing1 missing1_again; do
    expect_missing "$label" "(id)=(1)"
    assert_eq 0 "$(tgt_sql "SELECT count(*) FROM t WHERE id = 101")" \
        "$label: the INSERT of the failed transaction is not on the target"
    assert_eq "$before" "$(_e2e_applied_lsn)" "$label: progress unchanged"
done
tgt_sql "INSERT INTO t VALUES (1, 1)"
syncline_start
wait_synced
syncline_stop
assert_same t

# ---------------------------------------------------------------- 2: earlier transaction in the batch
tgt_sql "DELETE FROM t WHERE id = 2"
before=$(_e2e_applied_lsn)
src_sql "INSERT INTO t VALUES (102, 102)"
mid=$(src_sql "SELECT pg_current_wal_lsn()")
src_sql "BEGIN; INSERT INTO t VALUES (103, 103); UPDATE t SET v = 200 WHERE id = 2; COMMIT;"
for label in missing2 missing2_again; do
    expect_missing "$label" "(id)=(2)"
    applied=$(_e2e_applied_lsn)
    lsn_le "$applied" "$mid" || fail "$label: progress $applied passed the failing transaction (after $mid)"
    assert_eq 0 "$(tgt_sql "SELECT count(*) FROM t WHERE id = 103")" \
        "$label: the INSERT of the failed transaction is not on the target"
    if [[ "$(tgt_sql "SELECT count(*) FROM t WHERE id = 102")" == 1 ]]; then
        [[ "$applied" != "$before" ]] || fail "$label: the earlier transaction is committed but progress did not move"
    else
        assert_eq "$before" "$applied" "$label: nothing committed, progress unchanged"
    fi
done
tgt_sql "INSERT INTO t VALUES (2, 2)"
syncline_start
wait_synced
syncline_stop
assert_same t

# ---------------------------------------------------------------- 3: collapsed, set-based UPDATE
tgt_sql "DELETE FROM t WHERE id = 13"
before=$(_e2e_applied_lsn)
src_sql "BEGIN; UPDATE t SET v = v + 1000 WHERE id BETWEEN 10 AND 17; INSERT INTO t VALUES (104, 104); COMMIT;"
for label in missing3 missing3_again; do
    e2e_run_fg "$label"
    assert_eq 1 "$RUN_RC" "$label: exit code"
    assert_contains "$E2E_TMP/$label.err" "no such row" "$label: the error says no such row"
    assert_contains "$E2E_TMP/$label.err" "public.t" "$label: the error names the table"
    assert_eq 0 "$(tgt_sql "SELECT count(*) FROM t WHERE id = 104 OR v > 1000")" \
        "$label: nothing of the failed transaction is on the target"
    assert_eq "$before" "$(_e2e_applied_lsn)" "$label: progress unchanged"
done
tgt_sql "INSERT INTO t VALUES (13, 13)"
syncline_start
wait_synced
syncline_stop
assert_same t

# ---------------------------------------------------------------- 4: on_missing_row skip
write_config "$(config_json '"apply": {"batch_rows": 100000, "batch_ms": 2000, "on_missing_row": "skip"}')"
tgt_sql "DELETE FROM t WHERE id IN (3, 14)"
src_sql "BEGIN; UPDATE t SET v = 300 WHERE id = 3; INSERT INTO t VALUES (105, 105); COMMIT;
         BEGIN; UPDATE t SET v = v + 1000 WHERE id BETWEEN 10 AND 17; DELETE FROM t WHERE id = 14; COMMIT;"
syncline_start
wait_synced
syncline_stop
assert_contains "$E2E_TMP/syncline.log" "missing row skipped" "skip: a warning is logged"
assert_eq 1 "$(tgt_sql "SELECT count(*) FROM t WHERE id = 105")" "skip: the rest of the transaction applied"
assert_eq 0 "$(tgt_sql "SELECT count(*) FROM t WHERE id IN (3, 14)")" "skip: the missing rows stay missing"
assert_eq 7 "$(tgt_sql "SELECT count(*) FROM t WHERE id BETWEEN 10 AND 17 AND v > 1000")" \
    "skip: the other rows of the set-based UPDATE applied"
