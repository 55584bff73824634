#!/usr/bin/env bash
# Schema transforms and unchanged TOAST values. A target column fed by lower(big_text), where
# big_text holds a > 1 MB value, keeps its right value through UPDATEs of other columns (the
# source sends big_text as "unchanged"). An expression mixing big_text with a changed column
# (big_text || small) cannot be computed under REPLICA IDENTITY DEFAULT: the UPDATE stops
# syncline with the table, column and LSN and advice to set REPLICA IDENTITY FULL; with FULL it
# applies correctly.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"


# A deterministic 1.28 MB upper-case value, stored out of line (EXTERNAL: no compression).
big() { echo "(SELECT upper(string_agg(md5(i::text || '$1'), '' ORDER BY i)) FROM generate_series(1, 40000) i)"; }

# Source side: id, small, note and md5 of the mapped big column, one row per line.
src_docs() {
    src_sql "SELECT id || ' ' || small || ' ' || coalesce(note, '-') || ' ' || md5(lower(big_text))
               || ' ' || length(big_text) FROM docs ORDER BY id"
}
tgt_docs() {
    tgt_sql "SELECT id || ' ' || small || ' ' || coalesce(note, '-') || ' ' || md5(low)
               || ' ' || length(low) FROM docs ORDER BY id"
}
assert_docs() {
    local s t
    s=$(src_docs)
    t=$(tgt_docs)
    assert_eq "$s" "$t" "docs: $1"
}
src_mixed() { src_sql "SELECT id || ' ' || md5(big_text || small::text) FROM docs2 ORDER BY id"; }
tgt_mixed() { tgt_sql "SELECT id || ' ' || md5(mixed) FROM docs2 ORDER BY id"; }

e2e_setup e2e403

for t in docs docs2; do
    src_sql "CREATE TABLE $t (id int PRIMARY KEY, big_text text, small int, note text);
             ALTER TABLE $t ALTER COLUMN big_text SET STORAGE EXTERNAL"
done
tgt_sql "CREATE TABLE docs (id int PRIMARY KEY, low text, small int, note text);
         CREATE TABLE docs2 (id int PRIMARY KEY, mixed text, small int)"
write_config "$(config_json '"tables": [
  {"source": "public.docs", "columns": {"low": "lower(big_text)"}},
  {"source": "public.docs2", "columns": {"mixed": "big_text || small::text"}, "exclude": ["note"]}]')"

syncline_start --snapshot=never

src_sql "INSERT INTO docs VALUES (1, $(big a), 1, 'one'), (2, $(big b), 10, NULL);
         INSERT INTO docs2 VALUES (1, $(big c), 5, 'x')"
assert_eq 1280000 "$(src_sql "SELECT length(big_text) FROM docs WHERE id = 1")" "big value is 1.28 MB"
toast=$(src_sql "SELECT reltoastrelid::regclass FROM pg_class WHERE oid = 'docs'::regclass")
assert_eq t "$(src_sql "SELECT count(*) > 100 FROM $toast")" "the value lives in $toast"
wait_synced
assert_docs "after insert"
assert_eq "$(src_mixed)" "$(tgt_mixed)" "docs2: mixed value after insert"

# UPDATEs of other columns only: big_text travels as "unchanged TOAST".
for i in 1 2 3; do
    src_sql "UPDATE docs SET small = small + 1 WHERE id = 1"
    wait_synced
    assert_docs "after small update $i"
done
src_sql "BEGIN; UPDATE docs SET note = 'n' || small, small = small * 2; UPDATE docs SET note = NULL WHERE id = 1; COMMIT"
wait_synced
assert_docs "after a multi-row update of other columns"
src_sql "UPDATE docs SET id = 3 WHERE id = 2"
wait_synced
assert_docs "after a key change leaving big_text unchanged"
src_sql "UPDATE docs SET big_text = $(big d) WHERE id = 1"
wait_synced
assert_docs "after changing big_text itself"
src_sql "UPDATE docs SET small = -1 WHERE id = 1"
wait_synced
assert_docs "after a small update following the big change"

