# shellcheck shell=bash
# Helpers for the Kafka scenarios (tests/e2e/1NN-kafka-*.sh), on top of lib.sh. tests/run.sh
# starts one broker for them and exports KAFKA_BROKERS and KAFKA_DIR (see tests/lib/kafka.sh).
#
#   kafka_e2e_setup NAME FORMAT PARTITIONING [EXTRA_KAFKA_MEMBERS]
#                     e2e_setup NAME, a fresh topic ($TOPIC) and a config with a kafka block
#   kafka_config FORMAT PARTITIONING [EXTRA_KAFKA_MEMBERS]   rewrites $CFG for the same $TOPIC
#   pgbench_schema    pgbench tables (with keys, no rows) on both sides
#   capture_start / capture_stop / capture_kill           `syncline capture` ($CAPTURE_PID)
#   capture_wait_exit SECONDS    waits for capture to exit by itself, sets CAPTURE_RC
#   apply_start [N] [ARGS...] / apply_stop [N] / apply_kill [N]
#                     `syncline apply` number N (default 1; logs in $E2E_TMP/apply.N.log)
#   wait_same SECONDS TABLE...   polls until every TABLE is identical on both sides
#   assert_same_pgbench          assert_same on the four pgbench tables ($PGBENCH_TABLES, lib.sh)
#   typed_schema / typed_changes      table "typed" on both sides: every type with its own Avro
#                     mapping (bool, int2/4/8, float4/8, bytea) next to text forms, and rows with
#                     NULLs, NaN, infinities, -0, extremes, large (TOASTed) values left unchanged
#   registry_start [USER:PASSWORD]    the Schema Registry stand-in (tests/lib/schema_registry.py)
#                     with that basic auth; sets SR_URL (with credentials, for the config),
#                     SR_BASE (without), SR_CTL (its fault-injection file). With
#                     $SCHEMA_REGISTRY_URL set, uses that registry instead (SR_CTL empty); with
#                     SCHEMA_REGISTRY_OPEN=1 too (a registry that checks no credentials, such as
#                     tests/lib/apicurio.sh's) USER:PASSWORD still goes into SR_URL, so that the
#                     scenario's password travels through syncline as with the stand-in
#   registry_get PATH                 GET $SR_URL/PATH, prints the body (fails the test on error)
#   registry_put PATH JSON            PUT JSON to $SR_URL/PATH (fails the test on error)
#   registry_compat_none SUBJECT      sets SUBJECT's compatibility to NONE the registry's way:
#                     PUT /config/SUBJECT; on Apicurio Registry (SR_URL .../apis/ccompat/vN) an
#                     artifact rule with its own API, because there that PUT with NONE only drops
#                     the subject's rule and the global level still applies (Apicurio 2.x)
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/lib/kafka.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/kafka.sh"

if [[ -z "${KAFKA_BROKERS:-}" ]]; then
    echo "e2e: \$KAFKA_BROKERS is not set; tests/run.sh starts a broker for 1NN-kafka scenarios" >&2
    exit 2
fi

CAPTURE_PID=""
declare -A APPLY_PIDS=()
TOPIC=""

kafka_e2e_setup() {
    local name=$1 format=$2 part=$3 extra=${4:-}
    e2e_setup "$name"
    TOPIC="e2e.$name.$(date +%s%N | tail -c 10)"
    kafka_config "$format" "$part" "$extra"
    e2e_on_exit _kafka_e2e_cleanup
    _e2e_log "kafka: brokers $KAFKA_BROKERS topic $TOPIC format $format partitioning $part"
}

kafka_config() {
    local format=$1 part=$2 extra=${3:-}
    write_config "$(config_json "\"kafka\": {\"brokers\": \"$KAFKA_BROKERS\", \"topic\": \"$TOPIC\", \
\"format\": \"$format\", \"partitioning\": \"$part\"${extra:+, $extra}}, \"apply\": {\"batch_ms\": 100}")"
}

