#!/usr/bin/env bash
# Crash loop (issue 8): a pgbench workload of mixed inserts, updates, deletes and TRUNCATEs runs
# on the source while, round after round, one of these is killed at a random moment and comes
# back: `syncline run` (direct, into target database t501), `syncline capture` and `syncline
# apply` (through Kafka, into target database t501k), both with SIGKILL; the target and the
# source PostgreSQL (pg_ctl stop -m immediate, then start); the Kafka broker (kill -9, restart).
# The three syncline processes run under a supervisor that restarts them 1 s after they exit,
# as systemd with Restart=always would; pgbench is restarted when an outage ends it. Every
# CRASH_CHECK_EVERY rounds and at the end the workload stops, both targets must converge, and
# every table must then be identical (count and md5 over every row) to the source: no loss,
# no duplicate (table hist has no key: a doubled or lost insert changes its count).
#
# Environment: CRASH_ROUNDS (50), CRASH_CHECK_EVERY (10), CRASH_KAFKA_EVERY (25: the broker
# is killed on one round in that many; it takes ~15 s to come back), CRASH_REPORT (a file that
# gets one line per round and per check; tests/crashloop.sh runs the long variant with it).
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"
# shellcheck source=tests/lib/pg.sh
source "$(dirname "$0")/../lib/pg.sh"

ROUNDS=${CRASH_ROUNDS:-50}
CHECK_EVERY=${CRASH_CHECK_EVERY:-10}
KAFKA_EVERY=${CRASH_KAFKA_EVERY:-25}
CONVERGE_TIMEOUT=${CRASH_CONVERGE_TIMEOUT:-120}
TABLES=(acct item small hist)
KTGT_DB=t501k

e2e_setup t501
REPORT=${CRASH_REPORT:-$E2E_TMP/report.txt}
: >"$REPORT"
TOPIC="e2e.t501.$(date +%s%N | tail -c 10)"
KTGT_CONNINFO="host=127.0.0.1 port=$TGT_PORT user=postgres dbname=$KTGT_DB"
KCFG=$E2E_TMP/kafka.json
write_config "$(config_json '"apply": {"batch_ms": 100}')"
printf '{"name": "t501k", "source": {"conninfo": "%s"}, "target": {"conninfo": "%s"},
 "apply": {"batch_ms": 100},
 "kafka": {"brokers": "%s", "topic": "%s", "format": "avro", "partitioning": "none"}}\n' \
    "$SRC_CONNINFO" "$KTGT_CONNINFO" "$KAFKA_BROKERS" "$TOPIC" >"$KCFG"
_e2e_psql_or_fail "create $KTGT_DB" "$TGT_PORT" postgres \
    -c "DROP DATABASE IF EXISTS $KTGT_DB WITH (FORCE)" -c "CREATE DATABASE $KTGT_DB"

SCHEMA="CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL, touched int NOT NULL, note text);
CREATE TABLE item (id bigserial PRIMARY KEY, acct int NOT NULL, qty int NOT NULL,
                   at timestamptz NOT NULL DEFAULT now());
CREATE TABLE small (id int PRIMARY KEY, v text NOT NULL, gen int NOT NULL);
CREATE TABLE hist (acct int, delta int, at timestamptz);
INSERT INTO acct SELECT g, 0, 0, md5(g::text) FROM generate_series(1, 5000) g;
INSERT INTO small SELECT g, 'init', 0 FROM generate_series(1, 20) g;"
both_sql "$SCHEMA"
_e2e_psql_or_fail "schema $KTGT_DB" "$TGT_PORT" "$KTGT_DB" -c "$SCHEMA"
src_sql "ALTER TABLE hist REPLICA IDENTITY FULL"

cat >"$E2E_TMP/mixed.sql" <<'SQL'
\set aid random(1, 5000)
\set delta random(-500, 500)
\set sid random(1, 20)
BEGIN;
UPDATE acct SET bal = bal + :delta, touched = touched + 1 WHERE id = :aid;
INSERT INTO item (acct, qty) VALUES (:aid, :delta) RETURNING id AS iid \gset
DELETE FROM item WHERE id = :iid - 5;
INSERT INTO hist VALUES (:aid, :delta, now());
UPDATE small SET v = md5(random()::text), gen = gen + 1 WHERE id = :sid;
END;
SQL
cat >"$E2E_TMP/truncate.sql" <<'SQL'
BEGIN;
TRUNCATE small;
INSERT INTO small SELECT g, 'reset', 0 FROM generate_series(1, 20) g;
END;
SQL

# ---------------------------------------------------------------- supervised processes

