# shellcheck shell=bash
# Throwaway PostgreSQL clusters for the tests, the demo and the benchmarks.
# Source this file; it defines functions only (and PG_BIN if unset).
#
#   pg_cluster_create NAME PORT DIR [EXTRA_CONF_LINE...]
#                                 initdb DIR (the data directory) and configure it for syncline:
#                                 127.0.0.1:PORT, socket in DIR, wal_level=logical, trust auth
#                                 (scram for role syncline_pw), log in DIR/log/postgresql.log.
#                                 Extra lines are appended to postgresql.conf (last one wins).
#                                 PG_FSYNC=on|off (default off) sets fsync.
#                                 PG_MAJOR=12..18 (default 15) picks the server's major: 15 is
#                                 Debian's (PG_BIN), others come from tests/lib/pgversions.sh
#                                 (fetched into PGV_CACHE, /var/cache/syncline-pg, if absent).
#   pg_cluster_start DIR          starts it and waits until it accepts connections
#   pg_cluster_stop DIR [MODE]    stops it if running (MODE: smart|fast|immediate, default fast)
#   pg_cluster_destroy DIR        stops it (immediate) and removes DIR
#   pg_cluster_running DIR        true when the postmaster of DIR is running
#   pg_cluster_port DIR           prints the port written in DIR/postgresql.conf
#   pg_cluster_log DIR            prints the path of the server log
#   pg_wait_ready PORT [SECONDS]  waits (default 60 s) until 127.0.0.1:PORT accepts connections
#   pg_port_free PORT             true when nothing listens on 127.0.0.1:PORT
#   pg_free_port START            prints the first port >= START that nothing listens on or holds
#   pg_make_scratch PREFIX        prints a new directory /tmp/PREFIX.XXXXXX usable by the server
#
# As root the server runs as the `postgres` system user (created if missing), because initdb
# refuses to run as root. As any other user it runs as that user. The functions taking DIR use
# the server binaries of the major in DIR/PG_VERSION; clients (psql, pg_isready, pgbench) are
# always PG_BIN's, which talk to every major 12-18.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
# shellcheck source=tests/lib/pgversions.sh
source "$(dirname "${BASH_SOURCE[0]}")/pgversions.sh"

_pg_die() {
    echo "pg.sh: $*" >&2
    return 1
}

# Runs a command as the user that owns the clusters.
pg_as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# The account that owns the clusters: postgres when we are root, else ourselves.
pg_owner() {
    if [[ $(id -u) -eq 0 ]]; then echo postgres; else id -un; fi
}

# The major of the cluster in DIR (15 when unknown).
_pg_dir_major() {
    local v
    v=$(cat "$1/PG_VERSION" 2>/dev/null) || v=15
    echo "${v:-15}"
}

# Runs server program CMD of MAJOR as the cluster owner; other majors than Debian's 15 need
# their own libraries (LD_LIBRARY_PATH, passed through runuser with env; pg_ctl hands it on).
_pg_server() { # MAJOR CMD [ARGS...]
    local major=$1 cmd=$2 bin
    shift 2
    if [[ $major == 15 ]]; then
        pg_as_owner "$PG_BIN/$cmd" "$@"
        return
    fi
    bin=$(pgv_bin "$major")
    pg_as_owner env LD_LIBRARY_PATH="$bin/../lib" "$bin/$cmd" "$@"
}

pg_ensure_owner() {
    [[ $(id -u) -eq 0 ]] || return 0
    id postgres >/dev/null 2>&1 && return 0
    echo "pg.sh: creating system user postgres" >&2
    useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
        --shell /bin/bash postgres
}

pg_make_scratch() {
    local prefix=${1:-syncline} dir
    pg_ensure_owner || return 1
    dir=$(mktemp -d "/tmp/${prefix}.XXXXXX") || return 1
    chmod 755 "$dir"
    if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$dir"; fi
    echo "$dir"
}

pg_port_free() {
    local port=$1
    # A connect that succeeds means someone listens there.
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        return 1
    fi
    return 0
}

# True when some socket, a client connection's included, has PORT as its local end: test ports
# lie in the kernel's ephemeral range, and a listener cannot bind a port a connection holds.
pg_port_held() {
    command -v ss >/dev/null 2>&1 && [[ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]]
}

pg_free_port() {
    local port=$1 tries=0
    while ! pg_port_free "$port" || pg_port_held "$port"; do
        port=$((port + 1))
        tries=$((tries + 1))
        ((tries < 200)) || {
            _pg_die "no free port from $1"
            return 1
        }
    done
    echo "$port"
}

