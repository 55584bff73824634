#!/usr/bin/env bash
# Catch-up benchmark, TPC-B: how fast does a backlog of pgbench transactions, written while
# nothing consumes the slot, get applied to the target? syncline vs PostgreSQL's native logical
# replication, on the same two clusters in the same run. See bench/README.md.
#
#   sudo bash bench/catchup.sh [--scale N] [--transactions N] [--clients N] [--jobs N]
#                              [--keep] [--native-only] [--syncline PATH] [--timeout SECONDS]
#
# Exit status: 0 when every run finished and the target equalled the source after it;
# 1 when a run failed or the tables differed (FAIL); 2 on a usage error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

SCRIPT=catchup.sh
SCALE=10
TRANSACTIONS=40000
CLIENTS=4
JOBS=2
KEEP=0
NATIVE_ONLY=0
TIMEOUT=600
SYNCLINE=${SYNCLINE:-$ROOT/build/syncline}
TABLES=(pgbench_accounts pgbench_branches pgbench_tellers pgbench_history)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

usage() {
    cat <<EOF
usage: sudo bash bench/catchup.sh [options]

Catch-up of a pgbench TPC-B backlog: native logical replication vs syncline.

  --scale N          pgbench scale factor (default $SCALE)
  --transactions N   backlog size in transactions, all clients together (default $TRANSACTIONS)
  --clients N        pgbench clients writing the backlog (default $CLIENTS)
  --jobs N           pgbench threads (default $JOBS, at most --clients)
  --syncline PATH    syncline binary (default build/syncline; env SYNCLINE)
  --native-only      run only the native half (no syncline binary needed)
  --timeout S        give up on a catch-up after S seconds (default $TIMEOUT)
  --keep             leave the clusters running at the end (ports $SRC_PORT, $TGT_PORT)
  -h, --help         this text

Ports: env BENCH_SRC_PORT (default 57432) and BENCH_TGT_PORT (default 57433).
EOF
}

while (($#)); do
    case $1 in
    --scale) SCALE=${2:?}; shift 2 ;;
    --transactions) TRANSACTIONS=${2:?}; shift 2 ;;
    --clients) CLIENTS=${2:?}; shift 2 ;;
    --jobs) JOBS=${2:?}; shift 2 ;;
    --native-only) NATIVE_ONLY=1; shift ;;
    *) bench_option "$@"; shift "$BENCH_SHIFT" ;;
    esac
done
for v in SCALE TRANSACTIONS CLIENTS JOBS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || usage_die "--${v,,} must be a positive integer"
done
((TRANSACTIONS % CLIENTS == 0)) || usage_die "--transactions ($TRANSACTIONS) must be a multiple of --clients ($CLIENTS)"
((JOBS <= CLIENTS)) || JOBS=$CLIENTS
PER_CLIENT=$((TRANSACTIONS / CLIENTS))

bench_checks

# write_backlog RUN: pgbench on the source while nothing consumes the slots, between probe_begin
# and probe_end (lib.sh), which learn exactly what the backlog contains. Sets BACKLOG_* (see
# probe_end) and PGBENCH_TPS.
write_backlog() {
    local run=$1 out
    probe_begin
    log "$run: writing the backlog: pgbench -n -c $CLIENTS -j $JOBS -t $PER_CLIENT ($TRANSACTIONS transactions)"
    if ! out=$("$PGBENCH" -n -c "$CLIENTS" -j "$JOBS" -t "$PER_CLIENT" -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$DB" 2>&1); then
        echo "$out" >&2
        die "$run: pgbench failed"
    fi
    echo "$out" >"$WORK/pgbench-$run.txt"
    PGBENCH_TPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -n 1)
    log "$run: backlog written at $(fmt "$PGBENCH_TPS" %.0f) tx/s"
    probe_end "$run" "$TRANSACTIONS"
}

# ---- clusters -----------------------------------------------------------------------------------
bench_clusters
log "pgbench -i -s $SCALE on the source"
"$PGBENCH" -i -q -s "$SCALE" -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$DB" >"$WORK/pgbench-init.txt" 2>&1 ||
    { cat "$WORK/pgbench-init.txt" >&2; die "pgbench -i failed"; }
