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

SCALE=10
TRANSACTIONS=40000
CLIENTS=4
JOBS=2
KEEP=0
NATIVE_ONLY=0
TIMEOUT=600
SYNCLINE=${SYNCLINE:-$ROOT/build/syncline}
SRC_PORT=${BENCH_SRC_PORT:-57432}
TGT_PORT=${BENCH_TGT_PORT:-57433}
DB=bench
NAME=bench # syncline's "name": slot and publication syncline_bench, progress row 'bench'

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
    --syncline) SYNCLINE=${2:?}; shift 2 ;;
    --native-only) NATIVE_ONLY=1; shift ;;
    --timeout) TIMEOUT=${2:?}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "catchup.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done
for v in SCALE TRANSACTIONS CLIENTS JOBS TIMEOUT; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "catchup.sh: --${v,,} must be a positive integer" >&2; exit 2; }
done
if ((TRANSACTIONS % CLIENTS)); then
    echo "catchup.sh: --transactions ($TRANSACTIONS) must be a multiple of --clients ($CLIENTS)" >&2
    exit 2
fi
((JOBS <= CLIENTS)) || JOBS=$CLIENTS
PER_CLIENT=$((TRANSACTIONS / CLIENTS))

if [[ $(id -u) -ne 0 ]]; then
    echo "catchup.sh: run as root (sudo bash bench/catchup.sh): the clusters run as the postgres user" >&2
    exit 2
fi
if ((!NATIVE_ONLY)) && [[ ! -x $SYNCLINE ]]; then
    echo "catchup.sh: no syncline binary at $SYNCLINE (build it, pass --syncline PATH, or use --native-only)" >&2
    exit 2
