#!/usr/bin/env bash
# Catch-up through Kafka: a pgbench TPC-B backlog written while nothing consumes the slots is
# drained by `syncline capture` (source -> Kafka) and `syncline apply` (Kafka -> target), side by
# side with PostgreSQL's native logical replication draining the same backlog, in the same run.
#
#   sudo bash bench/kafka.sh [--scale N] [--transactions N] [--clients N] [--format json|avro]
#                            [--warmup N] [--syncline PATH] [--keep]
#
# Both consumers start from identical targets (pgbench -i data on every side, two target
# databases) and their slots are created before the backlog. Native: a subscription
# (copy_data=false) enabled after the backlog, timed until its received LSN passes the backlog's
# end and the last row arrived. syncline: capture and apply started together, timed until the
# target's pgbench_history has every row (apply commits in source order), with the capture-only
# time (slot confirmed past the backlog) reported too. Exit 0 when both targets equal the source.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

SCALE=10
TRANSACTIONS=40000
CLIENTS=4
FORMAT=json
WARMUP=0
KEEP=0
SYNCLINE=${SYNCLINE:-$ROOT/build/syncline}
while (($#)); do
    case $1 in
    --scale) SCALE=${2:?}; shift 2 ;;
    --transactions) TRANSACTIONS=${2:?}; shift 2 ;;
    --clients) CLIENTS=${2:?}; shift 2 ;;
    --format) FORMAT=${2:?}; shift 2 ;;
    --warmup) WARMUP=${2:?}; shift 2 ;;
    --syncline) SYNCLINE=${2:?}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "kafka.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[[ $WARMUP =~ ^[0-9]+$ ]] || { echo "kafka.sh: --warmup must be a whole number" >&2; exit 2; }
[[ -x "$SYNCLINE" ]] || { echo "kafka.sh: no syncline binary at $SYNCLINE" >&2; exit 2; }

# shellcheck source=bench/lib-kafka.sh
source "$ROOT/bench/lib-kafka.sh"
kafka_bench_start kafka 57442 59192
log "source $SRC_PORT, target $TGT_PORT, broker $BROKERS, scale $SCALE, $TRANSACTIONS transactions"

kafka_bench_dbs bench_native bench_kafka

# the native subscription and its slot, disabled: the backlog piles up behind it
q "$SRC_PORT" bench "CREATE PUBLICATION native FOR ALL TABLES"
q "$TGT_PORT" bench_native "CREATE SUBSCRIPTION native CONNECTION 'host=127.0.0.1 port=$SRC_PORT user=postgres dbname=bench' PUBLICATION native WITH (copy_data = false, enabled = false)"

CFG=$SCRATCH/kafka.json
KAFKA_PROPS=${BENCH_KAFKA_PROPERTIES:-"{}"}
cat >"$CFG" <<JSON
{"name": "bench", "source": {"conninfo": "host=127.0.0.1 port=$SRC_PORT user=postgres dbname=bench"},
 "target": {"conninfo": "host=127.0.0.1 port=$TGT_PORT user=postgres dbname=bench_kafka"},
 "kafka": {"brokers": "$BROKERS", "topic": "bench.$FORMAT", "format": "$FORMAT",
           "properties": $KAFKA_PROPS}}
JSON
# capture once to create its slot and topic, then stop: the backlog piles up behind it too
"$SYNCLINE" capture -c "$CFG" >>"$SCRATCH/capture.log" 2>&1 &
cap=$!
for ((i = 0; i < 150; i++)); do grep -q "capture streaming" "$SCRATCH/capture.log" && break; sleep 0.2; done
kill -TERM "$cap"
wait "$cap" || die "capture (setup) failed: $(tail -n 3 "$SCRATCH/capture.log")"

# backlog N: N pgbench transactions written while nothing consumes the slots
backlog() {
    "$PG_BIN/pgbench" -n -c "$CLIENTS" -j 2 -t "$(($1 / CLIENTS))" -h 127.0.0.1 -p "$SRC_PORT" -U postgres bench \
        >>"$SCRATCH/pgbench.log" 2>&1 || die "pgbench"
}
# until_rows DB ROWS: waits until DB's pgbench_history holds ROWS rows
until_rows() {
    local t0
    t0=$(now)
    until [[ "$(q "$TGT_PORT" "$1" "SELECT count(*) FROM pgbench_history")" == "$2" ]]; do
        awk -v a="$(secs "$t0" "$(now)")" 'BEGIN { exit !(a < 300) }' || die "$1: pgbench_history did not reach $2 rows in 300 s"
        sleep 0.02
    done
}
if ((WARMUP > 0)); then
    log "warm-up: $WARMUP transactions, drained untimed by native and by capture + apply"
    backlog "$WARMUP"
    rows=$(q "$SRC_PORT" bench "SELECT count(*) FROM pgbench_history")
    warm_start=$(now)
    q "$TGT_PORT" bench_native "ALTER SUBSCRIPTION native ENABLE"
    until_rows bench_native "$rows"
    q "$TGT_PORT" bench_native "ALTER SUBSCRIPTION native DISABLE"
    "$SYNCLINE" capture -c "$CFG" >>"$SCRATCH/capture.log" 2>&1 &
    cap=$!
    "$SYNCLINE" apply -c "$CFG" >>"$SCRATCH/apply.log" 2>&1 &
    app=$!
    until_rows bench_kafka "$rows"
    kill -TERM "$cap" "$app"
    wait "$cap" || die "capture (warm-up) failed: $(tail -n 3 "$SCRATCH/capture.log")"
    wait "$app" || die "apply (warm-up) failed: $(tail -n 3 "$SCRATCH/apply.log")"
    # the launcher starts a subscription's worker again only wal_retrieve_retry_interval after
    # its last start: the timed ENABLE must not wait for that
    retry_ms=$(q "$TGT_PORT" bench_native "SELECT setting FROM pg_settings WHERE name = 'wal_retrieve_retry_interval'")
    rest=$(awk -v s="$(secs "$warm_start" "$(now)")" -v r="$retry_ms" 'BEGIN { w = r / 1000 + 0.5 - s; print (w > 0 ? w : 0) }')
    sleep "$rest"
