#!/usr/bin/env bash
# Kafka order gap at an idle moment (issue 15, class 8): the refused transaction is the newest,
# and what follows it in the partition is a heartbeat naming it (produced while it was in
# flight). Crafted: capture's first transaction copied into another topic, then such a
# heartbeat. apply must not take the heartbeat's position (a re-sent transaction below it would
# then be dropped as "already applied"): it stops with exit 5, and the re-sent transaction
# (no predecessor header) heals the gap.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_missing_hb json none
both_sql "CREATE TABLE t (id int PRIMARY KEY, v text)"
capture_start
src_sql "INSERT INTO t VALUES (1, 'one')"
src_sql "INSERT INTO t VALUES (2, 'two')"
capture_until_changes 2
mapfile -t MSGS < <(topic_changes values)
T2_LSN=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["source"]["commit_lsn"])' "${MSGS[1]}")
HB_LSN=$(src_sql "SELECT pg_current_wal_lsn()")

COPY=$TOPIC.copy
kafka_admin create "$COPY" 1 || fail "create $COPY"
printf '%s\n' "${MSGS[0]}" | kcat -P -b "$KAFKA_BROKERS" -t "$COPY" -p 0 || fail "kcat produce"
# the heartbeat: key syncline.heartbeat, no value, headers: its LSN and the newest transaction
printf 'syncline.heartbeat\t\n' | kcat -P -b "$KAFKA_BROKERS" -t "$COPY" -p 0 -K $'\t' -Z \
    -H "syncline.heartbeat=$HB_LSN" -H "syncline.prev=$T2_LSN" || fail "kcat produce heartbeat"
TOPIC=$COPY
kafka_config json none

apply_start
apply_wait_exit 1 60
assert_eq 5 "$APPLY_RC" "apply stops at a heartbeat naming a transaction it never got, exit 5"
assert_contains "$E2E_TMP/apply.1.log" "missing transaction topic=$COPY partition=0 offset=1" \
    "the error names topic, partition and offset"
assert_eq "1" "$(tgt_sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM t")" "only the first transaction"

# as a restarted capture would send it: without a predecessor header
printf '%s\n' "${MSGS[1]}" | kcat -P -b "$KAFKA_BROKERS" -t "$COPY" -p 0 || fail "kcat produce"
apply_start 2
wait_same 60 t
apply_stop 2
