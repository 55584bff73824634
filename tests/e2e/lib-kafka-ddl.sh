# shellcheck shell=bash
# DDL through Kafka (issue 19), shared by 115 (JSON), 116 (Avro single-object) and 122 (Avro with
# a Schema Registry: KAFKA_DDL_REGISTRY=1): kafka_ddl_scenario FORMAT.
# An application deploy under pgbench through capture -> Kafka -> apply: ADD COLUMN with a
# default and NOT NULL, RENAME COLUMN, CREATE TABLE and rows into it, a migration string with
# rows between its statements, a column added to a pgbench table under load, then CREATE INDEX,
# a widened type, a foreign key and DROP COLUMN under load. apply is killed
# (SIGKILL) right after a DDL reached the target and DDL goes on while it is down; the restarted
# apply applies each DDL once (ten LSNs applied, none "has it already"), and a replay
# --from-beginning applies none again. The target's rows, columns, indexes and constraints equal
# the source's.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-kafka.sh"

_kafka_ddl_columns="SELECT string_agg(format('%s.%s %s %s %s', c.relname, a.attname,
    format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)), E'\n'
    ORDER BY c.relname, a.attnum)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0
   AND NOT a.attisdropped"

_kafka_ddl_indexes="SELECT string_agg(d, E'\n' ORDER BY d) FROM (
    SELECT indexdef AS d FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace) x"

_kafka_ddl_has_column() { # TABLE COLUMN
    [[ "$(tgt_sql "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.$1'::regclass
                     AND attname = '$2' AND NOT attisdropped")" == 1 ]]
}

kafka_ddl_scenario() { # FORMAT
    local fmt=$1
    e2e_need_major src 14 "DDL following needs logical messages in pgoutput (14)"
    kafka_e2e_setup "kafka_ddl_$fmt${KAFKA_DDL_REGISTRY:+_sr}" "$fmt" none
    if [[ -n "${KAFKA_DDL_REGISTRY:-}" ]]; then # Confluent wire format, schemas in a registry
        registry_start
        kafka_config "$fmt" none "\"schema_registry\": \"$SR_URL\""
    fi
    pgbench_schema
    both_sql "CREATE TABLE orders (id int PRIMARY KEY, amount int)"
    both_sql "INSERT INTO orders SELECT g, g * 10 FROM generate_series(1, 100) g"
    capture_start
    apply_start 1
    pgbench_load 1
    pgbench_start -n -c 2 -T 40 -R 50

    src_sql "INSERT INTO orders VALUES (101, 1010)"
    src_sql "ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new'"
    src_sql "INSERT INTO orders (id, amount, status) VALUES (102, 1020, 'paid')"
    src_sql "ALTER TABLE orders RENAME COLUMN amount TO total"
    src_sql "UPDATE orders SET total = total + 1 WHERE id <= 20"
    src_sql "ALTER TABLE pgbench_history ADD COLUMN note text DEFAULT 'h'"
    # apply killed right after a DDL reached the target; more DDL while it is down
    wait_until 60 _kafka_ddl_has_column orders total
    apply_kill 1
    src_sql "CREATE TABLE shipments (id serial PRIMARY KEY, order_id int NOT NULL, note text)"
    src_sql "INSERT INTO shipments (order_id, note) SELECT g, 'ship ' || g FROM generate_series(1, 30) g"
    src_psql -c "BEGIN; INSERT INTO orders (id, total) VALUES (200, 2); ALTER TABLE orders ADD COLUMN region text DEFAULT 'us'; INSERT INTO orders (id, total, region) VALUES (201, 3, 'eu'); ALTER TABLE shipments RENAME COLUMN note TO label; INSERT INTO shipments (order_id, label) VALUES (201, 'x'); COMMIT;" \
        >"$E2E_TMP/multi.out" 2>&1 || fail "the migration string failed: $(cat "$E2E_TMP/multi.out")"
    apply_start 2
    # the rest of the deploy, with apply running: an index, a widened type, a foreign key, a
    # dropped column (on a pgbench table under load), and a row only the wider type holds
    src_sql "CREATE INDEX orders_status_idx ON orders (status)"
    src_sql "ALTER TABLE orders ALTER COLUMN total TYPE bigint"
    src_sql "ALTER TABLE shipments ADD CONSTRAINT shipments_order_fk FOREIGN KEY (order_id) REFERENCES orders (id)"
    src_sql "ALTER TABLE pgbench_history DROP COLUMN note"
    src_sql "INSERT INTO orders (id, total, status) VALUES (300, 3000000000, 'big')"
    wait_until 60 bash -c "! kill -0 $PGBENCH_PID 2>/dev/null"
    pgbench_stop
    wait_same 120 orders shipments "${PGBENCH_TABLES[@]}"
    apply_running 2 || fail "apply stopped: $(tail -n 20 "$E2E_TMP/apply.2.log")"

    local t s
    for t in orders shipments "${PGBENCH_TABLES[@]}"; do assert_same "$t"; done
    s=$(src_sql "$_kafka_ddl_columns")
    [[ "$s" == "$(tgt_sql "$_kafka_ddl_columns")" ]] || {
        diff <(echo "$s") <(tgt_sql "$_kafka_ddl_columns") || true
        fail "the target's columns differ from the source's"
    }
    s=$(src_sql "$_kafka_ddl_indexes")
    [[ "$s" == "$(tgt_sql "$_kafka_ddl_indexes")" ]] || {
        diff <(echo "$s") <(tgt_sql "$_kafka_ddl_indexes") || true
        fail "the target's indexes or constraints differ from the source's"
    }
    assert_eq "paid|1020|us" "$(tgt_sql "SELECT status || '|' || total || '|' || region FROM orders WHERE id = 102")" \
        "a row after the ADD COLUMN, the RENAME and the default"
    assert_eq "new|eu" "$(tgt_sql "SELECT status || '|' || region FROM orders WHERE id = 201")" \
        "a row between the statements of the migration string"

    # each DDL applied exactly once across the kill: ten LSNs, and none found on the target
    # already (a DDL logged in a target transaction the kill rolled back is logged again when
    # it is applied after the restart: a line per LSN is not the measure)
    cat "$E2E_TMP"/apply.[12].log >"$E2E_TMP/applies.log"
    assert_eq 10 "$(grep -o 'ddl applied lsn=[0-9A-F/]*' "$E2E_TMP/applies.log" | sort -u | wc -l)" \
        "ten DDL commands applied (add, rename, add on pgbench_history, create, add, rename, index, type, foreign key, drop)"
    ! grep -q "has it already" "$E2E_TMP/applies.log" || fail "a DDL was applied twice: $(grep 'has it already' "$E2E_TMP/applies.log")"
    grep -q "not followed" "$E2E_TMP/capture.log" && fail "capture did not carry a DDL: $(grep 'not followed' "$E2E_TMP/capture.log")"

    if [[ -n "${KAFKA_DDL_REGISTRY:-}" ]]; then
        registry_get subjects | grep -qF "\"$TOPIC-syncline.Ddl\"" ||
            fail "no subject $TOPIC-syncline.Ddl in the registry: $(registry_get subjects)"
    fi

    # a replay of the whole topic applies nothing twice
    apply_stop 2
    apply_start 3 --from-beginning
    sleep 5
    apply_running 3 || fail "the replay stopped: $(tail -n 20 "$E2E_TMP/apply.3.log")"
    apply_stop 3
    ! grep -q "ddl applied\|has it already" "$E2E_TMP/apply.3.log" || fail "the replay applied DDL again"
    for t in orders shipments "${PGBENCH_TABLES[@]}"; do assert_same "$t"; done
    capture_stop
    kafka_ddl_forged "$fmt"
}

