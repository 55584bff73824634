#!/usr/bin/env bash
# Large values go to the target in pieces (issue 18, goal 6): with apply.large_value_mb = 1, a
# row with a text value of 1 MB or more is staged by COPY into a temp table inside the target
# transaction and its statement reads the value from there (a debug line per staged row proves
# the path). INSERT and UPDATE of text, bytea (hex text) and jsonb; every character COPY escapes
# plus non-ASCII; two large rows among small ones in one source transaction (a collapsible table:
# they must leave the multi-row statement); an UPDATE of the key along with a large value. A
# large value that violates a target CHECK, and a failure queued before a staged row, stop
# syncline naming the table: nothing of the source transaction commits, progress stays before it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t015
write_config "$(config_json '"apply": {"large_value_mb": 1}')"
both_sql "
CREATE TABLE docs (id int PRIMARY KEY, t text, b bytea, j jsonb, small int);
CREATE TABLE checked (id int PRIMARY KEY, v text);"
tgt_sql "ALTER TABLE checked ADD CONSTRAINT short CHECK (length(v) < 3000000),
                             ADD CONSTRAINT not_bad CHECK (v <> 'bad')"

RANDTEXT="(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 65536))"                 # 2 MB
RANDBYTES="(SELECT decode(string_agg(md5(random()::text), ''), 'hex') FROM generate_series(1, 49152))" # 1.5 MB as hex
RANDJSON="(SELECT jsonb_build_object('k', string_agg(md5(random()::text), E'\\\\\n'), 'n', 1) FROM generate_series(1, 65536))"
ESCAPES="repeat(E'a\\\\b\\tc\\nd\\re żółw 🐢 \\\\n\\\\t ', 150000)" # ~4 MB
staged() { grep -c "large values staged" "$E2E_TMP/syncline.log" || true; }

syncline_start
src_sql "INSERT INTO docs VALUES (1, $RANDTEXT, $RANDBYTES, $RANDJSON, 0)"
src_sql "UPDATE docs SET t = $RANDTEXT, j = $RANDJSON WHERE id = 1"
src_sql "UPDATE docs SET small = 1 WHERE id = 1" # unchanged TOAST values: nothing staged
src_sql "INSERT INTO docs VALUES (2, $ESCAPES, NULL, NULL, 0)"
src_sql "BEGIN;
INSERT INTO docs VALUES (10, 'small', '\\x00', '{}', 10);
INSERT INTO docs VALUES (3, $RANDTEXT, NULL, NULL, 3);
INSERT INTO docs VALUES (11, 'small', NULL, NULL, 11);
INSERT INTO docs VALUES (4, $ESCAPES, $RANDBYTES, NULL, 4);
INSERT INTO docs VALUES (12, 'small', NULL, NULL, 12);
COMMIT;"
src_sql "UPDATE docs SET id = 100, t = $RANDTEXT WHERE id = 1"
src_sql "UPDATE docs SET b = $RANDBYTES, small = 2 WHERE id = 2"
wait_synced
assert_eq "t" "$(src_sql "SELECT octet_length(t) > 2000000 AND octet_length(b) > 700000
                                 AND octet_length(j::text) > 2000000 FROM docs WHERE id = 100")" \
    "control: the values are large"
assert_same docs
n=$(staged)
((n >= 7)) || fail "expected at least 7 rows staged by COPY, the log has $n"
echo "rows staged: $n"
syncline_stop

# The run stops naming the table, the constraint and the LSN; nothing of the source transaction
# (rows ID and ID+1 around the failing one) is on the target; progress did not move.
expect_failure() { # LABEL CONSTRAINT ID
    local before
    before=$(_e2e_applied_lsn)
    e2e_run_fg "$1" 120
    assert_eq 1 "$RUN_RC" "$1: exit code"
    assert_contains "$E2E_TMP/$1.err" "public.checked" "$1: the error names the table"
    assert_contains "$E2E_TMP/$1.err" "$2" "$1: the error names the constraint"
    assert_contains "$E2E_TMP/$1.err" "lsn=" "$1: the error names the LSN"
    assert_eq 0 "$(tgt_sql "SELECT count(*) FROM docs WHERE id IN ($3, $3 + 1)")" \
        "$1: nothing of the failed source transaction is on the target"
    assert_eq "$before" "$(_e2e_applied_lsn)" "$1: progress unchanged"
}

# 1: the staged value itself violates the CHECK.
src_sql "BEGIN;
INSERT INTO docs VALUES (50, 'small', NULL, NULL, 50);
INSERT INTO checked VALUES (1, repeat('x', 4000000));
INSERT INTO docs VALUES (51, 'small', NULL, NULL, 51);
COMMIT;"
expect_failure staged_check short 50
assert_contains "$E2E_TMP/staged_check.err" "large values staged" "staged_check: the value was staged"
tgt_sql "ALTER TABLE checked DROP CONSTRAINT short"

# 2: a small row fails, queued before a staged row: leaving the pipeline surfaces its error.
src_sql "BEGIN;
INSERT INTO docs VALUES (60, 'small', NULL, NULL, 60);
INSERT INTO checked VALUES (2, 'bad');
INSERT INTO docs VALUES (61, $RANDTEXT, NULL, NULL, 61);
COMMIT;"
expect_failure queued_check not_bad 60
tgt_sql "ALTER TABLE checked DROP CONSTRAINT not_bad"

syncline_start
wait_synced
assert_same docs
assert_same checked
assert_eq "4000000" "$(tgt_sql "SELECT length(v) FROM checked WHERE id = 1")" "the large value arrived"
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
