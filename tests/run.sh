#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine (as root, or a user with sudo):
#
#   bash tests/run.sh [--no-deps] [--no-build] [--keep] [--asan | --release] [--matrix]
#                     [PATTERN...]
#
# 1. installs the dependencies (scripts/install-deps.sh)
# 2. builds build/ (RelWithDebInfo, -Werror) and build-asan/ (ASan+UBSan, -Werror), runs ctest in both,
#    runs the unit tests of build/ under valgrind, builds the libFuzzer targets (build-fuzz/, clang)
#    and runs each for FUZZ_SECONDS (default 5) over its seed corpus (fuzz/README.md)
# 3. lint: clang-format over src/ connectors/ tests/unit/ tests/support/ fuzz/, the layer check
#    (scripts/check-layers.py), shellcheck over the shell scripts
# 4. starts throwaway source and target PostgreSQL clusters (15, or SRC_PG_MAJOR / TGT_PG_MAJOR)
#    and runs every
#    tests/e2e/[0-9]*.sh in order against the ASan+UBSan binary build-asan/syncline (any sanitizer
#    report fails its scenario), each with a timeout; then, for the whole suite, a release smoke:
#    the scenarios matching E2E_RELEASE_SMOKE (default 001|101|504; empty: none) again
#    against the optimised build/syncline (logged as NAME-release); last, the version matrix's
#    CI subset (MATRIX_CI_PAIRS, default 12:18 14:17 18:15, with MATRIX_CI_SCENARIOS; ~3 min)
# 5. prints a summary ending with the line "e2e: N passed, N failed"; exits non-zero on any failure
#
# Options:
#   PATTERN      run only the scenarios whose file name matches one of these (bash regex, e.g. 001 or 'toast|type')
#   --no-deps    skip scripts/install-deps.sh
#   --no-build   skip the builds and unit tests; use the existing binaries (build-asan/, build/)
#   --keep       leave the clusters running (and the scratch directory) for inspection
#   --asan       the default: scenarios against build-asan/syncline; any ASan/LSan/UBSan report
#                (written under .tmp/test-logs/sanitizer/) fails its scenario
#   --release    every scenario against build/syncline instead (no sanitizers, no smoke pass)
#   --matrix     the PostgreSQL version matrix (docs/versions.md): the core scenarios
#                (MATRIX_SCENARIOS, or the PATTERNs) for every source 12-18 into targets 15 and 18,
#                and 18 -> 12 (MATRIX_PAIRS overrides: "12:15 18:12"), each pair on fresh clusters;
#                prints a source x target table of scenarios passed (also in
#                .tmp/test-logs/matrix.md). Other majors than 15 are fetched once with npm
#                (tests/lib/pgversions.sh) into /var/cache/syncline-pg.
# Environment: SRC_PG_MAJOR / TGT_PG_MAJOR (12-18, default 15): the majors of the clusters the
# scenarios run against (a scenario skips, exit 77, what a major lacks).
# E2E_TIMEOUT (seconds per scenario, default 300), SRC_PORT / TGT_PORT (first port
# tried, default 55432 / 55433), FUZZ_SECONDS (per fuzz target, default 5).
# SYNCLINE_REGISTRY=apicurio: the scenarios that use a Schema Registry (108) run against a real
# one, Apicurio Registry (tests/lib/apicurio.sh: built once with Maven, ~3.5 min and 213 MB the
# first time, cached in /var/cache/syncline-apicurio; started for the run, stopped after) instead
# of the stand-in tests/lib/schema_registry.py (the default, SYNCLINE_REGISTRY=standin).
# E2E_SLOW=1: the slow scenarios (several JVMs, such as 144) run; without it they skip.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DO_DEPS=1
DO_BUILD=1
KEEP=0
ASAN_E2E=1
MATRIX=0
PATTERNS=()
while (($#)); do
    case $1 in
    --no-deps) DO_DEPS=0 ;;
    --no-build) DO_BUILD=0 ;;
    --keep) KEEP=1 ;;
    --asan) ASAN_E2E=1 ;;
    --release) ASAN_E2E=0 ;;
    --matrix) MATRIX=1 ;;
    -h | --help)
        sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    -*)
        echo "run.sh: unknown option $1 (see --help)" >&2
        exit 2
        ;;
    *) PATTERNS+=("$1") ;;
    esac
    shift
