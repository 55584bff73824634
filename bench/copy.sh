#!/usr/bin/env bash
# Initial-copy benchmark: time to copy a pgbench database (source with data, target with the schema
# only) with syncline's parallel snapshot copy, native logical replication's copy_data, and
# pg_dump --data-only | psql, on the same two clusters in the same run. See bench/README.md.
#
#   sudo bash bench/copy.sh [--scale N] [--workers N] [--indexes] [--only LIST] [--keep]
#                           [--syncline PATH] [--timeout SECONDS]
#
# Exit status: 0 when every run finished and the target equalled the source after it;
# 1 when a run failed or the tables differed (FAIL); 2 on a usage error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

SCALE=50
WORKERS=""
INDEXES=0
ONLY="syncline,native,dump"
KEEP=0
TIMEOUT=1800
SYNCLINE=${SYNCLINE:-$ROOT/build/syncline}
SRC_PORT=${BENCH_SRC_PORT:-57442}
TGT_PORT=${BENCH_TGT_PORT:-57443}
DB=bench
NAME=bench # syncline's "name": slot and publication syncline_bench, progress row 'bench'

usage() {
    cat <<EOF
usage: sudo bash bench/copy.sh [options]

Initial copy of a pgbench database: syncline vs native copy_data vs pg_dump | psql.

  --scale N          pgbench scale factor (default $SCALE)
  --workers N        syncline snapshot.workers (default: syncline's default, the number of cores)
  --indexes          add two secondary indexes to pgbench_accounts (both sides) and also time
                     syncline with snapshot.defer_indexes (dropped before the copy, rebuilt after)
  --only LIST        comma-separated subset of syncline,native,dump (default: all three)
  --syncline PATH    syncline binary (default build/syncline; env SYNCLINE)
  --timeout S        give up on a copy after S seconds (default $TIMEOUT)
  --keep             leave the clusters running at the end (ports $SRC_PORT, $TGT_PORT)
  -h, --help         this text

Ports: env BENCH_SRC_PORT (default 57442) and BENCH_TGT_PORT (default 57443).
EOF
}

while (($#)); do
    case $1 in
    --scale) SCALE=${2:?}; shift 2 ;;
    --workers) WORKERS=${2:?}; shift 2 ;;
    --indexes) INDEXES=1; shift ;;
    --only) ONLY=${2:?}; shift 2 ;;
    --syncline) SYNCLINE=${2:?}; shift 2 ;;
    --timeout) TIMEOUT=${2:?}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "copy.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done
for v in SCALE TIMEOUT; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "copy.sh: --${v,,} must be a positive integer" >&2; exit 2; }
done
[[ -z $WORKERS || $WORKERS =~ ^[1-9][0-9]*$ ]] || { echo "copy.sh: --workers must be a positive integer" >&2; exit 2; }
[[ ,$ONLY, =~ ^(,(syncline|native|dump))+,$ ]] || { echo "copy.sh: --only takes syncline,native,dump" >&2; exit 2; }
run_of() { [[ ,$ONLY, == *",$1,"* ]]; }

if [[ $(id -u) -ne 0 ]]; then
    echo "copy.sh: run as root (sudo bash bench/copy.sh): the clusters run as the postgres user" >&2
    exit 2
fi
if run_of syncline && [[ ! -x $SYNCLINE ]]; then
    echo "copy.sh: no syncline binary at $SYNCLINE (build it or pass --syncline PATH)" >&2
    exit 2
