#!/usr/bin/env bash
# Kafka order gap (issue 15, class 8): the producer's message.max.bytes is raised, the topic's
# max.message.bytes is not. The broker rejects a big transaction's message and accepts the
# small one after it. capture names table, LSN, message size and both limits, and confirms
# nothing past the rejected message; apply never applies past the missing transaction (exit 5,
# target unchanged) instead of dropping it later as "already applied". Once the topic limit is
# raised and capture restarted (it re-sends from the slot), apply converges with no loss.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

# every message its own batch: the big one is refused alone, the next one is not refused with it
kafka_e2e_setup kafka_too_large json none \
    '"properties": {"message.max.bytes": "10000000", "batch.num.messages": "1"}'
kafka_admin create "$TOPIC" 1 max.message.bytes=20000 || fail "create the topic"
both_sql "CREATE TABLE t (id int PRIMARY KEY, v text)"
capture_start
apply_start
src_sql "INSERT INTO t VALUES (1, 'small')"
wait_same 60 t
before_big=$(src_sql "SELECT pg_current_wal_lsn()")
# about 160 kB of hex (lz4 cannot bring it under 20000 bytes), then a small transaction
src_sql "INSERT INTO t SELECT 2, string_agg(md5(random()::text), '') FROM generate_series(1, 5000);
         INSERT INTO t VALUES (3, 'after the big one')"
capture_wait_exit 60
echo "topic after the rejection:" >&2
kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC" -o beginning -e -q -f 'offset=%o size=%S headers=%h\n' >&2
((CAPTURE_RC != 0)) || fail "capture exited 0 after a rejected message"
log=$E2E_TMP/capture.log
assert_contains "$log" "table=public.t" "the rejection names the table"
assert_contains "$log" "max.message.bytes" "the rejection names the topic's limit"
assert_contains "$log" "message.max.bytes" "the rejection names the producer's limit"
grep -Eq "size=[0-9]{6} bytes" "$log" || fail "the rejection names the message size: $(grep -i 'size' "$log" | tail -n 3)"
grep -Eq "lsn=[0-9A-F]+/[0-9A-F]+" "$log" || fail "the rejection names the LSN"
confirmed=$(src_sql "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'syncline_$E2E_NAME'")
assert_eq t "$(src_sql "SELECT '$confirmed'::pg_lsn <= '$before_big'::pg_lsn")" \
    "nothing confirmed past the rejected transaction (confirmed $confirmed, big one after $before_big)"

# whatever capture got into the topic, apply does not apply past the missing transaction
apply_wait_exit 1 60
assert_eq 5 "$APPLY_RC" "apply stops on the missing transaction with exit 5"
assert_contains "$E2E_TMP/apply.1.log" "missing transaction" "apply says a transaction is missing"
assert_eq "1" "$(tgt_sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM t")" \
    "nothing past the missing transaction applied"

kafka_admin config "$TOPIC" max.message.bytes=10000000 || fail "raise the topic limit"
capture_start
apply_start 2
wait_same 60 t
assert_eq "1,2,3" "$(tgt_sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM t")" "no loss"
src_sql "INSERT INTO t VALUES (4, 'later')"
wait_same 60 t
apply_stop 2
capture_stop