# KIND LOG CMD...: runs CMD again 1 s after each exit (systemd Restart=always, RestartSec=1),
# writes its pid to $E2E_TMP/KIND.pid and "KIND RC" to exits.log. SIGTERM stops both.
supervise() {
    local kind=$1 log=$2 pid="" rc
    shift 2
    trap 'if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null; wait "$pid"; fi; exit 0' TERM
    while :; do
        echo "=== $(date +%T.%3N) supervisor starts $kind ===" >>"$log"
        "$@" >>"$log" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$E2E_TMP/$kind.pid"
        rc=0
        wait "$pid" || rc=$?
        pid=""
        echo "$kind $rc" >>"$E2E_TMP/exits.log"
        echo "=== $(date +%T.%3N) $kind exited with code $rc ===" >>"$log"
        sleep 1
    done
}

declare -A SUP_PIDS=()
sup_start() { # KIND LOG CMD...
    supervise "$@" 2>>"$E2E_TMP/supervisor.log" &
    SUP_PIDS[$1]=$!
}
sup_stop_all() {
    local k
    for k in "${!SUP_PIDS[@]}"; do kill -TERM "${SUP_PIDS[$k]}" 2>/dev/null || true; done
    for k in "${!SUP_PIDS[@]}"; do wait "${SUP_PIDS[$k]}" 2>/dev/null || true; done
    SUP_PIDS=()
}
e2e_on_exit sup_stop_all

# The workload: pgbench restarted whenever it ends (an outage of the source aborts its clients).
workload() {
    local pid=""
    trap 'if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null; wait "$pid"; fi; exit 0' TERM
    while :; do
        "$PG_BIN/pgbench" -n -c 3 -j 1 -R 250 -T 3600 -f "$E2E_TMP/mixed.sql@30" \
            -f "$E2E_TMP/truncate.sql@1" -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$SRC_DB" \
            >>"$E2E_TMP/pgbench.log" 2>&1 </dev/null &
        pid=$!
        wait "$pid" || true
        pid=""
        echo "pgbench restart" >>"$E2E_TMP/workload.log"
        sleep 0.5
    done
}
WORKLOAD_PID=""
workload_start() {
    workload &
    WORKLOAD_PID=$!
}
workload_stop() {
    [[ -n "$WORKLOAD_PID" ]] || return 0
    kill -TERM "$WORKLOAD_PID" 2>/dev/null || true
    wait "$WORKLOAD_PID" 2>/dev/null || true
    WORKLOAD_PID=""
    # A TERM that lands between starting pgbench and noting its pid leaves it running: until it
    # is gone the source keeps changing (and a check would compare a moving source).
    local i
    for ((i = 0; i < 100; i++)); do
        pkill -TERM -f -- "-f $E2E_TMP/mixed.sql" 2>/dev/null || return 0
        sleep 0.1
    done
}
e2e_on_exit workload_stop

# ---------------------------------------------------------------- faults

kill_process() { # KIND
    local pid
    pid=$(cat "$E2E_TMP/$1.pid" 2>/dev/null) || return 0
    kill -KILL "$pid" 2>/dev/null || true
}

# DIR: immediate stop (no shutdown checkpoint, like a crash), down for up to 1 s, start.
crash_pg() {
    pg_cluster_stop "$1" immediate || fail "pg_ctl stop -m immediate $1"
    sleep "0.$((RANDOM % 10))"
    pg_cluster_start "$1" >/dev/null || fail "could not restart the cluster $1"
}

crash_kafka() {
    kafka_kill "$KAFKA_DIR"
    kafka_restart "$KAFKA_DIR" 2>>"$E2E_TMP/supervisor.log" || fail "the broker did not come back"
}

inflict() { # KIND
    case $1 in
    run | capture | apply) kill_process "$1" ;;
    target) crash_pg "$TGT_PGDATA" ;;
    source) crash_pg "$SRC_PGDATA" ;;
    kafka) crash_kafka ;;
    esac
}

# ---------------------------------------------------------------- convergence

digest() { # PORT DB TABLE
    _e2e_psql "$1" "$2" -c "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n'
        ORDER BY t::text COLLATE \"C\"), '')) FROM $3 t" 2>/dev/null || echo "?"
}

targets_same() { # both targets equal the source digests in SRC_DIGEST
    local t
    for t in "${TABLES[@]}"; do
        [[ "$(digest "$TGT_PORT" "$TGT_DB" "$t")" == "${SRC_DIGEST[$t]}" ]] || return 1
        [[ "$(digest "$TGT_PORT" "$KTGT_DB" "$t")" == "${SRC_DIGEST[$t]}" ]] || return 1
    done
}