# pgbench_history has no primary key. pgbench only inserts into it, which native replication
# accepts without a replica identity, but any UPDATE/DELETE would fail on the source; FULL makes
# the table fully replicable for both systems and costs nothing for inserts.
src "ALTER TABLE pgbench_history REPLICA IDENTITY FULL"
src "CHECKPOINT"

# ---- native logical replication ---------------------------------------------------------------
log "native: copying the source database to the target (pg_dump | psql)"
resync_target
native_subscribe false
write_backlog native
NATIVE_TX=$BACKLOG_TX
NATIVE_CHANGES=$BACKLOG_CHANGES
NATIVE_WAL_END=$BACKLOG_WAL_END
NATIVE_END=$BACKLOG_END
NATIVE_BYTES=$BACKLOG_BYTES
NATIVE_PGBENCH_TPS=$PGBENCH_TPS
native_catchup "$NATIVE_END"
NATIVE_TPS=$(awk -v n="$NATIVE_TX" -v s="$NATIVE_SECS" 'BEGIN { printf "%.0f", n / s }')
native_drop
NATIVE_OK=PASS
verify native || NATIVE_OK=FAIL

# ---- syncline ------------------------------------------------------------------------------------
SYNC_OK=""
if ((!NATIVE_ONLY)); then
    log "syncline: copying the source database to the target again (pg_dump | psql)"
    resync_target
    # --snapshot=never is syncline's copy_data = false: both sides are already equal.
    syncline_config
    syncline_prime
    write_backlog syncline
    SYNC_TX=$BACKLOG_TX
    SYNC_CHANGES=$BACKLOG_CHANGES
    SYNC_WAL_END=$BACKLOG_WAL_END
    SYNC_END=$BACKLOG_END
    SYNC_BYTES=$BACKLOG_BYTES
    SYNC_PGBENCH_TPS=$PGBENCH_TPS
    syncline_catchup "$SYNC_END"
    SYNC_TPS=$(awk -v n="$SYNC_TX" -v s="$SYNC_SECS" 'BEGIN { printf "%.0f", n / s }')
    SYNC_OK=PASS
    verify syncline || SYNC_OK=FAIL
fi

# ---- report -------------------------------------------------------------------------------------
echo
echo "## Catch-up, TPC-B: scale $SCALE, $TRANSACTIONS transactions ($CLIENTS clients), $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
echo "| system | seconds | tx/s | ratio vs native | CPU s: source server | target server | syncline | target equals source |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
echo "| native logical replication | $NATIVE_SECS | $NATIVE_TPS | 1.00 | $NATIVE_SRC_CPU | $NATIVE_TGT_CPU | - | $NATIVE_OK |"
if ((!NATIVE_ONLY)); then
    echo "| syncline | $SYNC_SECS | $SYNC_TPS | $(ratio "$SYNC_TPS" "$NATIVE_TPS") | $SYNC_SRC_CPU | $SYNC_TGT_CPU | $SYNC_CPU | $SYNC_OK |"
    CPU_PER_100K=$(awk -v c="$SYNC_CPU" -v n="$SYNC_CHANGES" 'BEGIN { printf "%.2f", c * 100000 / n }')
    echo
    echo "syncline process: CPU ${SYNC_CPU}s (user $SYNC_UTIME, sys $SYNC_STIME) for $SYNC_CHANGES row changes" \
        "= **$CPU_PER_100K CPU s per 100k changes**; peak RSS **$(fmt "$SYNC_HWM_KB" "%d") kB** ($((SYNC_HWM_KB / 1024)) MB)."
fi
echo
echo "Backlog (native run): $NATIVE_TX transactions, $NATIVE_CHANGES row changes, $((NATIVE_BYTES / 1048576)) MB WAL," \
    "written at $(fmt "$NATIVE_PGBENCH_TPS" %.0f) tx/s; last commit end $NATIVE_END, pg_current_wal_lsn() $NATIVE_WAL_END."
if ((!NATIVE_ONLY)); then
    echo "Backlog (syncline run): $SYNC_TX transactions, $SYNC_CHANGES row changes, $((SYNC_BYTES / 1048576)) MB WAL," \
        "written at $(fmt "$SYNC_PGBENCH_TPS" %.0f) tx/s; last commit end $SYNC_END, pg_current_wal_lsn() $SYNC_WAL_END."
fi
report_footer
