#!/usr/bin/env bash
# What differs per PostgreSQL major (docs/versions.md), on the source major of the run
# (SRC_PG_MAJOR, tests/run.sh --matrix): apply.binary before 14 is a problem `check` names with the
# version and `run` refuses (exit 3), from 14 it streams. On 12 (no publish_via_partition_root)
# a partitioned table is published as its leaves and its rows reach the table's target under
# another name: `check` warns; inserts into the root and into a leaf, an update that moves a row
# across partitions and a TRUNCATE of the root arrive; a partition attached later (not in the
# publication, which lists the leaves) makes `run` refuse to start, naming table and remedy, and
# one attached while it streams stops it within seconds (exit 5) instead of missing rows; a
# TRUNCATE of one partition stops apply with an error naming table and LSN, and nothing of its
# transaction is applied.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t014

both_sql "CREATE TABLE plain (id int PRIMARY KEY, v text);
CREATE TABLE meas (id int, day date, v text, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE TABLE meas_2020 PARTITION OF meas FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE meas_2021 PARTITION OF meas FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');"
tgt_sql "CREATE TABLE meas_moved (id int, day date, v text, PRIMARY KEY (id, day));"

# --- 1. apply.binary: pgoutput's binary option exists from 14.
write_config "$(config_json '"apply": {"binary": true}')"
rc=0
"$SYNCLINE" check -c "$CFG" >"$E2E_TMP/check-binary.out" 2>&1 || rc=$?
if ((SRC_PG_MAJOR < 14)); then
    assert_eq 6 "$rc" "check with apply.binary on PostgreSQL $SRC_PG_MAJOR: exit 6"
    assert_contains "$E2E_TMP/check-binary.out" \
        "problem: apply.binary: the source is PostgreSQL $SRC_PG_MAJOR, whose pgoutput has no binary option" \
        "check names the setting and the source's major"
    rc=0
    "$SYNCLINE" run -c "$CFG" >"$E2E_TMP/run-binary.out" 2>&1 || rc=$?
    assert_eq 3 "$rc" "run with apply.binary on PostgreSQL $SRC_PG_MAJOR: exit 3 (configuration)"
    assert_contains "$E2E_TMP/run-binary.out" "apply.binary: the source is PostgreSQL $SRC_PG_MAJOR" \
        "run says why"
else
    assert_eq 0 "$rc" "check with apply.binary on PostgreSQL $SRC_PG_MAJOR: exit 0"
    syncline_start
    src_sql "INSERT INTO plain VALUES (1, 'binary'), (2, NULL)"
    wait_synced
    assert_same plain
    syncline_stop
fi
"$SYNCLINE" drop -c "$CFG" >/dev/null 2>&1
tgt_sql "DROP SCHEMA IF EXISTS syncline CASCADE; TRUNCATE plain;"
src_sql "TRUNCATE plain"

if ((SRC_PG_MAJOR >= 13)); then
    echo "ok: PostgreSQL $SRC_PG_MAJOR publishes partitioned tables through their root; the rest is for 12"
    exit 0
fi

# --- 2. PostgreSQL 12: leaves published, rows routed to the root's target (here renamed).
write_config "$(config_json '"tables": [{"source": "public.plain", "target": "public.plain"},
    {"source": "public.meas", "target": "public.meas_moved"}]')"
rc=0
"$SYNCLINE" check -c "$CFG" >"$E2E_TMP/check-12.out" 2>&1 || rc=$?
assert_eq 0 "$rc" "check on a 12 source with a partitioned table: exit 0"
assert_contains "$E2E_TMP/check-12.out" \
    "warning: public.meas: the source is PostgreSQL 12, which publishes the partitions" \
    "check warns about partitioned tables on 12"

src_sql "INSERT INTO meas VALUES (1, '2020-05-01', 'copied')"
syncline_start
assert_eq "meas_2020,meas_2021,plain" \
    "$(src_sql "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_publication_tables WHERE pubname = 'syncline_t014'")" \
    "the publication holds the leaves of meas"
src_sql "INSERT INTO meas VALUES (2, '2020-06-01', 'via root'), (3, '2021-06-01', 'via root')"
src_sql "INSERT INTO meas_2021 VALUES (4, '2021-07-01', 'into a leaf')"
src_sql "UPDATE meas SET day = '2021-02-02', v = 'moved across' WHERE id = 2"
src_sql "UPDATE meas SET v = 'updated in place' WHERE id = 3"
src_sql "DELETE FROM meas WHERE id = 4"
wait_synced
assert_query_same "SELECT * FROM meas" meas_moved "rows of both leaves in the root's target"

