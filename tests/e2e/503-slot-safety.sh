#!/usr/bin/env bash
# Slot safety (issue 8). 1: `syncline status` reports the WAL the slot retains, and it grows
# while syncline is stopped and the source takes writes. 2: the slot is invalidated while
# syncline is RUNNING (frozen with SIGSTOP while the source writes past max_slot_wal_keep_size
# and checkpoints, then SIGCONT): syncline stops with exit 5 and an explanation that names the
# slot and the recovery command, and applies nothing more. (The slot lost while syncline is
# stopped is case 5 of 010-bad-input.)
# shellcheck disable=SC2119 # lib functions called without arguments
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

e2e_need_major src 13 "max_slot_wal_keep_size and wal_status (a slot is never lost on 12)"
e2e_setup t503
SLOT=syncline_t503
both_sql "CREATE TABLE t (id int PRIMARY KEY, v text);
          CREATE TABLE walgen (id bigserial PRIMARY KEY, pad text)"
write_config "$(config_json '"apply": {"status_interval_ms": 1000}')"

retained() {
    "$SYNCLINE" status -c "$CFG" --json | sed -n 's/.*"retained_bytes": *\([0-9]*\).*/\1/p'
}

# ---------------------------------------------------------------- 1: retained WAL is reported

syncline_start
src_sql "INSERT INTO t VALUES (1, 'one')"
wait_synced
syncline_stop
r1=$(retained)
[[ "$r1" =~ ^[0-9]+$ ]] || fail "status --json has no retained_bytes: $("$SYNCLINE" status -c "$CFG" --json)"
echo "INSERT INTO walgen (pad) VALUES (repeat('w', 500));" >"$E2E_TMP/walgen.sql"
"$PG_BIN/pgbench" -n -c 2 -T 2 -f "$E2E_TMP/walgen.sql" -h 127.0.0.1 -p "$SRC_PORT" -U postgres \
    "$SRC_DB" >"$E2E_TMP/pgbench.log" 2>&1 || fail "pgbench: $(tail -n 3 "$E2E_TMP/pgbench.log")"
r2=$(retained)
_e2e_log "retained bytes while stopped: $r1 before pgbench, $r2 after"
((r2 > r1 + 100000)) || fail "retained bytes did not grow while syncline was stopped ($r1 -> $r2)"
"$SYNCLINE" status -c "$CFG" >"$E2E_TMP/status.txt"
assert_contains "$E2E_TMP/status.txt" "retained" "status (text) shows the retained WAL"

# ---------------------------------------------------------------- 2: slot lost while running

src_sql "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'; SELECT pg_reload_conf();" >/dev/null
e2e_on_exit "_e2e_psql $SRC_PORT postgres -c 'ALTER SYSTEM RESET max_slot_wal_keep_size' -c 'SELECT pg_reload_conf()' >/dev/null 2>&1"
syncline_start
src_sql "INSERT INTO t VALUES (2, 'two')"
wait_synced
assert_same t
applied=$(_e2e_applied_lsn)
frozen_at=$(src_sql "SELECT pg_current_wal_lsn()")
kill -STOP "$SYNCLINE_PID"
e2e_on_exit "kill -CONT $SYNCLINE_PID 2>/dev/null || true"
_e2e_log "syncline frozen (SIGSTOP); writing WAL past max_slot_wal_keep_size"
src_sql "INSERT INTO t VALUES (3, 'three: written while the slot is being lost')"
wal_until_slot_lost "$SLOT"
kill -CONT "$SYNCLINE_PID"
_e2e_log "syncline resumed (SIGCONT)"
t0=$(_e2e_now_ms)
syncline_wait_exit 30 "its slot was lost"
rc=$SYNCLINE_RC
_e2e_log "syncline exited with code $rc $(($(_e2e_now_ms) - t0)) ms after SIGCONT"
tail -n 5 "$E2E_TMP/syncline.log"
assert_eq 5 "$rc" "exit code after the slot was lost while running"
err=$(grep ' error ' "$E2E_TMP/syncline.log" | tail -n 1)
[[ "$err" == *"$SLOT"* ]] || fail "the error does not name the slot: $err"
[[ "$err" == *"lost"* ]] || fail "the error does not say the slot is lost: $err"
[[ "$err" == *"syncline drop"* ]] || fail "the error does not give the recovery command: $err"
echo "ok: the error names the slot, says it is lost and how to recover"
# A keepalive the walsender sent before the slot was lost may still be read after SIGCONT and
# confirmed as an idle position (no data); nothing written after the freeze may count.
now_applied=$(_e2e_applied_lsn)
assert_eq t "$(src_sql "SELECT '$now_applied'::pg_lsn BETWEEN '$applied' AND '$frozen_at'")" \
    "progress $now_applied stays within what was sent before the freeze ($applied..$frozen_at)"
assert_eq 0 "$(tgt_sql "SELECT count(*) FROM t WHERE id = 3")" "the row written while the slot was lost is not applied"
assert_eq lost "$(src_sql "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$SLOT'")" \
    "the lost slot was not silently replaced"
