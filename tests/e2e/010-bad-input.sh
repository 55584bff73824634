#!/usr/bin/env bash
# Bad input gets a clear error on stderr, a distinct exit code, and nothing half-done:
#   2 usage error; 3 configuration error (malformed JSON, unknown keys, invalid values);
#   4 connection/authentication failure (unreachable host, wrong password: never printed);
#   5 source precondition failure (wal_level not logical, slot in use, slot lost);
#   6 target schema mismatch (missing target table).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib/pg.sh
source "$(dirname "$0")/../lib/pg.sh"

e2e_setup t010

both_sql "CREATE TABLE present_tbl (id int PRIMARY KEY, v text);
          CREATE TABLE missing_tbl (id int PRIMARY KEY, v text)"

# ---------------------------------------------------------------- helpers

# Runs syncline synchronously: LABEL EXPECTED_RC MAX_SECONDS ARGS... ; stdout and stderr of the
# case land in $E2E_TMP/LABEL.out / LABEL.err, also printed.
CASE_OUT=""
CASE_ERR=""
run_case() {
    local label=$1 want=$2 max=$3 rc=0 t0 ms
    shift 3
    CASE_OUT=$E2E_TMP/$label.out
    CASE_ERR=$E2E_TMP/$label.err
    t0=$(_e2e_now_ms)
    timeout -k 5 "$((max + 30))" "$SYNCLINE" "$@" >"$CASE_OUT" 2>"$CASE_ERR" </dev/null || rc=$?
    ms=$(($(_e2e_now_ms) - t0))
    echo "--- case $label: syncline $* -> exit $rc in $ms ms; stderr:"
    cat "$CASE_ERR"
    [[ ! -s "$CASE_OUT" ]] || {
        echo "--- stdout:"
        cat "$CASE_OUT"
    }
    assert_eq "$want" "$rc" "$label: exit code"
    ((ms <= max * 1000)) || fail "$label: took $ms ms (allowed ${max}s)"
    [[ -s "$CASE_ERR" ]] || fail "$label: nothing on stderr"
}

# Case-insensitive check that stderr of the last case mentions TEXT.
err_mentions() { # TEXT MSG
    if ! grep -qiF -- "$1" "$CASE_ERR"; then
        fail "$2: [$1] not in stderr of the case"
    fi
    echo "ok: $2"
}

cfg_file() { # LABEL JSON -> path
    local f=$E2E_TMP/$1.json
    printf '%s\n' "$2" >"$f"
    echo "$f"
}

json_cfg() { # NAME SOURCE_CONNINFO TARGET_CONNINFO [EXTRA]
    printf '{"name": "%s", "source": {"conninfo": %s}, "target": {"conninfo": %s}%s}' \
        "$1" "$(_e2e_json_str "$2")" "$(_e2e_json_str "$3")" "${4:+, $4}"
}

slot_count() { # slots of the test database or with this name prefix on the source
    src_sql "SELECT count(*) FROM pg_replication_slots WHERE database = current_database() OR slot_name LIKE 'syncline_t010%'"
}
pub_count() {
    src_sql "SELECT count(*) FROM pg_publication"
}
progress_rows() { # NAME -> number of progress rows of NAME on the target (0 without the table)
    if [[ "$(tgt_sql "SELECT to_regclass('syncline.progress') IS NULL")" == t ]]; then
        echo 0
    else
        tgt_sql "SELECT count(*) FROM syncline.progress WHERE name = '$1'"
    fi
}
# LABEL [untouched]: no slot and no publication on the source, no progress row on the target;
# with "untouched", not even the progress table (a configuration error must not connect at all).
assert_nothing_done() {
    assert_eq "0" "$(slot_count)" "$1: no replication slot left on the source"
    assert_eq "0" "$(pub_count)" "$1: no publication left on the source"
    if [[ "${2:-}" == untouched ]]; then
        assert_eq "t" "$(tgt_sql "SELECT to_regclass('syncline.progress') IS NULL")" \
            "$1: no progress table created on the target"
    else
        assert_eq "0" "$(tgt_sql "SELECT CASE WHEN to_regclass('syncline.progress') IS NULL THEN 0
                   ELSE (xpath('/row/n/text()', query_to_xml('SELECT count(*) AS n FROM syncline.progress', false, false, '')))[1]::text::int END")" \
            "$1: no progress row on the target"
    fi
}