_kafka_e2e_stop_pid() { # PID
    local pid=$1 i
    _e2e_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        _e2e_alive "$pid" || break
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
}

_kafka_e2e_cleanup() {
    local n
    _kafka_e2e_stop_pid "$CAPTURE_PID"
    for n in "${!APPLY_PIDS[@]}"; do _kafka_e2e_stop_pid "${APPLY_PIDS[$n]}"; done
    for f in "$E2E_TMP"/capture.log "$E2E_TMP"/apply.*.log; do
        [[ -s "$f" ]] || continue
        echo "--- last 25 lines of $f ---" >&2
        tail -n 25 "$f" >&2
    done
}

pgbench_schema() {
    # pgbench -i -I dtp: drop, create tables, primary keys (no rows)
    PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/pgbench" -q -i -I dtp \
        -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$SRC_DB" >/dev/null || fail "pgbench schema (source)"
    PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/pgbench" -q -i -I dtp \
        -h 127.0.0.1 -p "$TGT_PORT" -U postgres "$TGT_DB" >/dev/null || fail "pgbench schema (target)"
}

# pgbench load on the source: -i -I g (TRUNCATE + COPY) at scale $1, then a run of $2 seconds.
pgbench_load() {
    local scale=${1:-1}
    PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/pgbench" -q -i -I g -s "$scale" \
        -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$SRC_DB" >/dev/null 2>&1 || fail "pgbench -i -I g"
}

pgbench_run() { # SECONDS [CLIENTS]
    "$PG_BIN/pgbench" -n -T "$1" -c "${2:-4}" -j 2 -h 127.0.0.1 -p "$SRC_PORT" -U postgres \
        "$SRC_DB" >"$E2E_TMP/pgbench.log" 2>&1 || fail "pgbench run failed: $(tail -n 3 "$E2E_TMP/pgbench.log")"
    _e2e_log "pgbench: $(grep -E '^tps|transactions actually processed' "$E2E_TMP/pgbench.log" | tr '\n' ' ')"
}

capture_start() {
    _e2e_alive "$CAPTURE_PID" && fail "capture_start: capture is already running"
    echo "=== $(date +%T.%3N) syncline capture $* ===" >>"$E2E_TMP/capture.log"
    "$SYNCLINE" capture -c "$CFG" "$@" >>"$E2E_TMP/capture.log" 2>&1 </dev/null &
    CAPTURE_PID=$!
    # streaming once the slot of the test database is held by a walsender
    local i
    for ((i = 0; i < 150; i++)); do
        _e2e_alive "$CAPTURE_PID" || fail "capture exited early: $(tail -n 5 "$E2E_TMP/capture.log")"
        [[ -n "$(_e2e_slot_pids)" && "$(_e2e_slot_pids)" != "?" ]] && grep -q "capture streaming" "$E2E_TMP/capture.log" && {
            _e2e_log "capture started (pid $CAPTURE_PID)"
            return 0
        }
        sleep 0.2
    done
    fail "capture did not start streaming within 30 s"
}

capture_stop() {
    local rc=0
    _e2e_alive "$CAPTURE_PID" || fail "capture_stop: capture is not running"
    kill -TERM "$CAPTURE_PID"
    wait "$CAPTURE_PID" || rc=$?
    CAPTURE_PID=""
    _e2e_log "capture stopped (exit $rc)"
    _e2e_wait_slots_released
    return "$rc"
}

# Waits for capture to exit by itself; sets CAPTURE_RC to its exit code.
export CAPTURE_RC=""
capture_wait_exit() { # SECONDS
    local secs=$1 i
    for ((i = 0; i < secs * 5; i++)); do
        _e2e_alive "$CAPTURE_PID" || break
        sleep 0.2
    done
    _e2e_alive "$CAPTURE_PID" && fail "capture still running after ${secs}s"
    CAPTURE_RC=0
    wait "$CAPTURE_PID" 2>/dev/null || CAPTURE_RC=$?
    CAPTURE_PID=""
    _e2e_log "capture exited (exit $CAPTURE_RC)"
    _e2e_wait_slots_released
}

