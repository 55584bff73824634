#!/usr/bin/env bash
# Stalled connections (issue 8): the target connection goes through tests/lib/faultproxy.py,
# which stops forwarding in both directions without closing anything (a proxy that hangs, a
# stopped backend: the kernel keeps acknowledging, so TCP keepalives see nothing) while pgbench
# writes to the source. With apply.target_timeout_s = 5 syncline must
#   - report the stall once it waited 5 s for the target (not before), naming the target's
#     host:port and how long it waited, never the password;
#   - count it in syncline_errors_total{kind="target_stall"};
#   - reconnect with backoff (the proxy still holds new connections: connect_timeout) and
#     resume when the proxy forwards again, from the progress row: nothing lost, nothing doubled.
#     The stalled connections stay stalled for good (faultproxy's isolate: only new connections
#     are forwarded), so their backends never hear that syncline is gone and may sit in an open
#     transaction holding the row locks the replay needs: syncline must end them itself.
# Then the source connection stalls the same way: noticed by the silence timeout (5 s here).
# Last, a target statement that legitimately takes longer than the source's wal_sender_timeout
# (a lock held on the target) is waited for, without losing the replication connection.
# Bounds are generous and every wait polls: the machine may be small and busy.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib/pg.sh
source "$(dirname "$0")/../lib/pg.sh"

e2e_setup t504
# shellcheck source=tests/e2e/lib-faults.sh
source "$(dirname "$0")/lib-faults.sh"
faults_ports 58532
CANARY=pw504canary
proxy_start src "$PSRC" "$SRC_PORT"
proxy_start tgt "$PTGT" "$TGT_PORT"

faults_schema
SRC_VIA="host=127.0.0.1 port=$PSRC user=postgres dbname=$SRC_DB"
TGT_VIA="host=127.0.0.1 port=$PTGT user=postgres dbname=$TGT_DB password=$CANARY"
printf '{"name": "t504", "source": {"conninfo": "%s"}, "target": {"conninfo": "%s"},
 "apply": {"batch_ms": 100, "status_interval_ms": 1000, "target_timeout_s": 5}}\n' \
    "$SRC_VIA" "$TGT_VIA" >"$CFG"
syncline_start --snapshot=never --metrics "$METRICS" # the slot exists from here on
faults_workload
_target_moves() { (($(hist_rows) > $1)); }

# ---------------------------------------------------------------- target stall

# streaming for real first: rows arrive on the target
_backends() { # syncline's sessions on the target, read directly
    tgt_sql "SELECT coalesce(string_agg(pid::text, ' ' ORDER BY pid), '') FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'syncline'"
}
before=$(hist_rows)
wait_until 60 _target_moves "$before"
from=$(log_lines)
t0=$(_e2e_now_ms)
proxy_mode tgt stall
old_backends=$(_backends)
[[ -n "$old_backends" ]] || fail "no syncline session on the target before the stall"
stalled_rows=$(hist_rows) # read directly, not through the proxy
wait_until 60 has_log "$from" "connection presumed stalled"
ms=$(($(_e2e_now_ms) - t0))
line=$(log_since "$from" | grep -F "connection presumed stalled" | head -n 1)
_e2e_log "target stall noticed after $ms ms: ${line:0:300}"
((ms <= 30000)) || fail "the stall was reported only after $ms ms (bound 5 s)"
grep -F "target 127.0.0.1:$PTGT" <<<"$line" >/dev/null || fail "the stall report does not name the target host:port"
waited=$(sed -n 's/.*no answer for \([0-9.]*\) s.*/\1/p' <<<"$line" | head -n 1)
[[ -n "$waited" ]] || fail "the stall report does not say how long it waited"
awk -v w="$waited" 'BEGIN { exit !(w >= 5.0) }' || fail "the stall was reported after $waited s, before the 5 s bound"
((ms >= 4000)) || fail "the stall was reported $ms ms after it began, before the 5 s bound"
wait_until 30 has_log "$from" "connection lost, retrying"
syncline_running || fail "syncline exited on the target stall"
# still stalled: the retries hang in the proxy until connect_timeout and back off
sleep 3
syncline_running || fail "syncline exited while the target stayed stalled"
proxy_mode tgt isolate # new connections go through; the stalled ones never move again
wait_synced 120
syncline_running || fail "syncline exited after the target stall"
(($(hist_rows) > stalled_rows)) || fail "the target did not move after the stall"
now_backends=$(_backends)
_e2e_log "syncline's target sessions: before the stall [$old_backends], now [$now_backends]"
for pid in $old_backends; do
    if grep -qw "$pid" <<<"$now_backends"; then
        fail "the session stalled at the target (pid $pid) was left behind: it may hold locks"
    fi
