#!/usr/bin/env bash
# Hostile configurations, table-driven: wrong types, huge strings, unknown keys, bad conninfo
# syntax, unreachable sockets, path tricks for -c and usage errors. Every case must end with a
# clear one-line error and its exit code (2 usage, 3 configuration, 4 connection), never with a
# signal or a sanitizer report (run with SYNCLINE_BIN=build-asan/syncline to check the latter).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t601

SRC=$(_e2e_json_str "$SRC_CONNINFO")
TGT=$(_e2e_json_str "$TGT_CONNINFO")
D=$E2E_TMP/cases
mkdir -p "$D"

# A string of N bytes of 'a'.
big() { head -c "$1" /dev/zero | tr '\0' a; }

# cfg NAME JSON: writes $D/NAME.json.
cfg() { printf '%s\n' "$2" >"$D/$1.json"; }

# Base configuration with EXTRA members appended at the top level.
base() { printf '{"name": "t601", "source": {"conninfo": %s}, "target": {"conninfo": %s}%s}' \
    "$SRC" "$TGT" "${1:+, $1}"; }

# ---------------------------------------------------------------- the files

cfg type_name '{"name": 1, "source": {"conninfo": "x"}, "target": {"conninfo": "y"}}'
cfg type_conninfo '{"name": "t601", "source": {"conninfo": 5}, "target": {"conninfo": "y"}}'
cfg type_source "{\"name\": \"t601\", \"source\": \"$SRC_CONNINFO\", \"target\": {\"conninfo\": $TGT}}"
cfg type_batch_rows "$(base '"apply": {"batch_rows": "10"}')"
cfg type_batch_float "$(base '"apply": {"batch_rows": 1e3}')"
cfg type_binary "$(base '"apply": {"binary": "yes"}')"
cfg type_tables_obj "$(base '"tables": {"source": "a"}')"
cfg type_tables_empty "$(base '"tables": []')"
cfg type_columns "$(base '"tables": [{"source": "a", "columns": ["x"]}]')"
cfg type_props "$(base '"kafka": {"brokers": "k:1", "properties": {"linger.ms": 5}}')"
cfg range_workers "$(base '"snapshot": {"workers": 100000}')"
cfg range_negative "$(base '"apply": {"batch_ms": -1}')"
cfg range_int_overflow "$(base '"apply": {"batch_rows": 99999999999999999999999}')"
cfg bad_name "$(printf '{"name": "Robert\\"); DROP TABLE x; --", "source": {"conninfo": %s}, "target": {"conninfo": %s}}' "$SRC" "$TGT")"
cfg unknown_top "$(base '"sauce": {}')"
cfg unknown_apply "$(base '"apply": {"batch_row": 10}')"
cfg unknown_table "$(base '"tables": [{"source": "a", "taget": "b"}]')"
cfg duplicate_key '{"name": "a", "name": "b", "source": {"conninfo": "x"}, "target": {"conninfo": "y"}}'
cfg nul_in_string '{"name": "a\u0000b", "source": {"conninfo": "x"}, "target": {"conninfo": "y"}}'
cfg not_json '{"name": "t601",'
cfg json_array '[1, 2, 3]'
cfg empty_doc ''
printf '{"name": "t\xff\xfe601"}\n' >"$D/bad_utf8.json"
printf '{"name": "t601"\x00, "x": 1}\n' >"$D/nul_byte.json"
{ # 200,000 nested arrays: beyond jansson's depth limit, no stack overflow
    printf '{"name": "t601", "x": '
    head -c 200000 /dev/zero | tr '\0' '['
    head -c 200000 /dev/zero | tr '\0' ']'
    printf '}\n'
} >"$D/deep_nesting.json"
{
    printf '{"name": "'
    big 2000000
    printf '", "source": {"conninfo": %s}, "target": {"conninfo": %s}}\n' "$SRC" "$TGT"
} >"$D/huge_name.json"
printf '{"name": "t601", "source": {"conninfo": "host=%s"}, "target": {"conninfo": %s}}\n' \
    "$(big 3000000)" "$TGT" >"$D/huge_conninfo.json"
