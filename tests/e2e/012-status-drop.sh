#!/usr/bin/env bash
# syncline status (text and --json: slot, confirmed and applied LSNs, lag in bytes; the lag of an
# idle source reaches 0 within 15 s because the applied position follows keepalives), and
# syncline drop (removes the slot, the publication it created and the progress row, and nothing
# else: the user's tables and a publication the user created and named in the configuration stay).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t012

both_sql "CREATE TABLE items (id int PRIMARY KEY, v text)"

syncline_start
src_sql "INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 100) g"
wait_synced
assert_same items

status_json() { # prints the JSON of syncline status --json; fails on a non-zero exit
    local rc=0
    "$SYNCLINE" status -c "$CFG" --json >"$E2E_TMP/status.json" 2>"$E2E_TMP/status.err" </dev/null || rc=$?
    if ((rc != 0)); then
        cat "$E2E_TMP/status.err" >&2
        fail "syncline status --json exited with $rc"
    fi
    cat "$E2E_TMP/status.json"
}

# Reads JSON on stdin; prints the lag in bytes (the numeric value of the key containing "lag",
# preferring one that also says "byte"), or fails.
LAG_PY='
import json, sys
doc = json.load(sys.stdin)
found = []
def walk(o, path):
    if isinstance(o, dict):
        for k, v in o.items():
            walk(v, path + [str(k)])
    elif isinstance(o, list):
        for i, v in enumerate(o):
            walk(v, path + [str(i)])
    else:
        key = ".".join(path).lower()
        if "lag" in key and isinstance(o, (int, float)) and not isinstance(o, bool):
            found.append(("byte" not in key, key, o))
walk(doc, [])
if not found:
    sys.exit("no numeric lag field in the status JSON")
found.sort()
print(int(found[0][2]))
'
# Prints every string value of the JSON that looks like an LSN, one per line.
LSNS_PY='
import json, re, sys
def walk(o):
    if isinstance(o, dict):
        for v in o.values(): yield from walk(v)
    elif isinstance(o, list):
        for v in o: yield from walk(v)
    elif isinstance(o, str) and re.fullmatch(r"[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}", o):
        yield o.upper()
for l in walk(json.load(sys.stdin)): print(l)
'

# ---- text output
rc=0
"$SYNCLINE" status -c "$CFG" >"$E2E_TMP/status.txt" 2>"$E2E_TMP/status.err" </dev/null || rc=$?
cat "$E2E_TMP/status.txt"
assert_eq 0 "$rc" "syncline status exit code"
assert_contains "$E2E_TMP/status.txt" "syncline_t012" "status names the slot"
grep -qiE 'confirmed' "$E2E_TMP/status.txt" || fail "status text does not show the confirmed LSN"
grep -qiE 'applied' "$E2E_TMP/status.txt" || fail "status text does not show the applied LSN"
grep -qiE 'lag' "$E2E_TMP/status.txt" || fail "status text does not show the lag"
(($(grep -oE '\b[0-9A-F]{1,8}/[0-9A-F]{1,8}\b' "$E2E_TMP/status.txt" | wc -l) >= 2)) ||
    fail "status text shows fewer than two LSNs"
echo "ok: status text shows slot, confirmed and applied LSNs and lag"

# ---- JSON output
status_json >/dev/null
cat "$E2E_TMP/status.json"
echo
python3 -c 'import json,sys; json.load(sys.stdin)' <"$E2E_TMP/status.json" ||
    fail "syncline status --json is not JSON"
lag=$(python3 -c "$LAG_PY" <"$E2E_TMP/status.json") || fail "no numeric lag in the status JSON"
[[ "$lag" =~ ^[0-9]+$ ]] || fail "lag in bytes is not a non-negative integer: [$lag]"
(($(python3 -c "$LSNS_PY" <"$E2E_TMP/status.json" | wc -l) >= 2)) ||
    fail "status JSON has fewer than two LSN values (confirmed, applied)"
grep -qF '"syncline_t012"' "$E2E_TMP/status.json" || fail "status JSON does not name the slot"
echo "ok: status --json parses, names the slot, has LSNs and lag bytes ($lag)"

