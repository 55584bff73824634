#!/usr/bin/env bash
# Catch-up side by side with Debezium: one pgbench TPC-B backlog, written while nothing consumes
# the slots, drained in turn by
#   1. native logical replication (a subscription enabled after the backlog);
#   2. syncline capture + apply through Kafka, layout syncline (one topic);
#   3. syncline capture + apply through Kafka, layout debezium (a topic per table, JSON with
#      schemas, transaction metadata; apply re-assembles transactions);
#   3a. the same in Avro in the Confluent wire format (the Schema Registry stand-in of
#      tests/lib/schema_registry.py);
#   4. the Debezium PostgreSQL connector 3.6.1.Final + the Debezium JDBC sink 3.6.0.Final in one
#      Kafka Connect 4.1.1 standalone worker (tests/lib/connect.sh; Maven Central), the sink set
#      as a competent user would (upsert on the record key, batches of thousands, reduction
#      buffer; pgbench_history, which has no key, in a second sink with insert mode).
# Each path has its own slot (created before the backlog) and its own target database (pgbench -i
# data, as on the source). A path is timed from its start until the target's pgbench_history has
# every row and pgbench_accounts' balance sum equals the source's. CPU seconds are counted per
# process (servers, broker, capture, apply, the Connect JVM). The Connect worker is started
# before its clock starts; its start time is reported apart.
#
#   bash bench/debezium.sh [--scale N] [--transactions N] [--clients N] [--syncline PATH] [--keep]
#                          [--no-connect]   (skips path 4, the Connect worker)
#   (ports: BENCH_PORT, BENCH_KAFKA_PORT, BENCH_CONNECT_PORT, the first free one from each)
#
# Exit 0 when every target equals the source.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib-kafka.sh
source "$ROOT/bench/lib-kafka.sh"
# shellcheck source=tests/lib/connect.sh
source "$ROOT/tests/lib/connect.sh"

SCALE=10
TRANSACTIONS=40000
CLIENTS=4
KEEP=0
CONNECT=1
SYNCLINE=${SYNCLINE:-$ROOT/build/syncline}
while (($#)); do
    case $1 in
    --scale) SCALE=${2:?}; shift 2 ;;
    --transactions) TRANSACTIONS=${2:?}; shift 2 ;;
    --clients) CLIENTS=${2:?}; shift 2 ;;
    --syncline) SYNCLINE=${2:?}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --no-connect) CONNECT=0; shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "debezium.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[[ -x "$SYNCLINE" ]] || { echo "debezium.sh: no syncline binary at $SYNCLINE" >&2; exit 2; }

((!CONNECT)) || connect_fetch || die "cannot gather Kafka Connect and Debezium from Maven Central"
kafka_bench_start debezium "${BENCH_PORT:-57452}" "${BENCH_KAFKA_PORT:-59292}"
CONNECT_DIR=$SCRATCH/connect
kafka_bench_on_exit="connect_stop $CONNECT_DIR"
log "source $SRC_PORT, target $TGT_PORT, broker $BROKERS, scale $SCALE, $TRANSACTIONS transactions"

DBS=(bench_native bench_sl bench_sldbz bench_sldbza)
((!CONNECT)) || DBS+=(bench_dbz)
kafka_bench_dbs "${DBS[@]}"

# every consumer's slot exists before the backlog
q "$SRC_PORT" bench "CREATE PUBLICATION native FOR TABLE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history"
q "$TGT_PORT" bench_native "CREATE SUBSCRIPTION native CONNECTION 'host=127.0.0.1 port=$SRC_PORT user=postgres dbname=bench' PUBLICATION native WITH (copy_data = false, enabled = false)"
q "$SRC_PORT" bench "CREATE PUBLICATION dbz_pub FOR TABLE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history"
q "$SRC_PORT" bench "SELECT 1 FROM pg_create_logical_replication_slot('dbz_slot', 'pgoutput')" >/dev/null

config() { # NAME DB KAFKA-MEMBERS [FORMAT]
    cat >"$SCRATCH/$1.json" <<JSON
{"name": "$1", "source": {"conninfo": "host=127.0.0.1 port=$SRC_PORT user=postgres dbname=bench"},
 "target": {"conninfo": "host=127.0.0.1 port=$TGT_PORT user=postgres dbname=$2"},
 "kafka": {"brokers": "$BROKERS", "format": "${4:-json}", $3}}
JSON
}
python3 "$ROOT/tests/lib/schema_registry.py" --port-file "$SCRATCH/registry.port" \
    2>>"$SCRATCH/registry.log" </dev/null &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do [[ -s "$SCRATCH/registry.port" ]] && break; sleep 0.1; done
