#!/usr/bin/env bash
# A run of inserts into one table in a target transaction goes as one COPY FROM STDIN
# (connectors/pg/pg_target_copy.c, issue 18 goal 4), not as multi-row INSERT statements. What
# must not change by that:
#   1. values: text with tabs, newlines, carriage returns, backslashes, a literal \N and \.,
#      empty strings against NULLs, non-ASCII text, bytea, arrays, jsonb, numeric and varchar
#      with typmods, timestamps; into a plain table, a partitioned one, one with a GENERATED
#      ALWAYS identity column and one with a column the source does not have (its default);
#      (p's rows come ordered by partition: pgoutput describes the root again before the first
#      row of each partition, and a Relation message ends a run of collapsed rows)
#   2. a row the target refuses (a target-only CHECK) in the middle of a run: nothing of its
#      source transaction commits, progress stays before it, the error names table, key and
#      LSN of that row, a restart stops the same way, and once the target is fixed run converges;
#   3. fewer than 64 inserts and a table with rules keep the INSERT path (rows_copied in the
#      "stopped" line counts what went by COPY);
#   4. with apply.binary the values go by COPY BINARY, and a refused row is named the same way.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t029
APPLY='"batch_rows": 100000, "batch_ms": 2000'
write_config "$(config_json "\"apply\": {$APPLY}")"
both_sql "
CREATE TABLE w (id int PRIMARY KEY, t text, e text, n numeric(8,2), v varchar(12), a int[],
                j jsonb, b bytea, ts timestamptz, f float8);
