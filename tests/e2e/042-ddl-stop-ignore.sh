#!/usr/bin/env bash
# The "ddl" modes (issue 19). "stop": `run` stops before the DDL (exit 6) naming it and its LSN,
# with nothing of its transaction applied; after the user applies it on the target by hand,
# `run --ddl-applied LSN` resumes and the rows after it arrive. "ignore" on one table: its DDL is
# skipped while another table's is applied, and `run` carries on. A table the configuration maps
# (another target name) stops on a DDL it cannot translate, naming the DDL and the table, with
# nothing half-applied; an exclude-mapped table takes a plain ADD COLUMN.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_need_major src 14 "DDL following needs logical messages in pgoutput (14)"
e2e_setup t042

slot_released() {
    wait_until 15 bash -c "[[ \$(psql -X -qAt -h 127.0.0.1 -p $SRC_PORT -U postgres -d $SRC_DB -c \"SELECT count(*) FROM pg_replication_slots WHERE database = current_database() AND active\") == 0 ]]"
}

both_sql "CREATE TABLE managed (id int PRIMARY KEY, v text);
          CREATE TABLE followed (id int PRIMARY KEY, v text);
          CREATE TABLE quiet (id int PRIMARY KEY, v text);"
tgt_sql "CREATE TABLE renamed_copy (id int PRIMARY KEY, v text);
         CREATE TABLE slim (id int PRIMARY KEY, v text);"
src_sql "CREATE TABLE renamed (id int PRIMARY KEY, v text);
         CREATE TABLE slim (id int PRIMARY KEY, v text, secret text);"
write_config "$(config_json '"ddl": "stop", "tables": [
  {"source": "public.managed"},
  {"source": "public.followed", "ddl": "apply"},
  {"source": "public.quiet", "ddl": "ignore"},
  {"source": "public.renamed", "target": "public.renamed_copy", "ddl": "apply"},
  {"source": "public.slim", "exclude": ["secret"], "ddl": "apply"}]')"

syncline_start
syncline_wait_streaming
src_sql "INSERT INTO managed VALUES (1, 'one'); INSERT INTO followed VALUES (1, 'one')"

# 1. "ignore" on quiet, "apply" on followed: both in one transaction; run carries on.
src_sql "BEGIN; CREATE INDEX quiet_v ON quiet (v); ALTER TABLE followed ADD COLUMN w int DEFAULT 7;
         INSERT INTO followed (id, v) VALUES (2, 'two'); INSERT INTO quiet VALUES (1, 'q'); COMMIT;"
# 2. an exclude-mapped table takes a plain ADD COLUMN
src_sql "ALTER TABLE slim ADD COLUMN extra int; INSERT INTO slim VALUES (1, 'a', 's', 5)"
wait_synced
syncline_running || fail "syncline stopped: $(tail -n 5 "$E2E_TMP/syncline.log")"
assert_same followed
assert_same quiet
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM pg_indexes WHERE indexname = 'quiet_v'")" "ignored index not created"
assert_eq "1|a|5" "$(tgt_sql "SELECT id || '|' || v || '|' || extra FROM slim")" "ADD COLUMN on an exclude-mapped table"

# 3. "stop": rows before the DDL in the same transaction are not applied either.
log_offset=$(stat -c %s "$E2E_TMP/syncline.log")
src_sql "BEGIN; INSERT INTO managed VALUES (2, 'before'); ALTER TABLE managed ADD COLUMN note text;
         INSERT INTO managed VALUES (3, 'after', 'n3'); COMMIT;"
syncline_wait_exit 60 "a DDL under \"ddl\": \"stop\""
tail -c +"$((log_offset + 1))" "$E2E_TMP/syncline.log" >"$E2E_TMP/stop.log"
cat "$E2E_TMP/stop.log"
assert_eq 6 "$SYNCLINE_RC" "exit code when stopping before a DDL"
assert_contains "$E2E_TMP/stop.log" "ALTER TABLE managed ADD COLUMN note text" "the error names the DDL"
assert_contains "$E2E_TMP/stop.log" "--ddl-applied" "the error says how to resume"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM managed WHERE id = 2")" "nothing of the transaction applied"
lsn=$(grep -o -- '--ddl-applied [0-9A-F]*/[0-9A-F]*' "$E2E_TMP/stop.log" | tail -n 1 | cut -d' ' -f2)
[[ -n "$lsn" ]] || fail "no LSN in the stop message"

# Without the manual apply, the next run stops at the same DDL again.
slot_released
rc=0
timeout 60 "$SYNCLINE" run -c "$CFG" >"$E2E_TMP/again.log" 2>&1 </dev/null || rc=$?
assert_eq 6 "$rc" "a run without --ddl-applied stops again"
assert_contains "$E2E_TMP/again.log" "$lsn" "at the same DDL"

# The user applies it (their way) and resumes past it.
tgt_sql "ALTER TABLE managed ADD COLUMN note text"
slot_released
syncline_start --ddl-applied "$lsn"
src_sql "INSERT INTO managed VALUES (4, 'later', 'n4')"
wait_synced
assert_same managed
assert_contains "$E2E_TMP/syncline.log" "applied by hand" "the log says the DDL was skipped as applied by hand"

# 4. a renamed table: its DDL cannot be translated; nothing of the transaction is applied.
log_offset=$(stat -c %s "$E2E_TMP/syncline.log")
src_sql "BEGIN; INSERT INTO renamed VALUES (1, 'x'); ALTER TABLE renamed ADD COLUMN z int; COMMIT;"
syncline_wait_exit 60 "a DDL on a renamed table"
tail -c +"$((log_offset + 1))" "$E2E_TMP/syncline.log" >"$E2E_TMP/mapped.log"
cat "$E2E_TMP/mapped.log"
assert_eq 6 "$SYNCLINE_RC" "exit code for an untranslatable DDL"
assert_contains "$E2E_TMP/mapped.log" "public.renamed" "the error names the table"
assert_contains "$E2E_TMP/mapped.log" "ALTER TABLE renamed ADD COLUMN z int" "the error names the DDL"
assert_contains "$E2E_TMP/mapped.log" "tables entry" "the error says what to change in the config"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM renamed_copy")" "nothing half-applied"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM information_schema.columns WHERE table_name = 'renamed_copy' AND column_name = 'z'")" \
    "the column was not added"
