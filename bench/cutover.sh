#!/usr/bin/env bash
# The write pause of `cutover --fence` at a given size (issue 21), and where it goes: runs the
# scenario tests/e2e/213-cutover-incremental.sh (pgbench TPC-B + orders at 500 tx/s while `run`
# streams, a full online verify during the sync, then the fenced cutover with its incremental
# verify) against the optimised build/syncline on fresh clusters, at pgbench scale N, and prints
# the cutover report's step durations and the fenced verify's per-table times.
#
#   bash bench/cutover.sh [--scale N] [--syncline PATH] [--runs N]
#
# Scale 100 is 10,000,000 accounts (about 1.5 GB per cluster; the set-up takes a few minutes).
# Logs: E2E_LOG_DIR (default /tmp/syncline-cutover-bench), scratch-t213/ in it per run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCALE=10
RUNS=1
SYNCLINE_BIN=${SYNCLINE_BIN:-$ROOT/build/syncline}
while (($#)); do
    case $1 in
    --scale) SCALE=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --syncline) SYNCLINE_BIN=$2; shift ;;
    *) echo "usage: bash bench/cutover.sh [--scale N] [--syncline PATH] [--runs N]" >&2; exit 2 ;;
    esac
    shift
done
[[ -x "$SYNCLINE_BIN" ]] || { echo "bench/cutover.sh: no binary $SYNCLINE_BIN (build build/ first)" >&2; exit 2; }
LOGS=${E2E_LOG_DIR:-/tmp/syncline-cutover-bench}
mkdir -p "$LOGS"

for run in $(seq 1 "$RUNS"); do
    dir=$LOGS/run$run
    rc=0
    E2E_SUBRUN=1 E2E_LOG_DIR=$dir E2E_CUTOVER_SCALE=$SCALE E2E_START_TIMEOUT=${E2E_START_TIMEOUT:-900} E2E_TIMEOUT=${E2E_TIMEOUT:-1800} \
        SYNCLINE_BIN=$SYNCLINE_BIN bash "$ROOT/tests/run.sh" --no-deps --no-build --release \
        '^213-' >"$dir.out" 2>&1 || rc=$?
    out=$dir/scratch-t213/cutover.out
    echo "## run $run: scale $SCALE, exit $rc (log $dir.out)"
    if [[ -f $out ]]; then
        grep -E 'online_verify|_seconds|write_pause_ms|^ *verify:' "$out" || true
        grep -h 'online verify at scale\|write pause' "$dir"/213-*.log | head -n 3 || true
        # the fenced verify's own steps: the last verify's per-table lines in cutover.err
        grep -E 'verified table=|consistent point|ranges_ms' "$dir/scratch-t213/cutover.err" | tail -n 11 || true
        echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    else
        tail -n 20 "$dir.out"
    fi
done