# Waits until no walsender holds a slot of the test database (a failed syncline's walsender may
# linger for a moment).
wait_slot_free() {
    local i
    for ((i = 0; i < 75; i++)); do
        [[ "$(src_sql "SELECT count(*) FROM pg_replication_slots WHERE database = current_database() AND active")" != 0 ]] || return 0
        sleep 0.2
    done
    fail "a slot of $SRC_DB is still active 15 s after syncline exited"
}

# ---------------------------------------------------------------- 2: usage errors

run_case usage_no_config 2 10 run
run_case usage_bad_command 2 10 no-such-command -c "$CFG"
run_case usage_bad_option 2 10 run -c "$CFG" --no-such-option

# ---------------------------------------------------------------- 3: configuration errors

run_case malformed_json 3 10 run -c "$(cfg_file malformed "{\"name\": \"t010_bad\", \"source\": {\"conninfo\": \"$SRC_CONNINFO\"")"
run_case not_an_object 3 10 run -c "$(cfg_file notobject '["t010"]')"
run_case unknown_top_key 3 10 run -c "$(cfg_file unknown_top "$(json_cfg t010_u1 "$SRC_CONNINFO" "$TGT_CONNINFO" '"bogus_key": 1')")"
err_mentions bogus_key "unknown key named"
run_case unknown_nested_key 3 10 run -c "$(cfg_file unknown_nested "$(json_cfg t010_u2 "$SRC_CONNINFO" "$TGT_CONNINFO" '"apply": {"batch_rowz": 10}')")"
err_mentions batch_rowz "unknown nested key named"
run_case bad_name 3 10 run -c "$(cfg_file bad_name "$(json_cfg 'Bad-Name' "$SRC_CONNINFO" "$TGT_CONNINFO")")"
err_mentions name "invalid name named"
run_case bad_on_missing_row 3 10 run -c "$(cfg_file bad_omr "$(json_cfg t010_v1 "$SRC_CONNINFO" "$TGT_CONNINFO" '"apply": {"on_missing_row": "sometimes"}')")"
err_mentions on_missing_row "invalid on_missing_row named"
run_case bad_batch_rows 3 10 run -c "$(cfg_file bad_batch "$(json_cfg t010_v2 "$SRC_CONNINFO" "$TGT_CONNINFO" '"apply": {"batch_rows": -5}')")"
err_mentions batch_rows "invalid batch_rows named"
run_case missing_target 3 10 run -c "$(cfg_file no_target "{\"name\": \"t010_v3\", \"source\": {\"conninfo\": $(_e2e_json_str "$SRC_CONNINFO")}}")"
assert_nothing_done "configuration errors" untouched

# ---------------------------------------------------------------- 4: connection failures

FREE_PORT=$(pg_free_port 59000)
run_case unreachable_source 4 10 run -c "$(cfg_file unreach_src "$(json_cfg t010_c1 \
    "host=127.0.0.1 port=$FREE_PORT user=postgres dbname=$SRC_DB" "$TGT_CONNINFO")")"
err_mentions "$FREE_PORT" "unreachable source: the error names the port"
run_case unreachable_target 4 10 run -c "$(cfg_file unreach_tgt "$(json_cfg t010_c2 \
    "$SRC_CONNINFO" "host=127.0.0.1 port=$FREE_PORT user=postgres dbname=$TGT_DB")")"
