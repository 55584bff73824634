# shellcheck shell=bash
# Shared by the network-fault scenarios (502, 504): syncline reaches the source and the target
# through tests/lib/faultproxy.py on loopback while pgbench writes to the source directly.
# Source it after tests/e2e/lib.sh and tests/lib/pg.sh, and after e2e_setup NAME.
#   faults_ports                 sets PSRC, PTGT (proxy ports) and METRICS, free ports from 58432+
#   proxy_start NAME LISTEN TARGET  a proxy NAME (src, tgt) on LISTEN forwarding to 127.0.0.1:TARGET
#   proxy_mode NAME pass|drop|stall  switches it and waits until the proxy logged the change
#   faults_schema                acct (1,000 rows) and hist on both sides; writes $E2E_TMP/work.sql
#   faults_workload              pgbench at 100 tx/s of work.sql on the source (killed on exit)
#   log_lines / log_since N / has_log N TEXT / wait_log N SECONDS TEXT   syncline.log from line N
#   hist_rows                    rows of hist on the target (read directly, not through a proxy)

declare -A PROXY_PIDS=()
PROXY=$(dirname "${BASH_SOURCE[0]}")/../lib/faultproxy.py

faults_ports() {
    PSRC=$(pg_free_port "${1:-58432}")
    PTGT=$(pg_free_port $((PSRC + 1)))
    # shellcheck disable=SC2034 # used by the scenarios
    METRICS=$(pg_free_port $((PTGT + 1)))
}

proxy_start() { # NAME LISTEN_PORT TARGET_PORT
    echo pass >"$E2E_TMP/$1.mode"
    python3 "$PROXY" "$2" "127.0.0.1:$3" "$E2E_TMP/$1.mode" 2>>"$E2E_TMP/proxy-$1.log" &
    PROXY_PIDS[$1]=$!
    wait_until 10 pg_wait_ready "$2" 1
}
_mode_changes() { grep -c -- " -> $2 " "$E2E_TMP/proxy-$1.log" || true; }
_mode_changed() { (($(_mode_changes "$1" "$2") > $3)); }
proxy_mode() { # NAME MODE
    local n
    n=$(_mode_changes "$1" "$2")
    echo "$2" >"$E2E_TMP/$1.mode"
    _e2e_log "proxy $1: $2"
    # the proxy reads its control file every 0.1 s: wait until it logged the change
    wait_until 10 _mode_changed "$1" "$2" "$n"
}
proxies_stop() {
    local n
    for n in "${!PROXY_PIDS[@]}"; do kill -TERM "${PROXY_PIDS[$n]}" 2>/dev/null || true; done
}
e2e_on_exit proxies_stop

faults_schema() {
    both_sql "CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL);
              CREATE TABLE hist (id bigserial PRIMARY KEY, acct int, delta int);
              INSERT INTO acct SELECT g, 0 FROM generate_series(1, 1000) g;"
    cat >"$E2E_TMP/work.sql" <<'SQL'
\set aid random(1, 1000)
\set delta random(-100, 100)
BEGIN;
UPDATE acct SET bal = bal + :delta WHERE id = :aid;
INSERT INTO hist (acct, delta) VALUES (:aid, :delta);
END;
SQL
}

faults_workload() {
    "$PG_BIN/pgbench" -n -c 2 -R 100 -T 600 -f "$E2E_TMP/work.sql" -h 127.0.0.1 -p "$SRC_PORT" \
        -U postgres "$SRC_DB" >"$E2E_TMP/pgbench.log" 2>&1 &
    BENCH=$!
    e2e_on_exit "kill $BENCH 2>/dev/null || true"
}

log_lines() { wc -l <"$E2E_TMP/syncline.log"; }
log_since() { tail -n +"$(($1 + 1))" "$E2E_TMP/syncline.log"; }
has_log() { log_since "$1" | grep -F -- "$2" >/dev/null; }
wait_log() { # FROM SECONDS TEXT
    wait_until "$2" has_log "$1" "$3"
    _e2e_log "log: $(log_since "$1" | grep -F -- "$3" | head -n 1 | cut -c1-200)"
}
hist_rows() { tgt_sql "SELECT count(*) FROM hist"; }
