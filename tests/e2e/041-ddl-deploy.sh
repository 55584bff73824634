#!/usr/bin/env bash
# An application deploy while `run` streams under a light pgbench load (issue 19): add a column
# with a default and NOT NULL, create a table and insert into it, rename a column, create an
# index, widen a type, drop a column, add a foreign key, a migration sent as one query string with
# rows between its statements, and a column added to a pgbench table under load. The source's
# event trigger puts each DDL into the stream at its place; `run` keeps running and the target's
# rows, columns, types, defaults, indexes and constraints equal the source's. `drop` removes the
# event trigger.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_need_major src 14 "DDL following needs logical messages in pgoutput (14)"
e2e_setup t041

pgbench_setup 1
both_sql "CREATE TABLE orders (id int PRIMARY KEY, amount int, legacy text);"
src_sql "INSERT INTO orders SELECT g, g * 10, 'old' FROM generate_series(1, 200) g"

syncline_start
syncline_wait_streaming
assert_eq "2" "$(src_sql "SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'syncline_ddl_%'")" \
    "run installed the event triggers"

pgbench_start -n -c 2 -T 30 -R 40
sleep 1

# The deploy: one statement per query, as a migration tool sends them.
src_sql "ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new'"
src_sql "INSERT INTO orders (id, amount, status) VALUES (201, 2010, 'paid')"
src_sql "CREATE TABLE shipments (id serial PRIMARY KEY, order_id int NOT NULL, note varchar(20))"
src_sql "INSERT INTO shipments (order_id, note) SELECT g, 'ship ' || g FROM generate_series(1, 50) g"
src_sql "ALTER TABLE orders RENAME COLUMN amount TO total"
src_sql "UPDATE orders SET total = total + 1 WHERE id <= 20"
src_sql "CREATE INDEX orders_status_idx ON orders (status)"
src_sql "CREATE INDEX CONCURRENTLY orders_total_idx ON orders (total)"
src_sql "ALTER TABLE orders ALTER COLUMN total TYPE bigint"
src_sql "UPDATE orders SET total = 5000000000 WHERE id = 1"
src_sql "ALTER TABLE orders DROP COLUMN legacy"
src_sql "ALTER TABLE shipments ADD CONSTRAINT shipments_order_fk FOREIGN KEY (order_id) REFERENCES orders (id)"
src_sql "ALTER TABLE shipments ALTER COLUMN note TYPE varchar(200), ALTER COLUMN note SET DEFAULT 'none'"
# A pgbench table altered under load.
src_sql "ALTER TABLE pgbench_history ADD COLUMN note text DEFAULT 'h'"

# One query string holding several statements with rows between them, in one transaction:
# each DDL goes between the right rows.
src_psql -c "BEGIN; INSERT INTO orders (id, total) VALUES (300, 3); ALTER TABLE orders ADD COLUMN region text; INSERT INTO orders (id, total, region) VALUES (301, 4, 'eu'); CREATE UNIQUE INDEX shipments_note_uq ON shipments (order_id, note); ALTER TABLE orders ALTER COLUMN region SET NOT NULL; COMMIT;" \
    >"$E2E_TMP/multi.out" 2>&1 && fail "the NOT NULL should fail on row 300 (region NULL): $(cat "$E2E_TMP/multi.out")"
src_psql -c "BEGIN; INSERT INTO orders (id, total) VALUES (302, 5); ALTER TABLE orders ADD COLUMN region text DEFAULT 'us'; INSERT INTO orders (id, total, region) VALUES (303, 6, 'eu'); CREATE UNIQUE INDEX shipments_note_uq ON shipments (order_id, note); ALTER TABLE orders ALTER COLUMN region SET NOT NULL; COMMIT;" \
    >"$E2E_TMP/multi.out" 2>&1 || fail "the migration string failed: $(cat "$E2E_TMP/multi.out")"
src_sql "INSERT INTO shipments (order_id, note) VALUES (303, 'last')"

wait_until 60 bash -c "! kill -0 $PGBENCH_PID 2>/dev/null"
pgbench_stop
wait_synced 120
syncline_running || fail "syncline stopped during the deploy: $(tail -n 20 "$E2E_TMP/syncline.log")"

for t in orders shipments "${PGBENCH_TABLES[@]}"; do
    assert_same "$t"
done

# Columns (name, type, NOT NULL, default), indexes and constraints of the public schema (NOT NULL
# as a column property: 18 also lists it as a constraint, older majors do not).
schema_sql="SELECT string_agg(x, E'\n' ORDER BY x) FROM (
  SELECT format('col %s %s %s %s %s %s', c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
                a.attnotnull, pg_get_expr(d.adbin, d.adrelid)) AS x
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT format('idx %s', pg_get_indexdef(i.indexrelid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
   WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('con %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)) FROM pg_constraint
   WHERE connamespace = 'public'::regnamespace AND contype <> 'n') s"
src_schema=$(src_sql "$schema_sql")
tgt_schema=$(tgt_sql "$schema_sql")
# attnum differs where the target table was created without the source's dropped columns: compare
# the column order, not the numbers
strip() { sed -E 's/^col ([^ ]+) [0-9]+ /col \1 /' | sort; }
if [[ "$(strip <<<"$src_schema")" != "$(strip <<<"$tgt_schema")" ]]; then
    diff <(strip <<<"$src_schema") <(strip <<<"$tgt_schema") || true
    fail "the target's schema differs from the source's"
fi
assert_contains <(echo "$tgt_schema") "orders_status_idx" "the index reached the target"
assert_contains <(echo "$tgt_schema") "orders_total_idx" "the index built CONCURRENTLY on the source reached the target"
assert_contains <(echo "$tgt_schema") "shipments_order_fk FOREIGN KEY (order_id) REFERENCES orders(id)" \
    "the foreign key reached the target"
grep -Eq "^col orders [0-9]+ total bigint" <<<"$tgt_schema" || fail "the renamed and widened column is not on the target"
assert_eq "paid|2010" "$(tgt_sql "SELECT status || '|' || total FROM orders WHERE id = 201")" "row after the ADD COLUMN"
assert_eq "5000000000" "$(tgt_sql "SELECT total FROM orders WHERE id = 1")" "a value only the widened type holds"
assert_contains "$E2E_TMP/syncline.log" "ddl applied" "the log names each DDL applied"

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
"$SYNCLINE" drop -c "$CFG" >"$E2E_TMP/drop.log" 2>&1 || fail "drop failed: $(cat "$E2E_TMP/drop.log")"
assert_eq "0" "$(src_sql "SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'syncline_ddl_%'")" \
    "drop removed the event triggers"
