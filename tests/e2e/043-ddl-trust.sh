#!/usr/bin/env bash
# Only the syncline event trigger can make the target run DDL (issue 19, trust). An application
# role on the source (no superuser) forges a "syncline.ddl" logical message with
# pg_logical_emit_message, unsigned and then with a made-up signature: `run` stops (exit 6) naming
# its LSN and the failed signature, and the target never runs the forged statement. The same role then steers the trigger's numbering of a
# query string with set_config('syncline.ddl_seq', ...), so that the applier would pick a later
# statement of its query string (one the source refused after a COMMIT): the numbering does not
# come from the session, the applier runs the statement that committed, and the target keeps what
# the source kept. A message the trigger signed, copied into another transaction, is refused too.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_need_major src 14 "DDL following needs logical messages in pgoutput (14)"
e2e_setup t043

app=t043_app
both_sql "CREATE TABLE victim (id int PRIMARY KEY, v text);"
src_sql "DROP ROLE IF EXISTS $app; CREATE ROLE $app LOGIN;
         GRANT CREATE, USAGE ON SCHEMA public TO $app;
         SET ROLE $app; CREATE TABLE mine (id int PRIMARY KEY); RESET ROLE;"
tgt_sql "CREATE TABLE mine (id int PRIMARY KEY)"
e2e_on_exit "_e2e_psql $SRC_PORT postgres -c 'DROP DATABASE IF EXISTS t043 WITH (FORCE)' -c 'DROP ROLE IF EXISTS $app' >/dev/null 2>&1"
src_sql "INSERT INTO victim VALUES (1, 'keep')"
app_psql() { PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$SRC_PORT" -U "$app" -d "$SRC_DB" "$@"; }

write_config "$(config_json '')"
syncline_start
syncline_wait_streaming
wait_synced
assert_same victim

# 1. A forged DDL message, in a transaction of the application role.
log_offset=$(stat -c %s "$E2E_TMP/syncline.log")
forged='{"tag": "DROP TABLE", "query": "DROP TABLE victim", "ordinal": 1, "search_path": "public",
         "objects": [{"type": "table", "identity": "public.victim", "schema": "public",
                      "table_schema": "public", "table": "victim"}]}'
app_psql -c "BEGIN; INSERT INTO mine VALUES (1);
             SELECT pg_logical_emit_message(true, 'syncline.ddl', '$forged'); COMMIT;" >/dev/null
fake_lsn=$(src_sql "SELECT pg_current_wal_lsn()")
syncline_wait_exit 60 "a forged DDL message"
tail -c +"$((log_offset + 1))" "$E2E_TMP/syncline.log" >"$E2E_TMP/forged.log"
cat "$E2E_TMP/forged.log"
assert_eq 6 "$SYNCLINE_RC" "exit code on a forged DDL message"
assert_contains "$E2E_TMP/forged.log" "signature" "the error says the message is not signed by the trigger"
assert_contains "$E2E_TMP/forged.log" "lsn=" "the error names the LSN"
assert_eq "1" "$(tgt_sql "SELECT count(*) FROM victim")" "the forged DROP TABLE did not run on the target"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM mine")" "nothing of the forged transaction applied"
lsn=$(grep -o -- '--ddl-applied [0-9A-F]*/[0-9A-F]*' "$E2E_TMP/forged.log" | tail -n 1 | cut -d' ' -f2)
[[ -n "$lsn" ]] || fail "no LSN to skip in the error"
echo "forged message at $lsn (wal was at $fake_lsn)"

# The operator looks at it and skips it: the rows of that transaction arrive.
_e2e_wait_slots_released
syncline_start --ddl-applied "$lsn"
wait_synced
assert_eq "1" "$(tgt_sql "SELECT count(*) FROM mine")" "the forged transaction's rows after the skip"

# 1b. The same with a made-up signature in front.
log_offset=$(stat -c %s "$E2E_TMP/syncline.log")
app_psql -c "BEGIN; INSERT INTO mine VALUES (3);
             SELECT pg_logical_emit_message(true, 'syncline.ddl', repeat('ab', 32) || '$forged'); COMMIT;" >/dev/null
syncline_wait_exit 60 "a DDL message with a made-up signature"
tail -c +"$((log_offset + 1))" "$E2E_TMP/syncline.log" >"$E2E_TMP/forged2.log"
assert_eq 6 "$SYNCLINE_RC" "exit code on a made-up signature"
assert_contains "$E2E_TMP/forged2.log" "signature does not verify" "the error says the signature does not verify"
assert_eq "1" "$(tgt_sql "SELECT count(*) FROM victim")" "the forged DROP TABLE did not run on the target"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM mine WHERE id = 3")" "nothing of the forged transaction applied"
lsn=$(grep -o -- '--ddl-applied [0-9A-F]*/[0-9A-F]*' "$E2E_TMP/forged2.log" | tail -n 1 | cut -d' ' -f2)
_e2e_wait_slots_released
syncline_start --ddl-applied "$lsn"

