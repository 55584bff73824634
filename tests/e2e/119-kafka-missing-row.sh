#!/usr/bin/env bash
# The Kafka `apply` path of issue 15, class 1: a source transaction whose UPDATE finds no row on a
# diverged target stops `apply` with "no such row"; nothing of the transaction is on the target
# (not its INSERT), progress and the stored offsets stay before it; a second `apply` stops at the
# same change; once the row is restored, `apply` converges.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_missing json none
both_sql "CREATE TABLE t (id int PRIMARY KEY, v int)"
capture_start
apply_start
src_sql "INSERT INTO t SELECT g, g FROM generate_series(1, 5) g"
wait_same 60 t
apply_stop

tgt_sql "DELETE FROM t WHERE id = 1"
src_sql "BEGIN; UPDATE t SET v = 100 WHERE id = 1; INSERT INTO t VALUES (101, 101); COMMIT;"
sleep 2 # capture publishes it
OFFSETS="SELECT string_agg(partition || ':' || next_offset, ' ' ORDER BY partition) FROM syncline.kafka_offsets"
before_lsn=$(_e2e_applied_lsn)
before_off=$(tgt_sql "$OFFSETS")
for round in 1 2; do
    apply_start
    apply_wait_exit 1 60
    assert_eq 1 "$APPLY_RC" "round $round: apply exit code"
    grep "no such row" "$E2E_TMP/apply.1.log" | tail -n 1 | grep -q "public.t" ||
        fail "round $round: no 'no such row' error naming public.t in the apply log"
    assert_eq 0 "$(tgt_sql "SELECT count(*) FROM t WHERE id = 101")" \
        "round $round: the INSERT of the failed transaction is not on the target"
    assert_eq "$before_lsn" "$(_e2e_applied_lsn)" "round $round: progress unchanged"
    assert_eq "$before_off" "$(tgt_sql "$OFFSETS")" "round $round: stored offsets unchanged"
done
assert_eq 2 "$(grep -c "no such row" "$E2E_TMP/apply.1.log")" "one error per round"

tgt_sql "INSERT INTO t VALUES (1, 1)"
apply_start
wait_same 60 t
apply_stop
capture_stop