# ---- nothing to apply: the applied position follows the source (keepalives), lag reaches 0
# WAL that carries no change for syncline: a non-transactional logical message (pgoutput does not
# send it) and writes in another database of the source cluster.
src_sql "SELECT pg_logical_emit_message(false, 'syncline-e2e', 'not data')" >/dev/null
_e2e_psql_or_fail "noise in database postgres" "$SRC_PORT" postgres \
    -c "CREATE TABLE t012_noise AS SELECT generate_series(1, 10000) AS x" -c "DROP TABLE t012_noise"
noise_lsn=$(src_sql "SELECT pg_current_wal_lsn()")
deadline=$(($(date +%s) + 15))
while :; do
    lag=$(status_json | python3 -c "$LAG_PY") || fail "no numeric lag in the status JSON"
    applied=$(_e2e_applied_lsn)
    if ((lag == 0)) && [[ "$(tgt_sql "SELECT '$applied'::pg_lsn >= '$noise_lsn'::pg_lsn")" == t ]]; then
        break
    fi
    (($(date +%s) < deadline)) ||
        fail "15 s after WAL without changes (up to $noise_lsn): lag $lag bytes, applied $applied"
    sleep 0.5
done
echo "ok: idle lag reached 0 bytes, applied $applied >= $noise_lsn"
cat "$E2E_TMP/status.json"
echo

# ---- after a stop: status still works and shows the applied LSN of the progress row
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
applied=$(_e2e_applied_lsn)
status_json >/dev/null
python3 -c "$LSNS_PY" <"$E2E_TMP/status.json" | grep -xF "$applied" >/dev/null ||
    fail "status --json of a stopped syncline does not show the applied LSN $applied"
echo "ok: status of a stopped syncline shows applied $applied"

# ---- drop
slot_exists() { src_sql "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$1'"; }
pub_exists() { src_sql "SELECT count(*) FROM pg_publication WHERE pubname = '$1'"; }
progress_row() { tgt_sql "SELECT count(*) FROM syncline.progress WHERE name = '$1'"; }

assert_eq "1|1|1" "$(slot_exists syncline_t012)|$(pub_exists syncline_t012)|$(progress_row t012)" \
    "before drop: slot, publication and progress row exist"
rc=0
"$SYNCLINE" drop -c "$CFG" </dev/null || rc=$?
assert_eq 0 "$rc" "syncline drop exit code"
assert_eq "0" "$(slot_exists syncline_t012)" "drop removed the slot"
assert_eq "0" "$(pub_exists syncline_t012)" "drop removed the publication"
assert_eq "0" "$(progress_row t012)" "drop removed the progress row"
assert_eq "100" "$(tgt_sql "SELECT count(*) FROM items")" "drop left the user's target table alone"
assert_eq "100" "$(src_sql "SELECT count(*) FROM items")" "drop left the user's source table alone"

# ---- a publication the user created and named (with a custom slot name): drop keeps it.
# This configuration syncs only a table of its own, empty on both sides when it starts.
both_sql "CREATE TABLE items2 (id int PRIMARY KEY, v text)"
src_sql "CREATE PUBLICATION user_pub FOR TABLE items2"
write_config "{\"name\": \"t012_own\",
  \"source\": {\"conninfo\": $(_e2e_json_str "$SRC_CONNINFO"), \"publication\": \"user_pub\", \"slot\": \"t012_own_slot\"},
  \"target\": {\"conninfo\": $(_e2e_json_str "$TGT_CONNINFO")},
  \"tables\": [{\"source\": \"public.items2\", \"target\": \"public.items2\"}]}"
cat "$CFG"
syncline_start
src_sql "INSERT INTO items2 VALUES (1, 'own publication')"
wait_synced
assert_same items2
assert_eq "1" "$(slot_exists t012_own_slot)" "the configured slot name is used"
assert_eq "0" "$(slot_exists syncline_t012_own)" "no slot of the default name"
assert_eq "0" "$(pub_exists syncline_t012_own)" "no publication of the default name"
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
rc=0
"$SYNCLINE" drop -c "$CFG" </dev/null || rc=$?
assert_eq 0 "$rc" "syncline drop exit code (user's publication)"
assert_eq "0" "$(slot_exists t012_own_slot)" "drop removed the configured slot"
assert_eq "0" "$(progress_row t012_own)" "drop removed the progress row"
assert_eq "1" "$(pub_exists user_pub)" "drop kept the publication the user created"
