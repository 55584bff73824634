#!/usr/bin/env bash
# Passwords never leak: role syncline_pw (scram on 127.0.0.1, tests/lib/pg.sh) gets a canary
# password, given in four ways (conninfo password=..., a URI, PGPASSWORD, a .pgpass file) and via
# SYNCLINE_SOURCE/SYNCLINE_TARGET. For each: run (with --metrics, scraped with curl), status
# (text and --json), check, lag (text and --json), verify, sequences, drop; then a failing run
# (wrong table), a wrong password, an unreachable server and malformed conninfo strings (a URI
# libpq cannot parse is quoted whole in its error), and a refused kafka.schema_registry URL with
# the password as userinfo (108 covers the registry client's own messages). No output, log or
# metrics text may contain the canary.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib/pg.sh
source "$(dirname "$0")/../lib/pg.sh"

CANARY='Canary-Pw-4242'
e2e_setup t604

for port in "$SRC_PORT" "$TGT_PORT"; do
    _e2e_psql_or_fail "role" "$port" postgres -c "DO \$\$ BEGIN
      IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'syncline_pw') THEN
        ALTER ROLE syncline_pw SUPERUSER LOGIN REPLICATION PASSWORD '$CANARY';
      ELSE
        CREATE ROLE syncline_pw SUPERUSER LOGIN REPLICATION PASSWORD '$CANARY';
      END IF; END \$\$"
done
e2e_on_exit "_e2e_psql $SRC_PORT postgres -c 'DROP ROLE IF EXISTS syncline_pw' >/dev/null 2>&1; _e2e_psql $TGT_PORT postgres -c 'DROP ROLE IF EXISTS syncline_pw' >/dev/null 2>&1"
both_sql "CREATE TABLE items (id int PRIMARY KEY, note text); CREATE SEQUENCE s1"

OUT=$E2E_TMP/out
mkdir -p "$OUT"
METRICS_PORT=$(pg_free_port 59640)
PGPASS_FILE=$E2E_TMP/pgpass
printf '127.0.0.1:%s:*:syncline_pw:%s\n127.0.0.1:%s:*:syncline_pw:%s\n' \
    "$SRC_PORT" "$CANARY" "$TGT_PORT" "$CANARY" >"$PGPASS_FILE"
chmod 600 "$PGPASS_FILE"

kv() { echo "host=127.0.0.1 port=$1 dbname=t604 user=syncline_pw$2"; }
cfg_for() { # NAME SRC_CONNINFO TGT_CONNINFO [EXTRA]
    printf '{"name": "t604", "source": {"conninfo": %s}, "target": {"conninfo": %s}%s}\n' \
        "$(_e2e_json_str "$2")" "$(_e2e_json_str "$3")" "${4:+, $4}" >"$E2E_TMP/$1.json"
}
cfg_for conninfo "$(kv "$SRC_PORT" " password=$CANARY")" "$(kv "$TGT_PORT" " password='$CANARY'")"
cfg_for uri "postgresql://syncline_pw:$CANARY@127.0.0.1:$SRC_PORT/t604" \
    "postgresql://syncline_pw:$CANARY@127.0.0.1:$TGT_PORT/t604?connect_timeout=10"
cfg_for nopw "$(kv "$SRC_PORT" "")" "$(kv "$TGT_PORT" "")"

# Runs syncline with the environment assignments in ENVS and ARGS; output to $OUT/LABEL; returns
# its exit code.
ENVS=()
sl() { # LABEL ARGS...
    local label=$1 rc=0
    shift
    env "${ENVS[@]}" timeout -k 5 120 "$SYNCLINE" "$@" >"$OUT/$label" 2>&1 </dev/null || rc=$?
    echo "--- $label: exit $rc: $(head -c 200 "$OUT/$label" | head -n 1)"
    ((rc < 128)) || fail "$label: killed by a signal"
    return "$rc"
}

