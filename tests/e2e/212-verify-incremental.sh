#!/usr/bin/env bash
# Incremental verify (issue 21): after a verify that matched everywhere, `run` marks the key ranges
# it changes (in the target, in the same transaction as the rows); the next verify re-checks only
# those plus row counts, says how many and how old the full verify is. A change made on the target
# in a marked range is named; a row deleted on the target outside them shows in the counts and the
# table is then compared whole (the row named). --full compares everything; after `run` restarts
# the next verify is full (the new session may not have marked what the old one applied).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t212
pgbench_setup 2
both_sql "CREATE TABLE quiet (id int PRIMARY KEY, v text)"
src_sql "INSERT INTO quiet SELECT g, md5(g::text) FROM generate_series(1, 50000) g"

syncline_start
wait_synced 120

VERIFY_TIMEOUT=60

pgbench_start -n -T 300 -c 4 -R 300 -b tpcb-like
sleep 1
assert_eq 0 "$(verify)" "the first verify (full) exits 0 under pgbench"
assert_contains "$E2E_TMP/verify.out" "verify: full:" "the first verify is full"
assert_contains "$E2E_TMP/verify.out" "the next verify re-checks only what changes from here" "it sets the base"
sleep 2
assert_eq 0 "$(verify)" "the second verify (incremental) exits 0 under pgbench"
assert_contains "$E2E_TMP/verify.out" "verify: incremental:" "the second verify is incremental"
n=$(sed -n 's/^verify: incremental: \([0-9]*\) key range.*/\1/p' "$E2E_TMP/verify.out")
((n > 0)) || fail "incremental verify re-checked [$n] key ranges"
assert_contains "$E2E_TMP/verify.out" "last full verify" "it says how old the full verify is"
assert_contains "$E2E_TMP/verify.out" "table public.quiet -> public.quiet: match (50000 rows, 0 changed key range(s) re-checked" "quiet: nothing changed, counts only"
marks=$(tgt_sql "SELECT count(*) FROM syncline.verify_marks WHERE name = 't212'")
((marks > 0)) || fail "no marks in syncline.verify_marks"
echo "ok: $n key ranges re-checked, $marks marks"
"$SYNCLINE" lag -c "$CFG" --json >"$E2E_TMP/lag.json" </dev/null || fail "lag --json failed"
cat "$E2E_TMP/lag.json"
python3 - "$E2E_TMP/lag.json" <<'PY' || fail "lag --json: verify_full_age_seconds and verify_dirty_ranges"
import json, sys
d = json.load(open(sys.argv[1]))
assert 0 <= d["verify_full_age_seconds"] < 600, d
assert d["verify_dirty_ranges"] >= 0, d
PY
echo "ok: lag --json shows the last full verify's age and the dirty ranges"

# a change on the source in bucket 78 (keys 4992..5055), a tampered cell on the target in it; a row
# deleted on the target in an unmarked range
src_sql "UPDATE quiet SET v = 'changed' WHERE id = 5000"
wait_synced
tgt_sql "UPDATE quiet SET v = 'tampered' WHERE id = 5001; DELETE FROM quiet WHERE id = 40000"
assert_eq 1 "$(verify)" "incremental verify exits 1"
assert_contains "$E2E_TMP/verify.out" "row (id)=(5001) differs" "the tampered cell in a changed range is named"
assert_contains "$E2E_TMP/verify.out" "row (id)=(40000) is missing on the target" "the row deleted outside them is named (counts differ)"
assert_contains "$E2E_TMP/verify.err" "counts differ outside the changed key ranges" "the log says why it compared quiet whole"

tgt_sql "UPDATE quiet SET v = md5('5001') WHERE id = 5001; INSERT INTO quiet VALUES (40000, md5('40000'))"
assert_eq 0 "$(verify --full)" "verify --full after the repair exits 0"
assert_contains "$E2E_TMP/verify.out" "verify: full:" "--full compares everything"

# a restarted applier: its first verify is full
pgbench_stop
syncline_stop
syncline_start
wait_synced
assert_eq 0 "$(verify)" "verify after a restart exits 0"
assert_contains "$E2E_TMP/verify.out" "verify: full:" "after a restart the verify is full"
assert_contains "$E2E_TMP/verify.err" "not the one running now" "the log says why"
assert_eq 0 "$(verify)" "the next one exits 0"
assert_contains "$E2E_TMP/verify.out" "verify: incremental:" "and is incremental again"
echo "ok: incremental verify"
