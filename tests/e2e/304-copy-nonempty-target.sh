#!/usr/bin/env bash
# --snapshot on a target that already holds rows: auto refuses (exit 6, naming the table);
# always needs --yes (exit 2 without); always --yes truncates and copies; never streams only, so
# rows that existed before the slot are not copied.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t304
both_sql "CREATE TABLE items (id int PRIMARY KEY, v text);
          CREATE TABLE other (id int PRIMARY KEY);"
src_sql "INSERT INTO items SELECT g, 'source ' || g FROM generate_series(1, 100) g"
tgt_sql "INSERT INTO items VALUES (999, 'already on the target')"

# ---- auto, no progress row, a non-empty target table: exit 6, the table named
rc=0
"$SYNCLINE" run -c "$CFG" >"$E2E_TMP/auto.log" 2>&1 </dev/null || rc=$?
assert_eq 6 "$rc" "run on a non-empty target without a progress row"
assert_contains "$E2E_TMP/auto.log" "public.items" "the message names the table"
assert_eq "" "$(tgt_psql -c "SELECT name FROM syncline.progress" 2>/dev/null || true)" \
    "no progress row left behind"

# ---- always without --yes: usage error
rc=0
"$SYNCLINE" run -c "$CFG" --snapshot=always >"$E2E_TMP/always.log" 2>&1 </dev/null || rc=$?
assert_eq 2 "$rc" "--snapshot=always without --yes"
assert_contains "$E2E_TMP/always.log" "--yes" "the message asks for --yes"
assert_eq 1 "$(tgt_sql "SELECT count(*) FROM items")" "the target was not touched"

# ---- always --yes: truncate, copy, stream
syncline_start --snapshot=always --yes
assert_contains "$E2E_TMP/syncline.log" "copy done tables=2" "the copy ran"
src_sql "INSERT INTO items VALUES (101, 'after the copy'); UPDATE items SET v = 'changed' WHERE id = 5"
wait_synced
assert_same items
assert_same other
assert_eq 0 "$(tgt_sql "SELECT count(*) FROM items WHERE id = 999")" "the target's own row was truncated"
syncline_stop

# ---- always --yes again, on a target that is streaming: copies again from scratch
tgt_sql "INSERT INTO other VALUES (-1)"
syncline_start --snapshot=always --yes
wait_synced
assert_same items
assert_same other
syncline_stop

# ---- never: no copy, only what happens after the slot exists
"$SYNCLINE" drop -c "$CFG" >>"$E2E_TMP/syncline.log" 2>&1 || fail "syncline drop failed"
tgt_sql "TRUNCATE items, other; INSERT INTO items VALUES (999, 'target only')"
src_sql "INSERT INTO items VALUES (102, 'before the slot')"
syncline_start --snapshot=never
src_sql "INSERT INTO items VALUES (103, 'after the slot')"
wait_synced
if grep -q "copy started" <(sed -n '/snapshot=never/,$p' "$E2E_TMP/syncline.log"); then
    fail "--snapshot=never copied"
fi
assert_eq "103|after the slot
999|target only" "$(tgt_sql "SELECT id, v FROM items ORDER BY id")" \
    "only rows written after the slot arrived; the target's own row stayed"
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