[[ -s "$SCRATCH/registry.port" ]] || die "the schema registry stand-in did not start"
config sl bench_sl '"topic": "bench.sl"'
config sldbz bench_sldbz '"layout": "debezium", "topic_prefix": "sldbz"'
config sldbza bench_sldbza "\"layout\": \"debezium\", \"topic_prefix\": \"sldbza\", \
\"schema_registry\": \"http://127.0.0.1:$(cat "$SCRATCH/registry.port")\"" avro
for name in sl sldbz sldbza; do # capture once: its slot and topics; the backlog piles up behind it
    "$SYNCLINE" capture -c "$SCRATCH/$name.json" >>"$SCRATCH/capture.$name.log" 2>&1 &
    cap=$!
    for ((i = 0; i < 150; i++)); do grep -q "capture streaming" "$SCRATCH/capture.$name.log" && break; sleep 0.2; done
    kill -TERM "$cap"
    wait "$cap" || die "capture $name (setup) failed: $(tail -n 3 "$SCRATCH/capture.$name.log")"
done

log "writing the backlog"
"$PG_BIN/pgbench" -n -c "$CLIENTS" -j 2 -t $((TRANSACTIONS / CLIENTS)) -h 127.0.0.1 -p "$SRC_PORT" \
    -U postgres bench >"$SCRATCH/pgbench.log" 2>&1 || die "pgbench"
END_LSN=$(q "$SRC_PORT" bench "SELECT pg_current_wal_lsn()")
ROWS=$(q "$SRC_PORT" bench "SELECT count(*) FROM pgbench_history")
SUM=$(q "$SRC_PORT" bench "SELECT sum(abalance) FROM pgbench_accounts")
WAL_MB=$(q "$SRC_PORT" bench "SELECT round(pg_wal_lsn_diff('$END_LSN', confirmed_flush_lsn) / 1048576.0, 1) FROM pg_replication_slots WHERE slot_name = 'dbz_slot'")
log "backlog: $ROWS transactions, $WAL_MB MB of WAL"

drained() { # DB
    [[ "$(q "$TGT_PORT" "$1" "SELECT count(*) FROM pgbench_history")" == "$ROWS" &&
        "$(q "$TGT_PORT" "$1" "SELECT sum(abalance) FROM pgbench_accounts")" == "$SUM" ]]
}
declare -A T TC CPU

log "native: draining"
s0=$(cpu_snap "$(pm src)") g0=$(cpu_snap "$(pm tgt)")
t0=$(now)
q "$TGT_PORT" bench_native "ALTER SUBSCRIPTION native ENABLE"
until drained bench_native; do sleep 0.05; done
T[native]=$(secs "$t0" "$(now)")
CPU[native]="source server $(cpu_delta "$s0" "$(cpu_snap "$(pm src)")"), target server $(cpu_delta "$g0" "$(cpu_snap "$(pm tgt)")")"
q "$TGT_PORT" bench_native "ALTER SUBSCRIPTION native DISABLE"

syncline_drain() { # NAME DB
    local name=$1 db=$2 cap app
    log "syncline $name: draining"
    s0=$(cpu_snap "$(pm src)") g0=$(cpu_snap "$(pm tgt)") k0=$(cpu_snap "$BROKER_PID")
    t0=$(now)
    "$SYNCLINE" capture -c "$SCRATCH/$name.json" >>"$SCRATCH/capture.$name.log" 2>&1 &
    cap=$!
    "$SYNCLINE" apply -c "$SCRATCH/$name.json" >>"$SCRATCH/apply.$name.log" 2>&1 &
    app=$!
    PIDS+=("$cap" "$app")
    TC[$name]=""
    until drained "$db"; do
        kill -0 "$app" 2>/dev/null || die "apply $name exited: $(tail -n 3 "$SCRATCH/apply.$name.log")"
        if [[ -z "${TC[$name]}" && "$(q "$SRC_PORT" bench "SELECT confirmed_flush_lsn >= '$END_LSN' FROM pg_replication_slots WHERE slot_name = 'syncline_$name'")" == t ]]; then
            TC[$name]=$(secs "$t0" "$(now)")
        fi
        sleep 0.05
    done
    T[$name]=$(secs "$t0" "$(now)")
    TC[$name]=${TC[$name]:-${T[$name]}}
    CPU[$name]="source server $(cpu_delta "$s0" "$(cpu_snap "$(pm src)")"), target server $(cpu_delta "$g0" "$(cpu_snap "$(pm tgt)")"), broker $(cpu_delta "$k0" "$(cpu_snap "$BROKER_PID")"), capture $(cpu_delta "" "$(cpu_snap "$cap")"), apply $(cpu_delta "" "$(cpu_snap "$app")")"
    kill -TERM "$cap" "$app"
    wait "$cap" "$app" || true
}
syncline_drain sl bench_sl
syncline_drain sldbz bench_sldbz
syncline_drain sldbza bench_sldbza