done
log_since "$from" | grep -F "session(s) this process left behind" >/dev/null ||
    fail "ending the stalled sessions was not logged"
echo "ok: target stall: reported after $ms ms (waited $waited s, bound 5 s), retried, ended" \
    "the stalled sessions, resumed"

# ---------------------------------------------------------------- source stall

before=$(hist_rows)
wait_until 60 _target_moves "$before"
from=$(log_lines)
t0=$(_e2e_now_ms)
proxy_mode src stall
wait_until 60 has_log "$from" "connection presumed dead"
ms=$(($(_e2e_now_ms) - t0))
_e2e_log "source stall noticed after $ms ms"
((ms <= 30000)) || fail "the stalled replication connection was noticed only after $ms ms"
sleep 2
proxy_mode src pass
wait_synced 120
syncline_running || fail "syncline exited after the source stall"
echo "ok: source stall: noticed in $ms ms, retried, resumed"

# ---------------------------------------------------------------- verdict

kill "$BENCH" 2>/dev/null || true
wait "$BENCH" 2>/dev/null || true
wait_synced 120
for t in acct hist; do assert_same "$t"; done
dups=$(tgt_sql "SELECT count(*) - count(DISTINCT id) FROM hist")
assert_eq 0 "$dups" "duplicate hist rows on the target"
curl -fsS "http://127.0.0.1:$METRICS/metrics" >"$E2E_TMP/metrics.txt" || fail "metrics endpoint"
stalls=$(sed -n 's/^syncline_errors_total{kind="target_stall"} \([0-9]*\).*/\1/p' "$E2E_TMP/metrics.txt")
_e2e_log "syncline_errors_total{kind=\"target_stall\"} = ${stalls:-none}"
((${stalls:-0} >= 1)) || fail "syncline_errors_total{kind=\"target_stall\"} is ${stalls:-absent}, want >= 1"
echo "ok: the metrics count the stall"
if grep -F "$CANARY" "$E2E_TMP/syncline.log" >/dev/null; then
    fail "the target password appears in syncline's log"
fi
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"

# ---------------------------------------------------------------- a long wait, not a stall

# A target statement that takes longer than the source's wal_sender_timeout (3 s here), but
# less than apply.target_timeout_s (60 s): syncline waits for it, and the status updates it
# sends to the source meanwhile keep the walsender from dropping the replication connection.
printf '{"name": "t504", "source": {"conninfo": "%s"}, "target": {"conninfo": "%s"},
 "apply": {"batch_ms": 100, "status_interval_ms": 1000, "target_timeout_s": 60}}\n' \
    "$SRC_VIA" "$TGT_VIA" >"$CFG"
# (for this database only: the walsender of a logical slot takes the database's settings)
src_sql "ALTER DATABASE $SRC_DB SET wal_sender_timeout = '3s'"
syncline_start
from=$(log_lines)
tgt_psql -c "BEGIN; LOCK TABLE acct; SELECT pg_sleep(12); COMMIT" >/dev/null 2>&1 &
LOCKER=$!
_locked() { [[ $(tgt_sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                         WHERE c.relname = 'acct' AND l.mode = 'AccessExclusiveLock'
                         AND l.granted") == 1 ]]; }
wait_until 30 _locked
t0=$(_e2e_now_ms)
src_sql "UPDATE acct SET bal = bal + 1 WHERE id = 1"
wait "$LOCKER" || true
ms=$(($(_e2e_now_ms) - t0))
wait_synced 60
_e2e_log "the target statement waited about $ms ms for the lock"
((ms >= 6000)) || fail "the lock was held only $ms ms: the case proves nothing"
if log_since "$from" | grep -E "connection lost|presumed" >/dev/null; then
    log_since "$from" | grep -E "connection lost|presumed" | head -n 3
    fail "a long target statement cost the replication connection"
fi
assert_same acct
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
echo "ok: a long target statement is waited for; the source connection stays up meanwhile"
# the EXIT trap stops the proxies before `syncline drop`: let it reach the servers directly
printf '{"name": "t504", "source": {"conninfo": "%s"}, "target": {"conninfo": "%s"}}\n' \
    "$SRC_CONNINFO" "$TGT_CONNINFO" >"$CFG"
