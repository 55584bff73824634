#!/usr/bin/env bash
# Schema transforms with hostile identifiers: schemas, tables and columns named with double
# quotes, spaces, upper case, semicolons, dots and SQL keywords sync correctly, without a
# "tables" entry (passthrough) and through a transformed entry whose expressions use quoted
# identifiers. An expression that tries to escape its slot ("1); DROP TABLE t; --") is rejected
# by `check` (exit 6, naming table and column) and by `run` (non-zero, nothing created).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_setup e2e404

P='public."Order ""Items""; drop"'          # passthrough, same name on both sides
S='"Src ""Sch"".1"."select"'                # transformed source
T='"Tgt Schema"."Line ""Items""; drop"'     # transformed target
COLS='"Id" int PRIMARY KEY, "select" text, "Col Name" text, "a;b" int, "From" text'

both_sql "CREATE TABLE $P ($COLS)"
tgt_sql "CREATE SCHEMA \"Tgt Schema\";
         CREATE TABLE $T (\"Id\" int PRIMARY KEY, \"select\" text, \"Upper Col\" text,
                          \"a;b\" int, \"where\" text NOT NULL)"
both_sql "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)"

changes() { # TABLE: inserts, updates of every column, key change, delete
    src_sql "INSERT INTO $1 VALUES (1, 'sel''ect; --', 'col name', 1, 'f1'),
                                   (2, NULL, 'CoL', -5, NULL),
                                   (3, '\"quoted\"', E'tab\\there', 3, 'f3');
             UPDATE $1 SET \"select\" = 'x); DROP TABLE t; --' WHERE \"Id\" = 1;
             UPDATE $1 SET \"Col Name\" = 'mixed Case', \"a;b\" = 10 WHERE \"Id\" = 2;
             UPDATE $1 SET \"a;b\" = -1 WHERE \"Id\" = 3;
             UPDATE $1 SET \"From\" = 'ff' WHERE \"Id\" = 1;
             UPDATE $1 SET \"Id\" = 4 WHERE \"Id\" = 1;
             INSERT INTO $1 VALUES (5, 'five', 'v', 5, NULL);
             DELETE FROM $1 WHERE \"Id\" = 5"
}

# ---- 1. passthrough: no "tables" entry at all
syncline_start --snapshot=never
changes "$P"
wait_synced
assert_same "$P"
src_sql "DELETE FROM $P WHERE \"Id\" = 2"
wait_synced
assert_same "$P"
syncline_stop
"$SYNCLINE" drop -c "$CFG" >>"$E2E_TMP/syncline.log" 2>&1 || fail "syncline drop failed"

# ---- 2. transformed entry (its source table appears now: phase 1 syncs every table)
src_sql "CREATE SCHEMA \"Src \"\"Sch\"\".1\"; CREATE TABLE $S ($COLS)"
# ---- with quoted identifiers in expressions and filter; P listed plainly
write_config "$(config_json '"tables": [
  {"source": "public.\"Order \"\"Items\"\"; drop\""},
  {"source": "\"Src \"\"Sch\"\".1\".\"select\"", "target": "\"Tgt Schema\".\"Line \"\"Items\"\"; drop\"",
   "columns": {"Upper Col": "upper(\"Col Name\")",
               "a;b": "\"a;b\" * 2",
               "where": "coalesce(\"select\", '"'"'<null>'"'"') || '"'"' ; -- /* '"'"' || \"a;b\"::text"},
   "exclude": ["From"],
   "where": "\"a;b\" >= 0 AND \"Col Name\" <> '"'"'drop'"'"'"}]')"
EXPECTED="SELECT \"Id\", \"select\", upper(\"Col Name\"), \"a;b\" * 2,
                 coalesce(\"select\", '<null>') || ' ; -- /* ' || \"a;b\"::text
            FROM $S WHERE \"a;b\" >= 0 AND \"Col Name\" <> 'drop'"

out=$("$SYNCLINE" check -c "$CFG" 2>&1) || fail "check on hostile identifiers: $out"
[[ "$out" == *"ok: 2 table(s) checked, 0 problem(s)"* ]] || fail "check output: $out"
echo "ok: check accepts the hostile identifiers"

syncline_start --snapshot=never
changes "$S"
src_sql "INSERT INTO $P VALUES (7, 'seven', 's', 7, NULL); UPDATE $P SET \"select\" = 's2' WHERE \"Id\" = 3"
wait_synced
assert_query_same "$EXPECTED" "$T" "transformed table after changes"
assert_same "$P"
src_sql "UPDATE $S SET \"Col Name\" = 'drop' WHERE \"Id\" = 4" # leaves the filter
src_sql "UPDATE $S SET \"a;b\" = 8 WHERE \"Id\" = 3"           # enters it
wait_synced
assert_query_same "$EXPECTED" "$T" "transformed table after rows left and entered the filter"
src_sql "DELETE FROM $S"
wait_synced
assert_query_same "$EXPECTED" "$T" "transformed table after deleting everything"
assert_eq 0 "$(tgt_sql "SELECT count(*) FROM $T")" "target empty"
syncline_stop
"$SYNCLINE" drop -c "$CFG" >>"$E2E_TMP/syncline.log" 2>&1 || fail "syncline drop failed"

# ---- 3. an expression cannot escape its slot
src_sql "CREATE TABLE inj (id int PRIMARY KEY, x text)"
tgt_sql "CREATE TABLE inj (id int PRIMARY KEY, x text)"
for bad in '1); DROP TABLE t; --' '1; DROP TABLE t' "x) FROM inj; DROP TABLE t; SELECT (1" 'x /* */'; do
    write_config "$(config_json "\"tables\": [{\"source\": \"public.inj\",
                                   \"columns\": {\"x\": $(_e2e_json_str "$bad")}}]")"
    rc=0
    "$SYNCLINE" check -c "$CFG" >"$E2E_TMP/check.out" 2>&1 || rc=$?
    assert_eq 6 "$rc" "check rejects [$bad] with exit 6"
    line=$(grep -F 'problem:' "$E2E_TMP/check.out" | head -n 1)
    [[ "$line" == *public.inj* && "$line" == *columns.x* ]] ||
        fail "check's problem line does not name table public.inj and column x: $(cat "$E2E_TMP/check.out")"
    echo "ok: $line"
done

write_config "$(config_json '"tables": [{"source": "public.inj", "columns": {"x": "1); DROP TABLE t; --"}}]')"
rc=0
timeout 30 "$SYNCLINE" run -c "$CFG" --snapshot=never >"$E2E_TMP/run.out" 2>&1 || rc=$?
((rc != 0 && rc != 124)) || fail "run with an injection: exit code $rc"
echo "ok: run refuses the injection (exit $rc): $(grep -F 'columns.x' "$E2E_TMP/run.out" | head -n 1)"
assert_contains "$E2E_TMP/run.out" "columns.x" "run names the column"
assert_eq 0 "$(src_sql "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()")" \
    "run created no slot"
assert_eq 0 "$(src_sql "SELECT count(*) FROM pg_publication")" "run created no publication"
progress=0
if [[ -n "$(tgt_sql "SELECT to_regclass('syncline.progress')")" ]]; then
    progress=$(tgt_sql "SELECT count(*) FROM syncline.progress WHERE name = '$E2E_NAME'")
fi
assert_eq 0 "$progress" "run wrote no progress row"
assert_eq 1 "$(src_sql "SELECT count(*) FROM t")" "table t still exists on the source"
assert_eq 1 "$(tgt_sql "SELECT count(*) FROM t")" "table t still exists on the target"

# ---- 4. the guard's lexer reads '...' as standard_conforming_strings = on does; a target
# database set to off must not let "'\''), (42) --'" (one literal to the guard) close its slot
# and comment out the rest of the generated statement. Either the guard refuses it (a
# "columns.x:" problem), or check is clean and it stays the literal \'), (42) -- in column x.
tgt_sql "ALTER DATABASE $TGT_DB SET standard_conforming_strings = off;
         ALTER DATABASE $TGT_DB SET escape_string_warning = off"
both_sql "DELETE FROM inj"
write_config "$(config_json "\"tables\": [{\"source\": \"public.inj\", \"exclude\": [\"x\"],
                                 \"columns\": {\"x\": $(_e2e_json_str "'\\''), (42) --'")}}]")"
rc=0
"$SYNCLINE" check -c "$CFG" >"$E2E_TMP/check.out" 2>&1 || rc=$?
if ((rc == 6)) && grep -q '^problem: table public.inj: columns.x: ' "$E2E_TMP/check.out"; then
    echo "ok: the guard refuses a backslash literal: $(grep '^problem:' "$E2E_TMP/check.out")"
else
    assert_eq 0 "$rc" "check with standard_conforming_strings = off on the target ($(tr '\n' ' ' <"$E2E_TMP/check.out"))"
    syncline_start --snapshot=never
    src_sql "INSERT INTO inj VALUES (1, 'source value')"
    wait_synced
    assert_eq "1|\\'), (42) --" "$(tgt_sql "SELECT id || '|' || x FROM inj ORDER BY id")" \
        "the expression stayed one literal in its slot"
    syncline_stop
fi