T_WORKER=""
if ((CONNECT)); then
log "Debezium: starting the Connect worker"
t0=$(now)
connect_start "$CONNECT_DIR" "$BROKERS" "${BENCH_CONNECT_PORT:-59310}" >/dev/null || die "Kafka Connect did not start"
T_WORKER=$(secs "$t0" "$(now)")
JVM=$(cat "$CONNECT_DIR/pid")
sink() { # NAME TOPICS-REGEX MODE KEY-MODE
    connect_create "$CONNECT_DIR" "$1" "{
  \"connector.class\": \"io.debezium.connector.jdbc.JdbcSinkConnector\", \"tasks.max\": \"1\",
  \"topics.regex\": \"$2\",
  \"connection.url\": \"jdbc:postgresql://127.0.0.1:$TGT_PORT/bench_dbz\",
  \"connection.username\": \"postgres\", \"connection.password\": \"unused\",
  \"insert.mode\": \"$3\", \"primary.key.mode\": \"$4\", \"delete.enabled\": \"$([[ $4 == record_key ]] && echo true || echo false)\",
  \"schema.evolution\": \"none\", \"batch.size\": \"5000\", \"use.reduction.buffer\": \"true\",
  \"transforms\": \"route\",
  \"transforms.route.type\": \"org.apache.kafka.connect.transforms.RegexRouter\",
  \"transforms.route.regex\": \"dbz\\\\.public\\\\.(.*)\", \"transforms.route.replacement\": \"\$1\"
}" || die "could not create sink $1"
}
log "Debezium: draining"
s0=$(cpu_snap "$(pm src)") g0=$(cpu_snap "$(pm tgt)") k0=$(cpu_snap "$BROKER_PID") j0=$(cpu_snap "$JVM")
t0=$(now)
connect_create "$CONNECT_DIR" dbz-source "{
  \"connector.class\": \"io.debezium.connector.postgresql.PostgresConnector\", \"tasks.max\": \"1\",
  \"database.hostname\": \"127.0.0.1\", \"database.port\": \"$SRC_PORT\",
  \"database.user\": \"postgres\", \"database.password\": \"unused\", \"database.dbname\": \"bench\",
  \"topic.prefix\": \"dbz\", \"plugin.name\": \"pgoutput\", \"slot.name\": \"dbz_slot\",
  \"publication.name\": \"dbz_pub\", \"publication.autocreate.mode\": \"disabled\",
  \"snapshot.mode\": \"no_data\"
}" || die "could not create the Debezium connector"
sink dbz-sink-keyed 'dbz\\.public\\.pgbench_(accounts|branches|tellers)' upsert record_key
sink dbz-sink-history 'dbz\\.public\\.pgbench_history' insert none
until drained bench_dbz; do
    connect_running "$CONNECT_DIR" || die "the Connect worker exited"
    sleep 0.1
done
T[dbz]=$(secs "$t0" "$(now)")
CPU[dbz]="source server $(cpu_delta "$s0" "$(cpu_snap "$(pm src)")"), target server $(cpu_delta "$g0" "$(cpu_snap "$(pm tgt)")"), broker $(cpu_delta "$k0" "$(cpu_snap "$BROKER_PID")"), Connect JVM $(cpu_delta "$j0" "$(cpu_snap "$JVM")")"
connect_stop "$CONNECT_DIR"
fi

status=PASS
for t in pgbench_accounts pgbench_branches pgbench_tellers pgbench_history; do
    d="SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY t::text COLLATE \"C\")) FROM $t t"
    s=$(q "$SRC_PORT" bench "$d")
    for db in "${DBS[@]}"; do
        [[ "$s" == "$(q "$TGT_PORT" "$db" "$d")" ]] || { log "$db differs on $t"; status=FAIL; }
    done
done
rate() { awk -v n="$ROWS" -v s="$1" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
ratio() { awk -v a="${T[native]}" -v b="$1" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
printf '\n%s transactions (scale %s, %s MB of WAL); all targets equal the source: %s\n\n' "$ROWS" "$SCALE" "$WAL_MB" "$status"
printf '| path | seconds | transactions/s | vs native | CPU seconds during the drain |\n|---|---:|---:|---:|---|\n'
row() { printf '| %s | %s | %s | %sx | %s |\n' "$1" "${T[$2]}" "$(rate "${T[$2]}")" "$(ratio "${T[$2]}")" "${CPU[$2]}"; }
row "native logical replication" native
row "syncline capture + apply, layout syncline (json)" sl
row "syncline capture + apply, layout debezium" sldbz
row "syncline capture + apply, layout debezium, Avro (registry)" sldbza
((!CONNECT)) || row "Debezium source + JDBC sink (Connect worker up before)" dbz
printf '\nsyncline capture alone (slot confirmed past the backlog): layout syncline %s s, layout debezium %s s, in Avro %s s\n' "${TC[sl]}" "${TC[sldbz]}" "${TC[sldbza]}"
((!CONNECT)) || printf 'Connect worker start (not in the Debezium time): %s s\n' "$T_WORKER"
[[ "$status" == PASS ]]
