#!/usr/bin/env bash
# A single 1,000,000-row source transaction (INSERT), then another updating all of those rows,
# applied with batch_rows = 1000: the target never shows part of a source transaction (every
# observed count is 0 or 1,000,000), and syncline's memory does not grow with the transaction
# (peak RSS, VmHWM, below 200 MB; printed as peak_rss_kb=...).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROWS=1000000
RSS_LIMIT_KB=$((200 * 1024))
APPLY_TIMEOUT=${APPLY_TIMEOUT:-120} # seconds for each of the two big transactions

# Under AddressSanitizer (tests/run.sh --asan) freed memory sits in a 256 MB quarantine by
# default, which would hide what this test measures; keep it small (no effect without ASan).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"

e2e_setup t007
write_config "$(config_json '"apply": {"batch_rows": 1000, "batch_ms": 50}')"

both_sql "CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL);
          CREATE TABLE marker (id int PRIMARY KEY, what text)"

syncline_start
PEAK_KB=0

sample_rss() {
    local kb
    kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$SYNCLINE_PID/status" 2>/dev/null || true)
    if [[ -n "$kb" ]] && ((kb > PEAK_KB)); then PEAK_KB=$kb; fi
}

# Polls the target every 0.2 s until QUERY returns FINAL; every answer must be one of ALLOWED
# (space separated). QUERY must return one word. Records what it saw in OBSERVED.
observe_until() { # LABEL QUERY FINAL ALLOWED...
    local label=$1 query=$2 final=$3 seen deadline start
    shift 3
    local allowed=" $* "
    OBSERVED=()
    start=$(date +%s)
    deadline=$((start + APPLY_TIMEOUT))
    while :; do
        sample_rss
        seen=$(tgt_psql -c "SET statement_timeout = '10s'" -c "$query") ||
            fail "$label: probe query failed on the target"
        OBSERVED+=("$seen")
        if [[ "$allowed" != *" $seen "* ]]; then
            fail "$label: the target showed [$seen], allowed only [${allowed# }]: a source transaction was split"
        fi
        [[ "$seen" != "$final" ]] || break
        if (($(date +%s) > deadline)); then
            fail "$label: not applied after ${APPLY_TIMEOUT}s (last seen [$seen])"
        fi
        syncline_running || fail "$label: syncline died while applying"
        sleep 0.2
    done
    local distinct
    distinct=$(printf '%s\n' "${OBSERVED[@]}" | sort -u | tr '\n' ' ')
    _e2e_log "$label: applied after $(($(date +%s) - start)) s; ${#OBSERVED[@]} observations, distinct values: $distinct"
}

src_sql "INSERT INTO marker VALUES (1, 'before the big insert')"
t0=$(date +%s)
src_sql "INSERT INTO big SELECT g, 0, md5(g::text) FROM generate_series(1, $ROWS) g"
_e2e_log "source: big insert committed in $(($(date +%s) - t0)) s"
src_sql "INSERT INTO marker VALUES (2, 'after the big insert')"

# The probe also counts marker rows, committed just before and just after the big transaction:
# "0/2" would mean the later marker overtook it.
observe_until "insert" "SELECT (SELECT count(*) FROM big) || '/' || (SELECT count(*) FROM marker)" \
    "$ROWS/2" "0/0" "0/1" "$ROWS/1" "$ROWS/2"
wait_synced "$APPLY_TIMEOUT"
assert_same marker
assert_eq "$ROWS" "$(tgt_sql "SELECT count(*) FROM big")" "row count after the insert"

t0=$(date +%s)
src_sql "UPDATE big SET v = 1, pad = upper(pad)"
_e2e_log "source: big update committed in $(($(date +%s) - t0)) s"
src_sql "INSERT INTO marker VALUES (3, 'after the big update')"

observe_until "update" "SELECT (SELECT count(*) FILTER (WHERE v = 1) || '/' || count(*) FROM big)
                                 || '/' || (SELECT count(*) FROM marker)" \
    "$ROWS/$ROWS/3" "0/$ROWS/2" "$ROWS/$ROWS/2" "$ROWS/$ROWS/3"
wait_synced "$APPLY_TIMEOUT"
sample_rss

assert_same big
assert_same marker

echo "peak_rss_kb=$PEAK_KB"
((PEAK_KB > 0)) || fail "could not read VmHWM of syncline (pid $SYNCLINE_PID)"
if ((PEAK_KB >= RSS_LIMIT_KB)); then
    fail "peak RSS of syncline ${PEAK_KB} kB is not below ${RSS_LIMIT_KB} kB: memory grows with the transaction"
fi
echo "ok: peak RSS ${PEAK_KB} kB < ${RSS_LIMIT_KB} kB"

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
