# shellcheck shell=bash
# Shared parts of bench/catchup.sh, copy.sh, inserts.sh, hot.sh and steady.sh: cluster set-up,
# settings, polling, CPU/RSS accounting and verification.
# Source it after setting: ROOT, SYNCLINE, KEEP, NATIVE_ONLY (1: no syncline run, no binary
# needed), TIMEOUT, SCRIPT (for messages), TABLES (array: the tables published and compared);
# optionally SCRATCH_PREFIX (scratch directory /tmp/SCRATCH_PREFIX.*, default syncline-bench),
# NO_SYNCLINE_OPTION (the option that leaves syncline out, for messages; default --native-only)
# and BENCH_SRC_PORT/BENCH_TGT_PORT (ports). It defines functions and these globals:
# SRC_PORT, TGT_PORT, DB, NAME, PSQL, PGBENCH, PG_DUMP, SETTINGS, WORK, SRC_DIR, TGT_DIR, CLK_TCK.

SRC_PORT=${BENCH_SRC_PORT:-57432}
TGT_PORT=${BENCH_TGT_PORT:-57433}
DB=bench
NAME=bench # syncline's "name": slot and publication syncline_bench, progress row 'bench'

# shellcheck source=tests/lib/pg.sh
source "$ROOT/tests/lib/pg.sh"
# shellcheck source=bench/cpu.sh
source "$ROOT/bench/cpu.sh"
# shellcheck source=bench/psql-session.sh
source "$ROOT/bench/psql-session.sh"
PSQL=$PG_BIN/psql
# shellcheck disable=SC2034 # used by the scripts that source this file
PGBENCH=$PG_BIN/pgbench
PG_DUMP=$PG_BIN/pg_dump

# Identical on source and target, appended after tests/lib/pg.sh's defaults (last line wins).
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

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
usage_die() { echo "$SCRIPT: $*" >&2; exit 2; }

# q PORT SQL...: one statement, unaligned tuples only, errors are fatal
q() {
    local port=$1
    shift
    PGOPTIONS="-c client_min_messages=warning" "$PSQL" -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$DB" -c "$*"
}
src() { q "$SRC_PORT" "$@"; }
tgt() { q "$TGT_PORT" "$@"; }
both() { src "$@" && tgt "$@"; }
conninfo() { echo "host=127.0.0.1 port=$1 user=postgres dbname=$DB"; }
fmt() { awk -v x="$1" -v f="$2" 'BEGIN { printf f, x }'; }
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
past() { awk -v a="$1" -v b="$(now)" -v t="$2" 'BEGIN { exit !(b - a > t) }'; }
tables_csv() { (IFS=,; echo "${TABLES[*]}"); }

WORK=""
SRC_DIR=""
TGT_DIR=""
SYNC_PID=""
BG_PID=""

bench_cleanup() {
    local rc=$?
    set +e
    local p
    for p in "$SYNC_PID" "${SESS_PID[poll]:-}" "$BG_PID"; do
        if [[ -n $p ]] && kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p"
            wait "$p" 2>/dev/null
        fi
    done
    if [[ -n $WORK ]]; then
        if ((KEEP)); then
            log "--keep: clusters left running: source $(conninfo "$SRC_PORT"), target $(conninfo "$TGT_PORT")"
            log "         data directories $SRC_DIR, $TGT_DIR; stop them with pg_ctl -D DIR stop (as postgres)"
        else
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

# bench_option ARGS...: the options every script takes (--syncline, --timeout, --keep, -h);
# anything else is a usage error. Call it from the `*)` branch of the script's own option loop,
# then shift BENCH_SHIFT words. Needs the script's usage function.
# shellcheck disable=SC2034 # BENCH_SHIFT is read by the caller
bench_option() {
    case $1 in
    --syncline) SYNCLINE=${2:?}; BENCH_SHIFT=2 ;;
    --timeout) TIMEOUT=${2:?}; BENCH_SHIFT=2 ;;
    --keep) KEEP=1; BENCH_SHIFT=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$SCRIPT: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
}

