#!/usr/bin/env bash
# syncline demo on throwaway local clusters (Debian 12, as root or a user with sudo):
#
#   bash scripts/demo.sh [--keep] [--no-deps] [--no-build] [--from MAJOR] [--to MAJOR]
#
# Creates a source (port 56432) and a target (port 56433) PostgreSQL cluster (15 and 15, or the
# majors 12-18 of --from and --to: the upgrade `bash scripts/demo.sh --from 13 --to 18`; majors
# other than Debian's 15 are fetched once by tests/lib/pgversions.sh), loads a pgbench
# database into the source and gives the target the schema only, starts `syncline run` (which
# copies the existing rows from one consistent snapshot, then streams) while a live pgbench
# workload writes to the source and `syncline status` is shown, waits until the lag is zero and
# checks that every pgbench table is identical on both sides. Exits 0 only if they are (and syncline stopped
# cleanly on SIGTERM). --keep leaves the clusters running afterwards.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

KEEP=0 DO_DEPS=1 DO_BUILD=1 FROM=15 TO=15
while (($#)); do
    arg=$1
    shift
    case $arg in
    --keep) KEEP=1 ;;
    --no-deps) DO_DEPS=0 ;;
    --no-build) DO_BUILD=0 ;;
    --from | --to)
        [[ ${1:-} =~ ^1[2-8]$ ]] || {
            echo "demo.sh: $arg takes a PostgreSQL major, 12 to 18" >&2
            exit 2
        }
        if [[ $arg == --from ]]; then FROM=$1; else TO=$1; fi
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *)
        echo "demo.sh: unknown argument $arg (see --help)" >&2
        exit 2
        ;;
    esac
done

SCALE=5            # pgbench scale: 500,000 accounts
WORKLOAD_SECS=30   # duration of the live pgbench run
CATCHUP_SECS=300   # how long to wait for lag 0 afterwards
SYNCLINE=$ROOT/build/syncline

if [[ -t 1 ]]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD="" PLAIN=""; fi
say() { printf '\n%s== %s%s\n' "$BOLD" "$*" "$PLAIN"; }

# ---------------------------------------------------------------- 1. install and build

if ((DO_DEPS)); then
    say "Installing dependencies"
    bash scripts/install-deps.sh
fi
# shellcheck source=tests/lib/pg.sh
source "$ROOT/tests/lib/pg.sh"
if ((DO_BUILD)); then
    say "Building syncline"
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j "$(nproc)" >/dev/null
fi
[[ -x "$SYNCLINE" ]] || {
    echo "no $SYNCLINE: build it first (cmake -S . -B build && cmake --build build)" >&2
    exit 1
}

# ---------------------------------------------------------------- 2. two throwaway clusters

say "Creating the source and target clusters"
DEMO_DIR=$(pg_make_scratch syncline-demo)
SRC_DIR=$DEMO_DIR/source TGT_DIR=$DEMO_DIR/target
SRC_PORT=$(pg_free_port 56432)
TGT_PORT=$(pg_free_port $((SRC_PORT + 1)))
SYNCLINE_PID="" PGBENCH_PID=""

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local rc=$?
    set +e
    [[ -z "$PGBENCH_PID" ]] || kill "$PGBENCH_PID" 2>/dev/null
    if [[ -n "$SYNCLINE_PID" ]] && kill -0 "$SYNCLINE_PID" 2>/dev/null; then
        kill -TERM "$SYNCLINE_PID"
        wait "$SYNCLINE_PID" 2>/dev/null
    fi
    if ((KEEP)); then
        echo
        echo "Kept: source 127.0.0.1:$SRC_PORT, target 127.0.0.1:$TGT_PORT (database demo), files in $DEMO_DIR"
        echo "  psql -h 127.0.0.1 -p $SRC_PORT -U postgres demo"
        echo "  $SYNCLINE run -c $DEMO_DIR/demo.json"
        echo "  remove: source tests/lib/pg.sh; pg_cluster_destroy $SRC_DIR; pg_cluster_destroy $TGT_DIR; rm -rf $DEMO_DIR"
    else
        pg_cluster_destroy "$SRC_DIR" >/dev/null 2>&1
        pg_cluster_destroy "$TGT_DIR" >/dev/null 2>&1
        rm -rf "$DEMO_DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PG_MAJOR=$FROM pg_cluster_create demo_source "$SRC_PORT" "$SRC_DIR"
PG_MAJOR=$TO pg_cluster_create demo_target "$TGT_PORT" "$TGT_DIR"
pg_cluster_start "$SRC_DIR"
pg_cluster_start "$TGT_DIR"
echo "source: PostgreSQL $FROM 127.0.0.1:$SRC_PORT   target: PostgreSQL $TO 127.0.0.1:$TGT_PORT   files: $DEMO_DIR"