cfg huge_where "$(base "\"tables\": [{\"source\": \"a\", \"where\": \"$(big 5000000)\"}]")"
cfg huge_key "$(base "\"$(big 1000000)\": 1")"
cfg huge_many_tables "$(base "\"tables\": [$(for i in $(seq 1 20000); do printf '{"source": "s.t%d"},' "$i"; done){\"source\": \"s.last\"}]")"
cfg conninfo_syntax "$(printf '{"name": "t601", "source": {"conninfo": "host=127.0.0.1 bogus"}, "target": {"conninfo": %s}}' "$TGT")"
cfg conninfo_quote "$(printf '{"name": "t601", "source": {"conninfo": %s}, "target": {"conninfo": "host=127.0.0.1 password='"'"'unterminated"}}' "$SRC")"
cfg conninfo_uri "$(printf '{"name": "t601", "source": {"conninfo": "postgresql://u@[::1/db"}, "target": {"conninfo": %s}}' "$TGT")"
cfg conninfo_keyword "$(printf '{"name": "t601", "source": {"conninfo": "host=127.0.0.1 nosuchkeyword=1"}, "target": {"conninfo": %s}}' "$TGT")"
cfg conninfo_nosocket "$(printf '{"name": "t601", "source": {"conninfo": "host=%s/no/such/dir dbname=t601"}, "target": {"conninfo": %s}}' "$E2E_TMP" "$TGT")"
cfg conninfo_tgt_nosocket "$(printf '{"name": "t601", "source": {"conninfo": %s}, "target": {"conninfo": "host=/nonexistent/socket/dir"}}' "$SRC")"
cfg conninfo_port "$(printf '{"name": "t601", "source": {"conninfo": "host=127.0.0.1 port=1 dbname=t601"}, "target": {"conninfo": %s}}' "$TGT")"

# Path tricks.
mkdir -p "$D/a_directory.json"
ln -sfn "$D/loop2.json" "$D/loop1.json"
ln -sfn "$D/loop1.json" "$D/loop2.json"
ln -sfn "$D/no_such_target.json" "$D/dangling.json"
mkfifo "$D/fifo"
: >"$D/empty.json"

# ---------------------------------------------------------------- the table

# expected-exit  case  command-args...   (@ is replaced by $D/case.json)
CASES=(
    "3 type_name run" "3 type_conninfo run" "3 type_source run" "3 type_batch_rows run"
    "3 type_batch_float run" "3 type_binary run" "3 type_tables_obj run" "3 type_tables_empty run"
    "3 type_columns check" "3 type_props run" "3 range_workers run" "3 range_negative run"
    "3 range_int_overflow run" "3 bad_name run" "3 unknown_top run" "3 unknown_apply status"
    "3 unknown_table check" "3 duplicate_key run" "3 nul_in_string run" "3 not_json run"
    "3 json_array run" "3 empty_doc run" "3 bad_utf8 run" "3 nul_byte run" "3 deep_nesting run"
    "3 huge_name run" "3 huge_conninfo run" "3 huge_where run" "3 huge_key run"
    "3 conninfo_syntax run" "3 conninfo_quote status" "3 conninfo_uri run" "3 conninfo_keyword lag"
    "4 conninfo_nosocket run" "4 conninfo_nosocket status" "4 conninfo_tgt_nosocket run"
    "4 conninfo_port run" "4 conninfo_port check"
    "3 a_directory run" "3 loop1 run" "3 dangling run" "3 empty run" "3 no_such_file run"
    "3 /dev/zero run" "3 /dev/null run" "3 /proc/self/mem run"
)

# Names each case's expected error must contain (a path, key or kind), when it has one.
declare -A WANT=(
    [type_name]="name" [type_conninfo]="source.conninfo" [type_batch_rows]="apply.batch_rows"
    [type_batch_float]="apply.batch_rows" [type_binary]="apply.binary" [unknown_top]="sauce"
    [unknown_apply]="apply.batch_row" [unknown_table]="tables[0]" [huge_where]="tables[0].where"
    [a_directory]="is a directory" [loop1]="symbolic links" [no_such_file]="No such file" [conninfo_syntax]="invalid conninfo"
    [conninfo_nosocket]="source" [conninfo_tgt_nosocket]="target"
)

