# shellcheck shell=bash
# Helpers for the fallback scenarios (23x): the reverse stream after cutover --fence --fallback.
# Source after lib.sh.

FALLBACK_PID=""
FB_NAME=""   # the fallback progress row's name: <name>_fallback
FB_SLOT=""   # its slot on the target: syncline_<name>_fallback

# After e2e_setup: names, and a cleanup that stops fallback and removes its slot (on the target
# cluster, which lib.sh does not clean), origin and the fences.
fallback_setup() {
    FB_NAME="$(_e2e_cfg_name)_fallback"
    FB_SLOT="syncline_${FB_NAME}"
    e2e_on_exit fallback_cleanup
}

fallback_cleanup() {
    local i
    if _e2e_alive "$FALLBACK_PID"; then
        kill -KILL "$FALLBACK_PID" 2>/dev/null
        wait "$FALLBACK_PID" 2>/dev/null
    fi
    for ((i = 0; i < 50; i++)); do
        _e2e_psql "$TGT_PORT" postgres -c "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
              WHERE slot_name = '$FB_SLOT' AND active_pid IS NOT NULL" >/dev/null 2>&1
        _e2e_psql "$TGT_PORT" postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
              WHERE slot_name = '$FB_SLOT'" >/dev/null 2>&1 && break
        sleep 0.2
    done
    _e2e_psql "$SRC_PORT" postgres -c "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin
          WHERE roname = 'syncline_fallback_$(_e2e_cfg_name)'" >/dev/null 2>&1
    _e2e_psql "$TGT_PORT" postgres -c "ALTER DATABASE $TGT_DB RESET default_transaction_read_only" >/dev/null 2>&1
    _e2e_psql "$SRC_PORT" postgres -c "ALTER DATABASE $SRC_DB RESET default_transaction_read_only" >/dev/null 2>&1
    return 0
}

# Starts `syncline fallback` in the background (log: syncline.log) and waits until its slot on
# the target is active.
fallback_start() {
    _e2e_alive "$FALLBACK_PID" && fail "fallback_start: fallback is already running"
    echo "=== $(date +%T.%3N) syncline fallback -c $CFG ===" >>"$E2E_TMP/syncline.log"
    "$SYNCLINE" fallback -c "$CFG" "$@" >>"$E2E_TMP/syncline.log" 2>&1 </dev/null &
    FALLBACK_PID=$!
    local i
    for ((i = 0; i < 150; i++)); do
        _e2e_alive "$FALLBACK_PID" || {
            tail -n 20 "$E2E_TMP/syncline.log" >&2
            fail "fallback exited before it streamed"
        }
        [[ "$(tgt_sql "SELECT active FROM pg_replication_slots WHERE slot_name = '$FB_SLOT'")" == t ]] && {
            _e2e_log "fallback streaming (pid $FALLBACK_PID)"
            return 0
        }
        sleep 0.2
    done
    fail "fallback not streaming after 30 s"
}

# Waits until the fallback slot is no longer held (after a kill).
fallback_wait_released() {
    local i
    for ((i = 0; i < 100; i++)); do
        [[ "$(tgt_sql "SELECT active FROM pg_replication_slots WHERE slot_name = '$FB_SLOT'")" == f ]] && return 0
        sleep 0.2
    done
    fail "the fallback slot is still active 20 s after fallback ended"
}

fallback_kill() {
    kill -KILL "$FALLBACK_PID"
    wait "$FALLBACK_PID" 2>/dev/null || true
    FALLBACK_PID=""
    echo "=== $(date +%T.%3N) fallback killed (SIGKILL) ===" >>"$E2E_TMP/syncline.log"
    _e2e_log "fallback killed -9"
    fallback_wait_released
}

fallback_stop() {
    local rc=0
    kill -TERM "$FALLBACK_PID"
    wait "$FALLBACK_PID" || rc=$?
    FALLBACK_PID=""
    assert_eq 0 "$rc" "fallback exits 0 on SIGTERM"
    fallback_wait_released
}

# Waits until the source (old database) applied everything the target (new) wrote so far.
fallback_wait_synced() {
    local lsn i ok
    lsn=$(tgt_sql "SELECT pg_current_wal_lsn()")
    for ((i = 0; i < 300; i++)); do
        _e2e_alive "$FALLBACK_PID" || fail "fallback_wait_synced: fallback is not running"
        ok=$(src_psql -c "SELECT applied_lsn >= '$lsn'::pg_lsn FROM syncline.progress WHERE name = '$FB_NAME'" 2>/dev/null) || true
        [[ "$ok" == t ]] && {
            _e2e_log "fallback synced to $lsn"
            return 0
        }
        sleep 0.2
    done
    fail "fallback_wait_synced: the source did not apply the target's $lsn in 60 s"
}

# pgbench (TPC-B + orders.sql) on the TARGET in the background, PID in PGBENCH_PID.
pgbench_start_target() {
    "$PG_BIN/pgbench" -h 127.0.0.1 -U postgres -p "$TGT_PORT" "$@" "$TGT_DB" \
        >"$E2E_TMP/pgbench-target.log" 2>&1 </dev/null &
    PGBENCH_PID=$!
    e2e_on_exit pgbench_stop
}

# cutover --fence --fallback under pgbench on the source: exit 0, the report names the
# fallback slot and its LSN, and the slot exists on the target at that LSN.
cutover_fallback_under_pgbench() {
    local rc=0 lsn
    pgbench_start -n -T 120 -c 2 -b tpcb-like -f "$E2E_TMP/orders.sql"
    sleep 3
    "$SYNCLINE" cutover -c "$CFG" --fence --fallback --max-lag-bytes 50000000 --timeout 120 \
        >"$E2E_TMP/cutover.out" 2>"$E2E_TMP/cutover.err" </dev/null || rc=$?
    cat "$E2E_TMP/cutover.out"
    tail -n 20 "$E2E_TMP/cutover.err"
    assert_eq 0 "$rc" "cutover --fence --fallback exit code"
    assert_contains "$E2E_TMP/cutover.out" "fallback_slot:       $FB_SLOT at lsn=" "the report names the fallback slot"
    assert_contains "$E2E_TMP/cutover.out" "FALLBACK READY" "the report says what to do next"
    lsn=$(sed -n 's/^ *fallback_slot: .* at lsn=\([0-9A-F/]*\) .*/\1/p' "$E2E_TMP/cutover.out")
    assert_eq "$lsn" "$(tgt_sql "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$FB_SLOT'")" \
        "the fallback slot starts at the reported LSN"
    pgbench_stop
    for t in "${PGBENCH_TABLES[@]}" orders; do assert_same "$t"; done
}
