#!/usr/bin/env bash
# drop removes the publication run created even when run stopped before it wrote its progress
# row (issue 15, operational faults): here run stops at the non-empty target table (exit 6)
# after creating the publication. A publication syncline did not create stays.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t612
both_sql "CREATE TABLE items (id int PRIMARY KEY, v text)"
tgt_sql "INSERT INTO items VALUES (1, 'already there')"

pub_count() { src_sql "SELECT count(*) FROM pg_publication WHERE pubname = 'syncline_t612'"; }
rc=0
timeout -k 5 60 "$SYNCLINE" run -c "$CFG" >"$E2E_TMP/run.log" 2>&1 </dev/null || rc=$?
cat "$E2E_TMP/run.log"
assert_eq 6 "$rc" "run stops at the non-empty target"
if [[ $(tgt_sql "SELECT to_regclass('syncline.progress') IS NOT NULL") == t ]]; then
    assert_eq 0 "$(tgt_sql "SELECT count(*) FROM syncline.progress")" "no progress row was written"
fi
assert_eq 1 "$(pub_count)" "run created the publication"

rc=0
"$SYNCLINE" drop -c "$CFG" >"$E2E_TMP/drop.log" 2>&1 || rc=$?
cat "$E2E_TMP/drop.log"
assert_eq 0 "$rc" "drop exit code"
assert_eq 0 "$(pub_count)" "drop removed the publication run created"

# a publication made by someone else is kept
src_sql "CREATE PUBLICATION syncline_t612 FOR TABLE items"
"$SYNCLINE" drop -c "$CFG" >"$E2E_TMP/drop2.log" 2>&1 || fail "drop failed: $(cat "$E2E_TMP/drop2.log")"
assert_eq 1 "$(pub_count)" "drop keeps a publication syncline did not create"
src_sql "DROP PUBLICATION syncline_t612"