capture_kill() {
    kill -KILL "$CAPTURE_PID" 2>/dev/null || true
    wait "$CAPTURE_PID" 2>/dev/null || true
    CAPTURE_PID=""
    _e2e_log "capture killed"
    _e2e_wait_slots_released
}

apply_start() { # [N] [ARGS...]
    local n=1
    if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
        n=$1
        shift
    fi
    echo "=== $(date +%T.%3N) syncline apply $* ===" >>"$E2E_TMP/apply.$n.log"
    "$SYNCLINE" apply -c "$CFG" "$@" >>"$E2E_TMP/apply.$n.log" 2>&1 </dev/null &
    APPLY_PIDS[$n]=$!
    _e2e_log "apply $n started (pid ${APPLY_PIDS[$n]})"
}

apply_running() { _e2e_alive "${APPLY_PIDS[${1:-1}]:-}"; }

apply_stop() { # [N]
    local n=${1:-1} rc=0 pid
    pid=${APPLY_PIDS[$n]:-}
    _e2e_alive "$pid" || fail "apply_stop: apply $n is not running"
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    APPLY_PIDS[$n]=""
    _e2e_log "apply $n stopped (exit $rc)"
    return "$rc"
}

apply_kill() { # [N]
    local n=${1:-1}
    kill -KILL "${APPLY_PIDS[$n]}" 2>/dev/null || true
    wait "${APPLY_PIDS[$n]}" 2>/dev/null || true
    APPLY_PIDS[$n]=""
    _e2e_log "apply $n killed (SIGKILL)"
}

# Waits for apply N to exit; sets APPLY_RC to its exit code.
export APPLY_RC=""
apply_wait_exit() { # N SECONDS
    local n=$1 secs=$2 i pid
    pid=${APPLY_PIDS[$n]}
    for ((i = 0; i < secs * 5; i++)); do
        _e2e_alive "$pid" || break
        sleep 0.2
    done
    _e2e_alive "$pid" && fail "apply $n still running after ${secs}s"
    APPLY_RC=0
    wait "$pid" 2>/dev/null || APPLY_RC=$?
    APPLY_PIDS[$n]=""
}

_kafka_tables_same() {
    local t
    for t in "$@"; do
        [[ "$(_e2e_table_digest src "$t")" == "$(_e2e_table_digest tgt "$t")" ]] || return 1
    done
}

wait_same() { # SECONDS TABLE...
    local secs=$1 start
    shift
    start=$(_e2e_now_ms)
    wait_until "$secs" _kafka_tables_same "$@"
    _e2e_log "target caught up in $(($(_e2e_now_ms) - start)) ms"
}

assert_same_pgbench() {
    local t
    for t in "${PGBENCH_TABLES[@]}"; do assert_same "$t"; done
}

# Messages in the topic (sum of the high watermarks of every partition).
topic_messages() {
    kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC" -o beginning -e -q -f '.\n' 2>/dev/null | wc -l
}

# The topic's change messages (heartbeats have no value), one a line: with values, the value;
# with headers, the headers, a tab, then the value.
topic_changes() { # values|headers
    local fmt='%S\t%s\n'
    [[ $1 == headers ]] && fmt='%S\t%h\t%s\n'
    kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC" -o beginning -e -q -f "$fmt" | awk -F '\t' '$1 > 0' |
        cut -f 2-
}

_topic_has_changes() { (($(topic_changes values | wc -l) == $1)); }

# Waits up to 30 s until the topic holds N change messages; then stops capture.
capture_until_changes() { # N
    wait_until 30 _topic_has_changes "$1"
    capture_stop
}

typed_schema() {
    both_sql "CREATE TABLE typed (id int8 PRIMARY KEY, b bool, s int2, i int4, l int8, f4 real,
        f8 float8, raw bytea, n numeric, t text, ts timestamptz, j jsonb, u uuid, a int[])"
}

