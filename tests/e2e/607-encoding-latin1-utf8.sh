#!/usr/bin/env bash
# Encodings (issue 15, class 4): a LATIN1 source and a UTF8 target. Every Latin-1 character
# (0xA0-0xFF) in the rows and a column name arrives as the same character, in the copy (text and
# binary COPY) and in the stream, checked byte for byte as UTF-8 on both sides; verify agrees.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t607

e2e_recreate_db src LATIN1
assert_eq UTF8 "$(tgt_sql "SHOW server_encoding")" "target database encoding"

# "año" text: binary COPY (same types); "señal" varchar vs text on the target: text COPY
u8_src "CREATE TABLE texts (id int PRIMARY KEY, \"año\" text);
        CREATE TABLE mixed (id int PRIMARY KEY, \"señal\" varchar(200))"
u8_tgt "CREATE TABLE texts (id int PRIMARY KEY, \"año\" text);
        CREATE TABLE mixed (id int PRIMARY KEY, \"señal\" text)"
# all of Latin-1's upper half, written through the source's own encoding
u8_src "INSERT INTO texts SELECT c, chr(c) || ' ' || repeat(chr(c), 3) FROM generate_series(160, 255) c;
        INSERT INTO mixed SELECT c, 'x' || chr(c) FROM generate_series(160, 255) c"
u8_src "INSERT INTO texts VALUES (1, 'café Ñandú Straße')"

syncline_start # copies
u8_src "INSERT INTO texts SELECT c + 1000, chr(c) FROM generate_series(160, 255) c;
        UPDATE mixed SET \"señal\" = \"señal\" || chr(id) WHERE id % 2 = 0"
u8_src "INSERT INTO mixed VALUES (1, 'crème brûlée')"
wait_synced

for t in texts mixed; do
    q="SELECT id, encode(convert_to(t::text, 'UTF8'), 'hex') FROM $t t ORDER BY id"
    assert_eq "$(u8_src "$q")" "$(u8_tgt "$q")" "$t: UTF-8 bytes of every row (copy and stream)"
done
assert_eq "café Ñandú Straße" "$(u8_tgt "SELECT \"año\" FROM texts WHERE id = 1")" "read back as UTF-8"
assert_eq "c3a9" "$(tgt_sql "SELECT encode(convert_to(\"año\", 'UTF8'), 'hex') FROM texts WHERE id = 1233")" \
    "é (0xE9 in LATIN1) is stored as UTF-8 c3a9 on the target"

# verify compares the same characters, not the servers' differing bytes
rc=0
"$SYNCLINE" verify -c "$CFG" >"$E2E_TMP/verify.out" 2>&1 || rc=$?
cat "$E2E_TMP/verify.out"
assert_eq 0 "$rc" "verify (checksum) across encodings"

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
