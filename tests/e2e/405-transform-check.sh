#!/usr/bin/env bash
# `syncline check` reports each misconfiguration of a schema transform, table-driven: every case
# is one mutation of a clean "tables" configuration and the problem text it must produce; check
# exits 6 with exactly one "problem:" line naming the table and the column. The clean
# configuration exits 0 with "ok:". `run` refuses a bad configuration the same way.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_setup e2e405

src_sql "CREATE TABLE s1 (id int PRIMARY KEY, a text, b text, c int, secret text);
         CREATE TABLE s2 (id int, v text)" # s2: no primary key, REPLICA IDENTITY DEFAULT
tgt_sql "CREATE TABLE s1 (id int PRIMARY KEY, a text, b text, c int, ts timestamptz,
                          req text NOT NULL);
         CREATE TABLE s2 (id int PRIMARY KEY, v text)"

SRC='"source": "public.s1"'
COLS='"columns": {"b": "upper(b)", "req": "'"'r'"'"}'
EXC='"exclude": ["secret"]'
S1="{$SRC, $COLS, $EXC}"
CLEAN="[$S1]"

# Runs check on the tables JSON; sets CHECK_RC and CHECK_OUT (stdout; stderr in check.err).
run_check() {
    write_config "$(config_json "\"tables\": $1")"
    CHECK_RC=0
    CHECK_OUT=$("$SYNCLINE" check -c "$CFG" 2>"$E2E_TMP/check.err") || CHECK_RC=$?
}

# "One line per problem": every stdout line is a problem line, a warning line (large-value
# caveats that do not fail the check) or the summary. Violations are
# collected and fail the scenario at the end, so that every case still runs.
FORMAT_ERRORS=()
check_lines() {
    local l
    while IFS= read -r l; do
        [[ "$l" == "problem: "* || "$l" == "warning: "* || "$l" == "ok: "* ||
            "$l" == "FAILED: "* ]] ||
            FORMAT_ERRORS+=("$1: stray line [$l]")
    done <<<"$CHECK_OUT"
}

run_check "$CLEAN"
assert_eq 0 "$CHECK_RC" "clean configuration: exit code (output: $CHECK_OUT)"
[[ "$CHECK_OUT" == *"ok: 1 table(s) checked, 0 problem(s)"* ]] || fail "clean output: $CHECK_OUT"
echo "ok: clean configuration: $CHECK_OUT"

# LABEL | TABLES JSON | fragment of the problem | table | column (as quoted) | problem count
CASES=(
    "unknown source column in an expression|[{$SRC, \"columns\": {\"b\": \"upper(nosuch)\", \"req\": \"b\"}, $EXC}]|column \"nosuch\" does not exist|public.s1|\"nosuch\"|1"
    "unknown source column in where|[{$SRC, $COLS, $EXC, \"where\": \"nosuch > 0\"}]|column \"nosuch\" does not exist|public.s1|\"nosuch\"|1"
    "unknown target column|[{$SRC, \"columns\": {\"req\": \"a\", \"zz\": \"c\"}, $EXC}]|target column \"zz\" does not exist|public.s1|\"zz\"|1"
    "unknown excluded column|[{$SRC, $COLS, \"exclude\": [\"secret\", \"nope\"]}]|source column \"nope\" does not exist|public.s1|\"nope\"|1"
    "unmapped source column|[{$SRC, $COLS}]|source column \"secret\" maps nowhere|public.s1|\"secret\"|1"
    "underivable key|[{$SRC, \"columns\": {\"id\": \"id + c\", \"req\": \"'r'\"}, $EXC}]|target key column \"id\" is computed from source column \"c\"|public.s1|\"id\"|1"
    "missing replica identity, transformed|[$S1, {\"source\": \"public.s2\", \"columns\": {\"v\": \"lower(v)\"}}]|which is not part of the source key|public.s2||"
    "type mismatch|[{$SRC, \"columns\": {\"req\": \"a\", \"ts\": \"a = b\"}, $EXC}]|column \"ts\" is of type timestamp with time zone but expression is of type boolean|public.s1|\"ts\"|1"
    "type mismatch in where|[{$SRC, $COLS, $EXC, \"where\": \"a\"}]|argument of WHERE must be type boolean|public.s1||1"
    "NOT NULL target column not fed|[{$SRC, \"columns\": {\"b\": \"b\"}, $EXC}]|target column \"req\" is NOT NULL without a default and nothing feeds it|public.s1|\"req\"|1"
    "source table does not exist|[$S1, {\"source\": \"public.nosuch\", \"columns\": {\"x\": \"1\"}}]|source table public.nosuch does not exist|public.nosuch||1"
)

