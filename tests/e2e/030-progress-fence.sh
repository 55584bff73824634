#!/usr/bin/env bash
# The progress row is a fence: a batch commits only if the row still holds what this session
# started from or last wrote. Otherwise another session moved it, for instance the COMMIT of a
# connection syncline gave up on (a stall, a failover) that landed late, after the next session
# had read the row. That session has already applied what the row now covers; applying it again
# would duplicate rows in a table without a key, silently.
#
# The late COMMIT is played by a session that inserts the source transaction's row and moves the
# progress row past it in one open transaction. syncline starts, reads the row (the old value:
# the other transaction is still open), applies the same transaction and waits on the row's lock.
# The other session commits. syncline must then fail its batch with a clear error instead of
# committing the row a second time; a restart reads the moved row and converges.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t030
write_config "$(config_json)"
both_sql "CREATE TABLE t (v int NOT NULL); ALTER TABLE t REPLICA IDENTITY FULL;"

syncline_start
src_sql "INSERT INTO t VALUES (0)"
wait_synced
syncline_stop

src_sql "INSERT INTO t VALUES (1)"
moved=$(src_sql "SELECT pg_current_wal_lsn()")
name=$(_e2e_cfg_name)

# the session whose COMMIT lands late: open, holding the progress row
tgt_late_open
tgt_late_hold "BEGIN;" "INSERT INTO t VALUES (1);" \
    "UPDATE syncline.progress SET applied_lsn = '$moved' WHERE name = '$name';"

# it reads the row, then waits on the late session's lock (its table check, or the row itself)
E2E_START_WAIT=0 syncline_start 7>&-
wait_until 30 syncline_waits_on_lock
tgt_late_close "COMMIT;"

syncline_wait_exit 30 "the late COMMIT moved the progress row"
assert_eq 1 "$SYNCLINE_RC" "exit code when the progress row moved under the batch"
assert_contains "$E2E_TMP/syncline.log" "syncline.progress" "the error names the progress row"
assert_contains "$E2E_TMP/syncline.log" "moved" "the error says it moved"
assert_eq 1 "$(tgt_sql "SELECT count(*) FROM t WHERE v = 1")" \
    "the row the late COMMIT carried is on the target once"
assert_eq "$moved" "$(_e2e_applied_lsn)" "progress is what the late COMMIT wrote"

# a restart reads the moved row and goes on from there
src_sql "INSERT INTO t VALUES (2)"
syncline_start
wait_synced
syncline_stop
assert_same t