done

E2E_TIMEOUT=${E2E_TIMEOUT:-300}
E2E_RELEASE_SMOKE=${E2E_RELEASE_SMOKE-^(001|101|504)-}
SYNCLINE_REGISTRY=${SYNCLINE_REGISTRY:-standin}
case $SYNCLINE_REGISTRY in
standin | apicurio) ;;
*)
    echo "run.sh: SYNCLINE_REGISTRY must be standin or apicurio, not $SYNCLINE_REGISTRY" >&2
    exit 2
    ;;
esac
JOBS=$(nproc 2>/dev/null || echo 2)
SRC_PG_MAJOR=${SRC_PG_MAJOR:-15}
TGT_PG_MAJOR=${TGT_PG_MAJOR:-15}
export SRC_PG_MAJOR TGT_PG_MAJOR
# The matrix (--matrix; its CI subset in the whole-suite run): core scenarios per major pair.
MATRIX_SCENARIOS=${MATRIX_SCENARIOS:-^(001|002|003|004|005|006|008|014|101|130|202|204|301)-}
MATRIX_CI_PAIRS=${MATRIX_CI_PAIRS-12:18 14:17 18:15}
MATRIX_CI_SCENARIOS=${MATRIX_CI_SCENARIOS:-^(001|003|004|006|014)-}
MATRIX_ALL_PAIRS="12:15 13:15 14:15 15:15 16:15 17:15 18:15 12:18 13:18 14:18 15:18 16:18 17:18 18:18 18:12"
# A matrix sub-run (E2E_SUBRUN=1) logs into its own directory and skips the lint.
LOG_DIR=${E2E_LOG_DIR:-$ROOT/.tmp/test-logs}
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"

T0=${EPOCHREALTIME/./}
STEP_LINES=()
FAILED_STEPS=0

elapsed() { # START_US -> "12.3s"
    local us=$((${EPOCHREALTIME/./} - $1))
    printf '%d.%ds' $((us / 1000000)) $((us % 1000000 / 100000))
}

banner() {
    printf '\n==== %s ====\n' "$*"
}

# step NAME CMD [ARGS...]: runs the command, records PASS/FAIL and its duration.
step() {
    local name=$1 start rc=0
    shift
    banner "$name"
    start=${EPOCHREALTIME/./}
    "$@" || rc=$?
    if ((rc == 0)); then
        STEP_LINES+=("PASS  $name ($(elapsed "$start"))")
    else
        STEP_LINES+=("FAIL  $name (exit $rc, $(elapsed "$start"))")
        FAILED_STEPS=$((FAILED_STEPS + 1))
        echo "---- step failed: $name (exit $rc)"
    fi
    return 0
}

# ------------------------------------------------------------------ dependencies and builds

if ((DO_DEPS)); then
    step "install dependencies" bash scripts/install-deps.sh
fi

build_tree() { # DIR CMAKE_ARGS...
    local dir=$1
    shift
    cmake -S . -B "$dir" "$@" && cmake --build "$dir" -j "$JOBS"
}

unit_tests() { # DIR
    if [[ ! -f "$1/CTestTestfile.cmake" ]]; then
        echo "no $1/CTestTestfile.cmake: the build did not configure"
        return 1
    fi
    ctest --test-dir "$1" --output-on-failure -j "$JOBS" --timeout 300
}

# Every unit test binary of DIR under valgrind: errors or definite/possible leaks fail the step.
valgrind_unit() { # DIR
    if ! command -v valgrind >/dev/null 2>&1; then
        echo "valgrind not installed: skipped"
        return 0
    fi
    local t rc=0
    for t in "$1"/test_*; do
        [[ -x "$t" ]] || continue
        if valgrind -q --leak-check=full --errors-for-leak-kinds=definite,possible \
            --error-exitcode=1 "$t" >"$LOG_DIR/valgrind-$(basename "$t").log" 2>&1; then
            echo "valgrind: $(basename "$t") clean"
        else
            echo "valgrind: $(basename "$t") FAILED (log: $LOG_DIR/valgrind-$(basename "$t").log)"
            tail -n 40 "$LOG_DIR/valgrind-$(basename "$t").log"
            rc=1
        fi
    done
    return "$rc"
}

