#!/usr/bin/env bash
# Memory benchmark (issue 18, goal 6): syncline's peak RSS (VmHWM) while it replicates one large
# value. See bench/README.md.
#
#   sudo bash bench/memory.sh [--mb N] [--syncline PATH] [--keep]
#
# A one-row table big (id int PRIMARY KEY, v text) with v stored EXTERNAL (no compression, so
# the value is N MB on the wire too). syncline streams; the script inserts an N MB value, waits
# until the target holds it, then updates it to another N MB value and waits again. It prints
# VmHWM of `syncline run` at start, after the insert and after the update. (Through Kafka: not
# yet; the test broker refuses messages over 1 MB.)
# The goal: under 2x the value + 50 MB, and under 200 MB whatever the transaction size.
#
# Exit status: 0 when the target equals the source at the end; 1 on a failure; 2 on a usage error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPT=memory.sh
MB=100
KEEP=0
NATIVE_ONLY=0
TIMEOUT=600
SYNCLINE=${SYNCLINE:-$ROOT/build/syncline}
TABLES=(big)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

usage() {
    cat <<EOF
usage: sudo bash bench/memory.sh [options]

syncline's peak RSS while it replicates one large value (insert, then update).

  --mb N             size of the value in MB (default $MB)
  --syncline PATH    syncline binary (default build/syncline; env SYNCLINE)
  --timeout S        give up waiting for the target after S seconds (default $TIMEOUT)
  --keep             leave the clusters running at the end
  -h, --help         this text

Ports: env BENCH_SRC_PORT (default 57432) and BENCH_TGT_PORT (default 57433).
EOF
}
while (($#)); do
    case $1 in
    --mb) MB=${2:?}; shift 2 ;;
    *) bench_option "$@"; shift "$BENCH_SHIFT" ;;
    esac
done
[[ $MB =~ ^[1-9][0-9]*$ ]] || usage_die "--mb must be a positive integer"
bench_checks

bench_clusters
src "CREATE TABLE big (id int PRIMARY KEY, v text)"
src "ALTER TABLE big ALTER COLUMN v SET STORAGE EXTERNAL"
resync_target
syncline_config
syncline_start_ready "memory"

# hwm: syncline's VmHWM in MB
hwm() { echo "$(($(proc_hwm_kb "$SYNC_PID") / 1024))"; }
# wait_value CHAR: until the target's value is N MB of CHAR.
wait_value() {
    local start got
    start=$(now)
    while :; do
        got=$(tgt "SELECT coalesce((SELECT length(v) = $MB * 1048576 AND left(v, 1) = '$1' FROM big WHERE id = 1), false)")
        [[ $got == t ]] && break
        kill -0 "$SYNC_PID" 2>/dev/null || sync_fail "exited while the value was on its way"
        ! past "$start" "$TIMEOUT" || die "the target did not get the value within ${TIMEOUT}s"
        sleep 0.2
    done
    elapsed "$start" "$(now)"
}
H0=$(hwm)
log "insert a $MB MB value"
src "INSERT INTO big VALUES (1, repeat('a', $MB * 1048576))"
T1=$(wait_value a)
H1=$(hwm)
log "update it to another $MB MB value"
src "UPDATE big SET v = repeat('b', $MB * 1048576) WHERE id = 1"
T2=$(wait_value b)
H2=$(hwm)
syncline_stop
SYNC_OK=PASS
verify syncline || SYNC_OK=FAIL
NATIVE_OK=PASS

echo
echo "## Memory: one $MB MB value, $(date -u +%Y-%m-%d)"
echo
echo "| step | syncline VmHWM MB | seconds until on the target |"
echo "|---|---:|---:|"
echo "| started, streaming | $H0 | |"
echo "| INSERT of a $MB MB value | $H1 | $T1 |"
echo "| UPDATE to another $MB MB value | $H2 | $T2 |"
echo
echo "Goal (issue 18): under 2 x $MB + 50 = $((2 * MB + 50)) MB, and under 200 MB for any transaction size. Target equals source: $SYNC_OK."
report_footer
