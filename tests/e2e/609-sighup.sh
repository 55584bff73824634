#!/usr/bin/env bash
# SIGHUP (a supervisor's reload, a closed terminal) does not stop run: it is ignored (the
# configuration is read at start only), syncline keeps streaming and later stops cleanly on
# SIGTERM with exit 0.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t609
both_sql "CREATE TABLE items (id int PRIMARY KEY, v text)"
syncline_start
src_sql "INSERT INTO items SELECT g, 'before' FROM generate_series(1, 50) g"
wait_synced

kill -HUP "$SYNCLINE_PID"
sleep 1
kill -HUP "$SYNCLINE_PID" 2>/dev/null || true
sleep 1
syncline_running || {
    syncline_wait_exit 1 "SIGHUP"
    fail "syncline exited with code $SYNCLINE_RC on SIGHUP"
}
src_sql "INSERT INTO items SELECT g, 'after SIGHUP' FROM generate_series(51, 100) g;
         UPDATE items SET v = 'updated' WHERE id % 2 = 0"
wait_synced
assert_same items

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
