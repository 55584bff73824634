#!/usr/bin/env bash
# A source table altered while streaming. ADD COLUMN done on the target too: rows using it are
# applied. ADD COLUMN on the source only: syncline stops with exit code 6 and an error naming the
# table and the column, without applying the row; once the user adds the column on the target,
# syncline resumes and the target equals the source. With "ddl": "ignore", as before DDL following
# (041-043 follow DDL).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t009
write_config "$(config_json '"ddl": "ignore"')"

both_sql "CREATE TABLE alter_me (id int PRIMARY KEY, a text);
          CREATE TABLE bystander (id int PRIMARY KEY, v text)"

syncline_start
src_sql "INSERT INTO alter_me SELECT g, 'a' || g FROM generate_series(1, 10) g"
src_sql "INSERT INTO bystander VALUES (1, 'one')"
wait_synced
assert_same alter_me

# 1. ADD COLUMN on both sides (target first, as a user would), then use it while streaming.
tgt_sql "ALTER TABLE alter_me ADD COLUMN b int, ADD COLUMN c text DEFAULT 'dflt'"
src_sql "ALTER TABLE alter_me ADD COLUMN b int, ADD COLUMN c text DEFAULT 'dflt'"
src_sql "BEGIN;
INSERT INTO alter_me VALUES (11, 'a11', 11, 'c11');
INSERT INTO alter_me (id, a) VALUES (12, 'a12');
UPDATE alter_me SET b = id * 100 WHERE id <= 5;
UPDATE alter_me SET c = NULL WHERE id = 6;
DELETE FROM alter_me WHERE id = 7;
COMMIT;"
wait_synced
assert_same alter_me
assert_eq "11|c11" "$(tgt_sql "SELECT b || '|' || c FROM alter_me WHERE id = 11")" "new columns applied"
assert_eq "500" "$(tgt_sql "SELECT b FROM alter_me WHERE id = 5")" "update of a new column applied"

# DROP COLUMN on both sides works the same way.
tgt_sql "ALTER TABLE alter_me DROP COLUMN a"
src_sql "ALTER TABLE alter_me DROP COLUMN a"
src_sql "INSERT INTO alter_me (id, b) VALUES (13, 13)"
wait_synced
assert_same alter_me

# 2. ADD COLUMN on the source only: syncline must stop (exit 6) naming table and column.
applied_before=$(_e2e_applied_lsn)
log_offset=$(stat -c %s "$E2E_TMP/syncline.log")
src_sql "ALTER TABLE alter_me ADD COLUMN only_on_source text"
src_sql "INSERT INTO alter_me (id, b, only_on_source) VALUES (100, 100, 'must not be half-applied')"

syncline_wait_exit 60 "a change to a column missing on the target"
rc=$SYNCLINE_RC
tail -c +"$((log_offset + 1))" "$E2E_TMP/syncline.log" >"$E2E_TMP/failure.log"
echo "--- syncline output on failure ---"
cat "$E2E_TMP/failure.log"
assert_eq 6 "$rc" "exit code for a column missing on the target"
assert_contains "$E2E_TMP/failure.log" "alter_me" "the error names the table"
assert_contains "$E2E_TMP/failure.log" "only_on_source" "the error names the column"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM alter_me WHERE id = 100")" "the row was not applied"
applied_after=$(_e2e_applied_lsn)
assert_eq "t" "$(tgt_sql "SELECT '$applied_after'::pg_lsn >= '$applied_before'::pg_lsn")" \
    "progress did not go backwards"
assert_eq "f" "$(tgt_sql "SELECT '$applied_after'::pg_lsn >= lsn FROM (SELECT '$(src_sql "SELECT pg_current_wal_lsn()")'::pg_lsn AS lsn) s")" \
    "progress did not move past the failed transaction"

# 3. The user adds the column on the target; syncline resumes from where it stopped.
tgt_sql "ALTER TABLE alter_me ADD COLUMN only_on_source text"
deadline=$(($(date +%s) + 15))
until [[ "$(src_sql "SELECT count(*) FROM pg_replication_slots WHERE database = current_database() AND active")" == 0 ]]; do
    (($(date +%s) < deadline)) || fail "the slot is still active 15 s after syncline exited"
    sleep 0.2
done
syncline_start
src_sql "INSERT INTO alter_me (id, b, only_on_source) VALUES (101, 101, 'after resume')"
src_sql "INSERT INTO bystander VALUES (2, 'two')"
wait_synced
assert_same alter_me
assert_same bystander
assert_eq "must not be half-applied" "$(tgt_sql "SELECT only_on_source FROM alter_me WHERE id = 100")" \
    "the stopped row was applied after the fix"

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
