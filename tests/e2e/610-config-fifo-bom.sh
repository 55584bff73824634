#!/usr/bin/env bash
# The configuration file (issue 15, operational faults): a FIFO nobody writes gets a clear
# error at once (exit 3) instead of blocking forever; a pipe that is written (bash's
# -c <(...)) is read; a UTF-8 byte-order mark before the JSON is accepted.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t610
both_sql "CREATE TABLE items (id int PRIMARY KEY, v text)"

# ---- a FIFO without writer: exit 3 within seconds, saying what it is
mkfifo "$E2E_TMP/cfg.fifo"
rc=0
timeout -k 2 20 "$SYNCLINE" run -c "$E2E_TMP/cfg.fifo" >"$E2E_TMP/fifo.out" 2>&1 </dev/null || rc=$?
cat "$E2E_TMP/fifo.out"
((rc != 124 && rc != 137)) || fail "syncline blocked on a FIFO without writer (killed by timeout)"
assert_eq 3 "$rc" "exit code for a FIFO without writer"
assert_contains "$E2E_TMP/fifo.out" "cfg.fifo" "the error names the file"
assert_contains "$E2E_TMP/fifo.out" "FIFO" "the error says it is a FIFO"

# ---- a pipe that is written: read like a file (status needs only the configuration and servers)
rc=0
"$SYNCLINE" status -c <(cat "$CFG") >"$E2E_TMP/pipe.out" 2>&1 || rc=$?
cat "$E2E_TMP/pipe.out"
assert_eq 0 "$rc" "status with the configuration on a pipe"

# ---- a byte-order mark: loads, and run streams
{
    printf '\357\273\277'
    cat "$CFG"
} >"$E2E_TMP/bom.json"
mv "$E2E_TMP/bom.json" "$CFG"
assert_eq "efbbbf7b" "$(head -c 4 "$CFG" | od -An -tx1 | tr -d ' \n')" "the file starts with a BOM"
syncline_start
src_sql "INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 20) g"
wait_synced
assert_same items
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