# bench_checks: root, binary present; call after option parsing.
bench_checks() {
    [[ $(id -u) -eq 0 ]] || usage_die "run as root (sudo bash bench/$SCRIPT): the clusters run as the postgres user"
    if ((!NATIVE_ONLY)); then
        [[ -x $SYNCLINE ]] || usage_die "no syncline binary at $SYNCLINE (build it, pass --syncline PATH, or use ${NO_SYNCLINE_OPTION:---native-only})"
        [[ $SYNCLINE == /* ]] || SYNCLINE=$PWD/$SYNCLINE
    fi
    [[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || usage_die "--timeout must be a positive integer"
}

# bench_clusters: scratch directory, private copy of the binary, both clusters, database $DB.
bench_clusters() {
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    WORK=$(pg_make_scratch "${SCRATCH_PREFIX:-syncline-bench}")
    SRC_DIR=$WORK/source
    TGT_DIR=$WORK/target
    if ((!NATIVE_ONLY)); then
        # A private copy: a rebuild during the run must not swap the binary between the two starts.
        cp "$SYNCLINE" "$WORK/syncline"
        SYNCLINE_VERSION=$("$WORK/syncline" --version 2>&1 | head -n 1) || true
        SYNCLINE_SRC=$SYNCLINE
        SYNCLINE_SHA=$(sha256sum "$WORK/syncline" | cut -c1-12)
        log "syncline: $SYNCLINE ($SYNCLINE_VERSION, sha256 $SYNCLINE_SHA)"
        SYNCLINE=$WORK/syncline
    fi
    local port
    for port in "$SRC_PORT" "$TGT_PORT"; do
        pg_port_free "$port" || die "port $port is in use (set BENCH_SRC_PORT / BENCH_TGT_PORT)"
    done
    LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
    log "load average $LOAD_START; clusters in $WORK: source :$SRC_PORT, target :$TGT_PORT ($(printf '%s; ' "${SETTINGS[@]}"))"
    PG_FSYNC=on pg_cluster_create bench_source "$SRC_PORT" "$SRC_DIR" "${SETTINGS[@]}"
    PG_FSYNC=on pg_cluster_create bench_target "$TGT_PORT" "$TGT_DIR" "${SETTINGS[@]}"
    pg_cluster_start "$SRC_DIR"
    pg_cluster_start "$TGT_DIR"
    pg_wait_ready "$SRC_PORT"
    pg_wait_ready "$TGT_PORT"
    for port in "$SRC_PORT" "$TGT_PORT"; do
        "$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE $DB"
    done
}

# Copies the source database onto the target: drop, create, pg_dump | psql. Both sides equal.
resync_target() {
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

# verify LABEL: compares every table of TABLES on both sides; returns 1 when any differs.
verify() {
    local label=$1 t s g bad=0 p1
    for t in "${TABLES[@]}"; do
        table_digest "$SRC_PORT" "$t" >"$WORK/digest.src" &
        p1=$!
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

# probe_begin: a throwaway pgoutput slot on a publication of TABLES, created right before the
# workload (after a CHECKPOINT, so every run carries the same full-page images).
probe_begin() {
    src "SELECT 1 FROM pg_publication WHERE pubname = 'bench_probe'" | grep -q 1 ||
        src "CREATE PUBLICATION bench_probe FOR TABLE $(tables_csv)"
    src "SELECT pg_create_logical_replication_slot('bench_probe', 'pgoutput')" >/dev/null
    src "CHECKPOINT"
    BACKLOG_START=$(src "SELECT pg_current_wal_lsn()")
}
# probe_end RUN EXPECTED_TX: reads the probe slot after the workload and drops it. Sets
# BACKLOG_WAL_END (pg_current_wal_lsn()), BACKLOG_END (end LSN of the last published commit: what
# a subscriber records once it applied everything), BACKLOG_TX, BACKLOG_CHANGES, BACKLOG_BYTES.
# EXPECTED_TX empty: no check of the transaction count.
probe_end() {
    local run=$1 expect=$2 probe
    BACKLOG_WAL_END=$(src "SELECT pg_current_wal_lsn()")
    # pgoutput messages: B(egin), C(ommit), I(nsert), U(pdate), D(elete), R(elation), ...
    probe=$(src "SELECT count(*) FILTER (WHERE get_byte(data, 0) = ascii('C')),
                        count(*) FILTER (WHERE get_byte(data, 0) IN (ascii('I'), ascii('U'), ascii('D'))),
                        max(lsn) FILTER (WHERE get_byte(data, 0) = ascii('C'))
                   FROM pg_logical_slot_peek_binary_changes('bench_probe', NULL, NULL,
                        'proto_version', '1', 'publication_names', 'bench_probe')")
    src "SELECT pg_drop_replication_slot('bench_probe')" >/dev/null
    IFS='|' read -r BACKLOG_TX BACKLOG_CHANGES BACKLOG_END <<<"$probe"
    BACKLOG_BYTES=$(src "SELECT pg_wal_lsn_diff('$BACKLOG_WAL_END', '$BACKLOG_START')::bigint")
    log "$run: workload: $BACKLOG_TX transactions, $BACKLOG_CHANGES row changes, $((BACKLOG_BYTES / 1048576)) MB of WAL; last commit ends at $BACKLOG_END"
    [[ -z $expect || $BACKLOG_TX -eq $expect ]] ||
        die "$run: the workload holds $BACKLOG_TX published transactions, expected $expect"
}

# A persistent psql session on the target for polling (one process, no fork per poll).
poll_open() { sess_open poll "$WORK" "$TGT_PORT" "$DB"; }
poll_query() {
    local line
    line=$(sess_q poll "$1")
    [[ -n $line ]] || die "empty answer from the polling session on the target"
    printf "%s\n" "$line"
}
poll_close() { sess_close poll; }

# server_cpu DIR: cpu_snap of one cluster's postmaster and each child alive now (backends,
# walsenders, apply workers, background processes).
server_cpu() { cpu_snap "$(head -n 1 "$1/postmaster.pid")"; }
# server_cpu_secs BEFORE AFTER: cpu_delta of two server_cpu snapshots.
server_cpu_secs() { cpu_delta "$1" "$2"; }
cpu_secs() { awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / hz }'; }
# proc_cpu_split PID: "user sys" clock ticks of a process (all threads).
proc_cpu_split() {
    local -a st
    read -r -a st <<<"$(cut -d')' -f2- "/proc/$1/stat")"
    echo "${st[11]} ${st[12]}"
}
# proc_cpu PID: user+sys clock ticks of a process (all threads).
proc_cpu() {
    local u s
    read -r u s <<<"$(proc_cpu_split "$1")"
    echo $((u + s))
}
proc_hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# ---- native logical replication -----------------------------------------------------------------
# native_subscribe ENABLED(true|false): publication bench_native of TABLES, subscription (creates
# the slot) with copy_data = false: both sides are already equal.
native_subscribe() {
    src "CREATE PUBLICATION bench_native FOR TABLE $(tables_csv)"
    tgt "CREATE SUBSCRIPTION bench_native CONNECTION '$(conninfo "$SRC_PORT")' PUBLICATION bench_native
         WITH (copy_data = false, enabled = $1)"
    src "SELECT 1 FROM pg_replication_slots WHERE slot_name = 'bench_native'" | grep -q 1 ||
        die "native: CREATE SUBSCRIPTION did not create the slot bench_native"
    SUBOID=$(tgt "SELECT oid FROM pg_subscription WHERE subname = 'bench_native'")
}
# native_wait END: polls (open session) until the subscription's origin reaches END; sets T1.
native_wait() {
    local end=$1 r t0=$2
    local sql="SELECT coalesce((SELECT remote_lsn >= '$end' FROM pg_replication_origin_status
                                 WHERE external_id = 'pg_$SUBOID'), false),
                      (SELECT apply_error_count FROM pg_stat_subscription_stats WHERE subid = $SUBOID)"
    while :; do
        r=$(poll_query "$sql")
        T1=$(now)
        [[ ${r%%|*} == t ]] && break
        [[ ${r#*|} == 0 ]] || die "native: the apply worker failed (apply_error_count ${r#*|}); see $(pg_cluster_log "$TGT_DIR")"
        ! past "$t0" "$TIMEOUT" || die "native: not caught up after ${TIMEOUT}s"
        sleep 0.02
    done
}
# native_catchup END: enables the disabled subscription and times it until the origin reaches END.
# Sets NATIVE_SECS, NATIVE_SRC_CPU, NATIVE_TGT_CPU.
native_catchup() {
    local end=$1 scpu tcpu t0
    tgt "CHECKPOINT"
    poll_open
    log "native: ALTER SUBSCRIPTION ENABLE; waiting until the subscription's origin reaches $end"
    scpu=$(server_cpu "$SRC_DIR")
    tcpu=$(server_cpu "$TGT_DIR")
    t0=$(now)
    tgt "ALTER SUBSCRIPTION bench_native ENABLE"
    native_wait "$end" "$t0"
    NATIVE_SRC_CPU=$(server_cpu_secs "$scpu" "$(server_cpu "$SRC_DIR")")
    NATIVE_TGT_CPU=$(server_cpu_secs "$tcpu" "$(server_cpu "$TGT_DIR")")
    poll_close
    NATIVE_SECS=$(elapsed "$t0" "$T1")
    log "native: caught up in ${NATIVE_SECS}s"
}
native_drop() {
    tgt "ALTER SUBSCRIPTION bench_native DISABLE"
    tgt "DROP SUBSCRIPTION bench_native"
    src "DROP PUBLICATION bench_native"
}

# ---- syncline -----------------------------------------------------------------------------------
# syncline_config: every table of the database (the benchmark's tables and nothing else);
# SYNC_EXTRA (e.g. ', "kafka": {...}') is added to the top-level object.
syncline_config() {
    CFG=$WORK/syncline.json
    local apply=""
    [[ -z ${BENCH_APPLY:-} ]] || apply=",
 \"apply\": $BENCH_APPLY"
    cat >"$CFG" <<EOF
{"name": "$NAME",
 "source": {"conninfo": "$(conninfo "$SRC_PORT")"},
 "target": {"conninfo": "$(conninfo "$TGT_PORT")"}$apply${SYNC_EXTRA:-}}
EOF
    SYNC_LOG=$WORK/syncline.log
    : >"$SYNC_LOG"
    SYNC_ARGS=(run -c "$CFG" --snapshot=never)
}
sync_fail() {
    log "syncline log ($SYNC_LOG), last 40 lines:"
    tail -n 40 "$SYNC_LOG" >&2 || true
    die "syncline: $*"
}
# syncline_start_ready LABEL: starts `syncline run --snapshot=never` and waits until its slot,
# publication and progress row exist and `syncline status` succeeds. Leaves it running (SYNC_PID).
syncline_start_ready() {
    local i rc
    log "syncline: start ($1): $SYNCLINE ${SYNC_ARGS[*]}"
    echo "=== $1: $SYNCLINE ${SYNC_ARGS[*]}" >>"$SYNC_LOG"
    "$SYNCLINE" "${SYNC_ARGS[@]}" >>"$SYNC_LOG" 2>&1 &
    SYNC_PID=$!
    for ((i = 0; i < 600; i++)); do
        kill -0 "$SYNC_PID" 2>/dev/null || { wait "$SYNC_PID" && rc=0 || rc=$?; SYNC_PID=""; sync_fail "exited with status $rc before it was ready"; }
        if [[ $(tgt "SELECT count(*) FROM pg_tables WHERE schemaname = 'syncline' AND tablename = 'progress'") == 1 ]] &&
            [[ $(tgt "SELECT count(*) FROM syncline.progress WHERE name = '$NAME'") == 1 ]] &&
            "$SYNCLINE" status -c "$CFG" >>"$WORK/syncline-status.txt" 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    sync_fail "no progress row / syncline status failing after 60s"
}
syncline_stop() {
    local rc
    kill -TERM "$SYNC_PID"
    wait "$SYNC_PID" && rc=0 || rc=$?
    SYNC_PID=""
    ((rc == 0)) || sync_fail "SIGTERM exit status $rc (expected 0)"
}
# syncline_prime: first start (creates slot, publication, progress row), then stop: from now on
# the slot collects changes while nothing consumes it.
syncline_prime() {
    syncline_start_ready "first start"
    syncline_stop
    local slot
    slot=$(src "SELECT slot_name || ' ' || plugin || ' active=' || active FROM pg_replication_slots WHERE slot_name = 'syncline_$NAME'")
    [[ -n $slot ]] || sync_fail "no slot syncline_$NAME on the source after the first run"
    log "syncline: stopped; slot $slot; progress: $(tgt "SELECT applied_lsn FROM syncline.progress WHERE name = '$NAME'")"
}
# syncline_wait END T0: polls (open session) until applied_lsn reaches END; sets T1.
syncline_wait() {
    local end=$1 t0=$2 r rc
    local sql="SELECT coalesce((SELECT applied_lsn >= '$end' FROM syncline.progress WHERE name = '$NAME'), false)"
    while :; do
        r=$(poll_query "$sql")
        T1=$(now)
        [[ $r == t ]] && break
        if ! kill -0 "$SYNC_PID" 2>/dev/null; then
            wait "$SYNC_PID" && rc=0 || rc=$?
            SYNC_PID=""
            sync_fail "exited with status $rc before catching up (target $end)"
        fi
        ! past "$t0" "$TIMEOUT" || sync_fail "not caught up after ${TIMEOUT}s (applied_lsn $(poll_query "SELECT applied_lsn FROM syncline.progress WHERE name = '$NAME'"), target $end)"
        sleep 0.02
    done
}
# syncline_catchup END: starts syncline on the backlog and times it until applied_lsn reaches END.
# Sets SYNC_SECS, SYNC_CPU (user+sys seconds of the process; SYNC_UTIME, SYNC_STIME apart),
# SYNC_HWM_KB, SYNC_SRC_CPU, SYNC_TGT_CPU.
syncline_catchup() {
    local end=$1 scpu tcpu t0 ut st
    tgt "CHECKPOINT"
    poll_open
    log "syncline: starting; waiting until syncline.progress.applied_lsn reaches $end"
    echo "=== timed run at $(date -u +%H:%M:%S.%3N): $SYNCLINE ${SYNC_ARGS[*]}" >>"$SYNC_LOG"
    scpu=$(server_cpu "$SRC_DIR")
    tcpu=$(server_cpu "$TGT_DIR")
    t0=$(now)
    "$SYNCLINE" "${SYNC_ARGS[@]}" >>"$SYNC_LOG" 2>&1 &
    SYNC_PID=$!
    syncline_wait "$end" "$t0"
    read -r ut st <<<"$(proc_cpu_split "$SYNC_PID")"
    # shellcheck disable=SC2034 # SYNC_UTIME, SYNC_STIME: used by catchup.sh
    SYNC_UTIME=$(cpu_secs 0 "$ut")
    # shellcheck disable=SC2034
    SYNC_STIME=$(cpu_secs 0 "$st")
    SYNC_CPU=$(cpu_secs 0 $((ut + st)))
    SYNC_HWM_KB=$(proc_hwm_kb "$SYNC_PID")
    SYNC_SRC_CPU=$(server_cpu_secs "$scpu" "$(server_cpu "$SRC_DIR")")
    SYNC_TGT_CPU=$(server_cpu_secs "$tcpu" "$(server_cpu "$TGT_DIR")")
    poll_close
    SYNC_SECS=$(elapsed "$t0" "$T1")
    log "syncline: caught up in ${SYNC_SECS}s (CPU ${SYNC_CPU}s, peak RSS $((SYNC_HWM_KB / 1024)) MB)"
    syncline_stop
}

# ---- report -------------------------------------------------------------------------------------
# catchup_report TITLE UNIT NATIVE_N SYNC_N: the table shared by the catch-up benchmarks.
catchup_report() {
    local title=$1 unit=$2 nn=$3 sn=$4 nrate srate
    nrate=$(awk -v n="$nn" -v s="$NATIVE_SECS" 'BEGIN { printf "%.0f", n / s }')
    echo
    echo "## $title, $(nproc) cores, $(date -u +%Y-%m-%d)"
    echo
    echo "| system | seconds | $unit/s | ratio vs native | CPU s: source server | target server | syncline | syncline CPU s per 100k changes | syncline peak RSS MB | target equals source |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    echo "| native logical replication | $NATIVE_SECS | $nrate | 1.00 | $NATIVE_SRC_CPU | $NATIVE_TGT_CPU | - | - | - | $NATIVE_OK |"
    if ((!NATIVE_ONLY)); then
        srate=$(awk -v n="$sn" -v s="$SYNC_SECS" 'BEGIN { printf "%.0f", n / s }')
        echo "| syncline | $SYNC_SECS | $srate | $(ratio "$srate" "$nrate") | $SYNC_SRC_CPU | $SYNC_TGT_CPU | $SYNC_CPU |" \
            "$(awk -v c="$SYNC_CPU" -v n="$SYNC_CHANGES" 'BEGIN { printf "%.2f", c * 100000 / n }') |" \
            "$((SYNC_HWM_KB / 1024)) | $SYNC_OK |"
    fi
    echo
}
report_footer() {
    echo "CPU s: user+sys of the source's and the target's server processes (walsender, apply worker /" \
        "syncline's backends, background processes) and of the syncline process (all threads, from /proc)."
    echo "Load average (1/5/15 min) at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)."
    ((NATIVE_ONLY)) || echo "syncline: $SYNCLINE_VERSION, $SYNCLINE_SRC (sha256 $SYNCLINE_SHA)."
    if [[ $NATIVE_OK != PASS || (-n ${SYNC_OK:-} && $SYNC_OK != PASS) ]]; then
        echo
        echo "**FAIL**: the target differs from the source after a run (see above)."
        exit 1
    fi
}