src_sql "BEGIN; TRUNCATE meas; INSERT INTO meas VALUES (5, '2020-01-05', 'after truncate'); COMMIT;"
wait_synced
assert_query_same "SELECT * FROM meas" meas_moved "TRUNCATE of the root empties the target once"

# A partition attached while syncline is stopped is not in the publication (it lists leaves).
syncline_stop
src_sql "CREATE TABLE meas_2022 PARTITION OF meas FOR VALUES FROM ('2022-01-01') TO ('2023-01-01')"
rc=0
timeout 60 "$SYNCLINE" run -c "$CFG" >"$E2E_TMP/run-partial.out" 2>&1 || rc=$?
assert_eq 5 "$rc" "run with a partition missing from the publication: exit 5"
assert_contains "$E2E_TMP/run-partial.out" \
    "not every leaf of its partitioned table public.meas (1 missing)" "run names the table"
assert_contains "$E2E_TMP/run-partial.out" "ALTER PUBLICATION" "and the remedy"
src_sql "ALTER PUBLICATION syncline_t014 ADD TABLE meas_2022"
syncline_start
src_sql "INSERT INTO meas VALUES (6, '2022-03-03', 'new partition')"
wait_synced
assert_query_same "SELECT * FROM meas" meas_moved "rows of the added partition arrive"

# A partition attached while syncline streams is not published either: syncline notices within
# seconds and stops (exit 5) rather than miss its rows silently.
src_sql "CREATE TABLE meas_2023 PARTITION OF meas FOR VALUES FROM ('2023-01-01') TO ('2024-01-01')"
syncline_wait_exit 30 "a partition attached while streaming"
assert_eq 5 "$SYNCLINE_RC" "syncline exit code after a partition was attached while streaming"
assert_contains "$E2E_TMP/syncline.log" \
    "not every leaf of its partitioned table public.meas (1 missing)" "the error names the table"
src_sql "ALTER PUBLICATION syncline_t014 ADD TABLE meas_2023"
syncline_start
src_sql "INSERT INTO meas VALUES (7, '2023-03-03', 'attached while streaming')"
wait_synced
assert_query_same "SELECT * FROM meas" meas_moved "rows of the partition attached while streaming arrive"

# A TRUNCATE of one partition cannot be applied to the target's table: apply stops, and none of
# its transaction is applied.
src_sql "BEGIN; INSERT INTO plain VALUES (10, 'same transaction'); TRUNCATE meas_2020; COMMIT;"
syncline_wait_exit 30 "a TRUNCATE of one partition"
assert_eq 1 "$SYNCLINE_RC" "syncline exit code after a TRUNCATE of one partition"
assert_contains "$E2E_TMP/syncline.log" "TRUNCATE of 1 of the 4 partitions of public.meas (lsn=" \
    "the error names the table and the LSN"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM plain WHERE id = 10")" \
    "nothing of the failed transaction is on the target"
assert_eq "1" "$(tgt_sql "SELECT count(*) FROM meas_moved WHERE day < '2021-01-01'")" \
    "the partition's rows are still on the target"

# --- 3. PostgreSQL 12, no tables list (FOR ALL TABLES): a partition attached while streaming is
# published at once; its rows, too, reach the root's target.
# t014 is done: drop it, which also frees its claim on the target tables (syncline.claims)
"$SYNCLINE" drop -c "$CFG" >/dev/null 2>&1
write_config "$(config_json | sed 's/"name": "t014"/"name": "t014all"/')"
tgt_sql "TRUNCATE meas, plain; CREATE TABLE meas_rest PARTITION OF meas DEFAULT;"
syncline_start
src_sql "CREATE TABLE meas_2024 PARTITION OF meas FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
src_sql "INSERT INTO meas VALUES (8, '2024-04-04', 'attached, all tables'), (9, '2020-09-09', 'old')"
wait_synced
assert_same meas
assert_eq "1" "$(tgt_sql "SELECT count(*) FROM meas_rest WHERE id = 8")" \
    "the new partition's row is in the target's table"
