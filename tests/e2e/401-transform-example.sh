#!/usr/bin/env bash
# Schema transforms, the example of issue 3: public.users -> app.accounts with lower(email),
# btrim(name), a rename, coalesce(modified_date, created_date), a constant, an excluded column
# and a filter. Inserts, updates of mapped, excluded, key and filter columns (rows entering and
# leaving the filter, key changes inside and outside it) and deletes stream through; after every
# step the target equals SELECT <mapped expressions> FROM users WHERE is_active.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# timestamp -> timestamptz depends on the session time zone; syncline applies in UTC.
export PGTZ=UTC

EXPECTED="SELECT id, lower(email), btrim(name), created_date::timestamptz,
                 coalesce(modified_date, created_date)::timestamptz, 'active'::text
            FROM users WHERE is_active"

# Each step: the change on the source, then the check.
step() {
    local label=$1
    src_sql "$2"
    wait_synced
    assert_query_same "$EXPECTED" app.accounts "$label"
}

e2e_setup e2e401

src_sql "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, name text,
           created_date timestamp NOT NULL, modified_date timestamp,
           password_hash text, is_active boolean NOT NULL DEFAULT true)"
tgt_sql "CREATE SCHEMA app;
         CREATE TABLE app.accounts (id int PRIMARY KEY, email text NOT NULL, full_name text,
           created_at timestamptz NOT NULL, updated_at timestamptz, status text NOT NULL)"

write_config "$(config_json '"tables": [{"source": "public.users", "target": "app.accounts",
  "columns": {"email": "lower(email)", "full_name": "btrim(name)", "created_at": "created_date",
              "updated_at": "coalesce(modified_date, created_date)", "status": "'"'active'"'"},
  "exclude": ["password_hash"],
  "where": "is_active"}]')"

out=$("$SYNCLINE" check -c "$CFG" 2>&1) || fail "check failed on the example: $out"
[[ "$out" == *"ok: 1 table(s) checked, 0 problem(s)"* ]] || fail "check output: $out"
echo "ok: check accepts the example"

syncline_start --snapshot=never
assert_query_same "$EXPECTED" app.accounts "empty at start"

step "inserts (active and inactive, NULL modified_date)" "
INSERT INTO users VALUES
  (1, 'Alice@Example.COM', '  Alice  ', '2024-01-01 10:00', NULL, 'h1', true),
  (2, 'BOB@example.com', 'Bob', '2024-01-02 11:00', '2024-02-02 12:00', 'h2', true),
  (3, 'carol@EXAMPLE.com', ' Carol', '2024-01-03 12:00', NULL, 'h3', false),
  (4, 'Dave@x.org', 'Dave ', '2024-01-04 13:00', '2024-03-04 00:00', 'h4', false),
  (5, 'Eve@x.org', NULL, '2024-01-05 14:00', NULL, NULL, true)"
assert_eq 3 "$(tgt_sql "SELECT count(*) FROM app.accounts")" "three active rows on the target"

step "update of a mapped column" \
    "UPDATE users SET email = 'ALICE.NEW@Example.com', name = E'\\tAl ice ' WHERE id = 1"
step "update of modified_date (coalesce)" \
    "UPDATE users SET modified_date = '2024-05-05 05:05' WHERE id = 1"
step "update of modified_date back to NULL" \
    "UPDATE users SET modified_date = NULL WHERE id = 2"
step "update of the excluded column only" \
    "UPDATE users SET password_hash = 'changed' WHERE id IN (1, 3)"
step "row leaves the filter" "UPDATE users SET is_active = false WHERE id = 2"
assert_eq 0 "$(tgt_sql "SELECT count(*) FROM app.accounts WHERE id = 2")" "id 2 gone from the target"
step "row enters the filter" "UPDATE users SET is_active = true WHERE id = 3"
step "row enters the filter with a mapped change" \
    "UPDATE users SET is_active = true, email = 'DAVE@NEW.org' WHERE id = 4"
step "update of a row outside the filter" "UPDATE users SET email = 'bob2@x' WHERE id = 2"
step "key change inside the filter" "UPDATE users SET id = 10 WHERE id = 1"
assert_eq "0 1" "$(tgt_sql "SELECT count(*) FILTER (WHERE id = 1) || ' ' || count(*) FILTER (WHERE id = 10) FROM app.accounts")" \
    "key 1 moved to 10 on the target"
step "key change outside the filter" "UPDATE users SET id = 20 WHERE id = 2"
step "key change while entering the filter" "UPDATE users SET id = 21, is_active = true WHERE id = 20"
step "key change while leaving the filter" "UPDATE users SET id = 30, is_active = false WHERE id = 10"
step "key change plus mapped change inside the filter" \
    "UPDATE users SET id = 40, name = ' Carol C ' WHERE id = 3"
step "multi-row transaction mixing everything" "
BEGIN;
INSERT INTO users VALUES (50, 'Mix@X', ' m ', '2024-06-01', NULL, 'p', true),
                         (51, 'Out@X', 'o', '2024-06-02', NULL, 'p', false);
UPDATE users SET is_active = NOT is_active WHERE id IN (50, 51, 5);
UPDATE users SET password_hash = 'again', email = upper(email) WHERE id = 21;
UPDATE users SET id = id + 100 WHERE id IN (40, 4);
DELETE FROM users WHERE id = 30;
COMMIT"
step "delete of rows inside and outside the filter" "DELETE FROM users WHERE id IN (21, 50, 5)"
step "delete everything" "DELETE FROM users"
assert_eq 0 "$(tgt_sql "SELECT count(*) FROM app.accounts")" "target empty at the end"

syncline_stop
