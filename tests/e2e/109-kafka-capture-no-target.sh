#!/usr/bin/env bash
# capture needs only source and kafka (README): a config without "target" streams the source into
# the topic; apply, with its own config that has the target, applies it. A config without target
# still makes apply fail at once, naming target.conninfo (exit 3).
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

kafka_e2e_setup kafka_no_target json none
both_sql "CREATE TABLE t (id int PRIMARY KEY, v text)"
FULL_CFG=$CFG
CAPTURE_CFG=$E2E_TMP/capture.json
python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); del c["target"]; json.dump(c, open(sys.argv[2], "w"))' \
    "$FULL_CFG" "$CAPTURE_CFG"
CFG=$CAPTURE_CFG capture_start
src_sql "INSERT INTO t VALUES (1, 'one'), (2, 'two')"
rc=0
"$SYNCLINE" apply -c "$CAPTURE_CFG" >"$E2E_TMP/apply.notarget.log" 2>&1 || rc=$?
assert_eq 3 "$rc" "apply without target.conninfo exits 3"
assert_contains "$E2E_TMP/apply.notarget.log" "target.conninfo: required" "apply names target.conninfo"
apply_start
wait_same 60 t
apply_stop
CFG=$CAPTURE_CFG capture_stop
