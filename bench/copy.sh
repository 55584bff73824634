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

SCRIPT=copy.sh
SCALE=50
WORKERS=""
INDEXES=0
ONLY="syncline,native,dump"
KEEP=0
TIMEOUT=1800
SYNCLINE=${SYNCLINE:-$ROOT/build/syncline}
TABLES=(pgbench_accounts pgbench_branches pgbench_tellers pgbench_history)
SCRATCH_PREFIX=syncline-copy-bench
NO_SYNCLINE_OPTION="--only native,dump"
: "${BENCH_SRC_PORT:=57442}" "${BENCH_TGT_PORT:=57443}" # not catchup.sh's: both may run at once
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

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
    *) bench_option "$@"; shift "$BENCH_SHIFT" ;;
    esac
done
[[ $SCALE =~ ^[1-9][0-9]*$ ]] || usage_die "--scale must be a positive integer"
[[ -z $WORKERS || $WORKERS =~ ^[1-9][0-9]*$ ]] || usage_die "--workers must be a positive integer"
[[ ,$ONLY, =~ ^(,(syncline|native|dump))+,$ ]] || usage_die "--only takes syncline,native,dump"
run_of() { [[ ,$ONLY, == *",$1,"* ]]; }
NATIVE_ONLY=1 # for lib.sh: no syncline run, no binary needed
if run_of syncline; then NATIVE_ONLY=0; fi
bench_checks

# Recreates the target database with the source's schema and no rows.
reset_target() {
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$TGT_PORT" -U postgres -d postgres \
        -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    "$PG_DUMP" -h 127.0.0.1 -p "$SRC_PORT" -U postgres -d "$DB" --schema-only --no-publications \
        --no-subscriptions | "$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$TGT_PORT" \
        -U postgres -d "$DB" >/dev/null
    tgt "CHECKPOINT" >/dev/null
}

# ---- the three copies -------------------------------------------------------------------------

# syncline_copy [DEFER]: runs syncline until its progress row says 'streaming'; sets SECS.
# DEFER=1 sets snapshot.defer_indexes.
syncline_copy() {
    local cfg=$WORK/syncline.json state t0 rc defer=${1:-0}
    SYNC_LOG=$WORK/syncline.log
    local snap="\"defer_indexes\": false"
    ((!defer)) || snap="\"defer_indexes\": true"
    [[ -z $WORKERS ]] || snap+=", \"workers\": $WORKERS"
    snap=", \"snapshot\": {$snap}"
    cat >"$cfg" <<EOF
{"name": "$NAME",
 "source": {"conninfo": "$(conninfo "$SRC_PORT")"},
 "target": {"conninfo": "$(conninfo "$TGT_PORT")"}$snap}
EOF
    echo "=== $SYNCLINE run -c $cfg" >>"$SYNC_LOG"
    t0=$(now)
    "$SYNCLINE" run -c "$cfg" >>"$SYNC_LOG" 2>&1 &
    SYNC_PID=$!
    while :; do
        state=$(tgt "SELECT coalesce((SELECT state FROM syncline.progress WHERE name = '$NAME'), '-')" 2>/dev/null || echo -)
        [[ $state == streaming ]] && break
        if ! kill -0 "$SYNC_PID" 2>/dev/null; then
            wait "$SYNC_PID" && rc=0 || rc=$?
            SYNC_PID=""
            sync_fail "exited with status $rc before the copy finished"
        fi
        ! past "$t0" "$TIMEOUT" || sync_fail "copy not done after ${TIMEOUT}s"
        sleep 0.1
    done
    SECS=$(fmt "$(elapsed "$t0" "$(now)")" %.1f)
    syncline_stop
    "$SYNCLINE" drop -c "$cfg" >>"$SYNC_LOG" 2>&1 || sync_fail "syncline drop failed"
}

# native_copy: CREATE SUBSCRIPTION ... copy_data = true, until every table is 'r'; sets SECS.
native_copy() {
    local t0 left
    src "CREATE PUBLICATION bench_native FOR TABLE $(tables_csv)" >/dev/null
    t0=$(now)
    tgt "CREATE SUBSCRIPTION bench_native CONNECTION '$(conninfo "$SRC_PORT")'
         PUBLICATION bench_native WITH (copy_data = true)" >/dev/null
    while :; do
        left=$(tgt "SELECT count(*) FILTER (WHERE srsubstate <> 'r') + ${#TABLES[@]} - count(*)
                      FROM pg_subscription_rel")
        ((left == 0)) && break
        ! past "$t0" "$TIMEOUT" || die "native: copy not done after ${TIMEOUT}s"
        sleep 0.1
    done
    SECS=$(fmt "$(elapsed "$t0" "$(now)")" %.1f)
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
    SECS=$(fmt "$(elapsed "$t0" "$(now)")" %.1f)
}

# ---- clusters -----------------------------------------------------------------------------------
bench_clusters

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
    RESULT_OF[$1]=PASS
    verify "$1" || RESULT_OF[$1]=FAIL
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
