#!/usr/bin/env bash
# An interrupted initial copy restarts cleanly by itself. The copy is made slow (one worker, the
# big table split into committed ranges of 16 MB) so that some ranges have landed on the target
# when syncline is killed with SIGKILL; the progress row must still say 'copying', and the next
# run must notice, truncate, copy again and end equal. Then the same with the target cluster
# restarted (immediate stop) in the middle of a copy. The source takes writes throughout.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib/pg.sh
source "$(dirname "$0")/../lib/pg.sh"

e2e_setup t303
PGBENCH=$PG_BIN/pgbench
pgbench_setup 10
write_config "$(config_json '"snapshot": {"workers": 1, "chunk_mb": 16}')"

state() { tgt_psql -c "SELECT state FROM syncline.progress WHERE name = '$E2E_NAME'" 2>/dev/null || true; }
# True once the copy is under way and some rows are committed on the target.
partly_copied() {
    syncline_running || fail "syncline exited before the copy was interrupted"
    [[ $(state) == copying ]] &&
        [[ $(tgt_psql -c "SELECT count(*) > 0 FROM pgbench_accounts" 2>/dev/null) == t ]]
}
# Small writes on the source, so the stream after each copy has something to apply.
touch_source() {
    "$PGBENCH" -n -c 2 -t 200 -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$SRC_DB" >>"$E2E_TMP/pgbench.txt" 2>&1 ||
        fail "pgbench failed: $(tail -n 5 "$E2E_TMP/pgbench.txt")"
}
assert_all_same() {
    local t
    for t in "${PGBENCH_TABLES[@]}"; do assert_same "$t"; done
}

# ---- SIGKILL in the middle of the copy
touch_source
E2E_START_WAIT=0 syncline_start
wait_until 120 partly_copied
landed=$(tgt_sql "SELECT count(*) FROM pgbench_accounts")
syncline_kill
echo "ok: killed with $landed of $(src_sql "SELECT count(*) FROM pgbench_accounts") accounts copied"
((landed < $(src_sql "SELECT count(*) FROM pgbench_accounts"))) || fail "the copy had finished already"
assert_eq copying "$(state)" "an interrupted copy leaves the progress row in state copying"

touch_source
E2E_START_TIMEOUT=240 syncline_start
assert_contains "$E2E_TMP/syncline.log" "the previous initial copy did not finish: starting it again" \
    "the rerun restarts the copy by itself"
touch_source
wait_synced 120
assert_all_same
syncline_stop

# ---- target restart in the middle of a copy
"$SYNCLINE" drop -c "$CFG" >>"$E2E_TMP/syncline.log" 2>&1 || fail "syncline drop failed"
tgt_sql "TRUNCATE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history"
E2E_START_WAIT=0 syncline_start
wait_until 120 partly_copied
pg_cluster_stop "$TGT_PGDATA" immediate || fail "could not stop the target"
pg_cluster_start "$TGT_PGDATA" >/dev/null || fail "could not start the target again"
echo "ok: target restarted (immediate) during the copy"
syncline_wait_exit 30 "the target went away during the copy"
((SYNCLINE_RC != 0)) || fail "syncline exited 0 after a failed copy"
echo "ok: the failed copy made syncline exit with code $SYNCLINE_RC"
assert_eq copying "$(state)" "after the target restart the progress row still says copying"

touch_source
E2E_START_TIMEOUT=240 syncline_start
assert_contains "$E2E_TMP/syncline.log" "the previous initial copy did not finish: starting it again" \
    "the rerun after the target restart restarts the copy"
touch_source
wait_synced 120
assert_all_same
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
