#!/usr/bin/env bash
# Two runs of one name started at the same instant (issue 15, operational faults): in every
# round exactly one runs; the other exits 5 saying "already running" (not a raw duplicate key
# error from the publication, the slot or the progress row). A run started while one streams
# says the same. Then the winner streams correctly.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t611
both_sql "CREATE TABLE items (id int PRIMARY KEY, v text)"

pids=()
e2e_on_exit 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done'

for round in 1 2 3 4; do
    # a fresh start each round: no publication, slot or progress row yet
    "$SYNCLINE" drop -c "$CFG" >"$E2E_TMP/drop.log" 2>&1 || fail "drop failed: $(cat "$E2E_TMP/drop.log")"
    tgt_sql "TRUNCATE items"
    : >"$E2E_TMP/a.log"
    : >"$E2E_TMP/b.log"
    "$SYNCLINE" run -c "$CFG" >"$E2E_TMP/a.log" 2>&1 </dev/null &
    pa=$!
    "$SYNCLINE" run -c "$CFG" >"$E2E_TMP/b.log" 2>&1 </dev/null &
    pb=$!
    pids=("$pa" "$pb")
    # the loser exits within seconds; the winner keeps running
    for ((i = 0; i < 100; i++)); do
        { kill -0 "$pa" 2>/dev/null && kill -0 "$pb" 2>/dev/null; } || break
        sleep 0.1
    done
    sleep 1
    alive=0
    for p in "$pa" "$pb"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
    cat "$E2E_TMP/a.log" "$E2E_TMP/b.log"
    assert_eq 1 "$alive" "round $round: exactly one run is running"
    if kill -0 "$pa" 2>/dev/null; then winner=$pa loser=$pb lose_log=$E2E_TMP/b.log; else
        winner=$pb loser=$pa lose_log=$E2E_TMP/a.log
    fi
    rc=0
    wait "$loser" || rc=$?
    assert_eq 5 "$rc" "round $round: the other exits 5"
    assert_contains "$lose_log" "already running" "round $round: the other says why"
    kill -TERM "$winner"
    rc=0
    wait "$winner" || rc=$?
    assert_eq 0 "$rc" "round $round: the winner stops cleanly"
    pids=()
done

# one streams; a second started later is refused the same way
syncline_start
rc=0
timeout -k 5 60 "$SYNCLINE" run -c "$CFG" >"$E2E_TMP/late.log" 2>&1 </dev/null || rc=$?
cat "$E2E_TMP/late.log"
assert_eq 5 "$rc" "a run started while one streams exits 5"
assert_contains "$E2E_TMP/late.log" "already running" "and says why"
src_sql "INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 50) g"
wait_synced
assert_same items
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