check_output() { # LABEL RC OUT
    local label=$1 rc=$2 out=$3
    ((rc < 128)) || fail "$label: killed by signal $((rc - 128))"
    if grep -qE 'Sanitizer|runtime error:|Segmentation|core dumped' "$out"; then
        head -c 4000 "$out" >&2
        fail "$label: sanitizer report or crash"
    fi
    local size
    size=$(stat -c %s "$out")
    ((size < 20000)) || fail "$label: $size bytes of output (a huge value was echoed?)"
}

n=0
for c in "${CASES[@]}"; do
    read -r want name cmd <<<"$c"
    file=$name
    [[ "$name" == /* ]] || file=$D/$name.json
    [[ "$name" != no_such_file ]] || file=$D/does/not/exist.json
    label=${name//\//_}-$cmd
    out=$E2E_TMP/case-$label.out
    rc=0
    timeout -k 5 60 "$SYNCLINE" "$cmd" -c "$file" >"$out" 2>&1 </dev/null || rc=$?
    echo "--- $label: exit $rc: $(head -c 300 "$out" | head -n 2)"
    check_output "$label" "$rc" "$out"
    assert_eq "$want" "$rc" "$label: exit code"
    grep -q ' error ' "$out" || fail "$label: no error line"
    if [[ -n "${WANT[$name]:-}" ]]; then assert_contains "$out" "${WANT[$name]}" "$label: names the problem"; fi
    n=$((n + 1))
done

# A FIFO: read like a file (process substitution works), its content judged like any other.
rc=0
(printf '{"name": 42}\n' >"$D/fifo") &
timeout -k 5 30 "$SYNCLINE" run -c "$D/fifo" >"$E2E_TMP/fifo.out" 2>&1 </dev/null || rc=$?
wait
check_output fifo "$rc" "$E2E_TMP/fifo.out"
assert_eq 3 "$rc" "fifo with a bad config: exit code"
assert_contains "$E2E_TMP/fifo.out" "name: expected a string" "fifo: error names the key"
rc=0
timeout -k 5 30 "$SYNCLINE" check -c <(base) >"$E2E_TMP/procsub.out" 2>&1 </dev/null || rc=$?
check_output procsub "$rc" "$E2E_TMP/procsub.out"
assert_eq 0 "$rc" "check -c <(valid config) through a pipe"

# A file the user cannot read (as root every file is readable: run as nobody when possible).
chmod 000 "$D/type_name.json"
if [[ $(id -u) -eq 0 ]] && id nobody >/dev/null 2>&1 && runuser -u nobody -- test -x "$SYNCLINE"; then
    rc=0
    runuser -u nobody -- timeout -k 5 30 "$SYNCLINE" run -c "$D/type_name.json" \
        >"$E2E_TMP/unreadable.out" 2>&1 </dev/null || rc=$?
    check_output unreadable "$rc" "$E2E_TMP/unreadable.out"
    assert_eq 3 "$rc" "unreadable file (as nobody): exit code"
    assert_contains "$E2E_TMP/unreadable.out" "Permission denied" "unreadable: says why"
elif [[ $(id -u) -ne 0 ]]; then
    rc=0
    timeout -k 5 30 "$SYNCLINE" run -c "$D/type_name.json" >"$E2E_TMP/unreadable.out" 2>&1 || rc=$?
    assert_eq 3 "$rc" "unreadable file: exit code"
else
    echo "note: unreadable-file case skipped (root, and user nobody cannot run $SYNCLINE)"
fi

# Usage errors.
for args in "run" "run -c" "run --bogus -c $CFG" "run -c $CFG extra" "status -c $CFG --json=x" "nosuchcommand -c $CFG" ""; do
    rc=0
    # shellcheck disable=SC2086  # split on purpose
    timeout -k 5 30 "$SYNCLINE" $args >"$E2E_TMP/usage.out" 2>&1 </dev/null || rc=$?
    check_output "usage [$args]" "$rc" "$E2E_TMP/usage.out"
    assert_eq 2 "$rc" "usage [$args]: exit code"
done

echo "ok: $n table cases, fifo, process substitution, unreadable file and usage errors"
