#!/usr/bin/env bash
# A mapped table round-trips through the fallback (issue 20): forward, users.mail becomes
# email (lower(mail)) and secret is excluded; the entry's "fallback" block maps email back to
# mail and keeps secret (left as it is on UPDATE, default on INSERT). `check --fallback` refuses a
# block that leaves an old column unfed (naming it, exit 6) and passes the full one; after
# cutover --fence --fallback, inserts, updates and deletes on the new database reach the old one
# through the inverse mapping, and the secrets of rows only updated there are kept.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-fallback.sh"

e2e_setup t232
fallback_setup
src_sql "CREATE TABLE users (id int PRIMARY KEY, mail text NOT NULL, name text, secret text)"
tgt_sql "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, name text)"
src_sql "INSERT INTO users SELECT g, 'u' || g || '@x.org', 'n' || g, 's' || g FROM generate_series(1, 100) g"
e2e_on_exit '"$SYNCLINE" unfence -c "$CFG" >/dev/null 2>&1'

entry='"source": "public.users", "columns": {"email": "lower(mail)"}, "exclude": ["secret"]'
write_config "$(config_json "\"tables\": [{$entry, \"fallback\": {\"columns\": {\"mail\": \"email\"}}}]")"
rc=0
"$SYNCLINE" check -c "$CFG" --fallback >"$E2E_TMP/check1.out" 2>&1 || rc=$?
cat "$E2E_TMP/check1.out"
assert_eq 6 "$rc" "check --fallback: an old column fed by nothing is a problem (exit 6)"
assert_contains "$E2E_TMP/check1.out" 'column "secret" of the source table is fed by nothing' "and names it"

write_config "$(config_json "\"tables\": [{$entry, \"fallback\": {\"columns\": {\"mail\": \"email\"}, \"keep\": [\"secret\"]}}]")"
"$SYNCLINE" check -c "$CFG" --fallback >"$E2E_TMP/check2.out" 2>&1 || fail "check --fallback: $(cat "$E2E_TMP/check2.out")"
cat "$E2E_TMP/check2.out"
assert_contains "$E2E_TMP/check2.out" "ok: 1 table(s) checked, 0 problem(s)" "check --fallback passes with the full inverse mapping"

syncline_start
wait_synced 60
"$SYNCLINE" cutover -c "$CFG" --fence --fallback --timeout 60 >"$E2E_TMP/c1.out" 2>"$E2E_TMP/c1.err" ||
    fail "cutover --fence --fallback failed: $(cat "$E2E_TMP/c1.out" "$E2E_TMP/c1.err")"
syncline_stop
fallback_start

tgt_sql "INSERT INTO users SELECT g, 'new' || g || '@x.org', 'm' || g FROM generate_series(101, 130) g;
         UPDATE users SET email = 'changed' || id || '@x.org' WHERE id BETWEEN 10 AND 19;
         UPDATE users SET name = 'renamed' WHERE id = 20;
         DELETE FROM users WHERE id BETWEEN 90 AND 99"
fallback_wait_synced
assert_query_same "SELECT id, mail, name FROM users" users "the old users equal the new ones through the inverse mapping"
assert_eq 10 "$(src_sql "SELECT count(*) FROM users WHERE id BETWEEN 10 AND 19 AND secret = 's' || id AND mail = 'changed' || id || '@x.org'")" \
    "updated rows took the new email and kept their secret"
assert_eq "s20" "$(src_sql "SELECT secret FROM users WHERE id = 20")" "a row updated on another column kept its secret"
assert_eq 30 "$(src_sql "SELECT count(*) FROM users WHERE id > 100 AND secret IS NULL")" "inserted rows have no secret"
assert_eq 0 "$(src_sql "SELECT count(*) FROM users WHERE id BETWEEN 90 AND 99")" "deleted rows are gone"
fallback_stop
