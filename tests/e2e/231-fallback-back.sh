#!/usr/bin/env bash
# Switching back after a fallback (issue 20): a table that maps columns is refused by `check
# --fallback` and `cutover --fallback` (exit 3, naming it, before any fence); a renamed table
# streams back to its old name. After cutover --fence --fallback and writes on the new database,
# `lag --fallback`, `status --fallback` and `verify --fallback` work on the reverse direction;
# `cutover --fallback-back` fences the new database, drains, carries the sequences, verifies and
# unfences the old one; `drop --fallback` removes the fallback slot, progress row and origin;
# then the application writes to the old database again and `run` resumes forward: nothing
# written anywhere is missing, and nothing fallback wrote comes forward twice.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-fallback.sh"

e2e_setup t231
fallback_setup
both_sql "CREATE TABLE orders (id bigserial PRIMARY KEY, aid int, note text);
          CREATE TABLE secrets (id int PRIMARY KEY, pin text, v text)"
src_sql "CREATE TABLE items (id int PRIMARY KEY, v text)"
tgt_sql "CREATE TABLE items2 (id int PRIMARY KEY, v text)"
src_sql "INSERT INTO orders (aid) SELECT g FROM generate_series(1, 100) g;
         INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 50) g"
e2e_on_exit '"$SYNCLINE" unfence -c "$CFG" >/dev/null 2>&1'

# ---- a table that maps columns has no derivable inverse: refused, naming it, before a fence
write_config "$(config_json '"tables": [{"source": "public.orders"}, {"source": "public.items", "target": "public.items2"}, {"source": "public.secrets", "exclude": ["pin"]}]')"
rc=0
"$SYNCLINE" check -c "$CFG" --fallback >"$E2E_TMP/check.out" 2>&1 || rc=$?
cat "$E2E_TMP/check.out"
assert_eq 3 "$rc" "check --fallback refuses a mapped table (exit 3)"
assert_contains "$E2E_TMP/check.out" "public.secrets maps columns" "and names it"
rc=0
"$SYNCLINE" cutover -c "$CFG" --fence --fallback --timeout 10 >"$E2E_TMP/c0.out" 2>&1 || rc=$?
cat "$E2E_TMP/c0.out"
assert_eq 3 "$rc" "cutover --fence --fallback refuses a mapped table (exit 3)"
assert_contains "$E2E_TMP/c0.out" "public.secrets maps columns" "and names it"
assert_eq off "$(src_sql "SHOW default_transaction_read_only")" "the source was never fenced"

write_config "$(config_json '"tables": [{"source": "public.orders"}, {"source": "public.items", "target": "public.items2"}, {"source": "public.secrets", "skip": true}]')"
"$SYNCLINE" check -c "$CFG" --fallback >"$E2E_TMP/check2.out" 2>&1 || fail "check --fallback: $(cat "$E2E_TMP/check2.out")"
cat "$E2E_TMP/check2.out"

syncline_start
wait_synced 60
"$SYNCLINE" cutover -c "$CFG" --fence --fallback --timeout 60 >"$E2E_TMP/c1.out" 2>"$E2E_TMP/c1.err" ||
    fail "cutover --fence --fallback failed: $(cat "$E2E_TMP/c1.out" "$E2E_TMP/c1.err")"
assert_contains "$E2E_TMP/c1.out" "fallback_slot:" "the report names the fallback slot"
syncline_stop
fallback_start

# the application on the new database
tgt_sql "INSERT INTO orders (aid, note) SELECT g, 'new' FROM generate_series(1, 200) g;
         UPDATE orders SET note = 'upd' WHERE id <= 20;
         DELETE FROM orders WHERE id BETWEEN 30 AND 39;
         INSERT INTO items2 SELECT g, 'n' || g FROM generate_series(51, 80) g;
         DELETE FROM items2 WHERE id <= 5;
         UPDATE items2 SET v = 'u' WHERE id = 60"
