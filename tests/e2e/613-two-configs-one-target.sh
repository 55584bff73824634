#!/usr/bin/env bash
# Two configurations with different names writing the same target table are refused (issue 15,
# operational faults), also under --snapshot=never where the non-empty check of the copy does
# not run: the second exits 3 naming the table and the other configuration. A table the first
# configuration no longer lists, or whose configuration was dropped, is free again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t613
both_sql "CREATE TABLE items (id int PRIMARY KEY, v text); CREATE TABLE other (id int PRIMARY KEY)"

# A: both tables (the default configuration, name t613)
syncline_start
src_sql "INSERT INTO items VALUES (1, 'a')"
wait_synced
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "A stops cleanly"

# B: another name, the same target table items
CFG_B=$E2E_TMP/config-b.json
python3 - "$CFG" "$CFG_B" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["name"] = "t613b"
d["tables"] = [{"source": "public.items", "target": "public.items"}]
json.dump(d, open(sys.argv[2], "w"))
PY
e2e_on_exit '"$SYNCLINE" drop -c "$CFG_B" >/dev/null 2>&1'
rc=0
timeout -k 5 60 "$SYNCLINE" run -c "$CFG_B" --snapshot=never >"$E2E_TMP/b.log" 2>&1 </dev/null || rc=$?
cat "$E2E_TMP/b.log"
assert_eq 3 "$rc" "B (--snapshot=never) is refused"
assert_contains "$E2E_TMP/b.log" "items" "the error names the table"
assert_contains "$E2E_TMP/b.log" "t613" "the error names the other configuration"
assert_eq "a" "$(tgt_sql "SELECT string_agg(v, ',') FROM items")" "B wrote nothing"

# once A is dropped, B may take the table
"$SYNCLINE" drop -c "$CFG" >"$E2E_TMP/drop.log" 2>&1 || fail "drop A failed: $(cat "$E2E_TMP/drop.log")"
"$SYNCLINE" run -c "$CFG_B" --snapshot=never >"$E2E_TMP/b2.log" 2>&1 </dev/null &
pb=$!
e2e_on_exit "kill -TERM $pb 2>/dev/null; wait $pb 2>/dev/null"
wait_until 30 grep -q "streaming slot" "$E2E_TMP/b2.log"
kill -0 "$pb" || fail "B did not start after A was dropped: $(cat "$E2E_TMP/b2.log")"
kill -TERM "$pb"
rc=0
wait "$pb" || rc=$?
assert_eq 0 "$rc" "B stops cleanly"
