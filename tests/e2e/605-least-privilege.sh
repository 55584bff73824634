#!/usr/bin/env bash
# syncline runs with exactly the privileges docs/operations.md's "Privileges" section documents, as roles
# that are not superuser: on the source a LOGIN REPLICATION role with SELECT on the synced tables
# and a publication an administrator created; on the target a LOGIN role with SELECT, INSERT,
# UPDATE, DELETE and TRUNCATE on the tables and CREATE on the database (for the syncline schema).
# Initial copy, then inserts, updates, deletes and a truncate stream through; session_replication_role
# cannot be set, which syncline reports and carries on. The metrics endpoint, given a bare port,
# listens on 127.0.0.1 only.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib/pg.sh
source "$(dirname "$0")/../lib/pg.sh"

e2e_setup t605

both_sql "CREATE TABLE items (id int PRIMARY KEY, note text, n numeric);
          CREATE TABLE tags (item_id int, tag text, PRIMARY KEY (item_id, tag));
          CREATE TABLE nokey (a int, b text);
          ALTER TABLE nokey REPLICA IDENTITY FULL"
src_sql "INSERT INTO items SELECT i, 'copied ' || i, i / 3.0 FROM generate_series(1, 500) i;
         INSERT INTO tags SELECT i, 't' || (i % 5) FROM generate_series(1, 100) i;
         INSERT INTO nokey VALUES (1, 'a'), (1, 'a'), (2, NULL)"

# The administrator's part (docs/operations.md, "Privileges").
_e2e_psql_or_fail "source roles" "$SRC_PORT" "$SRC_DB" -c "DROP ROLE IF EXISTS sync_src" \
    -c "CREATE ROLE sync_src LOGIN REPLICATION" \
    -c "GRANT SELECT ON items, tags, nokey TO sync_src" \
    -c "CREATE PUBLICATION syncline_t605 FOR ALL TABLES WITH (publish_via_partition_root = true)"
_e2e_psql_or_fail "target roles" "$TGT_PORT" "$TGT_DB" -c "DROP ROLE IF EXISTS sync_tgt" \
    -c "CREATE ROLE sync_tgt LOGIN" \
    -c "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON items, tags, nokey TO sync_tgt" \
    -c "GRANT CREATE ON DATABASE t605 TO sync_tgt"
e2e_on_exit "_e2e_psql $SRC_PORT $SRC_DB -c 'DROP PUBLICATION IF EXISTS syncline_t605' >/dev/null 2>&1; _e2e_psql $SRC_PORT postgres -c 'DROP DATABASE IF EXISTS t605 WITH (FORCE)' -c 'DROP ROLE IF EXISTS sync_src' >/dev/null 2>&1; _e2e_psql $TGT_PORT postgres -c 'DROP DATABASE IF EXISTS t605 WITH (FORCE)' -c 'DROP ROLE IF EXISTS sync_tgt' >/dev/null 2>&1"
for port in "$SRC_PORT" "$TGT_PORT"; do
    assert_eq "0" "$(_e2e_psql "$port" postgres -c "SELECT count(*) FROM pg_roles
                     WHERE rolname IN ('sync_src', 'sync_tgt') AND (rolsuper OR rolcreatedb OR rolbypassrls)")" \
        "port $port: the roles are not superuser"
done

write_config "{\"name\": \"t605\",
  \"source\": {\"conninfo\": \"host=127.0.0.1 port=$SRC_PORT dbname=t605 user=sync_src\"},
  \"target\": {\"conninfo\": \"host=127.0.0.1 port=$TGT_PORT dbname=t605 user=sync_tgt\"}}"

rc=0
timeout 60 "$SYNCLINE" check -c "$CFG" >"$E2E_TMP/check.out" 2>&1 || rc=$?
cat "$E2E_TMP/check.out"
assert_eq 0 "$rc" "check as the least-privileged roles"

METRICS_PORT=$(pg_free_port 59650)
syncline_start --metrics "$METRICS_PORT"
wait_until 30 curl -sf -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics"

# The endpoint listens on 127.0.0.1 and nowhere else.
port_hex=$(printf '%04X' "$METRICS_PORT")
listeners=$(awk -v p=":$port_hex" '$2 ~ p"$" && $4 == "0A" {print $2}' /proc/net/tcp /proc/net/tcp6)
echo "listening sockets on port $METRICS_PORT (/proc/net/tcp*): $listeners"
assert_eq "0100007F:$port_hex" "$listeners" "metrics endpoint bound to 127.0.0.1 only"
if command -v ss >/dev/null; then ss -ltnp "sport = :$METRICS_PORT" || true; fi
other_ip=$(hostname -I 2>/dev/null | awk '{print $1}')
if [[ -n "$other_ip" && "$other_ip" != 127.* ]]; then
    if curl -s -m 3 -o /dev/null "http://$other_ip:$METRICS_PORT/metrics"; then
        fail "metrics endpoint answers on $other_ip"
    fi
    echo "ok: nothing answers on $other_ip:$METRICS_PORT"
fi

wait_synced 60
for t in items tags nokey; do assert_same "$t"; done
src_sql "INSERT INTO items SELECT i, 'streamed', i FROM generate_series(501, 700) i;
         UPDATE items SET note = 'updated', n = n * 2 WHERE id % 3 = 0;
         DELETE FROM items WHERE id % 10 = 0;
         INSERT INTO tags VALUES (600, 'new');
         UPDATE nokey SET b = 'z' WHERE a = 2;
         DELETE FROM nokey WHERE a = 1 AND ctid = (SELECT min(ctid) FROM nokey WHERE a = 1);
         TRUNCATE tags;
         INSERT INTO tags VALUES (1, 'after truncate')"
wait_synced 60
for t in items tags nokey; do assert_same "$t"; done
assert_contains "$E2E_TMP/syncline.log" "session_replication_role" \
    "syncline reports that session_replication_role cannot be set"
src_sql "SELECT 1" >/dev/null
assert_eq "sync_tgt" "$(tgt_sql "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity
                                  WHERE datname = 't605' AND application_name = 'syncline'")" \
    "syncline's target sessions run as sync_tgt"
syncline_stop
