# shellcheck shell=bash
# Shared parts of the Kafka benchmarks (bench/kafka.sh, bench/debezium.sh): helpers, a source and
# a target cluster and a broker in a scratch directory, cleaned up on exit, and pgbench databases.
# Source it after setting ROOT and KEEP (1: leave everything running). Defines log, die, q PORT
# DB SQL, now, secs T0 T1, pm src|tgt (a server's postmaster pid), and:
#   kafka_bench_start NAME SRC_PORT KAFKA_PORT   scratch /tmp/syncline-bench-NAME.*, clusters on
#                     the first free ports from SRC_PORT, a broker from KAFKA_PORT; sets SCRATCH,
#                     SRC_PORT, TGT_PORT, BROKERS, BROKER_PID. PIDS (an array) and the
#                     kafka_bench_on_exit command (e.g. a Connect worker's stop) are stopped first.
#   kafka_bench_dbs TARGET_DB...   database bench on the source and each TARGET_DB on the target,
#                     each with pgbench -i -s $SCALE
# shellcheck source=tests/lib/pg.sh
source "$ROOT/tests/lib/pg.sh"
# shellcheck source=tests/lib/kafka.sh
source "$ROOT/tests/lib/kafka.sh"
# shellcheck source=bench/cpu.sh
source "$ROOT/bench/cpu.sh"
# shellcheck source=bench/psql-session.sh
source "$ROOT/bench/psql-session.sh"

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
q() { # PORT DB SQL
    PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -qAt -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$1" -U postgres -d "$2" -c "$3"
}
now() { echo "$EPOCHREALTIME"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
pm() { head -n 1 "$SCRATCH/$1/postmaster.pid"; }

PIDS=()
kafka_bench_on_exit=:
_kafka_bench_cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    $kafka_bench_on_exit || true
    sleep 1
    if ((KEEP)); then
        log "kept: source $SRC_PORT, target $TGT_PORT, broker $(cat "$SCRATCH/kafka/brokers" 2>/dev/null), $SCRATCH"
        return
    fi
    kafka_stop "$SCRATCH/kafka" || true
    pg_cluster_destroy "$SCRATCH/src" >/dev/null 2>&1 || true
    pg_cluster_destroy "$SCRATCH/tgt" >/dev/null 2>&1 || true
    rm -rf "$SCRATCH"
}

kafka_bench_start() { # NAME SRC_PORT KAFKA_PORT
    SCRATCH=$(pg_make_scratch "syncline-bench-$1")
    SRC_PORT=$(pg_free_port "$2")
    TGT_PORT=$(pg_free_port $((SRC_PORT + 1)))
    trap _kafka_bench_cleanup EXIT
    trap 'exit 130' INT TERM # the EXIT trap then cleans up: a signal alone would skip it
    local conf=("shared_buffers = 256MB" "max_wal_size = 4GB" "fsync = on"
        "max_replication_slots = 10" "max_wal_senders = 10")
    PG_FSYNC=on pg_cluster_create source "$SRC_PORT" "$SCRATCH/src" "${conf[@]}" >/dev/null
    PG_FSYNC=on pg_cluster_create target "$TGT_PORT" "$SCRATCH/tgt" "${conf[@]}" >/dev/null
    pg_cluster_start "$SCRATCH/src" >/dev/null
    pg_cluster_start "$SCRATCH/tgt" >/dev/null
    KAFKA_JVM_OPTS=${KAFKA_JVM_OPTS:-$KAFKA_SHIPPED_JVM_OPTS} # the broker as Kafka starts one
    # shellcheck disable=SC2034 # used by the scripts that source this file
    BROKERS=$(kafka_start "$SCRATCH/kafka" "$3")
    # shellcheck disable=SC2034
    BROKER_PID=$(cat "$SCRATCH/kafka/pid")
}

kafka_bench_dbs() { # TARGET_DB...
    local db port target
    q "$SRC_PORT" postgres "CREATE DATABASE bench"
    for db in "$@"; do q "$TGT_PORT" postgres "CREATE DATABASE $db"; done
    for target in "$SRC_PORT bench" "${@/#/$TGT_PORT }"; do
        read -r port db <<<"$target"
        "$PG_BIN/pgbench" -q -i -s "$SCALE" -h 127.0.0.1 -p "$port" -U postgres "$db" >/dev/null 2>&1
    done
}
