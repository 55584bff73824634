#!/usr/bin/env bash
# A cutover that cannot finish leaves the source writable: (1) syncline stopped, so the target
# never applies the final LSN: timeout, exit 7, fence lifted; (2) the target cluster stopped
# while cutover waits: exit 4, fence lifted; (3) Ctrl-C while waiting: fence lifted. After each,
# new source sessions have default_transaction_read_only off and can write.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../lib/pg.sh"

e2e_setup t205
both_sql "CREATE TABLE items (id int PRIMARY KEY, v text)"
e2e_on_exit '"$SYNCLINE" unfence -c "$CFG" >/dev/null 2>&1'
e2e_on_exit 'pg_cluster_start "$TGT_PGDATA" >/dev/null 2>&1'
syncline_start
src_sql "INSERT INTO items SELECT g, 'v' FROM generate_series(1, 100) g"
wait_synced
rc=0
syncline_stop || rc=$?
src_sql "INSERT INTO items VALUES (101, 'pending')" # never applied: syncline is stopped

writable() { # LABEL: new sessions are not read-only and can write
    assert_eq off "$(src_sql "SHOW default_transaction_read_only")" "$1: new sessions not read-only"
    src_sql "UPDATE items SET v = 'written' WHERE id = 1"
    echo "ok: $1: the source takes writes"
}

# (1) timeout
assert_cutover_times_out
writable "after a timeout"

# (2) the target stops while cutover waits for it
"$SYNCLINE" cutover -c "$CFG" --fence --max-lag-bytes 100000000 --timeout 60 \
    >"$E2E_TMP/c2.out" 2>"$E2E_TMP/c2.err" </dev/null &
CUT_PID=$!
wait_until 20 grep -q "cutover: fenced" "$E2E_TMP/c2.err"
assert_eq on "$(src_sql "SHOW default_transaction_read_only")" "fenced while cutover waits"
pg_cluster_stop "$TGT_PGDATA" >/dev/null 2>&1 || fail "could not stop the target cluster"
rc=0
wait "$CUT_PID" || rc=$?
pg_cluster_start "$TGT_PGDATA" >/dev/null 2>&1 || fail "could not restart the target cluster"
cat "$E2E_TMP/c2.out" "$E2E_TMP/c2.err"
((rc != 0)) || fail "cutover succeeded with the target down"
assert_contains "$E2E_TMP/c2.out" "fence was lifted" "target down: says the fence was lifted"
writable "after the target went down"

# (3) Ctrl-C
"$SYNCLINE" cutover -c "$CFG" --fence --max-lag-bytes 100000000 --timeout 60 \
    >"$E2E_TMP/c3.out" 2>"$E2E_TMP/c3.err" </dev/null &
CUT_PID=$!
wait_until 20 grep -q "cutover: fenced" "$E2E_TMP/c3.err"
kill -INT "$CUT_PID"
rc=0
wait "$CUT_PID" || rc=$?
cat "$E2E_TMP/c3.out" "$E2E_TMP/c3.err"
((rc != 0)) || fail "an interrupted cutover exited 0"
assert_contains "$E2E_TMP/c3.err" "interrupted" "Ctrl-C: says it was interrupted"
assert_contains "$E2E_TMP/c3.out" "fence was lifted" "Ctrl-C: says the fence was lifted"
writable "after Ctrl-C"
