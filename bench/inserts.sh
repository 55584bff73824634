#!/usr/bin/env bash
# Catch-up benchmark, inserts (issue 7, benchmark 2): 2,000,000 rows inserted in 1,000-row
# transactions into a table with a primary key and two secondary indexes, written while nothing
# consumes the slot, then the time to apply them all. syncline vs native logical replication on
# the same two clusters in the same run, and a binary COPY of the same rows into the emptied
# target table (the physical limit, issue 18 goal 4). See bench/README.md.
#
#   sudo bash bench/inserts.sh [--rows N] [--rows-per-tx N] [--syncline PATH] [--native-only]
#                              [--timeout SECONDS] [--keep]
#
# Exit status: 0 when both runs caught up and the target equalled the source after each (and
# after the COPY);
# 1 on a failure or a difference (FAIL); 2 on a usage error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPT=inserts.sh
ROWS=2000000
PER_TX=1000
KEEP=0
NATIVE_ONLY=0
TIMEOUT=1200
SYNCLINE=${SYNCLINE:-$ROOT/build/syncline}
TABLES=(bench_ins)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

usage() {
    cat <<EOF
usage: sudo bash bench/inserts.sh [options]

Catch-up of a backlog of inserts (table with a primary key and two secondary indexes):
native logical replication vs syncline.

  --rows N           rows inserted (default $ROWS), a multiple of --rows-per-tx
  --rows-per-tx N    rows per source transaction (default $PER_TX)
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
    --rows) ROWS=${2:?}; shift 2 ;;
    --rows-per-tx) PER_TX=${2:?}; shift 2 ;;
    --native-only) NATIVE_ONLY=1; shift ;;
    *) bench_option "$@"; shift "$BENCH_SHIFT" ;;
    esac
done
for v in ROWS PER_TX; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || usage_die "--${v,,} must be a positive integer"
done
((ROWS % PER_TX == 0)) || usage_die "--rows ($ROWS) must be a multiple of --rows-per-tx ($PER_TX)"
TX=$((ROWS / PER_TX))
bench_checks

bench_clusters
# A primary key and two secondary indexes, both in random order of the key (the expensive kind
# of index maintenance): k is a multiplicative hash of id, pad its md5.
DDL="CREATE TABLE bench_ins (id bigint PRIMARY KEY, k integer NOT NULL, grp integer NOT NULL,
                             pad text NOT NULL, created timestamptz NOT NULL DEFAULT now());
     CREATE INDEX bench_ins_k ON bench_ins (k);
     CREATE INDEX bench_ins_pad ON bench_ins (pad)"
both "$DDL"
log "table: $DDL"

# write_backlog RUN: TX transactions of PER_TX rows each, one DO block committing after each.
write_backlog() {
    local run=$1 t0
    probe_begin
    log "$run: writing the backlog: $ROWS rows in $TX transactions of $PER_TX"
    t0=$(now)
    src "DO \$\$ BEGIN
           FOR i IN 0..$((TX - 1)) LOOP
             INSERT INTO bench_ins (id, k, grp, pad)
               SELECT g, ((g * 2654435761) % 2147483647)::integer, g % 1000, md5(g::text)
                 FROM generate_series(i::bigint * $PER_TX + 1, (i::bigint + 1) * $PER_TX) g;
             COMMIT;
           END LOOP;
         END \$\$"
    WRITE_SECS=$(elapsed "$t0" "$(now)")
    log "$run: backlog written in ${WRITE_SECS}s"
    probe_end "$run" "$TX"
    ((BACKLOG_CHANGES == ROWS)) || die "$run: the backlog holds $BACKLOG_CHANGES row changes, expected $ROWS"
}

# ---- native ---------------------------------------------------------------------------------------
native_subscribe false
write_backlog native
NATIVE_BYTES=$BACKLOG_BYTES
NATIVE_WRITE=$WRITE_SECS
native_catchup "$BACKLOG_END"
native_drop
NATIVE_OK=PASS
verify native || NATIVE_OK=FAIL

# ---- syncline -------------------------------------------------------------------------------------
SYNC_OK=""
if ((!NATIVE_ONLY)); then
    both "TRUNCATE bench_ins"
    both "VACUUM ANALYZE bench_ins"
    syncline_config
    syncline_prime
    write_backlog syncline
    SYNC_CHANGES=$BACKLOG_CHANGES
    SYNC_BYTES=$BACKLOG_BYTES
    SYNC_WRITE=$WRITE_SECS
    syncline_catchup "$BACKLOG_END"
    SYNC_OK=PASS
    verify syncline || SYNC_OK=FAIL
fi

# ---- the physical limit (issue 18, goal 4) -------------------------------------------------------
# A binary COPY of the same rows into the same target table, emptied, in one transaction: the
# cheapest way in for any applier (no decoding, no statements). Timed like the catch-ups, from a
# CHECKPOINT on the target; the table is then compared with the source's.
COPY_OK=""
copy_reference() {
    local file=$WORK/bench_ins.copy t0
    src "\\copy bench_ins TO '$file' (FORMAT binary)"
    tgt "TRUNCATE bench_ins"
    tgt "VACUUM ANALYZE bench_ins"
    tgt "CHECKPOINT"
    log "copy: binary COPY of the same $ROWS rows into the emptied target table, one transaction"
    t0=$(now)
    tgt "\\copy bench_ins FROM '$file' (FORMAT binary)"
    COPY_SECS=$(elapsed "$t0" "$(now)")
    rm -f "$file"
    log "copy: ${COPY_SECS}s"
    COPY_OK=PASS
    verify copy || COPY_OK=FAIL
}
copy_reference

catchup_report "Catch-up, inserts: $ROWS rows in $TX transactions of $PER_TX (primary key + 2 secondary indexes)" rows "$ROWS" "$ROWS" | head -n -1 # the COPY row joins its table
crate=$(awk -v n="$ROWS" -v s="$COPY_SECS" 'BEGIN { printf "%.0f", n / s }')
echo "| binary COPY of the same rows, one transaction (the limit; its backend's CPU is not counted) | $COPY_SECS | $crate |" \
    "$(awk -v c="$COPY_SECS" -v n="$NATIVE_SECS" 'BEGIN { printf "%.2f", n / c }') | - | - | - | - | - | $COPY_OK |"
echo
((NATIVE_ONLY)) || echo "syncline reaches **$(awk -v c="$COPY_SECS" -v s="$SYNC_SECS" 'BEGIN { printf "%.0f", 100 * c / s }')%** of binary COPY's rate (issue 18, goal 4: 90%)."
echo
echo "Backlog: native run $((NATIVE_BYTES / 1048576)) MB WAL written in ${NATIVE_WRITE}s;" \
    "${SYNC_BYTES:+syncline run $((SYNC_BYTES / 1048576)) MB WAL written in ${SYNC_WRITE}s.}"
report_footer
[[ $COPY_OK == PASS ]] || { echo "**FAIL**: the target differs from the source after the binary COPY."; exit 1; }