FUZZ_TARGETS=(fuzz_pgoutput fuzz_config fuzz_event_json fuzz_event_avro fuzz_event_dbz_avro fuzz_transform)

# Builds the libFuzzer targets (fuzz/README.md) with clang and runs each for FUZZ_SECONDS (5)
# over its seed corpus; new inputs go to a scratch directory, crashes to the log directory.
fuzz_smoke() {
    local probe=$LOG_DIR/fuzz-probe rc=0 t work
    if ! command -v clang >/dev/null 2>&1 ||
        ! printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);\n%s\n' \
            'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' |
        clang -x c -fsanitize=fuzzer - -o "$probe" >/dev/null 2>&1; then
        echo "SKIPPED: clang with the libFuzzer runtime (libclang-rt-14-dev) is not available"
        return 0
    fi
    cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DSYNCLINE_FUZZ=ON -DSYNCLINE_TESTS=OFF &&
        cmake --build build-fuzz -j "$JOBS" --target fuzz || return 1
    for t in "${FUZZ_TARGETS[@]}"; do
        work=$(mktemp -d)
        if build-fuzz/"$t" -max_total_time="${FUZZ_SECONDS:-5}" -timeout=10 \
            -artifact_prefix="$LOG_DIR/$t-" "$work" "fuzz/corpus/$t" >"$LOG_DIR/$t.log" 2>&1; then
            echo "$t: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$LOG_DIR/$t.log")"
        else
            echo "$t: FAILED (log: $LOG_DIR/$t.log)"
            grep -A 30 -m 1 'ERROR\|runtime error\|==[0-9]*==' "$LOG_DIR/$t.log" || tail -n 30 "$LOG_DIR/$t.log"
            rc=1
        fi
        rm -rf "$work"
    done
    return "$rc"
}

if ((DO_BUILD)); then
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    step "build build/ (RelWithDebInfo, -Werror)" \
        build_tree build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNCLINE_WERROR=ON -DSYNCLINE_TESTS=ON
    step "unit tests build/" unit_tests build
    step "build build-asan/ (ASan+UBSan, -Werror)" \
        build_tree build-asan -DSYNCLINE_SANITIZE=ON -DSYNCLINE_WERROR=ON -DSYNCLINE_TESTS=ON
    step "unit tests build-asan/" unit_tests build-asan
    step "unit tests under valgrind (build/)" valgrind_unit build
    step "fuzz smoke: build-fuzz/ (libFuzzer, ${FUZZ_SECONDS:-5} s per target)" fuzz_smoke
fi

# ------------------------------------------------------------------ lint