err_mentions "$FREE_PORT" "unreachable target: the error names the port"
assert_nothing_done "unreachable hosts"

# Wrong password: syncline_pw must authenticate with scram (tests/lib/pg.sh's pg_hba.conf).
REAL_PW=canary-secret-1
WRONG_PW=wrong-canary-pw-2
src_sql "DO \$\$BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'syncline_pw') THEN
    ALTER ROLE syncline_pw LOGIN REPLICATION PASSWORD '$REAL_PW';
  ELSE
    CREATE ROLE syncline_pw LOGIN REPLICATION PASSWORD '$REAL_PW';
  END IF; END\$\$"
e2e_on_exit "_e2e_psql $SRC_PORT postgres -c 'DROP ROLE IF EXISTS syncline_pw' >/dev/null 2>&1"
# Control: the real password works, a wrong one does not (so the case below tests syncline).
PGPASSWORD=$REAL_PW "$PG_BIN/psql" -X -qAt -h 127.0.0.1 -p "$SRC_PORT" -U syncline_pw -d "$SRC_DB" \
    -c "SELECT 1" >/dev/null || fail "control: syncline_pw cannot log in with its password"
if PGPASSWORD=$WRONG_PW "$PG_BIN/psql" -X -qAt -h 127.0.0.1 -p "$SRC_PORT" -U syncline_pw \
    -d "$SRC_DB" -c "SELECT 1" >/dev/null 2>&1; then
    fail "control: syncline_pw logs in with a wrong password (pg_hba.conf does not require one)"
fi
run_case wrong_password 4 10 run -c "$(cfg_file wrong_pw "$(json_cfg t010_p1 \
    "host=127.0.0.1 port=$SRC_PORT user=syncline_pw password=$WRONG_PW dbname=$SRC_DB" "$TGT_CONNINFO")")"
for f in "$CASE_OUT" "$CASE_ERR"; do
    if grep -qF -- "$REAL_PW" "$f" || grep -qF -- "$WRONG_PW" "$f"; then
        fail "wrong_password: a password appears in the output ($f)"
    fi
done
echo "ok: wrong_password: no password in the output"
# The same through PGPASSWORD (the libpq way), conninfo without a password.
PGPASSWORD=$WRONG_PW run_case wrong_pgpassword 4 10 run -c "$(cfg_file wrong_pgpw "$(json_cfg t010_p2 \
    "host=127.0.0.1 port=$SRC_PORT user=syncline_pw dbname=$SRC_DB" "$TGT_CONNINFO")")"
if grep -qF -- "$WRONG_PW" "$CASE_OUT" "$CASE_ERR"; then fail "wrong_pgpassword: the password appears in the output"; fi
assert_nothing_done "authentication failures"

# ---------------------------------------------------------------- 5: source without wal_level=logical

NOWAL_DIR=$(pg_make_scratch syncline-nowal)
e2e_on_exit "pg_cluster_destroy $NOWAL_DIR >/dev/null 2>&1"
NOWAL_PORT=$(pg_free_port $((FREE_PORT + 1)))
pg_cluster_create nowal "$NOWAL_PORT" "$NOWAL_DIR" "wal_level = replica" || fail "could not create the wal_level=replica cluster"
pg_cluster_start "$NOWAL_DIR" || fail "could not start the wal_level=replica cluster"
nowal_sql() { _e2e_psql_or_fail "nowal_sql" "$NOWAL_PORT" "${2:-postgres}" -c "$1"; }
nowal_sql "CREATE DATABASE t010"
nowal_sql "CREATE TABLE present_tbl (id int PRIMARY KEY, v text)" t010
assert_eq "replica" "$(nowal_sql "SHOW wal_level")" "control: the third cluster has wal_level=replica"
run_case no_logical_wal 5 20 run -c "$(cfg_file nowal "$(json_cfg t010_nowal \
    "host=127.0.0.1 port=$NOWAL_PORT user=postgres dbname=t010" "$TGT_CONNINFO")")"
