#!/usr/bin/env bash
# Catch-up benchmark, hot rows (issue 7, benchmark 3): 100,000 single-row UPDATE transactions
# spread over 100 rows, written while nothing consumes the slot, then the time to apply them all.
# syncline vs native logical replication on the same two clusters in the same run.
# See bench/README.md.
#
#   sudo bash bench/hot.sh [--updates N] [--rows N] [--clients N] [--jobs N] [--syncline PATH]
#                          [--native-only] [--timeout SECONDS] [--keep]
#
# Exit status: 0 when both runs caught up and the target equalled the source after each;
# 1 on a failure or a difference (FAIL); 2 on a usage error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPT=hot.sh
UPDATES=100000
HOT_ROWS=100
CLIENTS=4
JOBS=2
KEEP=0
NATIVE_ONLY=0
TIMEOUT=900
SYNCLINE=${SYNCLINE:-$ROOT/build/syncline}
TABLES=(bench_hot)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

usage() {
    cat <<EOF
usage: sudo bash bench/hot.sh [options]

Catch-up of a backlog of single-row UPDATE transactions on a few hot rows:
native logical replication vs syncline.

  --updates N        UPDATE transactions, all clients together (default $UPDATES, a multiple of --clients)
  --rows N           rows they are spread over (default $HOT_ROWS)
  --clients N        pgbench clients writing the backlog (default $CLIENTS)
  --jobs N           pgbench threads (default $JOBS)
  --syncline PATH    syncline binary (default build/syncline; env SYNCLINE)
  --native-only      run only the native half
  --timeout S        give up on a catch-up after S seconds (default $TIMEOUT)
  --keep             leave the clusters running at the end
  -h, --help         this text

Ports: env BENCH_SRC_PORT (default 57432) and BENCH_TGT_PORT (default 57433).
EOF
}
while (($#)); do
    case $1 in
    --updates) UPDATES=${2:?}; shift 2 ;;
    --rows) HOT_ROWS=${2:?}; shift 2 ;;
    --clients) CLIENTS=${2:?}; shift 2 ;;
    --jobs) JOBS=${2:?}; shift 2 ;;
    --native-only) NATIVE_ONLY=1; shift ;;
    *) bench_option "$@"; shift "$BENCH_SHIFT" ;;
    esac
done
for v in UPDATES HOT_ROWS CLIENTS JOBS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || usage_die "--${v,,} must be a positive integer"
done
((UPDATES % CLIENTS == 0)) || usage_die "--updates ($UPDATES) must be a multiple of --clients ($CLIENTS)"
((JOBS <= CLIENTS)) || JOBS=$CLIENTS
PER_CLIENT=$((UPDATES / CLIENTS))
bench_checks

bench_clusters
DDL="CREATE TABLE bench_hot (id integer PRIMARY KEY, n bigint NOT NULL, v integer NOT NULL,
                             pad text NOT NULL, updated timestamptz NOT NULL)"
both "$DDL"
log "table: $DDL"
# The pgbench script: one UPDATE of a random one of the HOT_ROWS rows per transaction.
PGSCRIPT=$WORK/hot.sql
cat >"$PGSCRIPT" <<EOF
\set id random(1, $HOT_ROWS)
\set v random(1, 1000000)
UPDATE bench_hot SET n = n + 1, v = :v, updated = clock_timestamp() WHERE id = :id;
EOF
chmod 644 "$PGSCRIPT"

# reset_rows: the same HOT_ROWS fresh rows on both sides (nothing consumes or holds a slot then).
reset_rows() {
    both "TRUNCATE bench_hot;
          INSERT INTO bench_hot SELECT g, 0, 0, repeat('x', 100), '2000-01-01' FROM generate_series(1, $HOT_ROWS) g"
    both "VACUUM ANALYZE bench_hot"
}

write_backlog() {
    local run=$1 out
    probe_begin
    log "$run: writing the backlog: pgbench -n -f hot.sql -c $CLIENTS -j $JOBS -t $PER_CLIENT ($UPDATES transactions)"
    if ! out=$("$PGBENCH" -n -f "$PGSCRIPT" -c "$CLIENTS" -j "$JOBS" -t "$PER_CLIENT" -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$DB" 2>&1); then
        echo "$out" >&2
        die "$run: pgbench failed"
    fi
    echo "$out" >"$WORK/pgbench-$run.txt"
    PGBENCH_TPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -n 1)
    log "$run: backlog written at $(fmt "$PGBENCH_TPS" %.0f) tx/s"
    probe_end "$run" "$UPDATES"
}

# ---- native ---------------------------------------------------------------------------------------
reset_rows
native_subscribe false
write_backlog native
NATIVE_BYTES=$BACKLOG_BYTES
NATIVE_PGBENCH_TPS=$PGBENCH_TPS
native_catchup "$BACKLOG_END"
native_drop
NATIVE_OK=PASS
verify native || NATIVE_OK=FAIL

# ---- syncline -------------------------------------------------------------------------------------
SYNC_OK=""
if ((!NATIVE_ONLY)); then
    reset_rows
    syncline_config
    syncline_prime
    write_backlog syncline
    SYNC_CHANGES=$BACKLOG_CHANGES
    SYNC_BYTES=$BACKLOG_BYTES
    SYNC_PGBENCH_TPS=$PGBENCH_TPS
    syncline_catchup "$BACKLOG_END"
    SYNC_OK=PASS
    verify syncline || SYNC_OK=FAIL
fi

catchup_report "Catch-up, hot rows: $UPDATES single-row UPDATE transactions over $HOT_ROWS rows ($CLIENTS clients)" updates "$UPDATES" "$UPDATES"
echo "Backlog: native run $((NATIVE_BYTES / 1048576)) MB WAL written at $(fmt "$NATIVE_PGBENCH_TPS" %.0f) tx/s;" \
    "${SYNC_BYTES:+syncline run $((SYNC_BYTES / 1048576)) MB WAL written at $(fmt "$SYNC_PGBENCH_TPS" %.0f) tx/s.}"
report_footer
