#!/usr/bin/env bash
# A staged large value the target cannot take (issue 18, goal 6): a UTF8 source and a LATIN1
# target, apply.large_value_mb = 1. A 2 MB value with LATIN1 characters arrives byte for byte
# through the staging COPY; one with '€' (no LATIN1 byte) fails inside the COPY itself: run
# stops (exit 1) naming table, column, key and LSN and the encoding, and nothing of its source
# transaction (a small row before it) is on the target; progress stays before it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t017
e2e_recreate_db tgt LATIN1
write_config "$(config_json '"apply": {"large_value_mb": 1}')"
u8_src "CREATE TABLE texts (id int PRIMARY KEY, v text)"
u8_tgt "CREATE TABLE texts (id int PRIMARY KEY, v text)"

syncline_start
u8_src "INSERT INTO texts VALUES (1, repeat(E'señor Ñandú ½\\t\\\\ ', 120000))"
wait_synced
q="SELECT md5(convert_to(v, 'LATIN1')) || ':' || length(v) FROM texts WHERE id = 1"
assert_eq "$(u8_src "$q")" "$(u8_tgt "$q")" "the large LATIN1-representable value, byte for byte"
assert_contains "$E2E_TMP/syncline.log" "large values staged" "the value went through the staging COPY"

before=$(_e2e_applied_lsn)
u8_src "BEGIN; INSERT INTO texts VALUES (2, 'small, in the same transaction');
        INSERT INTO texts VALUES (3, repeat('price 5 € ', 200000)); COMMIT;"
syncline_wait_exit 60 "a large value the target encoding cannot hold"
assert_eq 1 "$SYNCLINE_RC" "exit code of run on an untranslatable large value"
log=$E2E_TMP/syncline.log
line=$(grep -F "staging the large values" "$log" | tail -n 1)
echo "reported: ${line:0:400}"
assert_contains "$log" 'public.texts (column "v"' "the error names table and column"
assert_contains "$log" "key=(id)=(3)" "the error names the key"
assert_contains "$log" "lsn=" "the error names the LSN"
assert_contains "$log" "LATIN1" "the error names the target encoding"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM texts WHERE id IN (2, 3)")" \
    "no row of the failed transaction is applied"
assert_eq "$before" "$(_e2e_applied_lsn)" "progress unchanged"
