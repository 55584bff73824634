#!/usr/bin/env bash
# The "ddl" modes and mapped tables through Kafka behave as with `run` (042): "ignore" on one
# table and "apply" on another in one transaction; "stop" stops apply (exit 6) before the DDL
# naming it and its LSN with nothing of its transaction applied, again on a restart, and `apply
# --ddl-applied LSN` resumes past it once applied by hand; a DDL on a renamed table (a transform)
# stops apply naming the DDL and the table, nothing half-applied.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

e2e_need_major src 14 "DDL following needs logical messages in pgoutput (14)"
kafka_e2e_setup kafka_ddl_modes json none
both_sql "CREATE TABLE managed (id int PRIMARY KEY, v text);
          CREATE TABLE followed (id int PRIMARY KEY, v text);
          CREATE TABLE quiet (id int PRIMARY KEY, v text);"
tgt_sql "CREATE TABLE renamed_copy (id int PRIMARY KEY, v text)"
src_sql "CREATE TABLE renamed (id int PRIMARY KEY, v text)"
write_config "$(config_json "\"ddl\": \"stop\", \"tables\": [
  {\"source\": \"public.managed\"},
  {\"source\": \"public.followed\", \"ddl\": \"apply\"},
  {\"source\": \"public.quiet\", \"ddl\": \"ignore\"},
  {\"source\": \"public.renamed\", \"target\": \"public.renamed_copy\", \"ddl\": \"apply\"}],
  \"kafka\": {\"brokers\": \"$KAFKA_BROKERS\", \"topic\": \"$TOPIC\", \"format\": \"json\",
  \"partitioning\": \"none\"}, \"apply\": {\"batch_ms\": 100}")"
capture_start
apply_start 1
src_sql "INSERT INTO managed VALUES (1, 'one'); INSERT INTO followed VALUES (1, 'one')"

# 1. "ignore" on quiet, "apply" on followed, in one transaction
src_sql "BEGIN; CREATE INDEX quiet_v ON quiet (v); ALTER TABLE followed ADD COLUMN w int DEFAULT 7;
         INSERT INTO followed (id, v) VALUES (2, 'two'); INSERT INTO quiet VALUES (1, 'q'); COMMIT;"
wait_same 60 managed followed quiet
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM pg_indexes WHERE indexname = 'quiet_v'")" "ignored index not created"

# 2. "stop": rows before the DDL in its transaction are not applied either
src_sql "BEGIN; INSERT INTO managed VALUES (2, 'before'); ALTER TABLE managed ADD COLUMN note text;
         INSERT INTO managed VALUES (3, 'after', 'n3'); COMMIT;"
apply_wait_exit 1 60
assert_eq 6 "$APPLY_RC" "apply exit code when stopping before a DDL"
assert_contains "$E2E_TMP/apply.1.log" "ALTER TABLE managed ADD COLUMN note text" "the error names the DDL"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM managed WHERE id = 2")" "nothing of the transaction applied"
lsn=$(grep -o -- '--ddl-applied [0-9A-F]*/[0-9A-F]*' "$E2E_TMP/apply.1.log" | tail -n 1 | cut -d' ' -f2)
[[ -n "$lsn" ]] || fail "no LSN in the stop message"
apply_start 2
apply_wait_exit 2 60
assert_eq 6 "$APPLY_RC" "an apply without --ddl-applied stops again"
assert_contains "$E2E_TMP/apply.2.log" "$lsn" "at the same DDL"
tgt_sql "ALTER TABLE managed ADD COLUMN note text"
apply_start 3 --ddl-applied "$lsn"
src_sql "INSERT INTO managed VALUES (4, 'later', 'n4')"
wait_same 60 managed
assert_contains "$E2E_TMP/apply.3.log" "applied by hand" "the log says the DDL was skipped as applied by hand"

# 3. a renamed table: its DDL cannot be translated
src_sql "BEGIN; INSERT INTO renamed VALUES (1, 'x'); ALTER TABLE renamed ADD COLUMN z int; COMMIT;"
apply_wait_exit 3 60
assert_eq 6 "$APPLY_RC" "apply exit code for an untranslatable DDL"
assert_contains "$E2E_TMP/apply.3.log" "public.renamed" "the error names the table"
assert_contains "$E2E_TMP/apply.3.log" "ALTER TABLE renamed ADD COLUMN z int" "the error names the DDL"
assert_contains "$E2E_TMP/apply.3.log" "tables entry" "the error says what to change in the config"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM renamed_copy")" "nothing half-applied"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM information_schema.columns WHERE table_name = 'renamed_copy' AND column_name = 'z'")" \
    "the column was not added"
capture_stop
