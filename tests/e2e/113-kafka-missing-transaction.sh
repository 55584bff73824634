#!/usr/bin/env bash
# Kafka order gap, crafted (issue 15, class 8): capture's messages copied by hand into another
# topic, one transaction left out. apply applies the one before, never the one after the hole:
# it exits 5 naming topic, partition, offset and both LSNs, and stores no offset past the hole.
# The missing transaction sent again the way a restarted capture sends it (no predecessor
# header), followed by the one after it, heals the gap: apply converges with nothing lost.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_missing_txn json none
both_sql "CREATE TABLE t (id int PRIMARY KEY, v text)"
capture_start
src_sql "INSERT INTO t VALUES (1, 'one')"
src_sql "INSERT INTO t VALUES (2, 'two')"
src_sql "INSERT INTO t VALUES (3, 'three')"
# the three changes, tab-separated: headers, value
capture_until_changes 3
mapfile -t MSGS < <(topic_changes headers)

produce() { # TOPIC HEADERS VALUE: one message into partition 0, with the syncline.prev header if any
    local prev
    prev=$(tr ',' '\n' <<<"$2" | sed -n 's/^syncline.prev=//p')
    if [[ -n "$prev" ]]; then
        printf '%s\n' "$3" | kcat -P -b "$KAFKA_BROKERS" -t "$1" -p 0 -H "syncline.prev=$prev" || fail "kcat produce"
    else
        printf '%s\n' "$3" | kcat -P -b "$KAFKA_BROKERS" -t "$1" -p 0 || fail "kcat produce"
    fi
}
COPY=$TOPIC.copy
kafka_admin create "$COPY" 1 || fail "create $COPY"
produce "$COPY" "$(cut -f 1 <<<"${MSGS[0]}")" "$(cut -f 2- <<<"${MSGS[0]}")"
produce "$COPY" "$(cut -f 1 <<<"${MSGS[2]}")" "$(cut -f 2- <<<"${MSGS[2]}")"
TOPIC=$COPY
kafka_config json none

apply_start
apply_wait_exit 1 60
assert_eq 5 "$APPLY_RC" "apply stops on the missing transaction with exit 5"
assert_contains "$E2E_TMP/apply.1.log" "missing transaction topic=$COPY partition=0 offset=1" \
    "the error names topic, partition and offset"
assert_contains "$E2E_TMP/apply.1.log" "names lsn=" "the error names the predecessor"
assert_eq "1" "$(tgt_sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM t")" "only the change before the hole"
echo "${MSGS[@]}" | grep -q 'syncline.prev=' || fail "capture's messages carry no syncline.prev header: ${MSGS[*]}"
assert_eq 1 "$(tgt_sql "SELECT next_offset FROM syncline.kafka_offsets WHERE name = '$E2E_NAME' AND topic = '$COPY'")" \
    "no offset stored past the hole"

# as a restarted capture would: the missing transaction without a predecessor, then the next
produce "$COPY" "" "$(cut -f 2- <<<"${MSGS[1]}")"
produce "$COPY" "$(cut -f 1 <<<"${MSGS[2]}")" "$(cut -f 2- <<<"${MSGS[2]}")"
apply_start 2
wait_same 60 t
assert_contains "$E2E_TMP/apply.2.log" "gap healed" "apply logs the healed gap"
apply_stop 2