# 2. The numbering trick: number the ADD COLUMN on mine as the second DDL of the query string, so
# the applier would replay the ALTER on victim that the source refused after the COMMIT.
app_psql -c "BEGIN; SELECT set_config('syncline.ddl_seq', md5(current_query()) || '@' || statement_timestamp()::text || '#1', true); ALTER TABLE mine ADD COLUMN c int; COMMIT; ALTER TABLE victim DROP COLUMN v;" \
    >"$E2E_TMP/trick.out" 2>&1 && fail "the source should refuse the ALTER on victim: $(cat "$E2E_TMP/trick.out")"
assert_contains "$E2E_TMP/trick.out" "must be owner" "the source refused the ALTER on victim"
assert_eq "1" "$(src_sql "SELECT count(*) FROM information_schema.columns WHERE table_name = 'mine' AND column_name = 'c'")" \
    "the ADD COLUMN committed on the source"
app_psql -c "INSERT INTO mine VALUES (2, 20)"
src_sql "INSERT INTO victim VALUES (2, 'still')"
wait_synced
syncline_running || fail "syncline stopped: $(tail -n 5 "$E2E_TMP/syncline.log")"
assert_eq "1" "$(tgt_sql "SELECT count(*) FROM information_schema.columns WHERE table_name = 'victim' AND column_name = 'v'")" \
    "the target kept victim.v (the statement the source refused did not run)"
assert_same victim
assert_same mine

# 3. A replay: a message the trigger signed (read here from a test_decoding slot, as someone who
# can read the WAL or the Kafka topic would) written again in another transaction.
src_sql "SELECT pg_create_logical_replication_slot('t043_peek', 'test_decoding')" >/dev/null
e2e_on_exit "_e2e_psql $SRC_PORT $SRC_DB -c \"SELECT pg_drop_replication_slot('t043_peek')\" >/dev/null 2>&1"
app_psql -c "ALTER TABLE mine ADD COLUMN d int" >/dev/null
signed=$(src_sql "SELECT substr(data, strpos(data, 'content:') + 8) FROM pg_logical_slot_get_changes('t043_peek', NULL, NULL)
                   WHERE data LIKE 'message: transactional: 1 prefix: syncline.ddl,%' LIMIT 1")
[[ "$signed" == *'"ADD COLUMN'* || "$signed" == *'ALTER TABLE mine ADD COLUMN d int'* ]] || fail "no signed message read: [$signed]"
wait_synced
log_offset=$(stat -c %s "$E2E_TMP/syncline.log")
app_psql -v signed="$signed" -f - >/dev/null <<'SQL'
BEGIN;
INSERT INTO mine (id) VALUES (5);
SELECT pg_logical_emit_message(true, 'syncline.ddl', :'signed');
COMMIT;
SQL
syncline_wait_exit 60 "a replayed DDL message"
tail -c +"$((log_offset + 1))" "$E2E_TMP/syncline.log" >"$E2E_TMP/replay.log"
cat "$E2E_TMP/replay.log"
assert_eq 6 "$SYNCLINE_RC" "exit code on a replayed message"
assert_contains "$E2E_TMP/replay.log" "names transaction" "the error says the message belongs to another transaction"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM mine WHERE id = 5")" "nothing of the replaying transaction applied"
lsn=$(grep -o -- '--ddl-applied [0-9A-F]*/[0-9A-F]*' "$E2E_TMP/replay.log" | tail -n 1 | cut -d' ' -f2)
_e2e_wait_slots_released
syncline_start --ddl-applied "$lsn"
wait_synced
assert_same mine

# 4. The application role cannot read the key or write the numbering.
app_psql -c "SELECT count(*) FROM syncline.ddl_key" >"$E2E_TMP/key.out" 2>&1 && fail "the application role read the key"
assert_contains "$E2E_TMP/key.out" "permission denied" "the key is not readable by the application role"
app_psql -c "DELETE FROM syncline.ddl_state" >"$E2E_TMP/state.out" 2>&1 && fail "the application role wrote the numbering"
assert_contains "$E2E_TMP/state.out" "permission denied" "the numbering is not writable by the application role"
# 5. The key is in no publication: a FOR ALL TABLES publication (a native subscriber's, say)
#    never carries it, and its subscribers never see syncline's objects.
src_sql "CREATE PUBLICATION t043_all FOR ALL TABLES"
assert_eq "" "$(src_sql "SELECT string_agg(schemaname || '.' || tablename, ', ') FROM pg_publication_tables
                          WHERE pubname = 't043_all' AND schemaname = 'syncline'")" \
    "syncline's tables in a FOR ALL TABLES publication"
src_sql "DROP PUBLICATION t043_all"
syncline_stop
echo "PASS"