fi
[[ $SYNCLINE == /* ]] || SYNCLINE=$PWD/$SYNCLINE

# shellcheck source=tests/lib/pg.sh
source "$ROOT/tests/lib/pg.sh"
PSQL=$PG_BIN/psql
PGBENCH=$PG_BIN/pgbench
PG_DUMP=$PG_BIN/pg_dump

# ---- settings: identical on source and target (appended after tests/lib/pg.sh's defaults) -------
SETTINGS=(
    "fsync = on"
    "synchronous_commit = on"
    "full_page_writes = on"
    "wal_level = logical"
    "shared_buffers = 256MB"
    "max_wal_size = 4GB"
    "checkpoint_timeout = 5min"
    "autovacuum = on"
    "max_replication_slots = 40"
    "max_wal_senders = 40"
    "max_logical_replication_workers = 4"
)

# ---- helpers ------------------------------------------------------------------------------------
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

# q PORT SQL...: one statement, unaligned tuples only, errors are fatal
q() {
    local port=$1
    shift
    PGOPTIONS="-c client_min_messages=warning" \
        "$PSQL" -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$DB" -c "$*"
}
src() { q "$SRC_PORT" "$@"; }
tgt() { q "$TGT_PORT" "$@"; }
conninfo() { echo "host=127.0.0.1 port=$1 user=postgres dbname=$DB"; }
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
past() { awk -v a="$1" -v b="$(now)" -v t="$2" 'BEGIN { exit !(b - a > t) }'; }

WORK=""
SRC_DIR=""
TGT_DIR=""
SYNC_PID=""

cleanup() {
    local rc=$?
    set +e
    if [[ -n $SYNC_PID ]] && kill -0 "$SYNC_PID" 2>/dev/null; then
        kill -TERM "$SYNC_PID"
        wait "$SYNC_PID" 2>/dev/null
    fi
    if [[ -n $WORK ]]; then
        if ((KEEP)); then
            log "--keep: clusters left running: source $(conninfo "$SRC_PORT"), target $(conninfo "$TGT_PORT")"
        else
            [[ -f $SRC_DIR/log/postgresql.log ]] && cp "$SRC_DIR/log/postgresql.log" "$WORK/source-postgresql.log"
            [[ -f $TGT_DIR/log/postgresql.log ]] && cp "$TGT_DIR/log/postgresql.log" "$WORK/target-postgresql.log"
            pg_cluster_destroy "$SRC_DIR"
            pg_cluster_destroy "$TGT_DIR"
            if ((rc == 0)); then rm -rf "$WORK"; else log "logs kept in $WORK"; fi
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Recreates the target database with the source's schema and no rows.
reset_target() {
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$TGT_PORT" -U postgres -d postgres \
        -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    "$PG_DUMP" -h 127.0.0.1 -p "$SRC_PORT" -U postgres -d "$DB" --schema-only --no-publications \
        --no-subscriptions | "$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$TGT_PORT" \
        -U postgres -d "$DB" >/dev/null
    q "$TGT_PORT" "CHECKPOINT" >/dev/null
}

# Prints "count md5" of a table: md5 over the md5 of every row's text, in row order.
table_digest() {
    q "$1" "SELECT count(*) || ' ' || coalesce(md5(string_agg(md5(t::text), '' ORDER BY t)), '-') FROM $2 t"
}

TABLES=(pgbench_accounts pgbench_branches pgbench_tellers pgbench_history)

# verify LABEL: compares the four pgbench tables on both sides; prints PASS or FAIL.
verify() {
    local label=$1 t s g res=PASS
    for t in "${TABLES[@]}"; do
        table_digest "$SRC_PORT" "$t" >"$WORK/digest.src" &
        local p1=$!
        table_digest "$TGT_PORT" "$t" >"$WORK/digest.tgt"
        wait "$p1"
        s=$(<"$WORK/digest.src")
        g=$(<"$WORK/digest.tgt")
        if [[ $s == "$g" ]]; then
            log "  $label: $t equal (${s%% *} rows)"
        else
            log "  $label: $t DIFFERS: source ${s} target ${g}"
            res=FAIL
        fi
    done
    echo "$res"
}

# ---- the three copies -------------------------------------------------------------------------

# syncline_copy [DEFER]: runs syncline until its progress row says 'streaming'; sets SECS.
# DEFER=1 sets snapshot.defer_indexes.
syncline_copy() {
    local cfg=$WORK/syncline.json state t0 rc defer=${1:-0}
    local snap="\"defer_indexes\": false"
    ((!defer)) || snap="\"defer_indexes\": true"
    [[ -z $WORKERS ]] || snap+=", \"workers\": $WORKERS"
    snap=", \"snapshot\": {$snap}"
    cat >"$cfg" <<EOF
{"name": "$NAME",
 "source": {"conninfo": "$(conninfo "$SRC_PORT")"},
 "target": {"conninfo": "$(conninfo "$TGT_PORT")"}$snap}
EOF
    echo "=== $SYNCLINE run -c $cfg" >>"$WORK/syncline.log"
    t0=$(now)
    "$SYNCLINE" run -c "$cfg" >>"$WORK/syncline.log" 2>&1 &
    SYNC_PID=$!
    while :; do
        state=$(tgt "SELECT coalesce((SELECT state FROM syncline.progress WHERE name = '$NAME'), '-')" 2>/dev/null || echo -)
        [[ $state == streaming ]] && break
        if ! kill -0 "$SYNC_PID" 2>/dev/null; then
            wait "$SYNC_PID" && rc=0 || rc=$?
            SYNC_PID=""
            tail -n 30 "$WORK/syncline.log" >&2
            die "syncline exited with status $rc before the copy finished"
        fi
        past "$t0" "$TIMEOUT" && die "syncline: copy not done after ${TIMEOUT}s"
        sleep 0.1
    done
    SECS=$(elapsed "$t0" "$(now)")
    kill -TERM "$SYNC_PID"
    wait "$SYNC_PID" && rc=0 || rc=$?
    SYNC_PID=""
    ((rc == 0)) || die "syncline: SIGTERM exit status $rc (expected 0)"
    "$SYNCLINE" drop -c "$cfg" >>"$WORK/syncline.log" 2>&1 || die "syncline drop failed"
}

# native_copy: CREATE SUBSCRIPTION ... copy_data = true, until every table is 'r'; sets SECS.
native_copy() {
    local t0 left
    src "CREATE PUBLICATION bench_native FOR TABLE $(IFS=,; echo "${TABLES[*]}")" >/dev/null
    t0=$(now)
    tgt "CREATE SUBSCRIPTION bench_native CONNECTION '$(conninfo "$SRC_PORT")'
         PUBLICATION bench_native WITH (copy_data = true)" >/dev/null
    while :; do
        left=$(tgt "SELECT count(*) FILTER (WHERE srsubstate <> 'r') + ${#TABLES[@]} - count(*)
                      FROM pg_subscription_rel")
        ((left == 0)) && break
        past "$t0" "$TIMEOUT" && die "native: copy not done after ${TIMEOUT}s"
        sleep 0.1
    done
    SECS=$(elapsed "$t0" "$(now)")
    tgt "DROP SUBSCRIPTION bench_native" >/dev/null
    src "DROP PUBLICATION bench_native" >/dev/null
}

# dump_copy: pg_dump --data-only | psql into the schema-only target; sets SECS.
dump_copy() {
    local t0
    t0=$(now)
    "$PG_DUMP" -h 127.0.0.1 -p "$SRC_PORT" -U postgres -d "$DB" --data-only |
        "$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$TGT_PORT" -U postgres -d "$DB" >/dev/null ||
        die "pg_dump | psql failed"
    SECS=$(elapsed "$t0" "$(now)")
}

# ---- clusters -----------------------------------------------------------------------------------
WORK=$(pg_make_scratch syncline-copy-bench)
SRC_DIR=$WORK/source
TGT_DIR=$WORK/target
for port in "$SRC_PORT" "$TGT_PORT"; do
    pg_port_free "$port" || die "port $port is in use (set BENCH_SRC_PORT / BENCH_TGT_PORT)"
done
log "clusters in $WORK: source :$SRC_PORT, target :$TGT_PORT ($(printf '%s; ' "${SETTINGS[@]}"))"
PG_FSYNC=on pg_cluster_create bench_source "$SRC_PORT" "$SRC_DIR" "${SETTINGS[@]}"
PG_FSYNC=on pg_cluster_create bench_target "$TGT_PORT" "$TGT_DIR" "${SETTINGS[@]}"
pg_cluster_start "$SRC_DIR"
pg_cluster_start "$TGT_DIR"
"$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$SRC_PORT" -U postgres -d postgres -c "CREATE DATABASE $DB"

log "pgbench -i -s $SCALE on the source"
"$PGBENCH" -i -q -s "$SCALE" -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$DB" >"$WORK/pgbench-init.txt" 2>&1 ||
    { cat "$WORK/pgbench-init.txt" >&2; die "pgbench -i failed"; }
src "ALTER TABLE pgbench_history REPLICA IDENTITY FULL" >/dev/null
if ((INDEXES)); then
    log "secondary indexes on pgbench_accounts: (bid, abalance) and (abalance)"
    src "CREATE INDEX pgbench_accounts_bid_abalance ON pgbench_accounts (bid, abalance)" >/dev/null
    src "CREATE INDEX pgbench_accounts_abalance ON pgbench_accounts (abalance)" >/dev/null
fi
src "VACUUM ANALYZE" >/dev/null
src "CHECKPOINT" >/dev/null
SIZE=$(src "SELECT pg_size_pretty(sum(pg_table_size(relid))) FROM pg_stat_user_tables")
log "source: $SIZE of table data"

declare -A SECONDS_OF RESULT_OF
LABELS=()
record() { # KEY LABEL
    LABELS+=("$1|$2")
    SECONDS_OF[$1]=$SECS
    RESULT_OF[$1]=$(verify "$1")
    log "$2: ${SECS}s, ${RESULT_OF[$1]}"
}

if run_of syncline; then
    reset_target
    log "syncline: $SYNCLINE run (until the progress row says streaming)"
    syncline_copy
    record syncline "syncline run (parallel snapshot copy)"
    if ((INDEXES)); then
        reset_target
        log "syncline with snapshot.defer_indexes: secondary indexes dropped, rebuilt after the copy"
        syncline_copy 1
        record deferred "syncline, snapshot.defer_indexes = true"
        INDEX_SECS=$(sed -n 's/.*indexes restored count=[0-9]* seconds=\([0-9.]*\).*/\1/p' "$WORK/syncline.log" | tail -n 1)
        log "  deferred: of which rebuilding the indexes ${INDEX_SECS:-?}s"
    fi
fi
if run_of native; then
    reset_target
    log "native: CREATE SUBSCRIPTION ... WITH (copy_data = true) until every table is ready"
    native_copy
    record native "native logical replication copy_data"
fi
if run_of dump; then
    reset_target
    log "pg_dump --data-only | psql"
    dump_copy
    record dump "pg_dump --data-only | psql"
fi

# ---- report -------------------------------------------------------------------------------------
echo
echo "## Initial copy: pgbench scale $SCALE ($SIZE), $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
BASE=${SECONDS_OF[syncline]:-}
echo "| copy | seconds | vs syncline | target equals source |"
echo "|---|---:|---:|---|"
bad=0
for entry in "${LABELS[@]}"; do
    key=${entry%%|*}
    ratio=-
    [[ -z $BASE ]] || ratio=$(awk -v a="${SECONDS_OF[$key]}" -v b="$BASE" 'BEGIN { printf "%.2fx", a / b }')
    label=${entry#*|}
    echo "| ${label//|/\\|} | ${SECONDS_OF[$key]} | $ratio | ${RESULT_OF[$key]} |"
    [[ ${RESULT_OF[$key]} == PASS ]] || bad=1
done
if ((INDEXES)) && [[ -n ${SECONDS_OF[deferred]:-} ]]; then
    echo
    echo "snapshot.defer_indexes: ${INDEX_SECS:-?}s of the ${SECONDS_OF[deferred]}s rebuild the indexes."
fi
if ((bad)); then
    echo
    echo "**FAIL**: the target differs from the source after a run (see above)."
    exit 1
fi
