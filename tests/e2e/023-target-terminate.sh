#!/usr/bin/env bash
# pg_terminate_backend of syncline's target session (what an operator or a failover does) is a
# lost connection like any other: `run` reconnects, resumes from the progress row and converges;
# it does not exit 1. The sessions are terminated several times while a workload is applied.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t023
write_config "$(config_json '"apply": {"batch_rows": 50, "batch_ms": 20}')"
both_sql "
CREATE TABLE w (id bigint PRIMARY KEY, v int NOT NULL);
CREATE TABLE k (id int PRIMARY KEY, n bigint NOT NULL);"
src_sql "CREATE SEQUENCE w_id; INSERT INTO k SELECT g, 0 FROM generate_series(1, 20) g;"
cat >"$E2E_TMP/work.sql" <<'SQL'
\set x random(1, 20)
BEGIN;
INSERT INTO w VALUES (nextval('w_id'), :x);
UPDATE k SET n = n + 1 WHERE id = :x;
COMMIT;
SQL

syncline_start
wait_synced
pgbench_start -n -c 2 -T 14 -R 300 -f "$E2E_TMP/work.sql"
TERMINATE="SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = 'syncline'
             AND pid <> pg_backend_pid()"
for round in 1 2 3; do
    sleep 3
    killed=$(tgt_sql "$TERMINATE")
    ((killed >= 1)) || fail "round $round: no target session of syncline to terminate"
    _e2e_log "round $round: terminated $killed target session(s)"
    sleep 1
    syncline_running || fail "round $round: syncline exited after its target session was terminated"
done
wait "$PGBENCH_PID" || true
PGBENCH_PID=""
wait_synced 90
syncline_running || fail "syncline exited"
assert_same w
assert_same k
assert_contains "$E2E_TMP/syncline.log" "retrying" "the lost target session is logged as a retry"
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