# docs2 mixes the unchanged big_text with the changed small: DEFAULT cannot supply big_text.
lsn_before=$(src_sql "SELECT pg_current_wal_lsn()")
src_sql "UPDATE docs2 SET small = 6 WHERE id = 1"
lsn_after=$(src_sql "SELECT pg_current_wal_lsn()")
syncline_wait_exit 30 "an uncomputable UPDATE"
((SYNCLINE_RC != 0)) || fail "syncline exited 0 on an uncomputable UPDATE"
echo "ok: syncline stopped with exit code $SYNCLINE_RC"
line=$(grep -F 'REPLICA IDENTITY FULL' "$E2E_TMP/syncline.log" | grep -F 'error' | head -n 1) ||
    fail "no error advising REPLICA IDENTITY FULL in the log"
echo "error line: $line"
[[ "$line" == *public.docs2* ]] || fail "the error does not name the table: $line"
[[ "$line" == *'"mixed"'* ]] || fail "the error does not name the target column: $line"
[[ "$line" == *big_text* ]] || fail "the error does not name the unchanged source column: $line"
# Names are quoted once, as everywhere else ("big_text"); checked at the end so the rest runs.
missing=""
[[ "$line" == *'source column "big_text" unchanged'* ]] ||
    missing="the error does not quote the source column as \"big_text\": $line"
lsn=$(sed -n 's/.*lsn=\([0-9A-Fa-f]*\/[0-9A-Fa-f]*\).*/\1/p' <<<"$line" | head -n 1)
[[ -n "$lsn" ]] || fail "the error names no LSN: $line"
assert_eq t "$(src_sql "SELECT '$lsn'::pg_lsn BETWEEN '$lsn_before' AND '$lsn_after'")" \
    "the error names the table, column and the UPDATE's lsn=$lsn"
assert_eq "$(src_sql "SELECT '1 ' || md5(big_text || '5') FROM docs2")" "$(tgt_mixed)" \
    "docs2 target row untouched by the failed UPDATE"

# Whether check warns about it ahead of time (reported, not asserted: see the report of issue 3).
crc=0
"$SYNCLINE" check -c "$CFG" >"$E2E_TMP/check.out" 2>&1 || crc=$?
echo "note: check under REPLICA IDENTITY DEFAULT exits $crc: $(tr '\n' ' ' <"$E2E_TMP/check.out")"

# The failed change was logged without the old value: setting FULL now cannot repair it. Start
# over from a fresh slot with FULL set, the way a user would after the advice.
"$SYNCLINE" drop -c "$CFG" >>"$E2E_TMP/syncline.log" 2>&1 || fail "syncline drop failed"
src_sql "DELETE FROM docs2; ALTER TABLE docs2 REPLICA IDENTITY FULL"
tgt_sql "DELETE FROM docs2"
src_sql "DELETE FROM docs"
tgt_sql "DELETE FROM docs"
out=$("$SYNCLINE" check -c "$CFG" 2>&1) || fail "check with REPLICA IDENTITY FULL: $out"
echo "ok: check is clean with REPLICA IDENTITY FULL"
syncline_start --snapshot=never
src_sql "INSERT INTO docs2 VALUES (1, $(big e), 1, 'x'), (2, $(big f), 100, 'y');
         INSERT INTO docs VALUES (1, $(big g), 1, 'one')"
wait_synced
assert_eq "$(src_mixed)" "$(tgt_mixed)" "docs2 (FULL): after insert"
for i in 1 2 3; do
    src_sql "UPDATE docs2 SET small = small + $i"
    wait_synced
    assert_eq "$(src_mixed)" "$(tgt_mixed)" "docs2 (FULL): after small update $i"
done
src_sql "UPDATE docs2 SET note = 'z' WHERE id = 2"
wait_synced
assert_eq "$(src_mixed)" "$(tgt_mixed)" "docs2 (FULL): after an update of the excluded column"
src_sql "UPDATE docs SET small = 7"
wait_synced
assert_docs "docs still right after the restart"
src_sql "DELETE FROM docs2 WHERE id = 1"
wait_synced
assert_eq "$(src_mixed)" "$(tgt_mixed)" "docs2 (FULL): after delete"
syncline_stop

[[ -z "$missing" ]] || fail "$missing"