CREATE TABLE p (id int, k int, v text, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (50);
CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (50) TO (100);
CREATE TABLE idn (id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
CREATE TABLE chk (id int PRIMARY KEY, v int);
CREATE TABLE few (id int PRIMARY KEY, v text);
CREATE TABLE ruled (id int PRIMARY KEY, v text);
CREATE TABLE ruled_log (id int);"
src_sql "CREATE TABLE extra (id int PRIMARY KEY, v text)"
tgt_sql "CREATE TABLE extra (id int PRIMARY KEY, v text, added text NOT NULL DEFAULT 'd');
         ALTER TABLE idn ALTER COLUMN id RESTART WITH 100000;
         CREATE RULE ruled_log AS ON INSERT TO ruled DO ALSO INSERT INTO ruled_log VALUES (NEW.id);
         ALTER TABLE ruled ENABLE ALWAYS RULE ruled_log;"

stop_copied() { # rows_copied of the last "stopped" line
    grep -E 'stopped applied_lsn=' "$E2E_TMP/syncline.log" | tail -n 1 |
        sed -nE 's/.* rows_copied=([0-9]+).*/\1/p'
}

# ---------------------------------------------------------------- 1: values
syncline_start
src_sql "BEGIN;
INSERT INTO w SELECT g,
    CASE g % 9 WHEN 0 THEN E'tab\\there' WHEN 1 THEN E'line\\nbreak\\r\\nend' WHEN 2 THEN E'back\\\\slash \\\\N'
               WHEN 3 THEN '\\N' WHEN 4 THEN '\\.' WHEN 5 THEN '' WHEN 6 THEN NULL WHEN 7 THEN 'żółw 🐢 ✓'
               ELSE repeat('x', g) END,
    CASE WHEN g % 2 = 0 THEN '' END,
    g * 1.255, 'v' || g, ARRAY[g, -g, NULL], jsonb_build_object('k', E'a\\tb\\\\c', 'g', g),
    decode(md5(g::text) || '5c0a09', 'hex'), '2024-02-29 12:34:56.789+01'::timestamptz + g * interval '1 day',
    CASE WHEN g % 10 = 0 THEN 'NaN'::float8 ELSE g / 3.0 END
  FROM generate_series(1, 500) g;
INSERT INTO p SELECT g, g % 100, 'p' || g FROM generate_series(1, 300) g ORDER BY g % 100;
INSERT INTO idn (v) SELECT 'i' || g FROM generate_series(1, 200) g;
INSERT INTO extra SELECT g, 'x' || g FROM generate_series(1, 100) g;
COMMIT;"
wait_synced 60
for t in w p idn; do assert_same $t; done
assert_query_same "SELECT id, v, 'd'::text AS added FROM extra" extra \
    "extra: the source's rows, the target-only column at its default"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM idn WHERE id >= 100000")" \
    "idn: the source's identity values, none generated on the target"
assert_eq "p2|150" "$(tgt_sql "SELECT tableoid::regclass, count(*) FROM p WHERE k >= 50 GROUP BY 1")" \
    "p: rows routed to their partitions"
syncline_stop
copied=$(stop_copied)
assert_eq "1100" "$copied" "rows_copied: w, p, idn and extra went by COPY"

# ---------------------------------------------------------------- 2: a refused row in a run
tgt_sql "ALTER TABLE chk ADD CONSTRAINT not_137 CHECK (v <> 137)"
src_sql "INSERT INTO chk SELECT g, g FROM generate_series(1, 100) g"
mid=$(src_sql "SELECT pg_current_wal_lsn()")
src_sql "BEGIN;
INSERT INTO chk SELECT g, g FROM generate_series(101, 300) g;
INSERT INTO few VALUES (1, 'same transaction');
COMMIT;"
for label in refused refused_again; do
    e2e_run_fg "$label"
    assert_eq 1 "$RUN_RC" "$label: exit code"
    assert_contains "$E2E_TMP/$label.err" "not_137" "$label: the server's message"
    assert_contains "$E2E_TMP/$label.err" "public.chk" "$label: the error names the table"
    assert_contains "$E2E_TMP/$label.err" "(id)=(137)" "$label: the error names the refused row's key"
    assert_contains "$E2E_TMP/$label.err" "lsn=" "$label: the error names the LSN"
    assert_eq 0 "$(tgt_sql "SELECT count(*) FROM chk WHERE id > 100")" \
        "$label: nothing of the failed transaction is on the target"
    assert_eq 0 "$(tgt_sql "SELECT count(*) FROM few")" "$label: nor its other table's row"
    applied=$(_e2e_applied_lsn)
    [[ "$(src_sql "SELECT '$applied'::pg_lsn <= '$mid'::pg_lsn")" == t ]] ||
        fail "$label: progress $applied passed the failing transaction (after $mid)"
done
tgt_sql "ALTER TABLE chk DROP CONSTRAINT not_137"
syncline_start
wait_synced 60
for t in chk few; do assert_same $t; done
syncline_stop

# ---------------------------------------------------------------- 3: the INSERT path stays
syncline_start
src_sql "INSERT INTO few SELECT g, 'f' || g FROM generate_series(2, 60) g"
src_sql "INSERT INTO ruled SELECT g, 'r' || g FROM generate_series(1, 100) g"
wait_synced 60
for t in few ruled; do assert_same $t; done
assert_eq "100" "$(tgt_sql "SELECT count(*) FROM ruled_log")" \
    "ruled: the target's ENABLE ALWAYS rule ran for every row, as before (INSERT, not COPY)"
syncline_stop
assert_eq "0" "$(stop_copied)" "rows_copied: 59 inserts and a table with rules are not copied"

# ---------------------------------------------------------------- 4: apply.binary: COPY BINARY
# pgoutput sends each value as its type's send function wrote it: COPY's binary format takes
# them as they are, through the same receive functions a binary parameter goes through.
write_config "$(config_json "\"apply\": {$APPLY, \"binary\": true}")"
syncline_start
src_sql "INSERT INTO w SELECT g, CASE WHEN g % 3 = 0 THEN NULL ELSE E'bin\\t' || g END, '',
           g * 1.255, 'b' || g, ARRAY[g, NULL], jsonb_build_object('g', g), decode('5c000a', 'hex'),
           '2024-02-29 12:34:56.789+01'::timestamptz - g * interval '1 hour', -g / 7.0
           FROM generate_series(1001, 1200) g"
src_sql "INSERT INTO idn (v) SELECT 'b' || g FROM generate_series(1, 100) g"
wait_synced 60
for t in w idn; do assert_same $t; done
syncline_stop
assert_eq "300" "$(stop_copied)" "rows_copied: binary values go by COPY BINARY"
tgt_sql "ALTER TABLE chk ADD CONSTRAINT not_1337 CHECK (v <> 1337)"
src_sql "INSERT INTO chk SELECT g, g FROM generate_series(1301, 1400) g"
e2e_run_fg refused_binary
assert_eq 1 "$RUN_RC" "refused_binary: exit code"
assert_contains "$E2E_TMP/refused_binary.err" "public.chk" "refused_binary: the error names the table"
assert_contains "$E2E_TMP/refused_binary.err" "(id)=(1337)" \
    "refused_binary: the error names the refused row's key, read back from its binary value"
assert_contains "$E2E_TMP/refused_binary.err" "row 37 of 100 in one COPY" "refused_binary: the refused row"
assert_contains "$E2E_TMP/refused_binary.err" "lsn=" "refused_binary: the error names the LSN"
assert_eq 0 "$(tgt_sql "SELECT count(*) FROM chk WHERE id > 1300")" \
    "refused_binary: nothing of the failed transaction is on the target"
