#!/usr/bin/env bash
# TLS to both databases with certificate verification: the test makes a CA and a server
# certificate (SAN IP:127.0.0.1, DNS:localhost) with openssl, starts a dedicated source and target
# cluster (ssl = on; role tls_user may only connect over TLS), syncs with sslmode=verify-full, and
# checks in pg_stat_ssl that syncline's sessions use TLS. A certificate from another CA, and a
# missing root certificate, fail with exit 4 and say why.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib/pg.sh
source "$(dirname "$0")/../lib/pg.sh"

command -v openssl >/dev/null || fail "openssl is not installed"
e2e_setup t603

PKI=$E2E_TMP/pki
mkdir -p "$PKI"
cd "$PKI"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=syncline test CA" \
    -keyout ca.key -out ca.crt 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=some other CA" \
    -keyout other.key -out other.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName = IP:127.0.0.1, DNS:localhost\nextendedKeyUsage = serverAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out server.crt 2>/dev/null
cd - >/dev/null

# Two clusters of our own, so the shared ones keep their configuration.
SHARED_SRC_PORT=$SRC_PORT
TLS_SRC_PORT=$(pg_free_port 56610)
TLS_TGT_PORT=$(pg_free_port $((TLS_SRC_PORT + 1)))
SRC_DIR=$E2E_TMP/tls-src
TGT_DIR=$E2E_TMP/tls-tgt
e2e_on_exit "pg_cluster_destroy $SRC_DIR; pg_cluster_destroy $TGT_DIR; SRC_PORT=$SHARED_SRC_PORT"
for side in src tgt; do
    dir=$E2E_TMP/tls-$side
    port=$TLS_SRC_PORT
    [[ $side == src ]] || port=$TLS_TGT_PORT
    pg_cluster_create "tls_$side" "$port" "$dir" "ssl = on" "ssl_cert_file = 'server.crt'" \
        "ssl_key_file = 'server.key'" || fail "cannot create the $side cluster"
    install -m 600 "$PKI/server.crt" "$PKI/server.key" "$dir/"
    [[ $(id -u) -ne 0 ]] || chown postgres: "$dir/server.crt" "$dir/server.key"
    # tls_user: TLS only (first matching line wins).
    pg_as_owner sed -i '1i hostnossl all tls_user 127.0.0.1/32 reject\nhostnossl replication tls_user 127.0.0.1/32 reject' \
        "$dir/pg_hba.conf"
    pg_cluster_start "$dir" || fail "cannot start the $side cluster"
done
SRC_PORT=$TLS_SRC_PORT
TGT_PORT=$TLS_TGT_PORT

for port in "$SRC_PORT" "$TGT_PORT"; do
    _e2e_psql_or_fail "create db" "$port" postgres -c "CREATE DATABASE t603" \
        -c "CREATE ROLE tls_user SUPERUSER REPLICATION LOGIN"
done
both_sql "CREATE TABLE items (id int PRIMARY KEY, note text)"
src_sql "INSERT INTO items SELECT i, 'before ' || i FROM generate_series(1, 100) i"

conninfo() { # PORT ROOTCERT
    echo "host=127.0.0.1 port=$1 dbname=t603 user=tls_user sslmode=verify-full sslrootcert=$2"
}
write_config "{\"name\": \"t603\",
  \"source\": {\"conninfo\": $(_e2e_json_str "$(conninfo "$SRC_PORT" "$PKI/ca.crt")")},
  \"target\": {\"conninfo\": $(_e2e_json_str "$(conninfo "$TGT_PORT" "$PKI/ca.crt")")}}"

syncline_start
src_sql "INSERT INTO items SELECT i, 'after ' || i FROM generate_series(101, 200) i;
         UPDATE items SET note = 'updated' WHERE id % 7 = 0; DELETE FROM items WHERE id % 11 = 0"
wait_synced 60
assert_same items
assert_eq "200" "$(src_sql "SELECT count(*) + 18 FROM items")" "source rows"

# Every session of tls_user on both sides is encrypted; there is at least one on each.
for port in "$SRC_PORT" "$TGT_PORT"; do
    got=$(_e2e_psql "$port" postgres -c "SELECT count(*) FILTER (WHERE s.ssl) || '/' || count(*)
          FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename = 'tls_user'")
    echo "TLS sessions of tls_user on port $port: $got"
    [[ "$got" =~ ^([1-9][0-9]*)/([0-9]+)$ && "${BASH_REMATCH[1]}" == "${BASH_REMATCH[2]}" ]] ||
        fail "port $port: not every syncline session uses TLS ($got)"
done
syncline_stop

# A server certificate from another CA, and no root certificate at all: exit 4, reason given.
bad_case() { # LABEL SRC_ROOTCERT EXPECTED_TEXT
    local rc=0 out=$E2E_TMP/$1.out
    printf '{"name": "t603", "source": {"conninfo": %s}, "target": {"conninfo": %s}}\n' \
        "$(_e2e_json_str "$(conninfo "$SRC_PORT" "$2")")" \
        "$(_e2e_json_str "$(conninfo "$TGT_PORT" "$PKI/ca.crt")")" >"$E2E_TMP/$1.json"
    for cmd in run status; do
        rc=0
        timeout -k 5 60 "$SYNCLINE" "$cmd" -c "$E2E_TMP/$1.json" >"$out" 2>&1 </dev/null || rc=$?
        echo "--- $1 $cmd: exit $rc: $(head -n 2 "$out")"
        assert_eq 4 "$rc" "$1 $cmd: exit code"
        assert_contains "$out" "$3" "$1 $cmd: says why"
    done
}
bad_case wrong_ca "$PKI/other.crt" "certificate verify failed"
bad_case no_root_cert "$PKI/does-not-exist.crt" "root certificate file"