pg_cluster_create() {
    local name=$1 port=$2 dir=$3
    shift 3 || {
        _pg_die "usage: pg_cluster_create NAME PORT DIR [EXTRA_CONF_LINE...]"
        return 1
    }
    local owner major=${PG_MAJOR:-15}
    pg_ensure_owner || return 1
    owner=$(pg_owner)
    if [[ $major != 15 ]]; then
        pgv_fetch "$major" || return 1
    fi
    [[ -x "$(pgv_bin "$major")/initdb" ]] || {
        _pg_die "no initdb for PostgreSQL $major in $(pgv_bin "$major") (run scripts/install-deps.sh)"
        return 1
    }
    if [[ -e "$dir" && -n "$(ls -A "$dir" 2>/dev/null)" ]]; then
        _pg_die "$dir exists and is not empty"
        return 1
    fi
    mkdir -p "$dir" || return 1
    chmod 700 "$dir"
    [[ $(id -u) -ne 0 ]] || chown postgres:postgres "$dir"
    if ! pg_as_owner test -w "$dir"; then
        _pg_die "user $owner cannot write $dir (a parent directory is not traversable?);" \
            "use pg_make_scratch to get a usable directory"
        return 1
    fi

    local out
    if ! out=$(_pg_server "$major" initdb -D "$dir" -U postgres -A trust --no-sync \
        -E UTF8 --locale=C.UTF-8 2>&1); then
        echo "$out" >&2
        _pg_die "initdb $dir failed"
        return 1
    fi
    pg_as_owner mkdir -p "$dir/log"

    local line
    {
        echo ""
        echo "# ---- syncline test cluster ($name) ----"
        echo "cluster_name = '$name'"
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $port"
        echo "unix_socket_directories = '$dir'"
        echo "wal_level = logical"
        echo "max_replication_slots = 40"
        echo "max_wal_senders = 40"
        echo "max_connections = 200"
        echo "fsync = ${PG_FSYNC:-off}"
        echo "shared_buffers = 256MB"
        echo "max_wal_size = 2GB"
        echo "logging_collector = off"
        echo "log_line_prefix = '%m [%p] %q%a@%d '"
        echo "lc_messages = 'C'"
        for line in "$@"; do echo "$line"; done
    } | pg_as_owner tee -a "$dir/postgresql.conf" >/dev/null

    # Order matters: the first matching line wins. Role syncline_pw always needs a password
    # (for the wrong-password tests); everything else on 127.0.0.1 and the socket is trusted.
    pg_as_owner tee "$dir/pg_hba.conf" >/dev/null <<'EOF'
# TYPE  DATABASE     USER         ADDRESS        METHOD
local   all          all                         trust
local   replication  all                         trust
host    all          syncline_pw  127.0.0.1/32   scram-sha-256
host    replication  syncline_pw  127.0.0.1/32   scram-sha-256
host    all          all          127.0.0.1/32   trust
host    replication  all          127.0.0.1/32   trust
EOF
}

pg_cluster_log() {
    echo "$1/log/postgresql.log"
}

pg_cluster_port() {
    local port
    port=$(sed -n "s/^port = \([0-9][0-9]*\).*/\1/p" "$1/postgresql.conf" | tail -n 1)
    [[ -n "$port" ]] || {
        _pg_die "no port in $1/postgresql.conf"
        return 1
    }
    echo "$port"
}

pg_cluster_running() {
    _pg_server "$(_pg_dir_major "$1")" pg_ctl -D "$1" status >/dev/null 2>&1
}

pg_cluster_start() {
    local dir=$1 port
    port=$(pg_cluster_port "$dir") || return 1
    if pg_cluster_running "$dir"; then
        pg_wait_ready "$port"
        return
    fi
    pg_port_free "$port" || {
        _pg_die "port $port is already in use, cannot start $dir"
        return 1
    }
    if ! _pg_server "$(_pg_dir_major "$dir")" pg_ctl -D "$dir" -l "$(pg_cluster_log "$dir")" \
        -w -t 120 start >/dev/null; then
        tail -n 30 "$(pg_cluster_log "$dir")" >&2 || true
        _pg_die "could not start the cluster in $dir"
        return 1
    fi
    pg_wait_ready "$port"
}

pg_cluster_stop() {
    local dir=$1 mode=${2:-fast}
    [[ -d "$dir" ]] || return 0
    pg_cluster_running "$dir" || return 0
    _pg_server "$(_pg_dir_major "$dir")" pg_ctl -D "$dir" -m "$mode" -w -t 120 stop >/dev/null
}

pg_cluster_destroy() {
    local dir=$1
    [[ -n "$dir" && -d "$dir" ]] || return 0
    [[ -f "$dir/PG_VERSION" ]] || {
        _pg_die "refusing to remove $dir: not a cluster data directory"
        return 1
    }
    pg_cluster_stop "$dir" immediate || true
    rm -rf "$dir"
}

pg_wait_ready() {
    local port=$1 secs=${2:-60} i
    for ((i = 0; i < secs * 5; i++)); do
        if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then
            return 0
        fi
        sleep 0.2
    done
    _pg_die "server on 127.0.0.1:$port not ready after ${secs}s"
}