check_format() {
    local files=()
    mapfile -t files < <(find src connectors tests/unit tests/support fuzz -type f \( -name '*.c' -o -name '*.h' \) \
        2>/dev/null | sort)
    if ((${#files[@]} == 0)); then
        echo "no C sources yet"
        return 0
    fi
    echo "clang-format: ${#files[@]} files"
    clang-format --dry-run --Werror "${files[@]}"
}

check_shell() {
    if ! command -v shellcheck >/dev/null 2>&1; then
        echo "shellcheck not installed: skipped"
        return 0
    fi
    local infra=() others=() rc=0
    mapfile -t infra < <(ls tests/run.sh tests/lib/*.sh tests/e2e/lib.sh scripts/*.sh docs/*.sh .ci/run 2>/dev/null)
    mapfile -t others < <(ls tests/e2e/[0-9]*.sh bench/*.sh 2>/dev/null)
    echo "shellcheck: ${#infra[@]} harness scripts (all warnings), ${#others[@]} scenario/bench scripts (errors)"
    shellcheck -x "${infra[@]}" || rc=1
    if ((${#others[@]})); then shellcheck -S error "${others[@]}" || rc=1; fi
    return "$rc"
}

if [[ -z ${E2E_SUBRUN:-} ]]; then
    step "clang-format" check_format
    step "layers (scripts/check-layers.py: includes point down, no module cycles)" python3 scripts/check-layers.py .
    step "shellcheck" check_shell
    step "docs: links and headings (docs/check-links.sh)" bash docs/check-links.sh
fi

# ------------------------------------------------------------------ end-to-end scenarios

SCENARIOS=()
for f in tests/e2e/[0-9]*.sh; do
    [[ -e "$f" ]] || continue
    name=$(basename "$f" .sh)
    if ((${#PATTERNS[@]})); then
        keep_it=0
        for p in "${PATTERNS[@]}"; do
            if [[ "$name" =~ $p ]]; then keep_it=1; fi
        done
        ((keep_it)) || continue
    fi
    SCENARIOS+=("$f")
done

E2E_PASSED=0
E2E_FAILED=0
E2E_SKIPPED=0
E2E_LINES=()

# shellcheck source=tests/lib/pg.sh
source "$ROOT/tests/lib/pg.sh"
# shellcheck source=tests/lib/kafka.sh
source "$ROOT/tests/lib/kafka.sh"
KAFKA_DIR=""
# shellcheck source=tests/lib/apicurio.sh
source "$ROOT/tests/lib/apicurio.sh"
APICURIO_DIR=""

if ((ASAN_E2E)); then SYNCLINE=$ROOT/build-asan/syncline; else SYNCLINE=$ROOT/build/syncline; fi
SYNCLINE=${SYNCLINE_BIN:-$SYNCLINE} # SYNCLINE_BIN: run the scenarios against another binary
E2E_ROOT=""
SCENARIO_PGID=""

# A sanitizer report of an ASan/UBSan binary (--asan) fails its scenario whatever the exit codes
# said (a background syncline, a command whose stderr a scenario captured). ASan and LSan write
# theirs to files, one per process (the caller's own options come first, log_path last); UBSan
# in gcc's combined runtime ignores log_path and prints to stderr, so the scenario's log and the
# files its scratch directory gained are searched too.
SAN_DIR=$LOG_DIR/sanitizer
mkdir -p "$SAN_DIR"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}:log_path=$SAN_DIR/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
SAN_PATTERN='runtime error: |ERROR: (AddressSanitizer|LeakSanitizer)'
san_reports() { find "$SAN_DIR" -type f | sort; }
# Files under E2E_ROOT (but the clusters and the broker) newer than MARKER that hold a sanitizer report, and LOG.
san_grep() { # MARKER LOG
    {
        find "$E2E_ROOT" \( -path "$SRC_PGDATA" -o -path "$TGT_PGDATA" -o -path "$E2E_ROOT/kafka" \) \
            -prune -o -type f -newer "$1" -print 2>/dev/null
        echo "$2"
    } | while IFS= read -r f; do
        if grep -qE "$SAN_PATTERN" "$f" 2>/dev/null; then echo "$f"; fi
    done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    teardown
    exit "$rc"
}

# Stops and removes the clusters (or keeps them with --keep); runs once.
teardown() {
    [[ -z "$SCENARIO_PGID" ]] || kill -TERM -- "-$SCENARIO_PGID" 2>/dev/null || true
    [[ -n "$E2E_ROOT" ]] || return 0
    if [[ -n "$KAFKA_DIR" ]]; then
        cp "$KAFKA_DIR/logs/server.log" "$LOG_DIR/kafka-server.log" 2>/dev/null || true
        kafka_stop "$KAFKA_DIR"
        KAFKA_DIR=""
    fi
    if [[ -n "$APICURIO_DIR" ]]; then
        cp "$APICURIO_DIR/registry.log" "$LOG_DIR/apicurio-registry.log" 2>/dev/null || true
        apicurio_stop "$APICURIO_DIR"
        APICURIO_DIR=""
    fi
    # Keep the scenarios' scratch directories (syncline.log, config.json) with the logs.
    local d
    for d in "$E2E_ROOT"/*/; do
        d=${d%/}
        case $(basename "$d") in src | tgt | src[0-9] | tgt[0-9] | kafka | apicurio) continue ;; esac
        cp -r "$d" "$LOG_DIR/scratch-$(basename "$d")" 2>/dev/null || true
    done
    if ((KEEP)); then
        echo
        echo "Kept: source 127.0.0.1:$SRC_PORT ($SRC_PGDATA), target 127.0.0.1:$TGT_PORT ($TGT_PGDATA)"
        echo "  psql -h 127.0.0.1 -p $SRC_PORT -U postgres"
        echo "  stop and remove: source tests/lib/pg.sh; pg_cluster_destroy $SRC_PGDATA;" \
            "pg_cluster_destroy $TGT_PGDATA; rm -rf $E2E_ROOT"
    else
        pg_cluster_destroy "$SRC_PGDATA" >/dev/null 2>&1 || true
        pg_cluster_destroy "$TGT_PGDATA" >/dev/null 2>&1 || true
        rm -rf "$E2E_ROOT"
    fi
    E2E_ROOT=""
}

# One try: ports free when looked at, then the two clusters created and started.
start_clusters_once() {
    SRC_PORT=$(pg_free_port "${SRC_PORT:-55432}") || return 1
    TGT_PORT=$(pg_free_port "${TGT_PORT:-$((SRC_PORT + 1))}") || return 1
    if ((TGT_PORT == SRC_PORT)); then TGT_PORT=$(pg_free_port $((SRC_PORT + 1))) || return 1; fi
    PG_MAJOR=$SRC_PG_MAJOR pg_cluster_create source "$SRC_PORT" "$SRC_PGDATA" &&
        PG_MAJOR=$TGT_PG_MAJOR pg_cluster_create target "$TGT_PORT" "$TGT_PGDATA" &&
        pg_cluster_start "$SRC_PGDATA" &&
        pg_cluster_start "$TGT_PGDATA"
}

# The test ports lie in the kernel's ephemeral range, so a client connection of anything on the
# machine can take one between the look and the server's bind ("Address already in use"):
# three tries, each on fresh data directories and the next ports.
start_clusters() {
    local try
    E2E_ROOT=$(pg_make_scratch syncline-e2e) || return 1
    for try in 1 2 3; do
        SRC_PGDATA=$E2E_ROOT/src$try
        TGT_PGDATA=$E2E_ROOT/tgt$try
        start_clusters_once && break
        pg_cluster_stop "$SRC_PGDATA" 2>/dev/null || true
        pg_cluster_stop "$TGT_PGDATA" 2>/dev/null || true
        ((try < 3)) || return 1
        rm -rf "$SRC_PGDATA" "$TGT_PGDATA"
        echo "clusters did not start (try $try): again on other ports"
        SRC_PORT=$((SRC_PORT + 2))
        TGT_PORT=$((SRC_PORT + 1))
    done
    echo "source: PostgreSQL $SRC_PG_MAJOR 127.0.0.1:$SRC_PORT $SRC_PGDATA"
    echo "target: PostgreSQL $TGT_PG_MAJOR 127.0.0.1:$TGT_PORT $TGT_PGDATA"
    echo "scratch: $E2E_ROOT"
}

# Kafka scenarios (tests/e2e/1NN-kafka-*.sh, and any other that sources lib-kafka.sh) share one
# broker, started only when one is selected.
needs_kafka() {
    local f
    for f in "${SCENARIOS[@]}"; do
        [[ "$(basename "$f")" != 1[0-9][0-9]-kafka-* ]] || return 0
        ! grep -q 'lib-kafka\.sh' "$f" || return 0
    done
    return 1
}

start_kafka() {
    KAFKA_DIR=$E2E_ROOT/kafka
    KAFKA_BROKERS=$(kafka_start "$KAFKA_DIR" "${KAFKA_PORT:-59092}") || {
        echo "could not start the Kafka broker; the Kafka scenarios will fail"
        return 0
    }
    export KAFKA_BROKERS KAFKA_DIR
    echo "kafka: $KAFKA_BROKERS $KAFKA_DIR"
}

# Scenarios that start a Schema Registry (registry_start, lib-kafka.sh).
needs_registry() {
    local f
    for f in "${SCENARIOS[@]}"; do
        ! grep -q '^ *registry_start' "$f" || return 0
    done
    return 1
}

# SYNCLINE_REGISTRY=apicurio: Apicurio Registry for the scenarios, which accepts any credentials
# (SCHEMA_REGISTRY_OPEN, see registry_start). When it cannot start, SCHEMA_REGISTRY_URL points
# nowhere so that those scenarios fail instead of falling back to the stand-in.
start_apicurio() {
    local start=${EPOCHREALTIME/./}
    APICURIO_DIR=$E2E_ROOT/apicurio
    export SCHEMA_REGISTRY_OPEN=1
    if SCHEMA_REGISTRY_URL=$(apicurio_start "$APICURIO_DIR" "${APICURIO_PORT:-58081}"); then
        export SCHEMA_REGISTRY_URL
        echo "schema registry: Apicurio Registry $APICURIO_VERSION $SCHEMA_REGISTRY_URL" \
            "(started in $(elapsed "$start"))"
    else
        export SCHEMA_REGISTRY_URL=http://127.0.0.1:1/apicurio-did-not-start
        echo "could not start Apicurio Registry; the registry scenarios will fail"
    fi
}

# Prints what a server log gained since byte OFFSET.
log_since() { # FILE OFFSET LABEL
    local new
    new=$(tail -c +"$(($2 + 1))" "$1" 2>/dev/null | tail -n 25)
    [[ -z "$new" ]] || printf -- '--- %s server log (last lines written during the scenario) ---\n%s\n' "$3" "$new"
}

run_scenario() { # FILE [NAME-SUFFIX]
    local f=$1 name log start rc=0 src_off tgt_off san_before san_new
    name=$(basename "$f" .sh)${2:-}
    log=$LOG_DIR/$name.log
    printf -- '---- %-50s ' "$name"
    if ! pg_cluster_start "$SRC_PGDATA" >/dev/null 2>&1 || ! pg_cluster_start "$TGT_PGDATA" >/dev/null 2>&1; then
        echo "FAIL (the clusters could not be (re)started)"
        E2E_FAILED=$((E2E_FAILED + 1))
        E2E_LINES+=("FAIL  $name (clusters down)")
        return
    fi
    src_off=$(stat -c %s "$(pg_cluster_log "$SRC_PGDATA")" 2>/dev/null || echo 0)
    tgt_off=$(stat -c %s "$(pg_cluster_log "$TGT_PGDATA")" 2>/dev/null || echo 0)
    start=${EPOCHREALTIME/./}
    san_before=$(san_reports)
    touch "$LOG_DIR/.scenario-start"
    # timeout runs the scenario in a process group of its own (whose id is timeout's pid), so
    # whatever the scenario leaves running can be killed afterwards.
    timeout -k 30 "$E2E_TIMEOUT" bash "$f" >"$log" 2>&1 </dev/null &
    SCENARIO_PGID=$!
    wait "$SCENARIO_PGID" || rc=$?
    if kill -KILL -- "-$SCENARIO_PGID" 2>/dev/null; then
        echo "(killed processes that $name left running)" >>"$log"
    fi
    SCENARIO_PGID=""
    local took
    took=$(elapsed "$start")
    san_new=$(comm -13 <(echo "$san_before") <(san_reports))
    local r
    if [[ -n "$san_new" ]]; then
        while IFS= read -r r; do
            printf -- '--- sanitizer report %s ---\n' "${r#"$ROOT"/}"
            head -n 80 "$r"
        done <<<"$san_new" >>"$log"
    fi
    local san_hits out=""
    san_hits=$(san_grep "$LOG_DIR/.scenario-start" "$log")
    while IFS= read -r r; do
        [[ -n "$r" && "$r" != "$log" ]] || continue
        out+="--- sanitizer report in $r ---"$'\n'$(grep -E -A 30 "$SAN_PATTERN" "$r" | head -n 80)$'\n'
    done <<<"$san_hits"
    [[ -z "$out" ]] || printf '%s' "$out" >>"$log"
    san_new="$san_new$san_hits"
    if [[ -n "$san_new" ]] && ((rc == 0)); then rc=86; fi # "sanitizer report"
    if ((rc == 0)); then
        echo "PASS ($took)"
        E2E_PASSED=$((E2E_PASSED + 1))
        E2E_LINES+=("PASS  $name ($took)")
    elif ((rc == 77)); then # e2e_skip: what this PostgreSQL major lacks
        echo "SKIP ($(sed -n 's/^SKIP: //p' "$log" | head -n 1))"
        E2E_SKIPPED=$((E2E_SKIPPED + 1))
        E2E_LINES+=("SKIP  $name ($(sed -n 's/^SKIP: //p' "$log" | head -n 1))")
    else
        local why="exit $rc"
        ((rc != 124 && rc != 137)) || why="timed out after ${E2E_TIMEOUT}s"
        [[ -z "$san_new" ]] || why="$why, sanitizer report"
        echo "FAIL ($why, $took)"
        E2E_FAILED=$((E2E_FAILED + 1))
        E2E_LINES+=("FAIL  $name ($why, $took)")
        local lines
        lines=$(wc -l <"$log")
        if ((lines > 300)); then
            echo "--- $log: last 300 of $lines lines ---"
            tail -n 300 "$log"
        else
            echo "--- $log ---"
            cat "$log"
        fi
        log_since "$(pg_cluster_log "$SRC_PGDATA")" "$src_off" source
        log_since "$(pg_cluster_log "$TGT_PGDATA")" "$tgt_off" target
        echo "--- end of $name ---"
    fi
}

if [[ $SYNCLINE_REGISTRY == apicurio ]] && needs_registry; then
    step "build Apicurio Registry (tests/lib/apicurio.sh; cached)" apicurio_build
fi

# The whole suite ran against the sanitizer build: a few scenarios again against the optimised
# binary that users run (a bug that shows only with optimisation, a build difference).
release_smoke() {
    local f
    ((ASAN_E2E)) && ((${#PATTERNS[@]} == 0)) && [[ -z ${SYNCLINE_BIN:-} && -n $E2E_RELEASE_SMOKE ]] || return 0
    [[ -x $ROOT/build/syncline ]] || {
        E2E_LINES+=("FAIL  release smoke (no build/syncline)")
        E2E_FAILED=$((E2E_FAILED + 1))
        return 0
    }
    SYNCLINE=$ROOT/build/syncline
    export SYNCLINE
    echo "release smoke, binary: $SYNCLINE"
    for f in "${SCENARIOS[@]}"; do
        if [[ $(basename "$f" .sh) =~ $E2E_RELEASE_SMOKE ]]; then run_scenario "$f" -release; fi
    done
}

# One matrix cell: the scenarios matching REGEX on fresh clusters of majors SRC and TGT, by a
# sub-run of this script; appends "SRC TGT passed failed skipped" to MATRIX_RESULTS.
MATRIX_RESULTS=()
matrix_pair() { # SRC TGT REGEX
    local src=$1 tgt=$2 dir=$LOG_DIR/matrix-$1-$2 out p f k rc=0 args=(--no-deps --no-build)
    ((ASAN_E2E)) || args+=(--release)
    banner "matrix: source PostgreSQL $src -> target PostgreSQL $tgt"
    mkdir -p "$dir"
    E2E_SUBRUN=1 E2E_LOG_DIR=$dir SRC_PG_MAJOR=$src TGT_PG_MAJOR=$tgt \
        bash "$ROOT/tests/run.sh" "${args[@]}" "$3" >"$dir.log" 2>&1 || rc=$?
    out=$(sed -n '/^==== summary/,$p' "$dir.log")
    p=$(grep -c '^PASS  ' <<<"$out" || true)
    f=$(grep -c '^FAIL  ' <<<"$out" || true)
    k=$(grep -c '^SKIP  ' <<<"$out" || true)
    if ((rc != 0 && f == 0)); then f=1; fi # the sub-run failed before any scenario
    grep -E '^(PASS|FAIL|SKIP)  ' <<<"$out" | sed "s/^/  $src->$tgt /"
    MATRIX_RESULTS+=("$src $tgt $p $f $k")
    if ((f)); then
        E2E_FAILED=$((E2E_FAILED + 1))
        E2E_LINES+=("FAIL  matrix $src->$tgt: $p passed, $f failed, $k skipped (log ${dir#"$ROOT"/}.log)")
    else
        E2E_PASSED=$((E2E_PASSED + 1))
        E2E_LINES+=("PASS  matrix $src->$tgt: $p passed, $k skipped")
    fi
}

# The table of MATRIX_RESULTS: a row per source, a column per target, "passed/run" per cell.
matrix_table() {
    local r src tgt p f k srcs=() tgts=() s t line cell
    declare -A cells=()
    for r in "${MATRIX_RESULTS[@]}"; do
        read -r src tgt p f k <<<"$r"
        cells[$src:$tgt]="$p/$((p + f))"
        ((k == 0)) || cells[$src:$tgt]+=" ($k skipped)"
        [[ " ${srcs[*]} " == *" $src "* ]] || srcs+=("$src")
        [[ " ${tgts[*]} " == *" $tgt "* ]] || tgts+=("$tgt")
    done
    mapfile -t srcs < <(printf '%s\n' "${srcs[@]}" | sort -n)
    mapfile -t tgts < <(printf '%s\n' "${tgts[@]}" | sort -n)
    line="| source \\ target |"
    for t in "${tgts[@]}"; do line+=" $t |"; done
    echo "$line"
    line="|---|"
    for t in "${tgts[@]}"; do line+="---|"; done
    echo "$line"
    for s in "${srcs[@]}"; do
        line="| $s |"
        for t in "${tgts[@]}"; do
            cell=${cells[$s:$t]:--}
            line+=" $cell |"
        done
        echo "$line"
    done
}

if ((MATRIX)); then
    matrix_regex=$MATRIX_SCENARIOS
    if ((${#PATTERNS[@]})); then matrix_regex="($(IFS='|'; echo "${PATTERNS[*]}"))"; fi
    for pair in ${MATRIX_PAIRS:-$MATRIX_ALL_PAIRS}; do
        matrix_pair "${pair%%:*}" "${pair##*:}" "$matrix_regex"
    done
    SCENARIOS=() # the matrix replaces the ordinary run
fi

banner "end-to-end scenarios (${#SCENARIOS[@]})"
if ((MATRIX)); then
    echo "(the matrix ran instead)"
elif ((${#SCENARIOS[@]} == 0)); then
    echo "no scenario matches ${PATTERNS[*]:-tests/e2e/[0-9]*.sh}"
elif [[ ! -x "$SYNCLINE" ]]; then
    echo "$SYNCLINE does not exist: the build failed or was skipped; every scenario counts as failed"
    for f in "${SCENARIOS[@]}"; do
        E2E_LINES+=("FAIL  $(basename "$f" .sh) (no binary)")
        E2E_FAILED=$((E2E_FAILED + 1))
    done
else
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if start_clusters; then
        export SYNCLINE SRC_PORT TGT_PORT SRC_PGDATA TGT_PGDATA PG_BIN E2E_ROOT
        if needs_kafka; then start_kafka; fi
        if [[ $SYNCLINE_REGISTRY == apicurio ]] && needs_registry; then start_apicurio; fi
        echo "binary: $SYNCLINE"
        for f in "${SCENARIOS[@]}"; do
            run_scenario "$f"
        done
        release_smoke
    else
        echo "could not start the PostgreSQL clusters; every scenario counts as failed"
        for f in "${SCENARIOS[@]}"; do
            E2E_LINES+=("FAIL  $(basename "$f" .sh) (no clusters)")
            E2E_FAILED=$((E2E_FAILED + 1))
        done
    fi
fi

teardown

# The whole suite also runs the matrix's CI subset (MATRIX_CI_PAIRS="" for none).
if ((!MATRIX && ${#PATTERNS[@]} == 0)) && [[ -z ${E2E_SUBRUN:-} && -x $SYNCLINE ]]; then
    for pair in $MATRIX_CI_PAIRS; do
        matrix_pair "${pair%%:*}" "${pair##*:}" "$MATRIX_CI_SCENARIOS"
    done
fi
if ((${#MATRIX_RESULTS[@]})); then
    banner "version matrix: scenarios passed/run per source (row) and target (column) major"
    matrix_table | tee "$LOG_DIR/matrix.md"
fi

# ------------------------------------------------------------------ summary

banner "summary ($(elapsed "$T0") in all; logs in ${LOG_DIR#"$ROOT"/})"
for l in "${STEP_LINES[@]}" "${E2E_LINES[@]}"; do
    echo "$l"
done
if ((FAILED_STEPS)); then
    echo "$FAILED_STEPS build/lint step(s) failed"
fi
if ((E2E_SKIPPED)); then echo "e2e: $E2E_SKIPPED skipped (what the PostgreSQL major lacks)"; fi
echo "e2e: $E2E_PASSED passed, $E2E_FAILED failed"
if ((FAILED_STEPS || E2E_FAILED)); then
    exit 1
fi
