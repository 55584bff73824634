#!/usr/bin/env bash
# Local runs of the differential harness (tests/diff/README.md): starts throwaway source and
# target clusters (and a Kafka broker with --kafka), runs tests/diff/diff.py, stops everything.
#
#   bash tests/diff/run.sh [--seeds N] [--first S] [--seed S]... [--kafka] [--shrink]
#                          [--features LIST|all] [--txns N] [--replay FILE]... [--keep] [--jobs N]
#
# Any option is passed to diff.py. Environment: DIFF_PORT (first port tried, default 56400),
# SYNCLINE_BIN (default build/syncline), PG_BIN.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/pg.sh
source "$ROOT/tests/lib/pg.sh"
# shellcheck source=tests/lib/kafka.sh
source "$ROOT/tests/lib/kafka.sh"

SYNCLINE=${SYNCLINE_BIN:-$ROOT/build/syncline}
[[ -x "$SYNCLINE" ]] || {
    echo "diff: no $SYNCLINE (build it: cmake -S . -B build && cmake --build build)" >&2
    exit 2
}
KAFKA=0
KEEP=0
for arg in "$@"; do
    [[ "$arg" != --kafka ]] || KAFKA=1
    [[ "$arg" != --keep ]] || KEEP=1
done

SCRATCH=$(pg_make_scratch syncline-diff)
KAFKA_DIR=""
cleanup() {
    if [[ -n "$KAFKA_DIR" ]]; then kafka_stop "$KAFKA_DIR" || true; fi
    if ((KEEP)); then
        echo "kept: $SCRATCH (source port $SRC_PORT, target port $TGT_PORT)"
        return
    fi
    pg_cluster_destroy "$SCRATCH/src" >/dev/null 2>&1 || true
    pg_cluster_destroy "$SCRATCH/tgt" >/dev/null 2>&1 || true
    rm -rf "$SCRATCH"
}
trap cleanup EXIT

SRC_PORT=$(pg_free_port "${DIFF_PORT:-56400}")
TGT_PORT=$(pg_free_port $((SRC_PORT + 1)))
pg_cluster_create diff-source "$SRC_PORT" "$SCRATCH/src"
# one native subscription (an apply worker) per concurrent seed (diff.py --jobs)
pg_cluster_create diff-target "$TGT_PORT" "$SCRATCH/tgt" "max_logical_replication_workers = 24" \
    "max_worker_processes = 40"
pg_cluster_start "$SCRATCH/src"
pg_cluster_start "$SCRATCH/tgt"
if ((KAFKA)); then
    kafka_fetch
    KAFKA_DIR=$SCRATCH/kafka
    KAFKA_BROKERS=$(kafka_start "$KAFKA_DIR" $((SRC_PORT + 10)))
    export KAFKA_BROKERS
fi
mkdir -p "$SCRATCH/work"
python3 "$ROOT/tests/diff/diff.py" --src-port "$SRC_PORT" --tgt-port "$TGT_PORT" --pg-bin "$PG_BIN" \
    --syncline "$SYNCLINE" --work "$SCRATCH/work" "$@"
