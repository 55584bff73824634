#!/usr/bin/env bash
# `apply` checks each DDL event under the source's signing key, read from the source at start.
# When it starts while the source is down (a restart during an outage, as in the crash loop,
# 501), a DDL event must wait for the source, not be rejected as forged: apply retries, reads
# the key once the source answers, and applies the DDL with its transaction. A role given the
# grant to read the key only after apply started is read again at the next DDL. And a restarted
# capture, which installs its event trigger again, puts none of syncline's own DDL (its trigger
# functions) into the topic.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"
# shellcheck source=tests/lib/pg.sh
source "$(dirname "$0")/../lib/pg.sh"
# shellcheck source=tests/e2e/lib-faults.sh
source "$(dirname "$0")/lib-faults.sh"

e2e_need_major src 14 "DDL following needs logical messages in pgoutput (14)"
kafka_e2e_setup kafka_ddl_source_down json none
faults_ports 58470
proxy_start src "$PSRC" "$SRC_PORT"
both_sql "CREATE TABLE t (id int PRIMARY KEY, v text)"
# apply reads the signing key through the proxy; capture streams from the source directly
ACFG=$E2E_TMP/apply.json
sed "s/port=$SRC_PORT /port=$PSRC /" "$CFG" >"$ACFG"
grep -q "port=$PSRC " "$ACFG" || fail "apply's config does not go through the proxy"

topic_count() { topic_changes values | grep -c -- "$1" || true; }
topic_has() { (($(topic_count "$1") > 0)); }

# 1. a restarted capture sends no DDL of its own (it comes before the row in the stream)
capture_start
capture_stop
capture_start
src_sql "INSERT INTO t VALUES (1, 'one')"
wait_until 30 topic_has '"v":"one"'
assert_eq 0 "$(topic_count '"op":"m"')" "DDL events in the topic after a capture restart (its trigger re-installed)"

# 2. apply starts while the source is unreachable, with a DDL event ahead of it
src_sql "BEGIN; ALTER TABLE t ADD COLUMN w int DEFAULT 7; INSERT INTO t VALUES (2, 'two', 8); COMMIT;"
wait_until 30 topic_has '"v":"two"'
assert_eq 1 "$(topic_count '"op":"m"')" "the ALTER TABLE's DDL event in the topic"
capture_stop
proxy_mode src drop
CFG=$ACFG apply_start 1
wait_until 30 grep -q "connection lost, retrying" "$E2E_TMP/apply.1.log"
apply_running 1 || fail "apply exited while the source was down: $(tail -n 3 "$E2E_TMP/apply.1.log")"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'w'")" \
    "the DDL waits for its signature to be checked"
proxy_mode src pass
wait_same 60 t
assert_contains "$E2E_TMP/apply.1.log" "ddl applied" "apply applied the DDL once the source answered"
apply_running 1 || fail "apply exited: $(tail -n 3 "$E2E_TMP/apply.1.log")"
apply_stop 1

# 3. the key could not be read at start (no grant yet): read again when a DDL event needs it
ROLE=e2e_ddl_reader_123
src_sql "DROP ROLE IF EXISTS $ROLE; CREATE ROLE $ROLE LOGIN"
e2e_on_exit "src_sql 'DROP OWNED BY $ROLE; DROP ROLE IF EXISTS $ROLE' >/dev/null 2>&1 || true"
sed "s/user=postgres dbname=$SRC_DB/user=$ROLE dbname=$SRC_DB/" "$ACFG" >"$E2E_TMP/apply2.json"
grep -q "user=$ROLE" "$E2E_TMP/apply2.json" || fail "apply's config does not use $ROLE"
CFG=$E2E_TMP/apply2.json apply_start 2
wait_until 30 grep -q "cannot read the source's DDL signing key" "$E2E_TMP/apply.2.log"
src_sql "GRANT USAGE ON SCHEMA syncline TO $ROLE; GRANT SELECT ON syncline.ddl_key TO $ROLE"
capture_start
src_sql "BEGIN; ALTER TABLE t ADD COLUMN z text; INSERT INTO t VALUES (3, 'three', 9, 'z'); COMMIT;"
wait_same 60 t
apply_running 2 || fail "apply exited: $(tail -n 3 "$E2E_TMP/apply.2.log")"
assert_contains "$E2E_TMP/apply.2.log" "ddl applied" "apply read the key at the DDL event and applied it"
apply_stop 2
capture_stop