fi

log "writing the backlog"
BASE_ROWS=$(q "$SRC_PORT" bench "SELECT count(*) FROM pgbench_history")
backlog "$TRANSACTIONS"
END_LSN=$(q "$SRC_PORT" bench "SELECT pg_current_wal_lsn()")
ROWS=$(q "$SRC_PORT" bench "SELECT count(*) FROM pgbench_history")
WAL_MB=$(q "$SRC_PORT" bench "SELECT round(pg_wal_lsn_diff('$END_LSN', confirmed_flush_lsn) / 1048576.0, 1) FROM pg_replication_slots WHERE slot_name = 'syncline_bench'")
TXS=$((ROWS - BASE_ROWS))
log "backlog: $TXS transactions, $WAL_MB MB of WAL"

log "native: draining"
s0=$(cpu_snap "$(pm src)") g0=$(cpu_snap "$(pm tgt)")
t0=$(now)
sess_open tgt "$SCRATCH" "$TGT_PORT" bench_native
n=$(sess_q tgt "ALTER SUBSCRIPTION native ENABLE" --no-rows)
while :; do
    n=$(sess_q tgt "SELECT count(*) FROM pgbench_history")
    [[ $n == "$ROWS" ]] && break
    sleep 0.005
done
T_NATIVE=$(secs "$t0" "$(now)")
sess_close tgt
N_SRC=$(cpu_delta "$s0" "$(cpu_snap "$(pm src)")") N_TGT=$(cpu_delta "$g0" "$(cpu_snap "$(pm tgt)")")
q "$TGT_PORT" bench_native "ALTER SUBSCRIPTION native DISABLE"

log "syncline capture + apply ($FORMAT): draining"
sess_open src "$SCRATCH" "$SRC_PORT" bench
sess_open tgt "$SCRATCH" "$TGT_PORT" bench_kafka
s0=$(cpu_snap "$(pm src)") g0=$(cpu_snap "$(pm tgt)") k0=$(cpu_snap "$BROKER_PID")
t0=$(now)
"$SYNCLINE" capture -c "$CFG" >>"$SCRATCH/capture.log" 2>&1 &
PIDS+=($!)
"$SYNCLINE" apply -c "$CFG" >>"$SCRATCH/apply.log" 2>&1 &
PIDS+=($!)
T_CAPTURE=""
while :; do
    if [[ -z "$T_CAPTURE" ]]; then
        c=$(sess_q src "SELECT confirmed_flush_lsn >= '$END_LSN' FROM pg_replication_slots WHERE slot_name = 'syncline_bench'")
        [[ $c != t ]] || T_CAPTURE=$(secs "$t0" "$(now)")
    fi
    n=$(sess_q tgt "SELECT count(*) FROM pgbench_history")
    [[ $n == "$ROWS" ]] && break
    kill -0 "${PIDS[1]}" 2>/dev/null || die "apply exited: $(tail -n 3 "$SCRATCH/apply.log")"
    sleep 0.005
done
T_KAFKA=$(secs "$t0" "$(now)")
sess_close src
sess_close tgt
T_CAPTURE=${T_CAPTURE:-$T_KAFKA}
K_SRC=$(cpu_delta "$s0" "$(cpu_snap "$(pm src)")") K_TGT=$(cpu_delta "$g0" "$(cpu_snap "$(pm tgt)")")
K_BROKER=$(cpu_delta "$k0" "$(cpu_snap "$BROKER_PID")")
K_CAPTURE=$(cpu_delta "" "$(cpu_snap "${PIDS[0]}")") K_APPLY=$(cpu_delta "" "$(cpu_snap "${PIDS[1]}")")

status=PASS
for t in pgbench_accounts pgbench_branches pgbench_tellers pgbench_history; do
    d="SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY t::text COLLATE \"C\")) FROM $t t"
    s=$(q "$SRC_PORT" bench "$d")
    [[ "$s" == "$(q "$TGT_PORT" bench_native "$d")" ]] || { log "native differs on $t"; status=FAIL; }
    [[ "$s" == "$(q "$TGT_PORT" bench_kafka "$d")" ]] || { log "kafka differs on $t"; status=FAIL; }
done
rate() { awk -v n="$TXS" -v s="$1" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
printf '\n| path | seconds | transactions/s | target equals source |\n|---|---:|---:|---|\n'
printf '| native logical replication | %s | %s | %s |\n' "$T_NATIVE" "$(rate "$T_NATIVE")" "$status"
printf '| syncline capture -> Kafka (%s) | %s | %s | - |\n' "$FORMAT" "$T_CAPTURE" "$(rate "$T_CAPTURE")"
printf '| syncline capture + apply end to end (%s) | %s | %s | %s |\n' "$FORMAT" "$T_KAFKA" "$(rate "$T_KAFKA")" "$status"
printf '\nCPU seconds during each drain: native: source server %s, target server %s; syncline: source server %s, target server %s, broker %s, capture %s, apply %s\n' \
    "$N_SRC" "$N_TGT" "$K_SRC" "$K_TGT" "$K_BROKER" "$K_CAPTURE" "$K_APPLY"
[[ "$status" == PASS ]]
