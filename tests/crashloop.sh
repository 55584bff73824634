#!/usr/bin/env bash
# The long variant of the crash loop (tests/e2e/501-crash-loop.sh): N rounds (default 500), the
# targets checked against the source after every round, and a report of every round.
#
#   bash tests/crashloop.sh [--rounds N] [--check-every K] [--binary PATH]
#
# Starts its own source and target PostgreSQL 15 clusters and a Kafka broker (tests/lib/pg.sh,
# tests/lib/kafka.sh), builds nothing (default binary: build/syncline), runs the scenario with
# CRASH_ROUNDS=N, CRASH_CHECK_EVERY=K (default 1) and CRASH_KAFKA_EVERY=6, prints the report
# (one line per round: what was killed and how long it took to come back; one per check: how
# long the targets took to converge and the row counts; a summary of kills per kind and of
# process exits) and keeps it in .tmp/crashloop/report.txt. Exit 0 when every check passed.
# Takes about 7 s per round with a check after each.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=500
CHECK_EVERY=1
SYNCLINE=$ROOT/build/syncline
while (($#)); do
    case $1 in
    --rounds)
        ROUNDS=$2
        shift
        ;;
    --check-every)
        CHECK_EVERY=$2
        shift
        ;;
    --binary)
        SYNCLINE=$(realpath "$2")
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *)
        echo "crashloop.sh: unknown argument $1 (see --help)" >&2
        exit 2
        ;;
    esac
    shift
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ && "$CHECK_EVERY" =~ ^[1-9][0-9]*$ ]] || {
    echo "crashloop.sh: --rounds and --check-every take positive numbers" >&2
    exit 2
}
[[ -x "$SYNCLINE" ]] || {
    echo "crashloop.sh: no binary $SYNCLINE (build first, or --binary PATH)" >&2
    exit 2
}

# shellcheck source=tests/lib/pg.sh
source "$ROOT/tests/lib/pg.sh"
# shellcheck source=tests/lib/kafka.sh
source "$ROOT/tests/lib/kafka.sh"

OUT=$ROOT/.tmp/crashloop
mkdir -p "$OUT"
E2E_ROOT=$(pg_make_scratch syncline-crashloop)
SRC_PGDATA=$E2E_ROOT/src
TGT_PGDATA=$E2E_ROOT/tgt
KAFKA_DIR=$E2E_ROOT/kafka

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    trap - EXIT INT TERM
    cp -r "$E2E_ROOT/t501" "$OUT/scratch" 2>/dev/null || true
    kafka_stop "$KAFKA_DIR" || true
    pg_cluster_destroy "$SRC_PGDATA" >/dev/null 2>&1 || true
    pg_cluster_destroy "$TGT_PGDATA" >/dev/null 2>&1 || true
    rm -rf "$E2E_ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SRC_PORT=$(pg_free_port 56532)
TGT_PORT=$(pg_free_port $((SRC_PORT + 1)))
pg_cluster_create source "$SRC_PORT" "$SRC_PGDATA"
pg_cluster_create target "$TGT_PORT" "$TGT_PGDATA"
pg_cluster_start "$SRC_PGDATA"
pg_cluster_start "$TGT_PGDATA"
KAFKA_BROKERS=$(kafka_start "$KAFKA_DIR" 59392)
export SYNCLINE SRC_PORT TGT_PORT SRC_PGDATA TGT_PGDATA PG_BIN E2E_ROOT KAFKA_BROKERS KAFKA_DIR
export CRASH_ROUNDS=$ROUNDS CRASH_CHECK_EVERY=$CHECK_EVERY CRASH_KAFKA_EVERY=6
export CRASH_REPORT=$OUT/report.txt

echo "crash loop: $ROUNDS rounds, check every $CHECK_EVERY, binary $SYNCLINE, log $OUT/scenario.log"
rc=0
bash "$ROOT/tests/e2e/501-crash-loop.sh" >"$OUT/scenario.log" 2>&1 </dev/null || rc=$?
echo "==== report ($OUT/report.txt) ===="
cat "$CRASH_REPORT"
if ((rc != 0)); then
    echo "==== FAILED (exit $rc); last lines of $OUT/scenario.log ===="
    tail -n 40 "$OUT/scenario.log"
else
    echo "==== PASSED: $ROUNDS rounds ===="
fi
exit "$rc"
