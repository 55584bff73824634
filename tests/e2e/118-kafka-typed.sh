#!/usr/bin/env bash
# Kafka transport, Avro and JSON: the typed row lookup and column-less tables of 017 and 018
# through capture -> Kafka -> apply: a composite-typed primary key (update, key change, delete),
# a REPLICA IDENTITY FULL table with boolean, inet and char(n) updated and deleted, and a table
# without columns (inserts, a FULL delete, TRUNCATE).
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_typed avro none
both_sql "
CREATE TYPE pair AS (x int, y text);
CREATE TABLE t_comp (k pair PRIMARY KEY, v text);
CREATE TABLE t_fullt (id int, b boolean, i inet, c char(6), v text);
CREATE TABLE t_none ();"
src_sql "ALTER TABLE t_fullt REPLICA IDENTITY FULL; ALTER TABLE t_none REPLICA IDENTITY FULL"

changes() { # round
    src_sql "INSERT INTO t_comp SELECT ROW(g, 'y' || g)::pair, 'v' || g FROM generate_series($1 * 10, $1 * 10 + 5) g"
    src_sql "BEGIN;
    UPDATE t_comp SET v = 'changed' WHERE (k).x = $1 * 10;
    UPDATE t_comp SET k = ROW(-(k).x, 'moved')::pair WHERE (k).x = $1 * 10 + 1;
    DELETE FROM t_comp WHERE (k).x = $1 * 10 + 2;
    COMMIT;"
    src_sql "INSERT INTO t_fullt VALUES ($1, false, '10.0.0.1', 'ab', 'one'), ($1, true, '10.0.0.0/8', '', 'two')"
    src_sql "UPDATE t_fullt SET v = 'one, updated' WHERE id = $1 AND v = 'one'"
    src_sql "DELETE FROM t_fullt WHERE id = $1 AND v = 'two'"
    src_sql "INSERT INTO t_none SELECT FROM generate_series(1, 3); INSERT INTO t_none DEFAULT VALUES"
    src_sql "DELETE FROM t_none WHERE ctid = (SELECT min(ctid) FROM t_none)"
}

for format in avro json; do
    kafka_config "$format" none
    capture_start
    apply_start
    changes "$([[ $format == avro ]] && echo 1 || echo 2)"
    wait_same 60 t_comp t_fullt t_none
    src_sql "TRUNCATE t_none"
    src_sql "INSERT INTO t_none DEFAULT VALUES"
    wait_same 60 t_comp t_fullt t_none
    assert_eq "1" "$(tgt_sql "SELECT count(*) FROM t_none")" "$format: t_none after TRUNCATE and an insert"
    capture_stop
    apply_stop
done