typed_changes() {
    src_sql "INSERT INTO typed VALUES
        (1, true, -32768, -2147483648, -9223372036854775808, 'NaN', 'NaN', '\\x00ff00', 'NaN',
         'it''s \"q\" \\ ü', '2024-01-31 12:00:00.123456+01', '{\"a\": [1, null]}',
         'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,NULL,3}'),
        (2, false, 32767, 2147483647, 9223372036854775807, 'Infinity', '-Infinity', '\\x', '1e-30',
         '', 'infinity', 'null', NULL, '{}'),
        (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (4, true, 0, 0, 0, '-0', '-0', '\\x41', '0.1000', 'x', '-infinity', '[]', NULL, NULL),
        (5, true, 1, 1, 1, '1e-45', '5e-324', '\\x01', '123456789012345678901234567890.5', 'y',
         '1970-01-01 00:00:00+00', '1', NULL, NULL),
        (6, true, 2, 2, 2, '3.4028235e+38', '1.7976931348623157e+308', '\\x02', '-1', 'z',
         '2000-02-29 23:59:59+00', '2', NULL, NULL),
        (7, true, 3, 3, 3, '0.1', '0.1', '\\x03', '0', 'w', NULL, NULL, NULL, NULL),
        (8, true, 4, 4, 4, '100', '123456789012345.6', '\\x04', '0', 'v', NULL, NULL, NULL, NULL)"
    # large values (TOASTed out of line, not compressible), then updates that leave them unchanged
    src_sql "INSERT INTO typed (id, raw, t) SELECT 100 + g,
               decode(string_agg(md5(g::text || i::text), ''), 'hex'),
               string_agg(md5(i::text || g::text), '')
             FROM generate_series(1, 3) g, generate_series(1, 4000) i GROUP BY g;
             UPDATE typed SET f8 = f8 + 1, b = NOT coalesce(b, false) WHERE id > 100;
             UPDATE typed SET f4 = 'Infinity', s = s - 1 WHERE id = 8;
             DELETE FROM typed WHERE id = 7"
}

SR_URL=""
SR_BASE=""
SR_CTL=""
SR_PID=""

registry_start() {
    local auth=${1:-} i
    if [[ -n "${SCHEMA_REGISTRY_URL:-}" ]]; then
        SR_URL=$SCHEMA_REGISTRY_URL
        SR_BASE=$(sed -E 's#^(https?://)[^@/]*@#\1#' <<<"$SR_URL")
        if [[ -n "$auth" && "${SCHEMA_REGISTRY_OPEN:-}" == 1 && "$SR_URL" == "$SR_BASE" ]]; then
            SR_URL="${SR_BASE%%://*}://$auth@${SR_BASE#*://}"
        fi
        _e2e_log "schema registry: external $SR_BASE"
        return 0
    fi
    SR_CTL=$E2E_TMP/registry.ctl
    rm -f "$E2E_TMP/registry.port"
    SCHEMA_REGISTRY_AUTH=$auth python3 "$(dirname "${BASH_SOURCE[0]}")/../lib/schema_registry.py" \
        --port-file "$E2E_TMP/registry.port" --control-file "$SR_CTL" \
        2>>"$E2E_TMP/registry.log" </dev/null &
    SR_PID=$!
    e2e_on_exit "kill $SR_PID 2>/dev/null || true"
    for ((i = 0; i < 100; i++)); do
        [[ -s "$E2E_TMP/registry.port" ]] && break
        _e2e_alive "$SR_PID" || fail "schema registry stand-in exited: $(tail -n 5 "$E2E_TMP/registry.log")"
        sleep 0.1
    done
    [[ -s "$E2E_TMP/registry.port" ]] || fail "schema registry stand-in did not start"
    SR_BASE="http://127.0.0.1:$(cat "$E2E_TMP/registry.port")"
    SR_URL="http://${auth:+$auth@}${SR_BASE#http://}"
    _e2e_log "schema registry: stand-in $SR_BASE (pid $SR_PID)"
}

registry_get() {
    curl -sf --max-time 10 "$SR_URL/$1" || fail "registry GET /$1 failed"
}

registry_put() {
    curl -sf --max-time 10 -o /dev/null -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
        --data "$2" "$SR_URL/$1" || fail "registry PUT /$1 failed"
}

registry_compat_none() { # SUBJECT
    local subject=$1 rules
    if [[ "$SR_URL" != */apis/ccompat/v[0-9]* ]]; then
        registry_put "config/$subject" '{"compatibility": "NONE"}'
        return
    fi
    rules=${SR_URL%/apis/ccompat/*}/apis/registry/v2/groups/default/artifacts/$subject/rules
    curl -sf --max-time 10 -o /dev/null -X POST -H 'Content-Type: application/json' \
        --data '{"type": "COMPATIBILITY", "config": "NONE"}' "$rules" ||
        curl -sf --max-time 10 -o /dev/null -X PUT -H 'Content-Type: application/json' \
            --data '{"type": "COMPATIBILITY", "config": "NONE"}' "$rules/COMPATIBILITY" ||
        fail "Apicurio: could not set the COMPATIBILITY rule of $subject to NONE"
}

# ---- Kafka Connect (the test sources tests/lib/connect.sh) ---------------------------------------

# Starts a Kafka Connect worker in CONNECT_DIR=$E2E_TMP/connect (REST on CONNECT_PORT, default
# KAFKA_PORT + 20); on exit, shows the errors in its log and stops it, and drops the replication
# slot SLOT on the source when one is named (a Debezium source connector's).
connect_e2e_start() { # [SLOT]
    CONNECT_DIR=$E2E_TMP/connect
    _CONNECT_E2E_SLOT=${1:-}
    e2e_on_exit _connect_e2e_cleanup
    connect_start "$CONNECT_DIR" "$KAFKA_BROKERS" "${CONNECT_PORT:-$((${KAFKA_PORT:-59092} + 20))}" >/dev/null ||
        fail "Kafka Connect did not start"
}
_connect_e2e_cleanup() {
    if [[ -f "$CONNECT_DIR/logs/connect.log" ]] && grep -q ERROR "$CONNECT_DIR/logs/connect.log"; then
        echo "--- errors in $CONNECT_DIR/logs/connect.log ---" >&2
        grep -A3 ERROR "$CONNECT_DIR/logs/connect.log" | head -n 40 >&2
    fi
    connect_stop "$CONNECT_DIR"
    if [[ -n "$_CONNECT_E2E_SLOT" ]]; then
        src_psql -c "SELECT pg_drop_replication_slot('$_CONNECT_E2E_SLOT')" >/dev/null 2>&1
    fi
}

# The real Debezium PostgreSQL connector dbz-source on the worker of connect_e2e_start: slot
# dbz_slot and publication dbz_pub (the test makes both), topics $PREFIX.*, no snapshot,
# transaction metadata on, plus EXTRA (JSON members, e.g. '"table.include.list": "public.t",');
# returns once it streams.
dbz_source_create() { # [EXTRA]
    connect_create "$CONNECT_DIR" dbz-source "{
  ${1:-}
  \"connector.class\": \"io.debezium.connector.postgresql.PostgresConnector\",
  \"tasks.max\": \"1\",
  \"database.hostname\": \"127.0.0.1\",
  \"database.port\": \"$SRC_PORT\",
  \"database.user\": \"postgres\",
  \"database.password\": \"unused\",
  \"database.dbname\": \"$SRC_DB\",
  \"topic.prefix\": \"$PREFIX\",
  \"plugin.name\": \"pgoutput\",
  \"slot.name\": \"dbz_slot\",
  \"publication.name\": \"dbz_pub\",
  \"publication.autocreate.mode\": \"disabled\",
  \"snapshot.mode\": \"no_data\",
  \"provide.transaction.metadata\": \"true\"
}" || fail "could not create the Debezium connector"
    connect_wait_running "$CONNECT_DIR" dbz-source 120 || fail "the Debezium connector is not running"
    wait_until 60 grep -q "Searching for WAL resume position\|Processing messages\|streaming" \
        "$CONNECT_DIR/logs/connect.log"
}

# The Debezium-layout Avro scenarios against the real converter (144, 145; the caller sources
# tests/lib/connect.sh and tests/lib/apicurio.sh): the scratch set-up NAME, Apicurio's Connect
# converter fetched, an Apicurio Registry started (stopped on exit; a port Quarkus refuses, e.g.
# one still in TIME_WAIT, moves on to the next), and syncline's debezium-layout Avro config with
# topic prefix PREFIX. Sets SR (the registry's Confluent API) and NATIVE (its own API, which the
# converter speaks).
dbz_avro_e2e_setup() { # NAME PREFIX
    kafka_e2e_setup "$1" avro none
    connect_fetch_apicurio_converter || fail "could not fetch Apicurio's converter"
    REG_DIR=$E2E_TMP/registry
    e2e_on_exit _dbz_avro_registry_stop
    local reg_port=${REGISTRY_PORT:-$((${KAFKA_PORT:-59092} + 30))} try
    for try in 1 2 3; do
        SR=$(apicurio_start "$REG_DIR" "$((reg_port + try - 1))") && break
        ((try < 3)) || fail "Apicurio Registry did not start"
    done
    NATIVE=${SR%/apis/ccompat/v7}/apis/registry/v2
    kafka_config avro none "\"layout\": \"debezium\", \"topic_prefix\": \"$2\", \
\"schema_registry\": \"$SR\""
}

_dbz_avro_registry_stop() { apicurio_stop "$REG_DIR"; }

# Debezium's JDBC sink jdbc-sink on the worker of connect_e2e_start, configured as its users do:
# topics $PREFIX.public.*, each into the target table of its name, upserts by the record key,
# deletes on tombstones, plus EXTRA (JSON members, e.g. converters); returns once it runs.
jdbc_sink_create() { # [EXTRA]
    connect_create "$CONNECT_DIR" jdbc-sink "{
  ${1:-}
  \"connector.class\": \"io.debezium.connector.jdbc.JdbcSinkConnector\",
  \"tasks.max\": \"1\",
  \"topics.regex\": \"$PREFIX\\\\.public\\\\..*\",
  \"connection.url\": \"jdbc:postgresql://127.0.0.1:$TGT_PORT/$TGT_DB\",
  \"connection.username\": \"postgres\",
  \"connection.password\": \"unused\",
  \"insert.mode\": \"upsert\",
  \"primary.key.mode\": \"record_key\",
  \"delete.enabled\": \"true\",
  \"schema.evolution\": \"none\",
  \"batch.size\": \"2000\",
  \"use.reduction.buffer\": \"true\",
  \"transforms\": \"route\",
  \"transforms.route.type\": \"org.apache.kafka.connect.transforms.RegexRouter\",
  \"transforms.route.regex\": \"$PREFIX\\\\.public\\\\.(.*)\",
  \"transforms.route.replacement\": \"\$1\"
}" || fail "could not create the JDBC sink"
    connect_wait_running "$CONNECT_DIR" jdbc-sink 120 || fail "the JDBC sink is not running"
}

# Waits until every table of TABLES (an array the scenario sets) is the same on both sides, and
# fails, showing both sides (or the sink's status when its task failed), when it does not.
jdbc_sink_converge() {
    local t i
    for ((i = 0; i < 300; i++)); do
        _kafka_tables_same "${TABLES[@]}" && return 0
        if grep -q '"FAILED"' <<<"$(connect_status "$CONNECT_DIR" jdbc-sink 2>/dev/null)"; then
            connect_status "$CONNECT_DIR" jdbc-sink | head -c 3000 >&2
            fail "the JDBC sink task failed"
        fi
        sleep 0.3
    done
    for t in "${TABLES[@]}"; do
        echo "--- $t: source, then target ---" >&2
        src_sql "SELECT * FROM $t ORDER BY id" | cut -c1-300 >&2
        echo "---" >&2
        tgt_sql "SELECT * FROM $t ORDER BY id" | cut -c1-300 >&2
    done
    fail "the target did not converge"
}

# Apicurio's AvroConverter as the KEY (key|value) converter of a connector, in the Confluent wire
# format (magic byte 0 + 4-byte content id, no headers), registry $NATIVE (dbz_avro_e2e_setup),
# plus EXTRA (JSON members of the same converter, without the "KEY.converter." prefix: NAME VALUE
# pairs). Prints JSON members, each ending in a comma.
apicurio_converter() { # KEY [NAME VALUE]...
    local k=$1
    shift
    printf '  "%s.converter": "io.apicurio.registry.utils.converter.AvroConverter",\n' "$k"
    printf '  "%s.converter.apicurio.registry.url": "%s",\n' "$k" "$NATIVE"
    while (($# >= 2)); do
        printf '  "%s.converter.apicurio.registry.%s": "%s",\n' "$k" "$1" "$2"
        shift 2
    done
    printf '  "%s.converter.apicurio.registry.as-confluent": "true",\n' "$k"
    printf '  "%s.converter.apicurio.registry.use-id": "contentId",\n' "$k"
    printf '  "%s.converter.apicurio.registry.headers.enabled": "false",\n' "$k"
}

# The Debezium scenarios' table "items": one column of each type whose encoding Debezium varies
# (numeric of fixed and of variable scale, 64-bit integers, floats, temporal types of every
# precision, uuid, jsonb, bytea) and a text column "note" for TOAST.
DBZ_ITEMS_TABLE="CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(12,3), amount numeric,
    qty int2, big int8, ratio float8, flag bool, day date, at timestamp, at3 timestamp(3),
    atz timestamptz, tod time, u uuid, j jsonb, raw bytea, note text);"

# An INSERT of items' rows 1 (every column), 2 (every column NULL but the key) and 3 (extremes,
# note = NOTE3, an SQL expression), and with "doomed" a row 4 for a later DELETE.
dbz_items_insert() { # NOTE3 [doomed]
    printf '%s' "INSERT INTO items VALUES
 (1, 'one', 12.5, 3.14159, 7, 9007199254740993, 0.1, true, '2024-02-29', '2024-01-02 03:04:05.123456',
  '2024-01-02 03:04:05.123', '2024-01-02 03:04:05.5+02', '23:59:59.999999',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}', '\\x00ff10', 'short'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, 'negative', -99999.999, -0.000001, -32768, -9223372036854775808, -1e300, false, '1900-01-01',
  '1969-12-31 23:59:59.999999', '1969-12-31 23:59:59.999', '1969-12-31 23:59:59+00', '00:00:00',
  NULL, '[]', '\\x', $1)"
    if [[ "${2:-}" == doomed ]]; then
        printf '%s' ",
 (4, 'doomed', 1, 1, 1, 1, 1, true, '2000-01-01', '2000-01-01', '2000-01-01', '2000-01-01+00', '12:00',
  NULL, NULL, NULL, NULL)"
    fi
    printf ';\n'
}

# On the target's items: an update carrying Debezium's unchanged-TOAST placeholder in note keeps
# the old value (Debezium's own recipe for the JDBC sink).
DBZ_KEEP_TOAST="CREATE FUNCTION keep_toast() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF NEW.note = '__debezium_unavailable_value' THEN NEW.note := OLD.note; END IF;
    RETURN NEW;
END \$\$;
CREATE TRIGGER keep_toast BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION keep_toast();"
