#!/usr/bin/env bash
# syncline run --metrics PORT: the endpoint listens on 127.0.0.1 only, serves valid Prometheus
# text exposition (checked with promtool from Debian's prometheus package) with the copy, change,
# transaction, batch, latency and lag metrics, answers 404 elsewhere; a malformed address is a
# usage error.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../lib/pg.sh"

command -v promtool >/dev/null || fail "promtool not installed (apt-get install prometheus)"
e2e_setup t206
both_sql "CREATE TABLE items (id int PRIMARY KEY, v text)"
src_sql "INSERT INTO items SELECT g, 'copied' FROM generate_series(1, 1000) g"

port=$(pg_free_port 59206)
syncline_start --metrics "$port"
src_sql "INSERT INTO items SELECT g, 'new' FROM generate_series(1001, 1010) g;
         UPDATE items SET v = 'upd' WHERE id <= 3;
         DELETE FROM items WHERE id = 1010"
wait_synced
sleep 1.5 # idle: the lag gauges fall to 0 with the next keepalive

curl -sf "http://127.0.0.1:$port/metrics" -o "$E2E_TMP/metrics.txt" || fail "curl /metrics failed"
cat "$E2E_TMP/metrics.txt"
promtool check metrics <"$E2E_TMP/metrics.txt" || fail "promtool check metrics rejects the exposition"
echo "ok: promtool check metrics"

has() { grep -qxF -- "$1" "$E2E_TMP/metrics.txt" || fail "metrics lack the line [$1]"; echo "ok: $1"; }
has 'syncline_changes_total{table="public.items",op="insert"} 10'
has 'syncline_changes_total{table="public.items",op="update"} 3'
has 'syncline_changes_total{table="public.items",op="delete"} 1'
has 'syncline_copy_rows_total 1000'
has 'syncline_lag_bytes 0'
has 'syncline_lag_seconds 0'
grep -qE '^syncline_transactions_total [3-9]' "$E2E_TMP/metrics.txt" || fail "transactions_total < 3"
grep -qE '^syncline_batches_total [1-9]' "$E2E_TMP/metrics.txt" || fail "no batch counted"
grep -qE '^syncline_batch_rows_bucket\{le="\+Inf"\} [1-9]' "$E2E_TMP/metrics.txt" || fail "batch_rows histogram empty"
grep -qE '^syncline_apply_seconds_count [1-9]' "$E2E_TMP/metrics.txt" || fail "apply_seconds histogram empty"
grep -qE '^syncline_applied_lsn [1-9]' "$E2E_TMP/metrics.txt" || fail "applied_lsn missing"
grep -q '^# TYPE syncline_errors_total counter' "$E2E_TMP/metrics.txt" || fail "errors_total missing"

code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/other")
assert_eq 404 "$code" "other paths answer 404"
ss -ltnH "sport = :$port" >"$E2E_TMP/listen.txt"
cat "$E2E_TMP/listen.txt"
grep -q "127.0.0.1:$port" "$E2E_TMP/listen.txt" || fail "the endpoint does not listen on 127.0.0.1:$port"
grep -qE "(0\.0\.0\.0|\*|\[::\]):$port" "$E2E_TMP/listen.txt" && fail "the endpoint listens beyond loopback"
echo "ok: loopback only"

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code"
rc=0
"$SYNCLINE" run -c "$CFG" --metrics "localhost:x" >"$E2E_TMP/bad.out" 2>&1 </dev/null || rc=$?
cat "$E2E_TMP/bad.out"
assert_eq 2 "$rc" "a malformed --metrics address exits 2"
assert_contains "$E2E_TMP/bad.out" "--metrics localhost:x: expected PORT" "the error names the address"
