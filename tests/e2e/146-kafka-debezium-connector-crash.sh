#!/usr/bin/env bash
# The real Debezium PostgreSQL connector (3.6.1.Final, transaction metadata on) is at-least-once:
# killed (kill -9 of its Kafka Connect worker) mid-load, it sends again, after its restart, what
# it wrote since its last offset flush. apply must apply each source transaction once: a table
# without a key (hist, REPLICA IDENTITY FULL) gets no row twice, a keyed table no duplicate-key
# stop, and the target converges to the source. 1: the copies are in the topics before apply
# starts (told apart in one run); 2: apply follows the load, the worker is killed again, and apply
# is killed (kill -9) while the copies arrive (told apart after a restart too: by the commit LSN
# the target stores with the rows).
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"
# shellcheck source=tests/lib/connect.sh
source "$(dirname "$0")/../lib/connect.sh"

PREFIX="dbzcr$(date +%s%N | tail -c 8)"
kafka_e2e_setup kafka_dbz_crash json none
write_config "$(config_json "\"kafka\": {\"brokers\": \"$KAFKA_BROKERS\", \"format\": \"json\", \
\"layout\": \"debezium\", \"topic_prefix\": \"$PREFIX\"}, \"apply\": {\"batch_ms\": 50}")"
TABLES=(acct hist)
both_sql "
CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL);
CREATE TABLE hist (a int, d int);
INSERT INTO acct SELECT g, 1000 FROM generate_series(1, 50) g;"
src_sql "ALTER TABLE hist REPLICA IDENTITY FULL;
CREATE PUBLICATION dbz_pub FOR TABLE acct, hist;
SELECT 1 FROM pg_create_logical_replication_slot('dbz_slot', 'pgoutput');" >/dev/null
cat >"$E2E_TMP/work.sql" <<'SQL'
\set i random(1, 50)
\set d random(1, 20)
BEGIN;
UPDATE acct SET bal = bal - :d WHERE id = :i;
INSERT INTO hist VALUES (:i, :d);
INSERT INTO acct VALUES (1000 + :i * 1000 + :d, :d) ON CONFLICT (id) DO UPDATE SET bal = acct.bal + 1;
END;
SQL

# the load for SECONDS; the worker killed (kill -9) after SECONDS / 2, started again at once
load_with_crash() { # SECONDS
    "$PG_BIN/pgbench" -n -f "$E2E_TMP/work.sql" -R 200 -T "$1" -c 2 -h 127.0.0.1 -U postgres \
        -p "$SRC_PORT" "$SRC_DB" >>"$E2E_TMP/pgbench.log" 2>&1 &
    BENCH=$!
    sleep $(($1 / 2))
    kill -KILL "$(cat "$CONNECT_DIR/pid")"
    _e2e_log "kafka connect killed (kill -9) mid-load"
    connect_start "$CONNECT_DIR" "$KAFKA_BROKERS" "${CONNECT_PORT:-$((${KAFKA_PORT:-59092} + 20))}" >/dev/null ||
        fail "Kafka Connect did not start again"
    dbz_source_create # a standalone worker keeps offsets, not connectors
}
hist_sent() { kcat -C -b "$KAFKA_BROKERS" -t "$PREFIX.public.hist" -o beginning -e -q -f 'x\n' 2>/dev/null | wc -l; }
all_sent() { (($(hist_sent) >= $(src_sql "SELECT count(*) FROM hist"))); }

# 1. the copies in the topics before apply starts
connect_e2e_start dbz_slot
dbz_source_create
load_with_crash 8
wait "$BENCH" || fail "pgbench: $(tail -n 5 "$E2E_TMP/pgbench.log")"
wait_until 120 all_sent
n=$(src_sql "SELECT count(*) FROM hist")
_e2e_log "hist: $n rows on the source, $(hist_sent) messages in its topic"
(($(hist_sent) > n)) || fail "the connector sent nothing again: nothing to tell apart"
apply_start
wait_same 120 "${TABLES[@]}"
apply_running || fail "apply exited: $(tail -n 3 "$E2E_TMP/apply.1.log")"
assert_contains "$E2E_TMP/apply.1.log" "dropping copies a restarted connector sent again" \
    "apply says it drops the copies"

# 2. apply following; the worker killed again, apply killed while the copies arrive
before=$(hist_sent)
load_with_crash 8
apply_kill
apply_start 2
wait "$BENCH" || fail "pgbench: $(tail -n 5 "$E2E_TMP/pgbench.log")"
wait_until 120 all_sent
_e2e_log "hist: $(src_sql "SELECT count(*) FROM hist") rows on the source, $(hist_sent) messages in its topic ($before before round 2)"
wait_same 120 "${TABLES[@]}"
apply_running 2 || fail "apply exited: $(tail -n 3 "$E2E_TMP/apply.2.log")"
apply_stop 2