ID=0
variant() { # LABEL CONFIG [NAME=VALUE...]
    local label=$1 cfg=$E2E_TMP/$2.json
    shift 2
    ENVS=("$@")
    echo "=== variant $label"
    CFG=$cfg
    env "${ENVS[@]}" "$SYNCLINE" run -c "$cfg" --snapshot=always --yes --metrics "$METRICS_PORT" >"$OUT/$label-run" 2>&1 </dev/null &
    # shellcheck disable=SC2034  # lib.sh stops it
    SYNCLINE_PID=$!
    wait_until 30 curl -sf -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics"
    src_sql "INSERT INTO items SELECT $ID + i, 'x' FROM generate_series(1, 50) i"
    ID=$((ID + 50))
    wait_synced 60
    curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" >"$OUT/$label-metrics"
    sl "$label-status" status -c "$cfg"
    sl "$label-status-json" status -c "$cfg" --json
    sl "$label-check" check -c "$cfg"
    sl "$label-lag" lag -c "$cfg"
    sl "$label-lag-json" lag -c "$cfg" --json
    syncline_stop
    sl "$label-verify" verify -c "$cfg" --timeout 30
    sl "$label-sequences" sequences -c "$cfg"
    sl "$label-drop" drop -c "$cfg"
    assert_same items
}

variant conninfo conninfo
variant uri uri
variant pgpassword nopw "PGPASSWORD=$CANARY"
variant pgpass nopw "PGPASSFILE=$PGPASS_FILE"
variant env-override nopw "SYNCLINE_SOURCE=$(kv "$SRC_PORT" " password=$CANARY")" \
    "SYNCLINE_TARGET=postgresql://syncline_pw:$CANARY@127.0.0.1:$TGT_PORT/t604"
# shellcheck disable=SC2034  # lib.sh reads CFG (syncline drop on exit)
CFG=$E2E_TMP/config.json
ENVS=()

# Failures, each with the password in its conninfo.
cfg_for wrongtable "$(kv "$SRC_PORT" " password=$CANARY")" "$(kv "$TGT_PORT" " password=$CANARY")" \
    '"tables": [{"source": "public.no_such_table"}]'
cfg_for wrongpw "$(kv "$SRC_PORT" " password=$CANARY-wrong")" "$(kv "$TGT_PORT" " password=$CANARY")"
cfg_for noserver "host=127.0.0.1 port=1 user=syncline_pw password=$CANARY" "$(kv "$TGT_PORT" " password=$CANARY")"
cfg_for baduri "postgresql://syncline_pw:$CANARY%zz@127.0.0.1:$SRC_PORT/t604" "$(kv "$TGT_PORT" "")"
cfg_for badipv6 "postgresql://syncline_pw:$CANARY@[::1/t604" "$(kv "$TGT_PORT" "")"
cfg_for badtoken "host=127.0.0.1 password $CANARY" "$(kv "$TGT_PORT" "")"
cfg_for badport "postgresql://syncline_pw:$CANARY@127.0.0.1:nope/t604" "$(kv "$TGT_PORT" "")"
# a Schema Registry URL with the password in its userinfo that the loader refuses
cfg_for badregistry "$(kv "$SRC_PORT" "")" "$(kv "$TGT_PORT" "")" \
    "\"kafka\": {\"brokers\": \"127.0.0.1:1\", \"schema_registry\": \"ftp://syncline:$CANARY@registry/\"}"
for f in wrongtable wrongpw noserver baduri badipv6 badtoken badport badregistry; do
    for cmd in run status check lag; do
        rc=0
        sl "fail-$f-$cmd" "$cmd" -c "$E2E_TMP/$f.json" || rc=$?
        [[ $cmd != run || $rc != 0 ]] || fail "fail-$f-$cmd: exit 0" # status ignores "tables"
    done
done
rc=0
ENVS=("PGPASSWORD=$CANARY-wrong")
sl "fail-wrongpw-env" status -c "$E2E_TMP/nopw.json" || rc=$?
assert_eq 4 "$rc" "wrong PGPASSWORD: exit code"

n=$(find "$OUT" -type f | wc -l)
if grep -rl -- "Canary" "$OUT" "$E2E_TMP/syncline.log" 2>/dev/null; then
    grep -r -- "Canary" "$OUT" "$E2E_TMP/syncline.log" | head -n 20 >&2
    fail "the canary password appears in the output above"
fi
echo "ok: the canary appears in none of $n outputs, metrics scrapes or the run logs"