fi
[[ $SYNCLINE == /* ]] || SYNCLINE=$PWD/$SYNCLINE

# shellcheck source=tests/lib/pg.sh
source "$ROOT/tests/lib/pg.sh"
PSQL=$PG_BIN/psql
PGBENCH=$PG_BIN/pgbench
PG_DUMP=$PG_BIN/pg_dump

# ---- settings: identical on source and target ------------------------------------------------
# Appended after tests/lib/pg.sh's defaults (last line wins); wal_level=logical comes from pg.sh
# and is therefore set on both sides.
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
    "$PSQL" -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$DB" -c "$*"
}
src() { q "$SRC_PORT" "$@"; }
tgt() { q "$TGT_PORT" "$@"; }
conninfo() { echo "host=127.0.0.1 port=$1 user=postgres dbname=$DB"; }

fmt() { awk -v x="$1" -v f="$2" 'BEGIN { printf f, x }'; }

WORK=""
SRC_DIR=""
TGT_DIR=""
SYNC_PID=""
POLL_PID=""

cleanup() {
    local rc=$?
    set +e
    if [[ -n $SYNC_PID ]] && kill -0 "$SYNC_PID" 2>/dev/null; then
        kill -TERM "$SYNC_PID"
        wait "$SYNC_PID" 2>/dev/null
    fi
    if [[ -n $POLL_PID ]] && kill -0 "$POLL_PID" 2>/dev/null; then
        kill -TERM "$POLL_PID"
        wait "$POLL_PID" 2>/dev/null
    fi
    if [[ -n $WORK ]]; then
        if ((KEEP)); then
            log "--keep: clusters left running: source $(conninfo "$SRC_PORT"), target $(conninfo "$TGT_PORT")"
            log "         data directories $SRC_DIR, $TGT_DIR; stop them with pg_ctl -D DIR stop (as postgres)"
        else
            # Keep the server logs next to the syncline logs before the clusters go.
            [[ -f $SRC_DIR/log/postgresql.log ]] && cp "$SRC_DIR/log/postgresql.log" "$WORK/source-postgresql.log"
            [[ -f $TGT_DIR/log/postgresql.log ]] && cp "$TGT_DIR/log/postgresql.log" "$WORK/target-postgresql.log"
            pg_cluster_destroy "$SRC_DIR"
            pg_cluster_destroy "$TGT_DIR"
            rm -f "$WORK/syncline" "$WORK"/digest.*
            log "logs in $WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Copies the source database onto the target: drop, create, pg_dump | psql. Both sides equal.
resync_target() {
    q "$TGT_PORT" "SELECT 1" >/dev/null
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$TGT_PORT" -U postgres -d postgres \
        -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    "$PG_DUMP" -h 127.0.0.1 -p "$SRC_PORT" -U postgres -d "$DB" --no-publications --no-subscriptions |
        "$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$TGT_PORT" -U postgres -d "$DB" >/dev/null
    tgt "VACUUM ANALYZE"
    tgt "CHECKPOINT"
}

# Prints "count md5" of a table: md5 over the md5 of every row's text, in row order.
table_digest() {
    q "$1" "SELECT count(*) || ' ' || coalesce(md5(string_agg(md5(t::text), '' ORDER BY t)), '-') FROM $2 t"
}

TABLES=(pgbench_accounts pgbench_branches pgbench_tellers pgbench_history)

# verify LABEL: compares the four pgbench tables on both sides; returns 1 when any differs.
verify() {
    local label=$1 t s g bad=0
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
            bad=1
        fi
    done
    return "$bad"
}

# write_backlog RUN: creates a probe slot, runs pgbench on the source while nothing consumes the
# slots, then reads the probe slot through pgoutput to learn exactly what the backlog contains.
# Sets BACKLOG_START, BACKLOG_WAL_END (pg_current_wal_lsn() after pgbench), BACKLOG_END (end LSN of
# the last published commit: what a subscriber records once it has applied everything),
# BACKLOG_TX (published transactions), BACKLOG_CHANGES (rows inserted/updated/deleted),
# BACKLOG_BYTES (WAL written), PGBENCH_TPS.
write_backlog() {
    local run=$1 out
    src "SELECT pg_create_logical_replication_slot('bench_probe', 'pgoutput')" >/dev/null
    # Both backlogs start right after a checkpoint, so they carry the same full-page images
    # (without it the second backlog's WAL is several times smaller than the first's).
    src "CHECKPOINT"
    BACKLOG_START=$(src "SELECT pg_current_wal_lsn()")
    log "$run: writing the backlog: pgbench -n -c $CLIENTS -j $JOBS -t $PER_CLIENT ($TRANSACTIONS transactions)"
    if ! out=$("$PGBENCH" -n -c "$CLIENTS" -j "$JOBS" -t "$PER_CLIENT" -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$DB" 2>&1); then
        echo "$out" >&2
        die "$run: pgbench failed"
    fi
    echo "$out" >"$WORK/pgbench-$run.txt"
    PGBENCH_TPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -n 1)
    BACKLOG_WAL_END=$(src "SELECT pg_current_wal_lsn()")
    log "$run: backlog written at $(fmt "$PGBENCH_TPS" %.0f) tx/s; source pg_current_wal_lsn() = $BACKLOG_WAL_END"
    # pgoutput messages: B(egin), C(ommit), I(nsert), U(pdate), D(elete), R(elation), ...
    # The lsn reported with a Commit is that transaction's end LSN.
    local probe
    probe=$(src "SELECT count(*) FILTER (WHERE get_byte(data, 0) = ascii('C')),
                        count(*) FILTER (WHERE get_byte(data, 0) IN (ascii('I'), ascii('U'), ascii('D'))),
                        max(lsn) FILTER (WHERE get_byte(data, 0) = ascii('C'))
                   FROM pg_logical_slot_peek_binary_changes('bench_probe', NULL, NULL,
                        'proto_version', '1', 'publication_names', 'bench_probe')")
    src "SELECT pg_drop_replication_slot('bench_probe')" >/dev/null
    IFS='|' read -r BACKLOG_TX BACKLOG_CHANGES BACKLOG_END <<<"$probe"
    BACKLOG_BYTES=$(src "SELECT pg_wal_lsn_diff('$BACKLOG_WAL_END', '$BACKLOG_START')::bigint")
    log "$run: backlog: $BACKLOG_TX transactions, $BACKLOG_CHANGES row changes, $((BACKLOG_BYTES / 1048576)) MB of WAL; last commit ends at $BACKLOG_END"
    [[ $BACKLOG_TX -eq $TRANSACTIONS ]] ||
        die "$run: the backlog holds $BACKLOG_TX published transactions, expected $TRANSACTIONS"
}

# A persistent psql session on the target for polling (one process, no fork per poll).
poll_open() {
    # Sets POLL (descriptors) and POLL_PID (the psql process, stopped by poll_close/cleanup).
    coproc POLL { "$PSQL" -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$TGT_PORT" -U postgres -d "$DB" 2>&1; }
    # Duplicates that command substitutions inherit (bash hides coproc descriptors from subshells).
    exec {POLL_IN}>&"${POLL[1]}" {POLL_OUT}<&"${POLL[0]}"
}
# poll_query SQL: sends one query returning one line, prints that line.
poll_query() {
    local line
    printf '%s;\n' "$1" >&"$POLL_IN"
    IFS= read -r -t 30 line <&"$POLL_OUT" || die "no answer from the polling session on the target"
    [[ -n $line ]] || die "empty answer from the polling session on the target"
    printf "%s\n" "$line"
}
poll_close() {
    printf '\\q\n' >&"$POLL_IN"
    exec {POLL_IN}>&- {POLL_OUT}<&-
    wait "$POLL_PID" 2>/dev/null || true
    POLL_PID=""
}

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# server_cpu DIR: "pid:ticks" (user+sys clock ticks) of one cluster's postmaster and each child
# alive now (backends, walsenders, apply workers, background processes).
server_cpu() {
    local pm pid f
    pm=$(head -n 1 "$1/postmaster.pid")
    for pid in $pm $(pgrep -P "$pm" || true); do
        f=$(cut -d')' -f2- "/proc/$pid/stat" 2>/dev/null) || continue
        # shellcheck disable=SC2086
        set -- $f
        printf '%s:%s ' "$pid" $((${12} + ${13}))
    done
    echo
}
# cpu_secs BEFORE AFTER: CPU seconds spent between two server_cpu snapshots by the processes alive
# at AFTER (one started in between counts from 0). Processes that exited in between are left out
# rather than subtracted (a difference of two sums could go negative when, say, an autovacuum
# worker exits during the window).
cpu_secs() {
    awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN {
        n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, ":"); t0[kv[1]] = kv[2] }
        n = split(b, y, " "); for (i = 1; i <= n; i++) { split(y[i], kv, ":"); s += kv[2] - ((kv[1] in t0) ? t0[kv[1]] : 0) }
        printf "%.2f", s / hz }'
}

# ---- clusters -----------------------------------------------------------------------------------
WORK=$(pg_make_scratch syncline-bench)
SRC_DIR=$WORK/source
TGT_DIR=$WORK/target
CLK_TCK=$(getconf CLK_TCK)
if ((!NATIVE_ONLY)); then
    # A private copy: a rebuild during the run must not swap the binary between the two starts.
    cp "$SYNCLINE" "$WORK/syncline"
    SYNCLINE_VERSION=$("$WORK/syncline" --version 2>&1 | head -n 1) || true
    SYNCLINE_SRC=$SYNCLINE
    SYNCLINE_SHA=$(sha256sum "$WORK/syncline" | cut -c1-12)
    log "syncline: $SYNCLINE ($SYNCLINE_VERSION, sha256 $SYNCLINE_SHA)"
    SYNCLINE=$WORK/syncline
fi

for port in "$SRC_PORT" "$TGT_PORT"; do
    pg_port_free "$port" || die "port $port is in use (set BENCH_SRC_PORT / BENCH_TGT_PORT)"
done
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "clusters in $WORK: source :$SRC_PORT, target :$TGT_PORT ($(printf '%s; ' "${SETTINGS[@]}"))"
PG_FSYNC=on pg_cluster_create bench_source "$SRC_PORT" "$SRC_DIR" "${SETTINGS[@]}"
PG_FSYNC=on pg_cluster_create bench_target "$TGT_PORT" "$TGT_DIR" "${SETTINGS[@]}"
pg_cluster_start "$SRC_DIR"
pg_cluster_start "$TGT_DIR"
pg_wait_ready "$SRC_PORT"
pg_wait_ready "$TGT_PORT"
for port in "$SRC_PORT" "$TGT_PORT"; do
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE $DB"
done

log "pgbench -i -s $SCALE on the source"
"$PGBENCH" -i -q -s "$SCALE" -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$DB" >"$WORK/pgbench-init.txt" 2>&1 ||
    { cat "$WORK/pgbench-init.txt" >&2; die "pgbench -i failed"; }
# pgbench_history has no primary key. pgbench only inserts into it, which native replication
# accepts without a replica identity, but any UPDATE/DELETE would fail on the source; FULL makes
# the table fully replicable for both systems and costs nothing for inserts.
src "ALTER TABLE pgbench_history REPLICA IDENTITY FULL"
src "CHECKPOINT"
# The probe publication: the same four tables, read by a throwaway slot to measure the backlog.
src "CREATE PUBLICATION bench_probe FOR TABLE $(IFS=,; echo "${TABLES[*]}")"

# ---- native logical replication ---------------------------------------------------------------
log "native: copying the source database to the target (pg_dump | psql)"
resync_target
src "CREATE PUBLICATION bench_native FOR TABLE $(IFS=,; echo "${TABLES[*]}")"
# The slot is created here; copy_data = false because both sides are already equal.
tgt "CREATE SUBSCRIPTION bench_native CONNECTION '$(conninfo "$SRC_PORT")' PUBLICATION bench_native
     WITH (copy_data = false, enabled = false)"
src "SELECT 1 FROM pg_replication_slots WHERE slot_name = 'bench_native'" | grep -q 1 ||
    die "native: CREATE SUBSCRIPTION did not create the slot bench_native"

write_backlog native
NATIVE_TX=$BACKLOG_TX
NATIVE_CHANGES=$BACKLOG_CHANGES
NATIVE_WAL_END=$BACKLOG_WAL_END
NATIVE_END=$BACKLOG_END
NATIVE_BYTES=$BACKLOG_BYTES
NATIVE_PGBENCH_TPS=$PGBENCH_TPS
tgt "CHECKPOINT"

poll_open
SUBOID=$(poll_query "SELECT oid FROM pg_subscription WHERE subname = 'bench_native'")
# Two columns: caught up (t/f), apply errors so far.
NATIVE_POLL="SELECT coalesce((SELECT remote_lsn >= '$NATIVE_END' FROM pg_replication_origin_status
                                WHERE external_id = 'pg_$SUBOID'), false),
                    (SELECT apply_error_count FROM pg_stat_subscription_stats WHERE subid = $SUBOID)"
log "native: ALTER SUBSCRIPTION ENABLE; waiting until the subscription's origin reaches $NATIVE_END"
SCPU0=$(server_cpu "$SRC_DIR")
TCPU0=$(server_cpu "$TGT_DIR")
T0=$(now)
tgt "ALTER SUBSCRIPTION bench_native ENABLE"
while :; do
    r=$(poll_query "$NATIVE_POLL")
    T1=$(now)
    [[ ${r%%|*} == t ]] && break
    [[ ${r#*|} == 0 ]] || die "native: the apply worker failed (apply_error_count ${r#*|}); see $(pg_cluster_log "$TGT_DIR")"
    [[ $(awk -v a="$T0" -v b="$T1" -v t="$TIMEOUT" 'BEGIN { print (b - a > t) }') == 0 ]] ||
        die "native: not caught up after ${TIMEOUT}s"
    sleep 0.1
done
NATIVE_SRC_CPU=$(cpu_secs "$SCPU0" "$(server_cpu "$SRC_DIR")")
NATIVE_TGT_CPU=$(cpu_secs "$TCPU0" "$(server_cpu "$TGT_DIR")")
poll_close
NATIVE_SECS=$(elapsed "$T0" "$T1")
NATIVE_TPS=$(awk -v n="$NATIVE_TX" -v s="$NATIVE_SECS" 'BEGIN { printf "%.0f", n / s }')
log "native: caught up in ${NATIVE_SECS}s: $NATIVE_TPS tx/s"

tgt "ALTER SUBSCRIPTION bench_native DISABLE"
tgt "DROP SUBSCRIPTION bench_native"
src "DROP PUBLICATION bench_native"
NATIVE_OK=PASS
verify native || NATIVE_OK=FAIL

# ---- syncline ------------------------------------------------------------------------------------
SYNC_OK=""
if ((!NATIVE_ONLY)); then
    log "syncline: copying the source database to the target again (pg_dump | psql)"
    resync_target
    CFG=$WORK/syncline.json
    cat >"$CFG" <<EOF
{"name": "$NAME",
 "source": {"conninfo": "$(conninfo "$SRC_PORT")"},
 "target": {"conninfo": "$(conninfo "$TGT_PORT")"}}
EOF
    SYNC_LOG=$WORK/syncline.log
    : >"$SYNC_LOG"
    sync_fail() {
        log "syncline log ($SYNC_LOG), last 40 lines:"
        tail -n 40 "$SYNC_LOG" >&2 || true
        die "syncline: $*"
    }

    # First start: syncline creates its publication, slot and progress row; then stop it.
    # --snapshot=never is syncline's copy_data = false: both sides are already equal.
    SYNC_ARGS=(run -c "$CFG" --snapshot=never)
    log "syncline: first start (creates slot, publication, progress row): $SYNCLINE ${SYNC_ARGS[*]}"
    echo "=== first run: $SYNCLINE ${SYNC_ARGS[*]}" >>"$SYNC_LOG"
    "$SYNCLINE" "${SYNC_ARGS[@]}" >>"$SYNC_LOG" 2>&1 &
    SYNC_PID=$!
    ready=0
    for ((i = 0; i < 600; i++)); do
        kill -0 "$SYNC_PID" 2>/dev/null || { wait "$SYNC_PID" && rc=0 || rc=$?; SYNC_PID=""; sync_fail "first run exited with status $rc before it was ready"; }
        if [[ $(tgt "SELECT count(*) FROM pg_tables WHERE schemaname = 'syncline' AND tablename = 'progress'") == 1 ]] &&
            [[ $(tgt "SELECT count(*) FROM syncline.progress WHERE name = '$NAME'") == 1 ]] &&
            "$SYNCLINE" status -c "$CFG" >>"$WORK/syncline-status.txt" 2>&1; then
            ready=1
            break
        fi
        sleep 0.1
    done
    ((ready)) || sync_fail "no progress row / syncline status failing after 60s"
    kill -TERM "$SYNC_PID"
    wait "$SYNC_PID" && rc=0 || rc=$?
    SYNC_PID=""
    ((rc == 0)) || sync_fail "first run: SIGTERM exit status $rc (expected 0)"
    SLOT=$(src "SELECT slot_name || ' ' || plugin || ' active=' || active FROM pg_replication_slots WHERE slot_name = 'syncline_$NAME'")
    [[ -n $SLOT ]] || sync_fail "no slot syncline_$NAME on the source after the first run"
    log "syncline: stopped; slot: $SLOT; progress: $(tgt "SELECT applied_lsn FROM syncline.progress WHERE name = '$NAME'")"

    write_backlog syncline
    SYNC_TX=$BACKLOG_TX
    SYNC_CHANGES=$BACKLOG_CHANGES
    SYNC_WAL_END=$BACKLOG_WAL_END
    SYNC_END=$BACKLOG_END
    SYNC_BYTES=$BACKLOG_BYTES
    SYNC_PGBENCH_TPS=$PGBENCH_TPS
    tgt "CHECKPOINT"

    poll_open
    SYNC_POLL="SELECT coalesce((SELECT applied_lsn >= '$SYNC_END' FROM syncline.progress WHERE name = '$NAME'), false)"
    log "syncline: starting; waiting until syncline.progress.applied_lsn reaches $SYNC_END"
    echo "=== timed run: $SYNCLINE ${SYNC_ARGS[*]}" >>"$SYNC_LOG"
    SCPU0=$(server_cpu "$SRC_DIR")
    TCPU0=$(server_cpu "$TGT_DIR")
    T0=$(now)
    "$SYNCLINE" "${SYNC_ARGS[@]}" >>"$SYNC_LOG" 2>&1 &
    SYNC_PID=$!
    while :; do
        r=$(poll_query "$SYNC_POLL")
        T1=$(now)
        [[ $r == t ]] && break
        if ! kill -0 "$SYNC_PID" 2>/dev/null; then
            wait "$SYNC_PID" && rc=0 || rc=$?
            SYNC_PID=""
            sync_fail "exited with status $rc before catching up (applied_lsn $(poll_query "SELECT applied_lsn FROM syncline.progress WHERE name = '$NAME'"), target $SYNC_END)"
        fi
        [[ $(awk -v a="$T0" -v b="$T1" -v t="$TIMEOUT" 'BEGIN { print (b - a > t) }') == 0 ]] ||
            sync_fail "not caught up after ${TIMEOUT}s (applied_lsn $(poll_query "SELECT applied_lsn FROM syncline.progress WHERE name = '$NAME'"), target $SYNC_END)"
        sleep 0.1
    done
    # CPU and memory of the syncline process (all threads) up to the moment it caught up.
    read -r -a ST <<<"$(cut -d')' -f2- "/proc/$SYNC_PID/stat")"
    SYNC_UTIME=$(fmt "$(awk -v t="${ST[11]}" -v hz="$CLK_TCK" 'BEGIN { print t / hz }')" %.2f)
    SYNC_STIME=$(fmt "$(awk -v t="${ST[12]}" -v hz="$CLK_TCK" 'BEGIN { print t / hz }')" %.2f)
    SYNC_HWM_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SYNC_PID/status")
    SYNC_SRC_CPU=$(cpu_secs "$SCPU0" "$(server_cpu "$SRC_DIR")")
    SYNC_TGT_CPU=$(cpu_secs "$TCPU0" "$(server_cpu "$TGT_DIR")")
    poll_close
    SYNC_SECS=$(elapsed "$T0" "$T1")
    SYNC_TPS=$(awk -v n="$SYNC_TX" -v s="$SYNC_SECS" 'BEGIN { printf "%.0f", n / s }')
    log "syncline: caught up in ${SYNC_SECS}s: $SYNC_TPS tx/s (CPU user ${SYNC_UTIME}s sys ${SYNC_STIME}s, peak RSS $((SYNC_HWM_KB / 1024)) MB)"
    kill -TERM "$SYNC_PID"
    wait "$SYNC_PID" && rc=0 || rc=$?
    SYNC_PID=""
    ((rc == 0)) || sync_fail "SIGTERM exit status $rc (expected 0)"
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
    RATIO=$(awk -v a="$SYNC_TPS" -v b="$NATIVE_TPS" 'BEGIN { printf "%.2f", a / b }')
    CPU_TOTAL=$(awk -v u="$SYNC_UTIME" -v s="$SYNC_STIME" 'BEGIN { printf "%.2f", u + s }')
    echo "| syncline | $SYNC_SECS | $SYNC_TPS | $RATIO | $SYNC_SRC_CPU | $SYNC_TGT_CPU | $CPU_TOTAL | $SYNC_OK |"
    CPU_PER_100K=$(awk -v c="$CPU_TOTAL" -v n="$SYNC_CHANGES" 'BEGIN { printf "%.2f", c * 100000 / n }')
    echo
    echo "syncline process: CPU ${CPU_TOTAL}s (user $SYNC_UTIME, sys $SYNC_STIME) for $SYNC_CHANGES row changes" \
        "= **$CPU_PER_100K CPU s per 100k changes**; peak RSS **$(fmt "$SYNC_HWM_KB" "%d") kB** ($((SYNC_HWM_KB / 1024)) MB)."
fi
echo
echo "Backlog (native run): $NATIVE_TX transactions, $NATIVE_CHANGES row changes, $((NATIVE_BYTES / 1048576)) MB WAL," \
    "written at $(fmt "$NATIVE_PGBENCH_TPS" %.0f) tx/s; last commit end $NATIVE_END, pg_current_wal_lsn() $NATIVE_WAL_END."
if ((!NATIVE_ONLY)); then
    echo "Backlog (syncline run): $SYNC_TX transactions, $SYNC_CHANGES row changes, $((SYNC_BYTES / 1048576)) MB WAL," \
        "written at $(fmt "$SYNC_PGBENCH_TPS" %.0f) tx/s; last commit end $SYNC_END, pg_current_wal_lsn() $SYNC_WAL_END."
fi
echo "CPU s: user+sys during the catch-up of the source's and the target's server processes (walsender," \
    "apply worker / syncline's backends, background processes) and of the syncline process."
echo "Load average (1/5/15 min) at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)."
((NATIVE_ONLY)) || echo "syncline: $SYNCLINE_VERSION, $SYNCLINE_SRC (sha256 $SYNCLINE_SHA)."

if [[ $NATIVE_OK != PASS || (-n $SYNC_OK && $SYNC_OK != PASS) ]]; then
    echo
    echo "**FAIL**: the target differs from the source after a run (see above)."
    exit 1
fi
