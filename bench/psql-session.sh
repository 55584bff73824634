#!/usr/bin/env bash
# Polling sessions shared by the benchmarks (sourced by bench/lib.sh and bench/lib-kafka.sh): one
# psql each, kept open while a drain is timed, so that polling forks no process (a psql started
# every 20 ms takes CPU from the drain it times on a small machine). Several can be open at once.
# Needs PG_BIN and die.
#   sess_open NAME DIR PORT DB   psql on 127.0.0.1:PORT, database DB; its FIFOs in DIR/sess.NAME
#   sess_q NAME SQL [--no-rows]  prints the answer's one line; --no-rows: SQL returns no row
#                                (ALTER ...), and a SELECT 1 sent after it answers instead
#   sess_close NAME
# Call sess_q in an assignment (x=$(sess_q ...)), so that its die stops a set -e script.

declare -A SESS_IN SESS_OUT SESS_PID SESS_DIR

sess_open() {
    local dir=$2/sess.$1 fin fout
    mkdir -p "$dir"
    rm -f "$dir/in" "$dir/out"
    mkfifo "$dir/in" "$dir/out"
    PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -qAt -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$3" -U postgres -d "$4" <"$dir/in" >"$dir/out" 2>&1 &
    SESS_PID[$1]=$! SESS_DIR[$1]=$dir
    exec {fin}>"$dir/in" {fout}<"$dir/out"
    SESS_IN[$1]=$fin SESS_OUT[$1]=$fout
}

sess_q() {
    local line
    printf '%s;\n' "$2" >&"${SESS_IN[$1]}"
    [[ ${3:-} != --no-rows ]] || printf 'SELECT 1;\n' >&"${SESS_IN[$1]}"
    IFS= read -r -t 30 line <&"${SESS_OUT[$1]}" || die "no answer from the polling session $1"
    printf '%s\n' "$line"
}

sess_close() {
    local fin=${SESS_IN[$1]} fout=${SESS_OUT[$1]}
    printf '\\q\n' >&"$fin"
    exec {fin}>&- {fout}<&-
    wait "${SESS_PID[$1]}" 2>/dev/null || true
    rm -rf "${SESS_DIR[$1]}"
    unset "SESS_PID[$1]" "SESS_DIR[$1]" "SESS_IN[$1]" "SESS_OUT[$1]"
}
