#!/usr/bin/env bash
# apply reads every table topic of the real Debezium PostgreSQL connector (3.6.1.Final, defaults plus
# provide.transaction.metadata=true) through its default pattern ^<prefix>\. and re-assembles each
# source transaction from <prefix>.transaction: a transfer moves money from acct_a to acct_b and logs
# it in hist (three topics, one transaction). A deferred constraint trigger on the target checks at
# every target commit that the total is unchanged and that hist accounts for acct_b's gain; a
# transaction applied in parts (each message on its own, topics read at different speeds) records a
# violation. A backlog is applied with tiny target batches, apply is killed mid-stream and
# restarted with a list of topics (offsets of every topic come from the target; the metadata topic
# is added to the list), then it follows a live load: no violation, and the target converges
# (tombstones of the scratch table skipped on the way).
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"
# shellcheck source=tests/lib/connect.sh
source "$(dirname "$0")/../lib/connect.sh"

PREFIX="dbztx$(date +%s%N | tail -c 8)"
kafka_e2e_setup kafka_dbz_txn json none
write_config "$(config_json "\"kafka\": {\"brokers\": \"$KAFKA_BROKERS\", \"format\": \"json\", \
\"layout\": \"debezium\", \"topic_prefix\": \"$PREFIX\"}, \"apply\": {\"batch_ms\": 50, \"batch_rows\": 20}")"

both_sql "
CREATE TABLE acct_a (id int PRIMARY KEY, bal bigint NOT NULL);
CREATE TABLE acct_b (id int PRIMARY KEY, bal bigint NOT NULL);
CREATE TABLE hist (id int PRIMARY KEY, a int, b int, d bigint);
CREATE TABLE scratch (id int PRIMARY KEY);
INSERT INTO acct_a SELECT g, 1000 FROM generate_series(1, 50) g;
INSERT INTO acct_b SELECT g, 1000 FROM generate_series(1, 50) g;"
tgt_sql "
CREATE TABLE inv_violations (total bigint, unexplained bigint);
CREATE FUNCTION check_inv() RETURNS trigger LANGUAGE plpgsql AS \$\$
DECLARE t bigint; u bigint;
BEGIN
    SELECT (SELECT sum(bal) FROM acct_a) + (SELECT sum(bal) FROM acct_b),
           (SELECT sum(bal) FROM acct_b) - 50000 - (SELECT coalesce(sum(d), 0) FROM hist) INTO t, u;
    IF t <> 100000 OR u <> 0 THEN INSERT INTO inv_violations VALUES (t, u); END IF;
    RETURN NULL;
END \$\$;
CREATE CONSTRAINT TRIGGER inv AFTER INSERT OR UPDATE OR DELETE ON acct_a
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_inv();
CREATE CONSTRAINT TRIGGER inv AFTER INSERT OR UPDATE OR DELETE ON acct_b
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_inv();
CREATE CONSTRAINT TRIGGER inv AFTER INSERT OR UPDATE OR DELETE ON hist
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_inv();
ALTER TABLE acct_a ENABLE ALWAYS TRIGGER inv;
ALTER TABLE acct_b ENABLE ALWAYS TRIGGER inv;
ALTER TABLE hist ENABLE ALWAYS TRIGGER inv;"
src_sql "CREATE SEQUENCE hist_id;
CREATE PUBLICATION dbz_pub FOR TABLE acct_a, acct_b, hist, scratch;
SELECT 1 FROM pg_create_logical_replication_slot('dbz_slot', 'pgoutput');" >/dev/null

# one transfer: three tables, one transaction; now and then a scratch row comes or goes (tombstones)
cat >"$E2E_TMP/transfer.sql" <<'SQL'
\set i random(1, 50)
\set j random(1, 50)
\set d random(1, 20)
\set k random(1, 20)
BEGIN;
UPDATE acct_a SET bal = bal - :d WHERE id = :i;
INSERT INTO hist VALUES (nextval('hist_id'), :i, :j, :d);
UPDATE acct_b SET bal = bal + :d WHERE id = :j;
DELETE FROM scratch WHERE id = :k;
INSERT INTO scratch VALUES (:k + 1) ON CONFLICT DO NOTHING;
END;
SQL
transfers() { # N
    "$PG_BIN/pgbench" -n -f "$E2E_TMP/transfer.sql" -t "$1" -c 2 -h 127.0.0.1 -U postgres \
        -p "$SRC_PORT" "$SRC_DB" >>"$E2E_TMP/pgbench.log" 2>&1 || fail "pgbench: $(tail -n 5 "$E2E_TMP/pgbench.log")"
}

connect_e2e_start dbz_slot
dbz_source_create

topic_count() { # TOPIC: messages in it
    kcat -C -b "$KAFKA_BROKERS" -t "$1" -o beginning -e -q -f 'x\n' 2>/dev/null | wc -l
}
transfers 200
wait_until 120 bash -c "[[ \$(kcat -C -b '$KAFKA_BROKERS' -t '$PREFIX.public.hist' -o beginning -e -q -f 'x\n' 2>/dev/null | wc -l) -ge 400 ]]" ||
    fail "Debezium did not write the backlog (hist: $(topic_count "$PREFIX.public.hist") messages)"

apply_start
wait_until 60 bash -c "[[ \$('$PG_BIN/psql' -XAtq -h 127.0.0.1 -p $TGT_PORT -U postgres -d $TGT_DB -c 'SELECT count(*) FROM hist' 2>/dev/null) -ge 100 ]]" ||
    fail "apply did not start applying"
apply_kill
mid=$(tgt_sql "SELECT count(*) FROM hist")
_e2e_log "apply killed with $mid of 400 transfers applied"
# restarted with a list of topics instead of the pattern: the metadata topic is added to it
write_config "$(config_json "\"kafka\": {\"brokers\": \"$KAFKA_BROKERS\", \"format\": \"json\", \
\"layout\": \"debezium\", \"topic_prefix\": \"$PREFIX\", \"topics\": \"$PREFIX.public.acct_a, \
$PREFIX.public.acct_b,$PREFIX.public.hist , $PREFIX.public.scratch\"}, \
\"apply\": {\"batch_ms\": 50, \"batch_rows\": 20}")"
apply_start
transfers 100 # live, while apply follows
wait_same 120 acct_a acct_b hist scratch
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM inv_violations")" \
    "no target commit held part of a transfer (first: $(tgt_sql "SELECT total, unexplained FROM inv_violations LIMIT 1"))"
assert_eq "600" "$(tgt_sql "SELECT count(*) FROM hist")" "every transfer applied once"
grep -q "kafka subscribed topics=$PREFIX.transaction " "$E2E_TMP/apply.1.log" ||
    fail "the restarted apply did not add the metadata topic to its list"
apply_stop
connect_stop "$CONNECT_DIR"
