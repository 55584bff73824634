#!/usr/bin/env bash
# Network faults (issue 8): syncline reaches the source and the target through a TCP proxy on
# loopback (tests/lib/faultproxy.py) while pgbench writes to the source directly. The proxy
# cuts the connections (drop: RST, then refused for a while) or stalls them (open, nothing
# forwarded, as a hung peer or a black hole that TCP does not notice). Each time syncline must
# log the outage, retry with backoff, and resume; at the end the target equals the source and
# syncline_errors_total{kind="connect"} counts the outages.
#   source cut    -> "connection lost, retrying" naming the source
#   target cut    -> same, naming the target
#   source stall  -> noticed within the silence timeout (3 status intervals, at least 5 s: here
#                    status_interval_ms = 1000, so 5 s) because the status it sends after a
#                    quiet second asks the walsender for a reply that never comes
#   target stall  -> shorter than apply.target_timeout_s (120 s): syncline waits and resumes when
#                    it ends (504-stall.sh covers a stall longer than the bound)
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib/pg.sh
source "$(dirname "$0")/../lib/pg.sh"

e2e_setup t502
# shellcheck source=tests/e2e/lib-faults.sh
source "$(dirname "$0")/lib-faults.sh"
faults_ports 58432
proxy_start src "$PSRC" "$SRC_PORT"
proxy_start tgt "$PTGT" "$TGT_PORT"

faults_schema
SRC_VIA="host=127.0.0.1 port=$PSRC user=postgres dbname=$SRC_DB"
TGT_VIA="host=127.0.0.1 port=$PTGT user=postgres dbname=$TGT_DB"
printf '{"name": "t502", "source": {"conninfo": "%s"}, "target": {"conninfo": "%s"},
 "apply": {"batch_ms": 100, "status_interval_ms": 1000}}\n' "$SRC_VIA" "$TGT_VIA" >"$CFG"
syncline_start --snapshot=never --metrics "$METRICS" # the slot exists from here on
faults_workload

case_cut() { # NAME
    local from
    sleep 2
    from=$(log_lines)
    proxy_mode "$1" drop
    wait_log "$from" 10 "connection lost, retrying"
    log_since "$from" | grep "connection lost.*$2" >/dev/null ||
        fail "the outage log does not name the $2"
    sleep 3 # the outage lasts: retries are refused, backoff grows
    proxy_mode "$1" pass
    wait_synced 60
    syncline_running || fail "syncline exited after the $1 cut"
    echo "ok: $1 cut: logged, retried, resumed"
}

# ---------------------------------------------------------------- connections cut

case_cut src source
case_cut tgt target

# ---------------------------------------------------------------- source stall

sleep 2
from=$(log_lines)
t0=$(_e2e_now_ms)
proxy_mode src stall
wait_log "$from" 20 "connection presumed dead"
ms=$(($(_e2e_now_ms) - t0))
_e2e_log "source stall noticed after $ms ms"
((ms <= 12000)) || fail "the stalled replication connection was noticed only after $ms ms"
sleep 2
proxy_mode src pass
wait_synced 60
echo "ok: source stall: noticed in $ms ms, retried, resumed"

# ---------------------------------------------------------------- target stall

# A stalled target connection (the server's kernel keeps acknowledging, nothing answers) is
# not detected by TCP keepalives or tcp_user_timeout; a stall shorter than
# apply.target_timeout_s is waited through. What must hold: nothing lost, nothing doubled, no
# exit. (504-stall.sh: a stall longer than the bound.)
sleep 2
proxy_mode tgt stall
sleep 6
proxy_mode tgt pass
wait_synced 60
syncline_running || fail "syncline exited after the target stall"
echo "ok: target stall: resumed when it ended"

# ---------------------------------------------------------------- verdict

kill "$BENCH" 2>/dev/null || true
wait "$BENCH" 2>/dev/null || true
wait_synced 60
for t in acct hist; do assert_same "$t"; done
curl -fsS "http://127.0.0.1:$METRICS/metrics" >"$E2E_TMP/metrics.txt" || fail "metrics endpoint"
errs=$(sed -n 's/^syncline_errors_total{kind="connect"} \([0-9]*\).*/\1/p' "$E2E_TMP/metrics.txt")
_e2e_log "syncline_errors_total{kind=\"connect\"} = ${errs:-none}"
((${errs:-0} >= 3)) || fail "syncline_errors_total{kind=\"connect\"} is ${errs:-absent}, want >= 3"
echo "ok: the metrics count the outages"
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
