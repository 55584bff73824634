#!/usr/bin/env bash
# DDL racing the initial copy (issue 19): while `run` copies, the deploy changes a table being
# copied (ADD COLUMN), rewrites a table not copied yet (ALTER COLUMN TYPE, which an older snapshot
# would see as empty), and creates a table and fills it. Each DDL waits for the copy or commits
# into the stream after the copy's snapshot, and is applied after the copy, in order: the target's
# rows and column types equal the source's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_need_major src 14 "DDL following needs logical messages in pgoutput (14)"
e2e_setup t044

both_sql "CREATE TABLE a_big (id int PRIMARY KEY, v text);
          CREATE TABLE b_small (id int PRIMARY KEY, v int);"
src_sql "INSERT INTO a_big SELECT g, 'row ' || g FROM generate_series(1, 20000) g;
         INSERT INTO b_small SELECT g, g FROM generate_series(1, 1000) g;"
write_config "$(config_json '"snapshot": {"workers": 1}')"

# The copy is held on the target: a session there locks a_big against writes until released, so the copy stays
# open (its snapshot taken, nothing of a_big written) while the deploy runs on the source.
mkfifo "$E2E_TMP/hold.fifo"
tgt_psql <"$E2E_TMP/hold.fifo" >"$E2E_TMP/hold.out" 2>&1 &
hold_pid=$!
exec 7>"$E2E_TMP/hold.fifo"
e2e_on_exit "exec 7>&- 2>/dev/null; kill $hold_pid 2>/dev/null || true"
echo "BEGIN; LOCK TABLE a_big IN SHARE MODE; SELECT 'locked';" >&7
wait_until 10 grep -q locked "$E2E_TMP/hold.out"

E2E_START_WAIT=0 syncline_start
state() { tgt_psql -c "SELECT state FROM syncline.progress WHERE name = '$E2E_NAME'" 2>/dev/null || true; }
copying() { [[ $(state) == copying ]] || { syncline_running || fail "syncline exited during the copy"; false; }; }
wait_until 60 copying
# the copy waits on the target's lock of a_big
wait_until 30 bash -c "[[ \$(psql -X -qAt -h 127.0.0.1 -p $TGT_PORT -U postgres -d $TGT_DB -c \"SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'COPY %'\") -ge 1 ]]"

# The deploy, each statement in its own session (a statement waiting for the copy's locks must not
# hold back the others).
src_psql -c "ALTER TABLE b_small ALTER COLUMN v TYPE bigint" >"$E2E_TMP/ddl1.out" 2>&1 &
ddl1=$!
src_psql -c "ALTER TABLE a_big ADD COLUMN note text NOT NULL DEFAULT 'n'" >"$E2E_TMP/ddl2.out" 2>&1 &
ddl2=$!
src_sql "CREATE TABLE c_new (id int PRIMARY KEY, v text);
         INSERT INTO c_new SELECT g, 'new ' || g FROM generate_series(1, 100) g;"
sleep 2
syncline_running || fail "syncline exited during the copy: $(tail -n 5 "$E2E_TMP/syncline.log")"
echo "COMMIT;" >&7
exec 7>&-
wait "$ddl1" || fail "ALTER TYPE failed: $(cat "$E2E_TMP/ddl1.out")"
wait "$ddl2" || fail "ADD COLUMN failed: $(cat "$E2E_TMP/ddl2.out")"
src_sql "UPDATE b_small SET v = v + 5000000000 WHERE id <= 10;
         UPDATE a_big SET note = 'later' WHERE id <= 10;
         INSERT INTO c_new VALUES (101, 'after');"

streaming() { [[ $(state) == streaming ]] || { syncline_running || fail "syncline exited: $(tail -n 5 "$E2E_TMP/syncline.log")"; false; }; }
wait_until 120 streaming
wait_synced 60
syncline_running || fail "syncline stopped: $(tail -n 10 "$E2E_TMP/syncline.log")"
assert_same a_big
assert_same b_small
assert_same c_new
assert_eq "bigint" "$(tgt_sql "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'b_small'::regclass AND attname = 'v'")" \
    "the type change reached the target"
assert_eq "1" "$(tgt_sql "SELECT count(*) FROM pg_attribute WHERE attrelid = 'a_big'::regclass AND attname = 'note' AND attnotnull")" \
    "the new column reached the target"
syncline_stop
echo "PASS"
