#!/usr/bin/env bash
# Kafka mode metrics: `capture --metrics` and `apply --metrics` serve valid Prometheus exposition
# (promtool) on loopback, and their counters move with the stream (batches, applied position).
# shellcheck source=tests/e2e/lib-kafka.sh
source "$(dirname "$0")/lib-kafka.sh"
# shellcheck source=tests/lib/pg.sh
source "$(dirname "$0")/../lib/pg.sh"

command -v promtool >/dev/null || fail "promtool not installed (apt-get install prometheus)"
cport=$(pg_free_port 59310)
aport=$(pg_free_port $((cport + 1)))

kafka_e2e_setup kafka_metrics json none
both_sql "CREATE TABLE t (id int PRIMARY KEY, v text)"
capture_start --metrics "$cport"
apply_start 1 --metrics "127.0.0.1:$aport"
src_sql "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 500) g"
src_sql "UPDATE t SET v = v || '!' WHERE id <= 100"
wait_same 60 t

scrape() { # PORT NAME
    curl -sf "http://127.0.0.1:$1/metrics" -o "$E2E_TMP/$2.txt" || fail "curl $2 /metrics failed"
    promtool check metrics <"$E2E_TMP/$2.txt" || fail "promtool rejects the $2 exposition"
}
value() { # FILE METRIC: the sample's value (first line without labels)
    awk -v m="$2" '$1 == m { print $2; exit }' "$1"
}
scrape "$cport" capture
scrape "$aport" apply
echo "ok: promtool accepts both expositions"
for side in capture apply; do
    b=$(value "$E2E_TMP/$side.txt" syncline_batches_total)
    [[ -n "$b" ]] && awk -v b="$b" 'BEGIN { exit !(b > 0) }' ||
        fail "$side: syncline_batches_total is [$b], expected > 0"
    echo "ok: $side counted $b batches"
done
applied=$(value "$E2E_TMP/apply.txt" syncline_applied_lsn)
[[ -n "$applied" ]] && awk -v a="$applied" 'BEGIN { exit !(a > 0) }' ||
    fail "apply: syncline_applied_lsn is [$applied], expected > 0"
echo "ok: apply reports its applied position ($applied)"
# loopback only
listen=$(awk -v p="$(printf '%04X' "$cport")" '$2 ~ ":"p"$" && $4 == "0A" { print $2 }' /proc/net/tcp)
[[ "$listen" == "0100007F:"* ]] || fail "capture metrics listen on [$listen], expected 127.0.0.1"
echo "ok: metrics listen on 127.0.0.1"
capture_stop
apply_stop