src() { "$PG_BIN/psql" -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$SRC_PORT" -U postgres -d demo "$@"; }
tgt() { "$PG_BIN/psql" -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$TGT_PORT" -U postgres -d demo "$@"; }
pgbench_on() { # PORT ARGS...
    local port=$1
    shift
    PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres "$@" demo
}
pgbench_src() { pgbench_on "$SRC_PORT" "$@"; }

say "Loading pgbench (scale $SCALE: $((SCALE * 100000)) accounts) into the source; schema only on the target"
"$PG_BIN/createdb" -h 127.0.0.1 -p "$SRC_PORT" -U postgres demo
"$PG_BIN/createdb" -h 127.0.0.1 -p "$TGT_PORT" -U postgres demo
pgbench_src -q -i -s "$SCALE"
pgbench_on "$TGT_PORT" -q -i -I dtp -s "$SCALE"

# ---------------------------------------------------------------- 3. start syncline

CFG=$DEMO_DIR/demo.json
cat >"$CFG" <<EOF
{
  "name": "demo",
  "source": {"conninfo": "host=127.0.0.1 port=$SRC_PORT user=postgres dbname=demo"},
  "target": {"conninfo": "host=127.0.0.1 port=$TGT_PORT user=postgres dbname=demo"}
}
EOF
say "Starting syncline (config $CFG, log $DEMO_DIR/syncline.log)"
cat "$CFG"
"$SYNCLINE" run -c "$CFG" >"$DEMO_DIR/syncline.log" 2>&1 </dev/null &
SYNCLINE_PID=$!

# syncline streams once its initial copy is done and a walsender holds its slot (writes made
# meanwhile are not lost: they are in the slot, after the copy's snapshot).
for ((i = 0; ; i++)); do
    if ! kill -0 "$SYNCLINE_PID" 2>/dev/null; then
        echo "syncline exited early:" >&2
        cat "$DEMO_DIR/syncline.log" >&2
        exit 1
    fi
    [[ "$(src -c "SELECT count(*) FROM pg_replication_slots WHERE database = 'demo' AND active")" == 0 ]] || break
    ((i < 600)) || {
        echo "syncline is not streaming after 120 s; its log:" >&2
        cat "$DEMO_DIR/syncline.log" >&2
        exit 1
    }
    sleep 0.2
done
echo "syncline is streaming (pid $SYNCLINE_PID)"

applied_lsn() { tgt -c "SELECT applied_lsn FROM syncline.progress WHERE name = 'demo'" 2>/dev/null || true; }

show_status() {
    local applied lag
    applied=$(applied_lsn)
    if [[ -n "$applied" ]]; then
        lag=$(src -c "SELECT pg_size_pretty(greatest(pg_wal_lsn_diff(pg_current_wal_lsn(), '$applied'), 0))")
    else
        lag="?"
    fi
    printf '\n[%s] lag %s (source WAL %s, applied on target %s)\n' "$(date +%T)" "$lag" \
        "$(src -c 'SELECT pg_current_wal_lsn()')" "${applied:-none yet}"
    "$SYNCLINE" status -c "$CFG" 2>&1 | sed 's/^/    /' || true
}

# ---------------------------------------------------------------- 4. load and live workload

show_status

say "Running a live pgbench workload on the source for ${WORKLOAD_SECS}s (4 clients)"
pgbench_src -c 4 -j 2 -T "$WORKLOAD_SECS" -n >"$DEMO_DIR/pgbench.log" 2>&1 &
PGBENCH_PID=$!
while kill -0 "$PGBENCH_PID" 2>/dev/null; do
    sleep 5
    show_status
done
wait "$PGBENCH_PID" || {
    cat "$DEMO_DIR/pgbench.log"
    exit 1
}
PGBENCH_PID=""
grep -E 'number of transactions actually processed|^tps' "$DEMO_DIR/pgbench.log" || true

say "Waiting for syncline to catch up (lag 0)"
goal=$(src -c "SELECT pg_current_wal_lsn()")
start=$SECONDS
until [[ "$(tgt -c "SELECT applied_lsn >= '$goal'::pg_lsn FROM syncline.progress WHERE name = 'demo'" 2>/dev/null)" == t ]]; do
    kill -0 "$SYNCLINE_PID" 2>/dev/null || {
        echo "syncline died; its log:" >&2
        tail -n 40 "$DEMO_DIR/syncline.log" >&2
        exit 1
    }
    if ((SECONDS - start > CATCHUP_SECS)); then
        echo "not caught up with $goal after ${CATCHUP_SECS}s" >&2
        exit 1
    fi
    if (((SECONDS - start) % 3 == 0)); then show_status; fi
    sleep 1
done
echo "caught up with source LSN $goal in $((SECONDS - start))s"
show_status

# ---------------------------------------------------------------- 5. verify

say "Comparing every pgbench table (row count and md5 of all rows)"
digest='SELECT count(*) || '"' '"' || md5(coalesce(string_agg(t::text, E'"'\n'"' ORDER BY t::text COLLATE "C"), '"''"')) FROM %s t'
mismatches=0
for table in pgbench_branches pgbench_tellers pgbench_accounts pgbench_history; do
    # shellcheck disable=SC2059
    q=$(printf "$digest" "$table")
    s=$(src -c "$q")
    t=$(tgt -c "$q")
    if [[ "$s" == "$t" ]]; then
        printf 'OK    %-18s %8s rows  md5 %s\n' "$table" "${s%% *}" "${s#* }"
    else
        printf 'DIFF  %-18s source: %s\n      %-18s target: %s\n' "$table" "$s" "" "$t"
        mismatches=$((mismatches + 1))
    fi
done

say "Stopping syncline (SIGTERM)"
kill -TERM "$SYNCLINE_PID"
stop_rc=0
wait "$SYNCLINE_PID" || stop_rc=$?
SYNCLINE_PID=""
echo "syncline exited with code $stop_rc"

if ((mismatches == 0 && stop_rc == 0)); then
    say "Demo OK: source and target are identical"
    exit 0
fi
say "Demo FAILED: $mismatches table(s) differ, syncline exit code $stop_rc (log: $DEMO_DIR/syncline.log)"
exit 1