# A DDL event written into the topic by someone without the signing key (a DROP TABLE under a
# made-up signature, after everything capture sent) stops apply, exit 6, naming its LSN; the
# target keeps the table.
kafka_ddl_forged() {
    local body content msg
    body='{"tag": "DROP TABLE", "query": "DROP TABLE orders", "ordinal": 1, "search_path": "public", "xid": "1", "objects": []}'
    content="$(printf '0%.0s' {1..64})$body"
    msg=$(jq -cn --arg c "$content" '{before: null, after: null, source: {version: "x",
        connector: "postgresql", name: "x", schema: "", table: "", txId: 1, lsn: 1, ts_ms: 0,
        commit_lsn: "FF/0", end_lsn: "FF/10", xid: 1, seq: 0, last: true}, op: "m", ts_ms: 0,
        message: {prefix: "syncline.ddl", content: $c, lsn: "FF/8"}}')
    [[ $1 == avro ]] && return 0 # the forged message is JSON; the Avro path shares the check
    printf '%s\n' "$msg" | kcat -P -b "$KAFKA_BROKERS" -t "$TOPIC" -p 0 || fail "kcat produce"
    apply_start 4
    apply_wait_exit 4 60
    assert_eq 6 "$APPLY_RC" "apply exit code on a forged DDL event"
    assert_contains "$E2E_TMP/apply.4.log" "DDL message at lsn=FF/8 rejected: its signature does not verify" \
        "apply names the forged DDL event"
    assert_eq 1 "$(tgt_sql "SELECT count(*) FROM pg_class WHERE oid = 'public.orders'::regclass")" \
        "the target keeps the table the forged event drops"
}
