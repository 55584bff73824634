#!/usr/bin/env bash
# A target that stops taking a large value in the middle of its staging COPY (issue 18, goal 6):
# syncline's target backend is stopped (SIGSTOP) while it reads a 200 MB value from
# `COPY pg_temp.syncline_large FROM STDIN`. libpq cannot send the next piece; the wait for the
# socket is bounded like every other wait on the target (apply.target_timeout_s = 5): syncline
# reports the stall naming the staged table and column, reconnects and, once the backend runs
# again (its transaction never committed), applies the row again: the target equals the source.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t016
write_config "$(config_json '"apply": {"large_value_mb": 1, "target_timeout_s": 5}')"
both_sql "CREATE TABLE big (id int PRIMARY KEY, v text);"
src_sql "ALTER TABLE big ALTER COLUMN v SET STORAGE EXTERNAL"

STOPPED=""
# shellcheck disable=SC2016 # expanded when the cleanup runs
e2e_on_exit '[[ -z "$STOPPED" ]] || kill -CONT "$STOPPED" 2>/dev/null || true'

syncline_start
src_sql "INSERT INTO big VALUES (0, 'small')"
wait_synced

# The backend that runs the staging COPY, once it does.
copy_backend() {
    COPY_PID=$(tgt_psql -c "SELECT pid FROM pg_stat_activity WHERE datname = current_database()
                            AND application_name = 'syncline' AND state = 'active'
                            AND query LIKE 'COPY pg_temp.syncline_large%' LIMIT 1" 2>/dev/null) || true
    [[ -n "$COPY_PID" ]]
}
src_sql "INSERT INTO big VALUES (1, repeat('x', 200000000))" &
insert_pid=$!
deadline=$(($(_e2e_now_ms) + 120000))
until copy_backend; do # no sleep: the COPY lasts a second or two
    (($(_e2e_now_ms) < deadline)) || fail "no staging COPY on the target after 120 s"
done
kill -STOP "$COPY_PID"
STOPPED=$COPY_PID
_e2e_log "target backend $COPY_PID stopped in the middle of the staging COPY"
wait "$insert_pid" || fail "the source INSERT failed"

stalled() { grep -F "connection presumed stalled" "$E2E_TMP/syncline.log" >/dev/null; }
wait_until 60 stalled
line=$(grep -F "staging the large values" "$E2E_TMP/syncline.log" | head -n 1)
[[ -n "$line" ]] || fail "the stall was not reported as a failure of the staging COPY"
grep -F 'public.big (column "v"' <<<"$line" >/dev/null || fail "the report does not name table and column: $line"
grep -F "lsn=" <<<"$line" >/dev/null || fail "the report does not name the LSN: $line"
_e2e_log "reported: ${line:0:300}"
syncline_running || fail "syncline exited on the stall"
kill -CONT "$COPY_PID"
STOPPED=""

wait_synced 180
assert_same big
assert_eq "200000000" "$(tgt_sql "SELECT length(v) FROM big WHERE id = 1")" "the large value arrived"
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