# An insert-only table without replica identity is legitimate (the source itself rejects
# UPDATE and DELETE on it): a warning that names it, not a problem.
run_check "[$S1, {\"source\": \"public.s2\"}]"
assert_eq 0 "$CHECK_RC" "missing replica identity, passthrough: exit code (output: $CHECK_OUT)"
[[ "$CHECK_OUT" == *"warning: table public.s2: no replica identity"* ]] ||
    fail "missing replica identity, passthrough: no warning naming public.s2: $CHECK_OUT"
echo "ok: missing replica identity, passthrough: warning"

no_column=()
for c in "${CASES[@]}"; do
    IFS='|' read -r label tables fragment table column nproblems <<<"$c"
    run_check "$tables"
    assert_eq 6 "$CHECK_RC" "$label: exit code"
    check_lines "$label"
    # an empty count: follow-on problems of the same cause are tolerated (listed in the log)
    [[ -z "$nproblems" || "$CHECK_OUT" == *"FAILED: "*" $nproblems problem(s)"* ]] ||
        fail "$label: expected $nproblems problem(s): $CHECK_OUT"
    line=$(grep -F -- "$fragment" <<<"$CHECK_OUT" | head -n 1) || true
    [[ -n "$line" ]] || fail "$label: [$fragment] not in [$CHECK_OUT]"
    [[ "$line" == "problem: "* ]] || fail "$label: not a problem line: [$line]"
    [[ "$line" == *"$fragment"* ]] || fail "$label: [$fragment] not in [$line]"
    [[ "$line" == *"$table"* ]] || fail "$label: table $table not named in [$line]"
    if [[ -n "$column" ]]; then
        [[ "$line" == *"$column"* ]] || fail "$label: column $column not named in [$line]"
    else
        no_column+=("$label")
    fi
    echo "ok: $label: $line"
done
echo "note: cases whose problem has no column to name: ${no_column[*]}"

# Several problems at once: one line each.
run_check "[{$SRC, \"columns\": {\"zz\": \"a\"}, $EXC}, {\"source\": \"public.s2\", \"target\": \"public.nosuch2\"}]"
assert_eq 6 "$CHECK_RC" "two bad tables: exit code"
assert_eq 2 "$(grep -c '^problem:' <<<"$CHECK_OUT" || true)" "two bad tables: two problem lines ($CHECK_OUT)"

# run performs the same check before anything is created.
write_config "$(config_json "\"tables\": [{$SRC, \"columns\": {\"req\": \"a\", \"ts\": \"a = b\"}, $EXC}]")"
rc=0
timeout 30 "$SYNCLINE" run -c "$CFG" --snapshot=never >"$E2E_TMP/run.out" 2>&1 || rc=$?
assert_eq 6 "$rc" "run refuses the type mismatch"
assert_contains "$E2E_TMP/run.out" 'column "ts" is of type timestamp with time zone' "run logs the problem"
assert_eq 0 "$(src_sql "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()")" \
    "run created no slot"

# The clean configuration still passes (nothing was changed by the checks).
run_check "$CLEAN"
assert_eq 0 "$CHECK_RC" "clean configuration again: exit code (output: $CHECK_OUT)"

if ((${#FORMAT_ERRORS[@]})); then
    printf '%s\n' "${FORMAT_ERRORS[@]}" >&2
    fail "check printed ${#FORMAT_ERRORS[@]} line(s) that are neither a problem nor the summary"
fi
