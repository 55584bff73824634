# shellcheck shell=bash
# Helpers for the end-to-end scenarios (tests/e2e/NNN-name.sh). See tests/e2e/README.md.
# A scenario sources this file, calls e2e_setup NAME, and exits 0 when it passes.
set -euo pipefail

for _v in SYNCLINE SRC_PORT TGT_PORT PG_BIN E2E_ROOT; do
    if [[ -z "${!_v:-}" ]]; then
        echo "e2e: \$$_v is not set; scenarios are run by tests/run.sh (see tests/e2e/README.md)" >&2
        exit 2
    fi
done
unset _v

E2E_MAIN_PID=$BASHPID
E2E_NAME=""
E2E_TMP=""
CFG=""
SYNCLINE_PID=""
E2E_CLEANUP=()
: "${E2E_START_WAIT:=1}"     # syncline_start waits until syncline streams (0: don't)
: "${E2E_START_TIMEOUT:=30}" # seconds syncline_start waits for that
: "${E2E_STOP_TIMEOUT:=30}"  # seconds syncline_stop waits after SIGTERM
: "${SRC_PG_MAJOR:=15}"      # PostgreSQL majors of the source and target clusters (run.sh sets them)
: "${TGT_PG_MAJOR:=15}"

# ---------------------------------------------------------------- small utilities

_e2e_now_ms() {
    local t=${EPOCHREALTIME/./}
    echo $((t / 1000))
}

_e2e_log() {
    echo "[$(date +%T)] $*"
}

# Success when PID is a live (non-zombie) process.
_e2e_alive() {
    local pid=${1:-}
    [[ -n "$pid" ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    local state
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z)
    [[ "$state" != Z ]]
}

# JSON string literal of $1.
_e2e_json_str() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
}