err_mentions wal_level "wal_level: the error mentions wal_level"
assert_eq "0" "$(nowal_sql "SELECT count(*) FROM pg_publication" t010)" "wal_level: no publication created"
assert_eq "0" "$(nowal_sql "SELECT count(*) FROM pg_replication_slots")" "wal_level: no slot created"
assert_eq "0" "$(progress_rows t010_nowal)" "wal_level: no progress row"
pg_cluster_destroy "$NOWAL_DIR" >/dev/null 2>&1 || true

# ---------------------------------------------------------------- 6: missing target table

# A first run with both tables on the target; then the target loses one, and a transaction
# touching both tables arrives: exit 6 naming the table; none of the transaction is applied.
syncline_start
src_sql "INSERT INTO present_tbl VALUES (1, 'first'); INSERT INTO missing_tbl VALUES (1, 'first')"
wait_synced
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "first run: exit code after SIGTERM"
applied_before=$(_e2e_applied_lsn)

tgt_sql "DROP TABLE missing_tbl"
src_sql "BEGIN;
INSERT INTO present_tbl VALUES (2, 'same transaction as the missing table');
INSERT INTO missing_tbl VALUES (2, 'no table for me');
COMMIT;"
run_case missing_target_table 6 60 run -c "$CFG"
err_mentions missing_tbl "missing table: the error names the table"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM present_tbl WHERE id = 2")" \
    "missing table: no part of the transaction applied"
assert_eq "$applied_before" "$(_e2e_applied_lsn)" "missing table: progress unchanged"

tgt_sql "CREATE TABLE missing_tbl (id int PRIMARY KEY, v text); INSERT INTO missing_tbl VALUES (1, 'first')"
wait_slot_free
syncline_start
wait_synced
assert_same present_tbl
assert_same missing_tbl

# ---------------------------------------------------------------- 5: slot in use by another process

run_case slot_in_use 5 30 run -c "$CFG"
err_mentions "syncline_t010" "slot in use: the error names the slot"
syncline_running || fail "slot in use: the first syncline died"
src_sql "INSERT INTO present_tbl VALUES (3, 'first syncline still works')"
wait_synced
assert_same present_tbl
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "slot in use: first syncline exit code after SIGTERM"

# ---------------------------------------------------------------- 5: slot lost

# This cluster-wide setting is for this case only; restored on exit.
src_sql "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'; SELECT pg_reload_conf();" >/dev/null
e2e_on_exit "_e2e_psql $SRC_PORT postgres -c 'ALTER SYSTEM RESET max_slot_wal_keep_size' -c 'SELECT pg_reload_conf()' >/dev/null 2>&1"
# A second configuration, restricted to a table of its own (empty on both sides when it starts).
both_sql "CREATE TABLE lost_tbl (id int PRIMARY KEY, v text);
          CREATE TABLE walgen (id bigserial PRIMARY KEY, pad text)"
write_config "$(json_cfg t010_lost "$SRC_CONNINFO" "$TGT_CONNINFO" \
    '"tables": [{"source": "public.lost_tbl", "target": "public.lost_tbl"}]')"
wait_slot_free
syncline_start
src_sql "INSERT INTO lost_tbl VALUES (1, 'before the slot was lost')"
wait_synced
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "slot lost: exit code of the run that created the slot"
lost_applied=$(_e2e_applied_lsn)

wal_until_slot_lost syncline_t010_lost
run_case slot_lost 5 30 run -c "$CFG"
err_mentions "syncline_t010_lost" "slot lost: the error names the slot"
err_mentions "lost" "slot lost: the error says it is lost"
assert_eq "lost" "$(src_sql "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'syncline_t010_lost'")" \
    "slot lost: the slot was not silently replaced"
assert_eq "$lost_applied" "$(_e2e_applied_lsn)" "slot lost: progress unchanged"
assert_same lost_tbl