declare -A SRC_DIGEST=()
CHECKS=0
check_converged() { # ROUND
    local t start deadline ms
    workload_stop
    for t in "${TABLES[@]}"; do SRC_DIGEST[$t]=$(digest "$SRC_PORT" "$SRC_DB" "$t"); done
    start=$(_e2e_now_ms)
    deadline=$((start + CONVERGE_TIMEOUT * 1000))
    until targets_same; do
        if (($(_e2e_now_ms) > deadline)); then
            echo "check after round $1: NOT converged after ${CONVERGE_TIMEOUT}s" >>"$REPORT"
            for t in "${TABLES[@]}"; do
                echo "$t: source [${SRC_DIGEST[$t]}] run [$(digest "$TGT_PORT" "$TGT_DB" "$t")]" \
                    "kafka [$(digest "$TGT_PORT" "$KTGT_DB" "$t")]" >&2
            done
            cat "$E2E_TMP/exits.log" >&2
            tail -n 30 "$E2E_TMP/capture.log" "$E2E_TMP/apply.1.log" >&2
            fail "round $1: the targets did not converge to the source within ${CONVERGE_TIMEOUT}s"
        fi
        sleep 0.5
    done
    ms=$(($(_e2e_now_ms) - start))
    CHECKS=$((CHECKS + 1))
    local rows=""
    for t in "${TABLES[@]}"; do rows+=" $t=${SRC_DIGEST[$t]%% *}"; done
    echo "check after round $1: converged in $ms ms, both targets equal the source:$rows" |
        tee -a "$REPORT"
    workload_start
}

# ---------------------------------------------------------------- the loop

sup_start run "$E2E_TMP/syncline.log" "$SYNCLINE" run -c "$CFG" --snapshot=never
sup_start capture "$E2E_TMP/capture.log" "$SYNCLINE" capture -c "$KCFG"
sup_start apply "$E2E_TMP/apply.1.log" "$SYNCLINE" apply -c "$KCFG"
slots_active() {
    [[ $(src_sql "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()
                   AND active_pid IS NOT NULL") == 2 ]]
}
wait_until 60 slots_active
workload_start

KINDS=(run capture apply source target)
declare -A KILLS=()
bag=()
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % KAFKA_EVERY == KAFKA_EVERY / 2)); then
        kind=kafka
    else
        ((${#bag[@]})) || mapfile -t bag < <(printf '%s\n' "${KINDS[@]}" | shuf)
        kind=${bag[0]}
        bag=("${bag[@]:1}")
    fi
    sleep "$((RANDOM % 2)).$((RANDOM % 10))" # a random moment of the workload
    t0=$(_e2e_now_ms)
    inflict "$kind"
    KILLS[$kind]=$((${KILLS[$kind]:-0} + 1))
    echo "round $round: $kind killed, back in $(($(_e2e_now_ms) - t0)) ms" | tee -a "$REPORT"
    sleep 0.3
    if ((round % CHECK_EVERY == 0 || round == ROUNDS)); then check_converged "$round"; fi
done
workload_stop

# ---------------------------------------------------------------- verdict

summary="rounds=$ROUNDS checks=$CHECKS kills:"
for k in run capture apply source target kafka; do summary+=" $k=${KILLS[$k]:-0}"; done
exits=$(sort "$E2E_TMP/exits.log" 2>/dev/null | uniq -c | awk '{printf " %s(exit %s)=%s", $2, $3, $1}')
echo "$summary; process exits:$exits" | tee -a "$REPORT"
tx=$(src_sql "SELECT count(*) FROM hist")
restarts=$(grep -c 'pgbench restart' "$E2E_TMP/workload.log" 2>/dev/null) || restarts=0
echo "workload: $tx transactions committed, $restarts pgbench restarts" | tee -a "$REPORT"
((tx > 500)) || fail "the workload did too little ($tx transactions)"
# the last check restarted the workload: let both targets catch up with where it stopped
for t in "${TABLES[@]}"; do SRC_DIGEST[$t]=$(digest "$SRC_PORT" "$SRC_DB" "$t"); done
wait_until "$CONVERGE_TIMEOUT" targets_same
for t in "${TABLES[@]}"; do assert_same "$t"; done
# Exits other than our SIGKILL (137) and "cannot connect at start" (4, the server was down)
# mean syncline gave up on something it should have retried, or met a precondition failure.
bad=$(awk '$2 != 137 && $2 != 4' "$E2E_TMP/exits.log" || true)
[[ -z "$bad" ]] || fail "unexpected exits: $(echo "$bad" | sort | uniq -c | tr '\n' ' ')"
echo "ok: no exit other than SIGKILL and connection refused at start"