# The psql every helper uses. PORT DB [psql args...]; returns psql's status, never fails the test.
_e2e_psql() {
    local port=$1 db=$2
    shift 2
    PGCONNECT_TIMEOUT=10 PGOPTIONS="-c client_min_messages=warning" \
        "$PG_BIN/psql" -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

# Runs psql; stdout goes through; on error prints psql's messages and fails the test.
# LABEL PORT DB [psql args...]
_e2e_psql_or_fail() {
    local label=$1 port=$2 db=$3 err rc=0
    shift 3
    { err=$(_e2e_psql "$port" "$db" "$@" 2>&1 1>&3) || rc=$?; } 3>&1
    if ((rc != 0)); then
        printf '%s\n' "$err" >&2
        fail "$label failed (psql exit $rc)"
    fi
    [[ -z "$err" ]] || printf '%s\n' "$err" >&2
}

# ---------------------------------------------------------------- assertions

fail() {
    echo "FAIL: $*" >&2
    if [[ -n "$E2E_TMP" && -d "$E2E_TMP" ]]; then : >"$E2E_TMP/.failed"; fi
    # Called inside $(...) or a pipeline: take the whole scenario down, not just the subshell.
    if [[ "$BASHPID" != "$E2E_MAIN_PID" ]]; then
        kill -TERM "$E2E_MAIN_PID" 2>/dev/null || true
    fi
    exit 1
}

assert_eq() {
    local expected=$1 actual=$2 msg=${3:-values differ}
    if [[ "$expected" != "$actual" ]]; then
        fail "$msg: expected [$expected], got [$actual]"
    fi
    echo "ok: $msg"
}

assert_contains() {
    local file=$1 text=$2 msg=${3:-text not found}
    if ! grep -qF -- "$text" "$file" 2>/dev/null; then
        echo "--- last 40 lines of $file ---" >&2
        tail -n 40 "$file" >&2 2>/dev/null || echo "(no such file)" >&2
        fail "$msg: [$text] not found in $file"
    fi
    echo "ok: $msg"
}

# Polls a command every 0.2 s until it succeeds. SECONDS CMD [ARGS...]
wait_until() {
    local secs=$1 deadline
    shift
    deadline=$(($(_e2e_now_ms) + secs * 1000))
    until "$@"; do
        if (($(_e2e_now_ms) > deadline)); then
            fail "wait_until: [$*] still false after ${secs}s"
        fi
        sleep 0.2
    done
}

# ---------------------------------------------------------------- SQL

src_psql() { _e2e_psql "$SRC_PORT" "$SRC_DB" "$@"; }
tgt_psql() { _e2e_psql "$TGT_PORT" "$TGT_DB" "$@"; }

# SQL text runs like a script: each statement commits on its own unless inside BEGIN/COMMIT.
src_sql() { _e2e_psql_or_fail "src_sql" "$SRC_PORT" "$SRC_DB" -f - <<<"$1"; }
tgt_sql() { _e2e_psql_or_fail "tgt_sql" "$TGT_PORT" "$TGT_DB" -f - <<<"$1"; }
both_sql() {
    src_sql "$1"
    tgt_sql "$1"
}
# Re-creates this scenario's source or target database (SIDE: src or tgt) in ENCODING, from
# template0 with the C locale, and checks that the server reports it.
e2e_recreate_db() {
    local side=$1 enc=$2 port db
    if [[ $side == src ]]; then port=$SRC_PORT db=$SRC_DB; else port=$TGT_PORT db=$TGT_DB; fi
    _e2e_psql_or_fail "$enc $side database" "$port" postgres -c "DROP DATABASE $db WITH (FORCE)" \
        -c "CREATE DATABASE $db ENCODING '$enc' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
    assert_eq "$enc" "$("${side}_sql" "SHOW server_encoding")" "$side database encoding"
}
# SQL whose literals are UTF-8, whatever the database's encoding.
u8_src() { PGCLIENTENCODING=UTF8 src_sql "$1"; }
u8_tgt() { PGCLIENTENCODING=UTF8 tgt_sql "$1"; }

# On the target, a BEFORE UPDATE OR DELETE trigger on each TABLE:MODE (MODE: REPLICA or ALWAYS,
# the ENABLE mode that makes it fire for syncline's session) that skips the change of a row whose
# "locked" column is 1: a target that deliberately keeps some rows as they are.
# A target session kept open across steps, to hold a transaction open (its locks, a COMMIT that
# comes later): tgt_late_open starts it, with its input on fd 7 (start background processes with
# `7>&-` while it is open, or it never sees its input end); tgt_late_hold sends statements and
# waits until they ran; tgt_late_close sends the last ones and waits for the session to exit.
tgt_late_open() {
    mkfifo "$E2E_TMP/late.in"
    tgt_psql <"$E2E_TMP/late.in" >"$E2E_TMP/late.out" 2>&1 &
    LATE_PID=$!
    exec 7>"$E2E_TMP/late.in"
    e2e_on_exit "exec 7>&-; kill $LATE_PID 2>/dev/null || true"
}
tgt_late_hold() { # SQL...
    printf '%s\n' "$@" "SELECT 'held';" >&7
    wait_until 20 grep -q held "$E2E_TMP/late.out"
}
# A session of syncline (run or apply) waits on a lock in the target database.
syncline_waits_on_lock() {
    (($(tgt_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'syncline'
                  AND wait_event_type = 'Lock' AND datname = current_database()") >= 1))
}
tgt_late_close() { # SQL...
    printf '%s\n' "$@" >&7
    exec 7>&-
    wait "$LATE_PID" || fail "the held target session failed: $(cat "$E2E_TMP/late.out")"
}

tgt_keep_locked_triggers() {
    local sql spec
    sql="CREATE OR REPLACE FUNCTION keep_locked() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF OLD.locked = 1 THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END \$\$;"
    for spec in "$@"; do
        sql+="
CREATE TRIGGER ${spec%%:*}_keep BEFORE UPDATE OR DELETE ON ${spec%%:*} FOR EACH ROW EXECUTE FUNCTION keep_locked();
ALTER TABLE ${spec%%:*} ENABLE ${spec#*:} TRIGGER ${spec%%:*}_keep;"
    done
    tgt_sql "$sql"
}
src_sql_file() { _e2e_psql_or_fail "src_sql_file $1" "$SRC_PORT" "$SRC_DB" -f "$1"; }
tgt_sql_file() { _e2e_psql_or_fail "tgt_sql_file $1" "$TGT_PORT" "$TGT_DB" -f "$1"; }

# count(*) and md5 over the rows' text of TABLE, in one line.
_e2e_table_digest() {
    local side=$1 table=$2
    "${side}_sql" "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text COLLATE \"C\"), '')) FROM $table t"
}

assert_same() {
    local table=$1 ttable=${2:-$1} s t
    s=$(_e2e_table_digest src "$table")
    t=$(_e2e_table_digest tgt "$ttable")
    if [[ "$s" != "$t" ]]; then
        echo "assert_same $table: source [count md5] = [$s]" >&2
        echo "assert_same $ttable: target [count md5] = [$t]" >&2
        local q="SELECT t::text FROM %s t ORDER BY t::text COLLATE \"C\""
        # shellcheck disable=SC2059
        src_psql -c "$(printf "$q" "$table")" >"$E2E_TMP/same.src" 2>&1 || true
        # shellcheck disable=SC2059
        tgt_psql -c "$(printf "$q" "$ttable")" >"$E2E_TMP/same.tgt" 2>&1 || true
        echo "--- first differences (< source, > target) ---" >&2
        diff "$E2E_TMP/same.src" "$E2E_TMP/same.tgt" | head -n 40 >&2 || true
        fail "assert_same $table: source and target differ"
    fi
    echo "ok: $table same on both sides ($s)"
}

# "count md5" of the rows of QUERY on SIDE (src or tgt), as _e2e_table_digest.
_e2e_query_digest() {
    "${1}_sql" "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text COLLATE \"C\"), '')) FROM ($2) t"
}

# The target table equals the rows of a source query (count + md5 of ordered row text).
# SRC_QUERY TGT_TABLE LABEL
assert_query_same() {
    local s t
    s=$(_e2e_query_digest src "$1")
    t=$(_e2e_query_digest tgt "SELECT * FROM $2")
    if [[ "$s" != "$t" ]]; then
        echo "--- source query rows ---" >&2
        src_psql -c "SELECT t::text FROM ($1) t ORDER BY 1 COLLATE \"C\"" >&2 || true
        echo "--- target rows ---" >&2
        tgt_psql -c "SELECT t::text FROM $2 t ORDER BY 1 COLLATE \"C\"" >&2 || true
        fail "$3: source query [$s] != target $2 [$t]"
    fi
    echo "ok: $3 ($s)"
}

# ---------------------------------------------------------------- setup / teardown

# Ends the scenario as skipped: exit 77, which tests/run.sh counts as SKIP (neither passed nor
# failed). For what a PostgreSQL major lacks; say what and why.
e2e_skip() {
    echo "SKIP: $*"
    exit 77
}

# Skips the scenario unless the SIDE (src or tgt) cluster's major is at least MIN. MIN REASON
e2e_need_major() {
    local side=$1 min=$2 major
    shift 2
    if [[ $side == src ]]; then major=$SRC_PG_MAJOR; else major=$TGT_PG_MAJOR; fi
    ((major >= min)) || e2e_skip "the $side is PostgreSQL $major, this needs $min or newer: $*"
}

# Drops (terminating its sessions: DROP DATABASE ... WITH (FORCE) is 13+) and creates database
# NAME on the cluster at PORT. LABEL PORT NAME
_e2e_recreate_db() {
    local label=$1 port=$2 name=$3 i
    for ((i = 0; i < 20; i++)); do
        _e2e_psql "$port" postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = '$name' AND pid <> pg_backend_pid()" >/dev/null 2>&1 || true
        if _e2e_psql "$port" postgres -c "DROP DATABASE IF EXISTS $name" >/dev/null 2>&1; then
            break
        fi
        sleep 0.2 # a terminated session may linger a moment
    done
    _e2e_psql_or_fail "$label" "$port" postgres -c "DROP DATABASE IF EXISTS $name" \
        -c "CREATE DATABASE $name"
}

# The progress row / slot name: the "name" of $CFG, else the scenario name.
_e2e_cfg_name() {
    local n=""
    [[ -f "$CFG" ]] && n=$(sed -n 's/.*"name"[[:space:]]*:[[:space:]]*"\([a-z0-9_]*\)".*/\1/p' "$CFG" | head -n 1)
    echo "${n:-$E2E_NAME}"
}

# Terminates the walsenders of, then drops, the replication slots of database DB and of the
# slots named NAME... on the source cluster.
_e2e_drop_slots() {
    local db=$1 names="" n i
    shift
    for n in "$@"; do names+="${names:+,}'$n'"; done
    local where="database = '$db'"
    [[ -z "$names" ]] || where="($where OR slot_name IN ($names))"
    for ((i = 0; i < 50; i++)); do
        _e2e_psql "$SRC_PORT" postgres -c \
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
              WHERE $where AND active_pid IS NOT NULL" >/dev/null 2>&1 || true
        if _e2e_psql "$SRC_PORT" postgres -c \
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
              WHERE $where" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.2 # a terminated walsender may still hold its slot for a moment
    done
    echo "e2e: could not drop replication slots where $where" >&2
    return 1
}

# Fragment of the default configuration, for building variants:
#   write_config "$(config_json '"tables": [{"source": "public.a", "target": "public.a"}]')"
config_json() {
    local extra=${1:-}
    printf '{"name": %s, "source": {"conninfo": %s}, "target": {"conninfo": %s}%s}\n' \
        "$(_e2e_json_str "$E2E_NAME")" "$(_e2e_json_str "$SRC_CONNINFO")" \
        "$(_e2e_json_str "$TGT_CONNINFO")" "${extra:+, $extra}"
}

write_config() {
    [[ -n "$CFG" ]] || fail "write_config before e2e_setup"
    printf '%s\n' "$1" >"$CFG"
}

# Runs `syncline run` in the foreground until it exits (at most TIMEOUT seconds, default 60):
# RUN_RC is its exit code, its stdout and stderr go to $E2E_TMP/LABEL.out and LABEL.err, and
# the last lines of stderr are printed. For scenarios that expect run to stop by itself.
e2e_run_fg() { # LABEL [TIMEOUT]
    RUN_RC=0
    timeout -k 5 "${2:-60}" "$SYNCLINE" run -c "$CFG" >"$E2E_TMP/$1.out" 2>"$E2E_TMP/$1.err" </dev/null ||
        RUN_RC=$?
    echo "--- $1: exit $RUN_RC; stderr:"
    tail -n 20 "$E2E_TMP/$1.err"
}

# Runs CMD (a string, eval'd) when the scenario exits, before syncline drop; last added first.
e2e_on_exit() {
    E2E_CLEANUP+=("$1")
}

e2e_setup() {
    local name=${1:-}
    [[ "$name" =~ ^[a-z0-9_]+$ ]] || fail "e2e_setup: NAME must match [a-z0-9_]+, got [$name]"
    E2E_NAME=$name
    SRC_DB=$name
    TGT_DB=$name
    E2E_TMP=$E2E_ROOT/$name
    rm -rf "$E2E_TMP"
    mkdir -p "$E2E_TMP"
    # Server-side COPY TO/FROM files in E2E_TMP must work too.
    if [[ $(id -u) -eq 0 ]] && id postgres >/dev/null 2>&1; then chown postgres: "$E2E_TMP"; fi
    CFG=$E2E_TMP/config.json
    SRC_CONNINFO="host=127.0.0.1 port=$SRC_PORT user=postgres dbname=$SRC_DB"
    TGT_CONNINFO="host=127.0.0.1 port=$TGT_PORT user=postgres dbname=$TGT_DB"
    export SRC_DB TGT_DB SRC_CONNINFO TGT_CONNINFO E2E_TMP CFG

    trap _e2e_on_exit EXIT
    trap '_e2e_on_signal TERM 143' TERM
    trap '_e2e_on_signal INT 130' INT

    _e2e_drop_slots "$name" "$name" "syncline_$name" || fail "e2e_setup: stale slots"
    _e2e_recreate_db "e2e_setup (source)" "$SRC_PORT" "$name"
    _e2e_recreate_db "e2e_setup (target)" "$TGT_PORT" "$name"
    write_config "$(config_json "")"
    _e2e_log "setup $name: source 127.0.0.1:$SRC_PORT/$SRC_DB, target 127.0.0.1:$TGT_PORT/$TGT_DB, scratch $E2E_TMP"
}

_e2e_on_signal() {
    local sig=$1 code=$2
    if [[ -n "$E2E_TMP" && -e "$E2E_TMP/.failed" ]]; then
        exit 1 # a fail() in a subshell sent it; the message is already out
    fi
    echo "e2e: terminated by SIG$sig" >&2
    exit "$code"
}

_e2e_on_exit() {
    local rc=$? i
    trap - EXIT TERM INT
    set +e
    if _e2e_alive "$SYNCLINE_PID"; then
        kill -TERM "$SYNCLINE_PID" 2>/dev/null
        for ((i = 0; i < 50; i++)); do
            _e2e_alive "$SYNCLINE_PID" || break
            sleep 0.2
        done
        _e2e_alive "$SYNCLINE_PID" && kill -KILL "$SYNCLINE_PID" 2>/dev/null
        wait "$SYNCLINE_PID" 2>/dev/null
    fi
    SYNCLINE_PID=""
    if ((rc != 0)) && [[ -s "$E2E_TMP/syncline.log" ]]; then
        echo "--- last 60 lines of $E2E_TMP/syncline.log ---" >&2
        tail -n 60 "$E2E_TMP/syncline.log" >&2
        echo "---" >&2
    fi
    for ((i = ${#E2E_CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${E2E_CLEANUP[i]}"
    done
    if [[ -f "$CFG" && -x "$SYNCLINE" ]]; then
        echo "=== $(date +%T) cleanup: syncline drop ===" >>"$E2E_TMP/syncline.log"
        timeout 30 "$SYNCLINE" drop -c "$CFG" >>"$E2E_TMP/syncline.log" 2>&1 </dev/null
    fi
    if [[ -n "$E2E_NAME" ]]; then
        _e2e_drop_slots "$SRC_DB" "$(_e2e_cfg_name)" "syncline_$(_e2e_cfg_name)"
    fi
    if ((rc == 0)); then
        _e2e_log "PASS $E2E_NAME"
    else
        _e2e_log "FAIL $E2E_NAME (exit $rc)"
    fi
    exit "$rc"
}

# ---------------------------------------------------------------- syncline process

syncline_running() {
    _e2e_alive "$SYNCLINE_PID"
}

# Active walsender pids of the slots of the test database, comma separated.
_e2e_slot_pids() {
    src_psql -c "SELECT coalesce(string_agg(active_pid::text, ',' ORDER BY active_pid), '')
                   FROM pg_replication_slots WHERE database = current_database()
                    AND active_pid IS NOT NULL" 2>/dev/null || echo "?"
}

syncline_start() {
    [[ -n "$CFG" ]] || fail "syncline_start before e2e_setup"
    if _e2e_alive "$SYNCLINE_PID"; then fail "syncline_start: syncline is already running"; fi
    local before now deadline rc=0
    before=$(_e2e_slot_pids)
    echo "=== $(date +%T.%3N) syncline run -c $CFG $* ===" >>"$E2E_TMP/syncline.log"
    "$SYNCLINE" run -c "$CFG" "$@" >>"$E2E_TMP/syncline.log" 2>&1 </dev/null &
    SYNCLINE_PID=$!
    _e2e_log "syncline started (pid $SYNCLINE_PID)"
    [[ "$E2E_START_WAIT" != 0 ]] || return 0
    # Ready when a slot of the test database is held by a walsender that was not there before.
    deadline=$(($(_e2e_now_ms) + E2E_START_TIMEOUT * 1000))
    while :; do
        if ! _e2e_alive "$SYNCLINE_PID"; then
            wait "$SYNCLINE_PID" 2>/dev/null || rc=$?
            SYNCLINE_PID=""
            tail -n 30 "$E2E_TMP/syncline.log" >&2
            fail "syncline exited (code $rc) before it started streaming"
        fi
        now=$(_e2e_slot_pids)
        if [[ -n "$now" && "$now" != "?" ]]; then
            local p
            for p in ${now//,/ }; do
                [[ ",$before," == *",$p,"* ]] || return 0
            done
        fi
        if (($(_e2e_now_ms) > deadline)); then
            fail "syncline (pid $SYNCLINE_PID) not streaming after ${E2E_START_TIMEOUT}s"
        fi
        sleep 0.2
    done
}

# Waits until no walsender holds a slot of the test database (after syncline exits).
_e2e_wait_slots_released() {
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -z "$(_e2e_slot_pids)" ]] && return 0
        sleep 0.2
    done
    echo "e2e: a slot of $SRC_DB is still active 10s after syncline exited" >&2
}

syncline_stop() {
    local pid=$SYNCLINE_PID rc=0 i
    _e2e_alive "$pid" || {
        [[ -z "$pid" ]] || wait "$pid" 2>/dev/null || rc=$?
        SYNCLINE_PID=""
        fail "syncline_stop: syncline is not running${pid:+ (it exited with code $rc)}"
    }
    kill -TERM "$pid"
    for ((i = 0; i < E2E_STOP_TIMEOUT * 5; i++)); do
        _e2e_alive "$pid" || break
        sleep 0.2
    done
    if _e2e_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        SYNCLINE_PID=""
        fail "syncline did not exit within ${E2E_STOP_TIMEOUT}s of SIGTERM"
    fi
    wait "$pid" 2>/dev/null || rc=$?
    SYNCLINE_PID=""
    echo "=== $(date +%T.%3N) syncline exited with code $rc ===" >>"$E2E_TMP/syncline.log"
    _e2e_log "syncline stopped (exit code $rc)"
    _e2e_wait_slots_released
    return "$rc"
}

syncline_kill() {
    local pid=$SYNCLINE_PID
    [[ -n "$pid" ]] || fail "syncline_kill: syncline was not started"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    SYNCLINE_PID=""
    echo "=== $(date +%T.%3N) syncline killed (SIGKILL) ===" >>"$E2E_TMP/syncline.log"
    _e2e_log "syncline killed"
    _e2e_wait_slots_released
}

# Writes WAL on the source (rows into the scenario's table walgen (pad text), WAL switches,
# checkpoints) until the slot SLOT is lost; needs a small max_slot_wal_keep_size. Fails when the
# slot survives 40 rounds.
wal_until_slot_lost() {
    local slot=$1 status="" i
    for ((i = 0; i < 40; i++)); do
        src_sql "INSERT INTO walgen (pad) SELECT repeat('x', 400) FROM generate_series(1, 5000);
                 SELECT pg_switch_wal(); CHECKPOINT;" >/dev/null
        status=$(src_sql "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$slot'")
        [[ "$status" != lost ]] || break
    done
    assert_eq "lost" "$status" "control: the slot is lost"
}

# Waits up to SECONDS for syncline to exit by itself, else fails with "syncline still running
# SECONDS s after WHAT"; reaps it and sets SYNCLINE_RC to its exit code.
SYNCLINE_RC=""
# shellcheck disable=SC2034 # SYNCLINE_RC is read by the scenarios
syncline_wait_exit() {
    local secs=$1 what=$2 i
    for ((i = 0; i < secs * 5; i++)); do
        syncline_running || break
        sleep 0.2
    done
    if syncline_running; then fail "syncline still running $secs s after $what"; fi
    SYNCLINE_RC=0
    wait "$SYNCLINE_PID" 2>/dev/null || SYNCLINE_RC=$?
    SYNCLINE_PID=""
}

# Applied LSN of this name on the target, or empty.
_e2e_applied_lsn() {
    tgt_psql -c "SELECT applied_lsn FROM syncline.progress WHERE name = '$(_e2e_cfg_name)'" 2>/dev/null || true
}

# syncline_wait_streaming [SECONDS]: waits (default E2E_START_TIMEOUT) until the initial copy is
# over (the progress row says streaming). syncline_start returns as soon as the slot is held,
# which is while the copy still reads the tables: a TRUNCATE or ALTER of several of them then may
# deadlock with the copy's locks on the source.
syncline_wait_streaming() {
    local secs=${1:-$E2E_START_TIMEOUT} name deadline state
    name=$(_e2e_cfg_name)
    deadline=$(($(_e2e_now_ms) + secs * 1000))
    while :; do
        state=$(tgt_psql -c "SELECT state FROM syncline.progress WHERE name = '$name'" 2>/dev/null) || true
        [[ "$state" != streaming ]] || return 0
        _e2e_alive "$SYNCLINE_PID" || fail "syncline_wait_streaming: syncline is not running"
        if (($(_e2e_now_ms) > deadline)); then
            fail "syncline_wait_streaming: '$name' is [${state:-no progress row}] after ${secs}s"
        fi
        sleep 0.2
    done
}

# syncline verify -c $CFG --timeout ${VERIFY_TIMEOUT:-30} ARGS...: prints its exit code; its
# output goes to $E2E_TMP/verify.out (and stderr), its log to $E2E_TMP/verify.err (the last lines
# on stderr when it exits with neither 0 nor 1).
verify() { # ARGS...
    local rc=0
    "$SYNCLINE" verify -c "$CFG" --timeout "${VERIFY_TIMEOUT:-30}" "$@" >"$E2E_TMP/verify.out" \
        2>"$E2E_TMP/verify.err" </dev/null || rc=$?
    cat "$E2E_TMP/verify.out" >&2
    [[ "$rc" == 0 || "$rc" == 1 ]] || tail -n 5 "$E2E_TMP/verify.err" >&2
    echo "$rc"
}

wait_synced() {
    local secs=${1:-60} lsn name deadline ok rc start
    name=$(_e2e_cfg_name)
    lsn=$(src_sql "SELECT pg_current_wal_lsn()")
    start=$(_e2e_now_ms)
    deadline=$((start + secs * 1000))
    while :; do
        if ! _e2e_alive "$SYNCLINE_PID"; then
            rc=0
            [[ -z "$SYNCLINE_PID" ]] || wait "$SYNCLINE_PID" 2>/dev/null || rc=$?
            SYNCLINE_PID=""
            fail "wait_synced: syncline is not running (exit code $rc) while waiting for $lsn"
        fi
        # a row still copying holds the copy's snapshot point, not a synced position
        ok=$(tgt_psql -c "SELECT applied_lsn >= '$lsn'::pg_lsn AND state = 'streaming'
                           FROM syncline.progress WHERE name = '$name'" 2>&1) || true
        if [[ "$ok" == t ]]; then
            _e2e_log "synced to $lsn in $(($(_e2e_now_ms) - start)) ms"
            return 0
        fi
        if (($(_e2e_now_ms) > deadline)); then
            echo "wait_synced: last answer from the target: ${ok:-(no progress row)}" >&2
            fail "wait_synced: applied_lsn of '$name' is [$(_e2e_applied_lsn)], not >= $lsn after ${secs}s"
        fi
        sleep 0.2
    done
}

# ---------------------------------------------------------------- pgbench workloads
# Shared by the lag (201, 207) and cutover (204, 205, 208) scenarios, direct and through Kafka.

PGBENCH_TABLES=(pgbench_accounts pgbench_branches pgbench_tellers pgbench_history)
PGBENCH_PID=""

# The pgbench tables for `run` to copy and stream: scale SCALE of rows on the source, the same
# tables with their keys and no rows on the target, pgbench_history (it has no key) with
# REPLICA IDENTITY FULL on both sides.
pgbench_setup() {
    "$PG_BIN/pgbench" -i -q -s "$1" -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$SRC_DB" \
        >"$E2E_TMP/init-src.txt" 2>&1 || fail "pgbench -i on the source: $(tail -n 5 "$E2E_TMP/init-src.txt")"
    "$PG_BIN/pgbench" -i -q -I dtp -h 127.0.0.1 -p "$TGT_PORT" -U postgres "$TGT_DB" \
        >"$E2E_TMP/init-tgt.txt" 2>&1 || fail "pgbench -i -I dtp on the target: $(tail -n 5 "$E2E_TMP/init-tgt.txt")"
    both_sql "ALTER TABLE pgbench_history REPLICA IDENTITY FULL"
}

# Runs pgbench ARGS... on the source database in the background, output to $E2E_TMP/pgbench.log,
# PID in PGBENCH_PID; stopped when the scenario exits.
pgbench_start() {
    if _e2e_alive "$PGBENCH_PID"; then fail "pgbench_start: pgbench is already running"; fi
    "$PG_BIN/pgbench" -h 127.0.0.1 -U postgres -p "$SRC_PORT" "$@" "$SRC_DB" \
        >"$E2E_TMP/pgbench.log" 2>&1 </dev/null &
    PGBENCH_PID=$!
    e2e_on_exit pgbench_stop
}

# Stops the background pgbench, if any; never fails.
pgbench_stop() {
    [[ -n "$PGBENCH_PID" ]] || return 0
    kill "$PGBENCH_PID" 2>/dev/null || true
    wait "$PGBENCH_PID" 2>/dev/null || true
    PGBENCH_PID=""
}

# ---------------------------------------------------------------- syncline lag

# Prints the exit code of `syncline lag -c $CFG ARGS...` (output appended to $E2E_TMP/lag.out,
# errors to lag.err).
lag_rc() {
    local rc=0
    "$SYNCLINE" lag -c "$CFG" "$@" >>"$E2E_TMP/lag.out" 2>>"$E2E_TMP/lag.err" </dev/null || rc=$?
    echo "$rc"
}

# While pgbench writes: lag --max-bytes 1 exits 7 within about 4 s, huge limits exit 0.
# [WHAT] is added to the first assertion's message.
assert_lag_under_load() {
    local what=${1:-} seen7=0 rc i
    for i in $(seq 1 20); do
        rc=$(lag_rc --max-bytes 1)
        [[ "$rc" == 0 || "$rc" == 7 ]] || fail "lag --max-bytes 1 exited $rc: $(tail -n 3 "$E2E_TMP/lag.err")"
        if [[ "$rc" == 7 ]]; then seen7=1 && break; fi
        sleep 0.2
    done
    assert_eq 1 "$seen7" "lag --max-bytes 1 exits 7 while pgbench writes${what:+ ($what)}"
    assert_eq 0 "$(lag_rc --max-bytes 100000000000)" "lag --max-bytes 100 GB exits 0 under pgbench"
    assert_eq 0 "$(lag_rc --max-seconds 100000)" "lag --max-seconds 100000 exits 0 under pgbench"
    assert_eq 0 "$(lag_rc --max-bytes 100000000000 --max-seconds 3600)" "both limits, within"
    tail -n 3 "$E2E_TMP/lag.out"
}

# Waits up to SECONDS until lag is 0 bytes and 0 seconds; else fails with MESSAGE and the last
# lag line.
wait_lag_zero() {
    local secs=$1 msg=$2 deadline
    deadline=$(($(date +%s) + secs))
    until [[ "$(lag_rc --max-bytes 0 --max-seconds 0)" == 0 ]]; do
        (($(date +%s) < deadline)) || fail "$msg: $(tail -n 1 "$E2E_TMP/lag.out")"
        sleep 0.5
    done
}

# lag --json on an idle, caught-up pair: 0 bytes and seconds, within limits, slot active, the
# three positions present; [PYTHON] adds assertions on the parsed object `d`. An idle source
# still moves (checkpoints), and in Kafka mode each move travels as a heartbeat that apply
# takes up to a batch to store: a sample may fall in that moment, so up to 10 s of samples are
# taken until one shows 0 bytes (the checks below then run on that one).
assert_lag_json_idle() {
    local deadline=$(($(date +%s) + 10))
    while :; do
        "$SYNCLINE" lag -c "$CFG" --json >"$E2E_TMP/lag.json" </dev/null || fail "lag --json failed"
        grep -q '"lag_bytes":0,' "$E2E_TMP/lag.json" || (($(date +%s) >= deadline)) || {
            sleep 0.3
            continue
        }
        break
    done
    cat "$E2E_TMP/lag.json"
    python3 - "$E2E_TMP/lag.json" "${1:-}" <<'PY' || fail "lag --json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["lag_bytes"] == 0 and d["lag_seconds"] == 0, d
assert d["within_limits"] is True and d["slot_active"] is True, d
for k in ("source_lsn", "confirmed_lsn", "applied_lsn"):
    assert "/" in d[k], k
exec(sys.argv[2])
PY
    echo "ok: lag --json"
}

# ---------------------------------------------------------------- syncline cutover

CUTOVER_BEFORE=""
CUTOVER_STOPPED_AT=""

# Table orders (a bigserial key, so a sequence to carry) on both sides, $E2E_TMP/orders.sql (one
# INSERT per pgbench transaction), and an unfence when the scenario exits.
cutover_orders_setup() {
    both_sql "CREATE TABLE orders (id bigserial PRIMARY KEY, aid int, at timestamptz DEFAULT now())"
    printf '%s\n' '\set aid random(1, 100000)' 'INSERT INTO orders (aid) VALUES (:aid);' \
        >"$E2E_TMP/orders.sql"
    # shellcheck disable=SC2016 # expanded when the scenario exits
    e2e_on_exit '"$SYNCLINE" unfence -c "$CFG" >/dev/null 2>&1'
}

# With the pgbench tables and orders streaming to the target: pgbench (TPC-B + orders.sql, 4
# clients) writes; `cutover --fence` exits 0 with its report; pgbench fails once fenced; new
# sessions are read-only; every table is equal on both sides and the orders sequence carried.
# The fence stays. [WHAT] is added to the exit code assertion's message.
cutover_under_pgbench() {
    pgbench_start -n -T 120 -c 4 -b tpcb-like -f "$E2E_TMP/orders.sql"
    sleep 3
    CUTOVER_BEFORE=$(src_sql "SELECT count(*) FROM pgbench_history")
    ((CUTOVER_BEFORE > 0)) || fail "pgbench wrote nothing before the cutover"
    _e2e_alive "$PGBENCH_PID" || fail "pgbench stopped before the cutover: $(tail -n 5 "$E2E_TMP/pgbench.log")"
    echo "ok: pgbench writing before the cutover ($CUTOVER_BEFORE history rows)"
    _cutover_fence "${1:-}"
    _cutover_pgbench_fenced
    _cutover_assert_carried
}

# cutover --fence: exit 0, every report line; sets CUTOVER_STOPPED_AT.
_cutover_fence() {
    local what=$1 rc=0 k pause
    "$SYNCLINE" cutover -c "$CFG" --fence --max-lag-bytes 50000000 --timeout 120 \
        >"$E2E_TMP/cutover.out" 2>"$E2E_TMP/cutover.err" </dev/null || rc=$?
    cat "$E2E_TMP/cutover.out"
    tail -n 20 "$E2E_TMP/cutover.err"
    assert_eq 0 "$rc" "cutover --fence exit code${what:+ ($what)}"
    for k in final_lsn: fenced_at: write_pause_seconds: rows_verified: "SAFE TO SWITCH" "syncline unfence"; do
        assert_contains "$E2E_TMP/cutover.out" "$k" "report has $k"
    done
    pause=$(sed -n 's/^ *write_pause_seconds: *\([0-9.]*\).*/\1/p' "$E2E_TMP/cutover.out")
    [[ "$pause" =~ ^[0-9]+\.[0-9]$ ]] || fail "write pause not a number: [$pause]"
    CUTOVER_STOPPED_AT=$(sed -n 's/^ *writes_stopped_at: *\(.*\) (source clock.*/\1/p' "$E2E_TMP/cutover.out")
    [[ -n "$CUTOVER_STOPPED_AT" ]] || fail "no writes_stopped_at in the report"
    echo "write pause $pause s, writes stopped at $CUTOVER_STOPPED_AT"
}

# pgbench's sessions were ended at the fence: it exits with errors, started nothing after
# writes_stopped_at, wrote between the check and the fence; new sessions are read-only.
_cutover_pgbench_fenced() {
    local i prc=0
    for i in $(seq 1 100); do _e2e_alive "$PGBENCH_PID" || break; sleep 0.2; done
    _e2e_alive "$PGBENCH_PID" && fail "pgbench still running 20 s after the fence"
    wait "$PGBENCH_PID" || prc=$?
    PGBENCH_PID=""
    tail -n 5 "$E2E_TMP/pgbench.log"
    ((prc != 0)) || fail "pgbench exited 0 although its sessions were ended"
    grep -qiE "terminating connection|aborted|read-only" "$E2E_TMP/pgbench.log" || fail "pgbench log shows no fence error"
    echo "ok: pgbench failed once fenced (exit $prc)"
    assert_eq t "$(src_sql "SELECT coalesce(max(mtime), '-infinity') <= '$CUTOVER_STOPPED_AT'::timestamptz FROM pgbench_history")" \
        "no pgbench transaction started after the fence ended the sessions"
    (($(src_sql "SELECT count(*) FROM pgbench_history") > CUTOVER_BEFORE)) || fail "pgbench did not write between the check and the fence"
    src_psql -c "INSERT INTO orders (aid) VALUES (0)" >"$E2E_TMP/ro.out" 2>&1 && fail "a new session could write while fenced"
    assert_contains "$E2E_TMP/ro.out" "read-only transaction" "new sessions are read-only while fenced"
    assert_eq on "$(src_sql "SHOW default_transaction_read_only")" "default_transaction_read_only is on for new sessions"
}

# Target equals source (pgbench tables, orders), the orders sequence carried (target >= source).
_cutover_assert_carried() {
    local t s
    for t in "${PGBENCH_TABLES[@]}" orders; do assert_same "$t"; done
    s=$(src_sql "SELECT last_value FROM orders_id_seq")
    t=$(tgt_sql "SELECT last_value FROM orders_id_seq")
    ((t >= s)) || fail "target orders_id_seq $t < source $s"
    echo "ok: target sequence $t >= source $s"
}

# syncline unfence exits 0 and new source sessions are writable.
assert_unfence() {
    local rc=0
    "$SYNCLINE" unfence -c "$CFG" </dev/null || rc=$?
    assert_eq 0 "$rc" "unfence exit code"
    assert_eq off "$(src_sql "SHOW default_transaction_read_only")" "unfenced: new sessions are writable"
}

# With nothing applying (syncline or apply stopped) and a write pending: cutover --fence
# --timeout 4 exits 7, says it timed out and lifted the fence, and new sessions are not read-only.
assert_cutover_times_out() {
    local rc=0
    "$SYNCLINE" cutover -c "$CFG" --fence --max-lag-bytes 100000000 --timeout 4 \
        >"$E2E_TMP/c1.out" 2>"$E2E_TMP/c1.err" </dev/null || rc=$?
    cat "$E2E_TMP/c1.out" "$E2E_TMP/c1.err"
    assert_eq 7 "$rc" "cutover timing out exits 7"
    assert_contains "$E2E_TMP/c1.out" "fence was lifted" "timeout: says the fence was lifted"
    assert_contains "$E2E_TMP/c1.err" "timed out while waiting for the target to apply the final LSN" "timeout: says why"
    assert_eq off "$(src_sql "SHOW default_transaction_read_only")" "after the timeout: new sessions not read-only"
}