fallback_wait_synced
deadline=$(($(date +%s) + 20))
until "$SYNCLINE" lag -c "$CFG" --fallback --max-bytes 0 >"$E2E_TMP/lag.out" 2>&1; do
    (($(date +%s) < deadline)) || fail "lag --fallback never reached 0: $(cat "$E2E_TMP/lag.out")"
    sleep 0.5
done
cat "$E2E_TMP/lag.out"
"$SYNCLINE" status -c "$CFG" --fallback --json >"$E2E_TMP/status.json" || fail "status --fallback failed"
cat "$E2E_TMP/status.json"
assert_contains "$E2E_TMP/status.json" "$FB_SLOT" "status --fallback shows the fallback slot"
"$SYNCLINE" verify -c "$CFG" --fallback --timeout 30 >"$E2E_TMP/verify.out" 2>&1 || fail "verify --fallback: $(cat "$E2E_TMP/verify.out")"
cat "$E2E_TMP/verify.out"
assert_contains "$E2E_TMP/verify.out" "verify: 2 table(s), 0 differ" "verify --fallback compares both tables"
assert_same orders
assert_same items items2

# a row only the old database has: verify --fallback finds it (control: it compares for real)
src_psql -c "SET default_transaction_read_only = off" -c "INSERT INTO items VALUES (1000, 'stray')" >/dev/null
rc=0
"$SYNCLINE" verify -c "$CFG" --fallback --timeout 30 >"$E2E_TMP/verify2.out" 2>&1 || rc=$?
assert_eq 1 "$rc" "verify --fallback finds a row only the old database has"
src_psql -c "SET default_transaction_read_only = off" -c "DELETE FROM items WHERE id = 1000" >/dev/null

# ---- switch back
rc=0
"$SYNCLINE" cutover -c "$CFG" --fallback-back --timeout 60 >"$E2E_TMP/back.out" 2>"$E2E_TMP/back.err" || rc=$?
cat "$E2E_TMP/back.out"
tail -n 15 "$E2E_TMP/back.err"
assert_eq 0 "$rc" "cutover --fallback-back exit code"
assert_contains "$E2E_TMP/back.out" "SWITCHED BACK" "the report says so"
assert_contains "$E2E_TMP/back.out" "forward_resumes_at:" "the report says where forward resumes"
assert_eq on "$(tgt_sql "SHOW default_transaction_read_only")" "the new database is fenced"
assert_eq off "$(src_sql "SHOW default_transaction_read_only")" "the old database is writable again"
s=$(src_sql "SELECT last_value FROM orders_id_seq")
t=$(tgt_sql "SELECT last_value FROM orders_id_seq")
((s >= t)) || fail "old orders_id_seq $s < new $t"
echo "ok: the old sequence $s >= the new $t"
fallback_stop
"$SYNCLINE" drop -c "$CFG" --fallback >"$E2E_TMP/drop.out" 2>&1 || fail "drop --fallback: $(cat "$E2E_TMP/drop.out")"
assert_eq 0 "$(tgt_sql "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$FB_SLOT'")" "drop --fallback removed the slot"
assert_eq 0 "$(tgt_sql "SELECT count(*) FROM pg_publication WHERE pubname = '$FB_SLOT'")" "and the publication"
assert_eq 0 "$(src_sql "SELECT count(*) FROM syncline.progress WHERE name = '$FB_NAME'")" "and the progress row"
assert_eq 0 "$(src_sql "SELECT count(*) FROM pg_replication_origin WHERE roname = 'syncline_fallback_t231'")" "and the origin"

# the application writes to the old database again; run resumes forward
src_sql "INSERT INTO orders (aid, note) SELECT g, 'back' FROM generate_series(1, 50) g;
         UPDATE orders SET note = 'upd2' WHERE id = 25;
         INSERT INTO items VALUES (500, 'back')"
syncline_start
wait_synced 60
assert_same orders
assert_same items items2
assert_eq 50 "$(tgt_sql "SELECT count(*) FROM orders WHERE note = 'back'")" "the old database's new rows came forward once"
assert_eq 0 "$(grep -c "duplicate key\|missing row" "$E2E_TMP/syncline.log" || true)" "nothing fallback wrote came forward again"
syncline_stop
