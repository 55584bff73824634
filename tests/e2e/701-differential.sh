#!/usr/bin/env bash
# Differential test (tests/diff/README.md): seeded random workloads over many types, key kinds,
# partitions, TOAST, key updates, savepoints, truncates and multi-table transactions replayed on
# the source; native logical replication is the oracle, syncline (run, and capture + apply
# through Kafka) must end with the same rows in every table. First a control (a row added on
# syncline's replica must be reported), then 3 seeds direct, 1 seed direct with apply.binary,
# 1 seed direct + Kafka, then every kept case of tests/diff/cases/, direct and through Kafka
# (JSON) (cases/pending/ holds known divergences and is not run).
# DIFF_SEEDS / DIFF_FIRST / DIFF_BINARY_SEED / DIFF_KAFKA_SEED change the seeds.
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"

e2e_setup t701
DIFF=$(cd "$(dirname "$0")/../diff" && pwd)
diff_py() {
    python3 "$DIFF/diff.py" --src-port "$SRC_PORT" --tgt-port "$TGT_PORT" --pg-bin "$PG_BIN" \
        --syncline "$SYNCLINE" --work "$E2E_TMP/diff" --prefix t701d "$@"
}
e2e_on_exit 'diff_py --seeds 0 --reset-only >/dev/null 2>&1'

rc=0
diff_py --seed 1 --control --txns 10 >"$E2E_TMP/control.out" 2>&1 || rc=$?
cat "$E2E_TMP/control.out"
assert_eq 1 "$rc" "control: a replica with one row too many fails the run"
assert_contains "$E2E_TMP/control.out" "DIFF seed 1" "control: the seed is reported as DIFF"
assert_contains "$E2E_TMP/control.out" "direct differs from native on t_single" "control: names the table"

rc=0
diff_py --first "${DIFF_FIRST:-1}" --seeds "${DIFF_SEEDS:-3}" || rc=$?
assert_eq 0 "$rc" "direct: every seed ran clean"

rc=0
diff_py --seed "${DIFF_BINARY_SEED:-5}" --binary || rc=$?
assert_eq 0 "$rc" "direct with apply.binary: the seed ran clean"

rc=0
diff_py --seed "${DIFF_KAFKA_SEED:-4}" --kafka --kafka-format avro --kafka-brokers "$KAFKA_BROKERS" || rc=$?
assert_eq 0 "$rc" "direct + Kafka: the seed ran clean"

cases=()
for f in "$DIFF"/cases/*.sql; do
    [[ -e "$f" ]] && cases+=(--replay "$f")
done
if ((${#cases[@]})); then
    rc=0
    diff_py "${cases[@]}" --kafka --kafka-format json --kafka-brokers "$KAFKA_BROKERS" || rc=$?
    assert_eq 0 "$rc" "kept cases ($((${#cases[@]} / 2))) ran clean"
fi
