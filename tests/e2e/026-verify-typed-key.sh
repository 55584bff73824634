#!/usr/bin/env bash
# syncline verify on tables whose primary key is a composite type, alone and next to an int:
# chunk bounds are compared with the key's own type (an untyped bound next to a composite key
# was an anonymous record: "input of anonymous composite types is not implemented"); equal data
# matches, and a changed cell made on the target is found and its key named.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t026
both_sql "CREATE TYPE pair AS (x int, y text);
          CREATE TABLE t_comp (k pair PRIMARY KEY, v text);
          CREATE TABLE t_mixed (a int, k pair, v text, PRIMARY KEY (a, k));"
src_sql "INSERT INTO t_comp SELECT ROW(g, 'y' || g)::pair, 'v' || g FROM generate_series(1, 100) g;
         INSERT INTO t_mixed SELECT g % 3, ROW(g, 'z,\"' || g)::pair, 'w' || g FROM generate_series(1, 100) g"

syncline_start
wait_synced
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code"

verify() { # ARGS... -> exit code; output in $E2E_TMP/verify.out
    local rc=0
    "$SYNCLINE" verify -c "$CFG" --timeout 30 "$@" >"$E2E_TMP/verify.out" 2>"$E2E_TMP/verify.err" </dev/null || rc=$?
    cat "$E2E_TMP/verify.out" "$E2E_TMP/verify.err" >&2
    echo "$rc"
}

assert_eq 0 "$(verify --chunk-rows 7)" "verify passes on equal data, many chunks"
assert_contains "$E2E_TMP/verify.out" "table public.t_comp -> public.t_comp: match (100 rows" "t_comp matches"
assert_contains "$E2E_TMP/verify.out" "table public.t_mixed -> public.t_mixed: match (100 rows" "t_mixed matches"

tgt_sql "UPDATE t_comp SET v = 'changed' WHERE k = ROW(42, 'y42')::pair;
         UPDATE t_mixed SET v = 'changed' WHERE k = ROW(50, 'z,\"50')::pair"
rc=$(verify --chunk-rows 7)
[[ "$rc" != 0 ]] || fail "verify passed although two cells differ"
assert_contains "$E2E_TMP/verify.out" '"(42,y42)"' "the changed t_comp row is named by its key"
assert_contains "$E2E_TMP/verify.out" 'row (a, k)=(2,"(50,' "the changed t_mixed row is named by its key"
