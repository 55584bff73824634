#!/usr/bin/env bash
# Encodings (issue 15, class 4): a UTF8 source and a LATIN1 target. Text representable in
# Latin-1 (in the rows and in a column name) arrives as the same characters, in the copy and in
# the stream, checked byte for byte by converting both sides to LATIN1. A character LATIN1
# cannot hold ('€') stops syncline with an error naming the table, the key and the LSN, in the
# stream and in the copy, and nothing past it is applied.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t606

# The target database in LATIN1 (template0: the template's encoding must not matter).
e2e_recreate_db tgt LATIN1
assert_eq UTF8 "$(src_sql "SHOW server_encoding")" "source database encoding"

# psql itself talks UTF-8 to both (the literals below are UTF-8); syncline gets no hint.
u8_src "CREATE TABLE texts (id int PRIMARY KEY, \"año\" text, note varchar(40))"
u8_tgt "CREATE TABLE texts (id int PRIMARY KEY, \"año\" text, note varchar(40))"
u8_src "INSERT INTO texts VALUES (1, 'café', 'Ñandú'), (2, 'Straße ×÷ ¿¡ «»', 'ÿ þ ð æ ø å'),
        (3, 'plain ascii', NULL)"

syncline_start # copies rows 1-3, then streams
u8_src "INSERT INTO texts VALUES (4, 'crème brûlée', 'à la carte'), (5, '½ ¼ ¾ ° ± µ ¶', 'Ü')"
u8_src "UPDATE texts SET note = 'señor' WHERE id = 1"
wait_synced

# The same characters on both sides: the LATIN1 bytes of the source's text equal the target's.
q="SELECT id, encode(convert_to(coalesce(\"año\", '') || '|' || coalesce(note, ''), 'LATIN1'), 'hex')
   FROM texts ORDER BY id"
src_rows=$(u8_src "$q")
tgt_rows=$(u8_tgt "$q")
assert_eq "$src_rows" "$tgt_rows" "LATIN1 bytes of every row (copy and stream)"
assert_eq "Straße ×÷ ¿¡ «»" "$(u8_tgt "SELECT \"año\" FROM texts WHERE id = 2")" \
    "target text read back as UTF-8"
assert_eq "7365f16f72" "$(u8_tgt "SELECT encode(convert_to(note, 'LATIN1'), 'hex') FROM texts WHERE id = 1")" \
    "'señor' is 0xf1 for ñ in the LATIN1 target (no mojibake)"

# ---- streaming: '€' has no LATIN1 byte: stop with table, key and LSN; nothing of it applied
u8_src "BEGIN; INSERT INTO texts VALUES (6, 'fine', 'in the same transaction');
        INSERT INTO texts VALUES (7, 'price 5 €', 'not representable'); COMMIT;"
syncline_wait_exit 60 "a character the target encoding cannot hold"
assert_eq 1 "$SYNCLINE_RC" "exit code of run on an untranslatable character"
log=$E2E_TMP/syncline.log
assert_contains "$log" "public.texts" "the error names the table"
assert_contains "$log" "(id)=(7)" "the error names the key"
assert_contains "$log" "lsn=" "the error names the LSN"
assert_contains "$log" "LATIN1" "the error names the target encoding"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM texts WHERE id IN (6, 7)")" \
    "no row of the failed transaction is applied"

# ---- copy: the same row stops a fresh copy with the table named
u8_src "DELETE FROM texts WHERE id = 6"
"$SYNCLINE" drop -c "$CFG" >"$E2E_TMP/drop.log" 2>&1 || fail "drop failed: $(cat "$E2E_TMP/drop.log")"
tgt_sql "TRUNCATE texts"
rc=0
timeout -k 5 120 "$SYNCLINE" run -c "$CFG" >"$E2E_TMP/copy.log" 2>&1 </dev/null || rc=$?
cat "$E2E_TMP/copy.log"
assert_eq 1 "$rc" "exit code of a copy meeting an untranslatable character"
assert_contains "$E2E_TMP/copy.log" "public.texts" "the copy error names the table"
assert_contains "$E2E_TMP/copy.log" "(id)=(7)" "the copy error names the key"
assert_contains "$E2E_TMP/copy.log" "lsn=" "the copy error names the LSN of the snapshot"
assert_contains "$E2E_TMP/copy.log" "LATIN1" "the copy error names the target encoding"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM texts")" "the failed copy left no row behind"
