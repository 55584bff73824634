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
PROXY=$(dirname "$0")/../lib/faultproxy.py
PSRC=$(pg_free_port 58432)
PTGT=$(pg_free_port $((PSRC + 1)))
METRICS=$(pg_free_port $((PTGT + 1)))
declare -A PROXY_PIDS=()

proxy_start() { # NAME LISTEN_PORT TARGET_PORT
    echo pass >"$E2E_TMP/$1.mode"
    python3 "$PROXY" "$2" "127.0.0.1:$3" "$E2E_TMP/$1.mode" 2>>"$E2E_TMP/proxy-$1.log" &
    PROXY_PIDS[$1]=$!
    wait_until 10 pg_wait_ready "$2" 1
}
proxy_mode() { # NAME MODE
    echo "$2" >"$E2E_TMP/$1.mode"
    _e2e_log "proxy $1: $2"
    sleep 0.3 # the proxy reads its control file every 0.1 s
}
proxies_stop() {
    local n
    for n in "${!PROXY_PIDS[@]}"; do kill -TERM "${PROXY_PIDS[$n]}" 2>/dev/null || true; done
}
e2e_on_exit proxies_stop
proxy_start src "$PSRC" "$SRC_PORT"
proxy_start tgt "$PTGT" "$TGT_PORT"

both_sql "CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL);
          CREATE TABLE hist (id bigserial PRIMARY KEY, acct int, delta int);
          INSERT INTO acct SELECT g, 0 FROM generate_series(1, 1000) g;"
SRC_VIA="host=127.0.0.1 port=$PSRC user=postgres dbname=$SRC_DB"
TGT_VIA="host=127.0.0.1 port=$PTGT user=postgres dbname=$TGT_DB"
printf '{"name": "t502", "source": {"conninfo": "%s"}, "target": {"conninfo": "%s"},
 "apply": {"batch_ms": 100, "status_interval_ms": 1000}}\n' "$SRC_VIA" "$TGT_VIA" >"$CFG"

cat >"$E2E_TMP/work.sql" <<'SQL'
\set aid random(1, 1000)
\set delta random(-100, 100)
BEGIN;
UPDATE acct SET bal = bal + :delta WHERE id = :aid;
INSERT INTO hist (acct, delta) VALUES (:aid, :delta);
END;
SQL
syncline_start --snapshot=never --metrics "$METRICS" # the slot exists from here on
"$PG_BIN/pgbench" -n -c 2 -R 100 -T 600 -f "$E2E_TMP/work.sql" -h 127.0.0.1 -p "$SRC_PORT" \
    -U postgres "$SRC_DB" >"$E2E_TMP/pgbench.log" 2>&1 &
BENCH=$!
e2e_on_exit "kill $BENCH 2>/dev/null || true"
log_lines() { wc -l <"$E2E_TMP/syncline.log"; }
log_since() { tail -n +"$(($1 + 1))" "$E2E_TMP/syncline.log"; }

# Waits until syncline's log (after line FROM) contains TEXT. FROM SECONDS TEXT
wait_log() {
    local from=$1 secs=$2 text=$3
    _wl() { log_since "$from" | grep -F -- "$text" >/dev/null; }
    wait_until "$secs" _wl
    _e2e_log "log: $(log_since "$from" | grep -F -- "$text" | head -n 1 | cut -c1-200)"
}

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
