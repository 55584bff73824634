#!/usr/bin/env bash
# Kafka `apply`: a stored offset is a fence, as the progress row is for `run` (030). A batch
# commits only if each partition's offset row still holds what this session read at its
# assignment or wrote since. Otherwise another session committed to it (the late COMMIT of a
# connection apply gave up on, or of a process the group took the partition from), and what it
# covers is on the target already: applying it again would duplicate rows, silently.
#
# The late COMMIT is played by a session that holds the progress and offset rows while apply
# reads on, then inserts the transaction's row, moves the rows past it and commits. apply must
# fail its batch with a clear error; a restart reads the moved offset and converges.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_fence json none
both_sql "CREATE TABLE t (v int NOT NULL); ALTER TABLE t REPLICA IDENTITY FULL;"
capture_start
apply_start
src_sql "INSERT INTO t VALUES (0)"
wait_same 60 t
name=$(_e2e_cfg_name)

# the session whose COMMIT lands late: it holds the rows apply writes with every batch
tgt_late_open
tgt_late_hold "BEGIN;" \
    "UPDATE syncline.progress SET updated_at = now() WHERE name = '$name';" \
    "UPDATE syncline.kafka_offsets SET updated_at = now() WHERE name = '$name';"

src_sql "INSERT INTO t VALUES (1)"
wait_until 30 _topic_has_changes 2
wait_until 30 syncline_waits_on_lock
end_lsn=$(topic_changes values | tail -n 1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["source"]["end_lsn"])')
next=$(topic_messages)
tgt_late_close "INSERT INTO t VALUES (1);" \
    "UPDATE syncline.progress SET applied_lsn = '$end_lsn' WHERE name = '$name';" \
    "UPDATE syncline.kafka_offsets SET next_offset = $next WHERE name = '$name';" "COMMIT;"

apply_wait_exit 1 30
assert_eq 1 "$APPLY_RC" "apply exit code when a stored offset moved under the batch"
assert_contains "$E2E_TMP/apply.1.log" "syncline.kafka_offsets" "the error names the offsets table"
assert_contains "$E2E_TMP/apply.1.log" "moved" "the error says the stored position moved"
assert_eq 1 "$(tgt_sql "SELECT count(*) FROM t WHERE v = 1")" \
    "the row the late COMMIT carried is on the target once"
assert_eq "$next" "$(tgt_sql "SELECT next_offset FROM syncline.kafka_offsets WHERE name = '$name'")" \
    "the stored offset is what the late COMMIT wrote"

# a restart reads the moved offset and goes on from there
apply_start 7>&-
src_sql "INSERT INTO t VALUES (2)"
wait_same 60 t
apply_stop
capture_stop
