# shellcheck shell=bash
# A real Confluent-compatible Schema Registry for the tests: Apicurio Registry 2.4.2.Final
# (in-memory storage, no authentication) on loopback, built from Maven Central alone with the
# throwaway Quarkus project in tests/lib/apicurio/ (its pom.xml says why this version and which
# workarounds). Test infrastructure only, never part of syncline. Its Confluent API is
# http://127.0.0.1:PORT/apis/ccompat/v7. Source this file (functions only), or run it:
#
#   bash tests/lib/apicurio.sh build | start DIR [PORT] | stop DIR
#
#   apicurio_build              builds the application with Maven (Maven Central only, through
#                               tests/lib/apicurio/settings.xml; its own local repository) into
#                               $APICURIO_CACHE (default /var/cache/syncline-apicurio/2.4.2.Final,
#                               or ~/.cache/... when that is not writable); a no-op once built for
#                               the same pom.xml and settings.xml. The first build downloads about
#                               213 MB and takes ~3.5 min on 2 cores; log in $APICURIO_CACHE/build.log
#   apicurio_start DIR [PORT]   builds if needed, starts the registry on 127.0.0.1 and the first free
#                               port >= PORT (default 58081), waits until its API answers (at most
#                               APICURIO_WAIT seconds, default 180; startup takes 9-20 s), sets the
#                               global compatibility to APICURIO_COMPATIBILITY (default BACKWARD,
#                               the Confluent default; Apicurio's own default checks nothing; empty:
#                               leave it), prints the ccompat base URL and writes it to DIR/url.
#                               Log in DIR/registry.log, pid in DIR/pid. When the registry of DIR
#                               already runs, only prints its URL
#   apicurio_stop DIR           stops the registry of DIR (SIGTERM, then SIGKILL after 30 s)
#   apicurio_running DIR        true while the registry of DIR runs
#
# Needs a Java 17 runtime (a JRE is enough, for the build too) and Maven, which
# scripts/install-deps.sh installs for tests/lib/kafka.sh too, python3 and curl. Environment:
# APICURIO_CACHE, APICURIO_XMX (heap, default 256m), APICURIO_WAIT, APICURIO_COMPATIBILITY,
# JAVA (default java; Maven uses JAVA_HOME or the java on PATH).

APICURIO_VERSION=2.4.2.Final
_APICURIO_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/apicurio" && pwd)

_apicurio_die() {
    echo "apicurio.sh: $*" >&2
    return 1
}

_apicurio_cache() {
    if [[ -n "${APICURIO_CACHE:-}" ]]; then
        echo "$APICURIO_CACHE"
    elif mkdir -p /var/cache/syncline-apicurio 2>/dev/null && [[ -w /var/cache/syncline-apicurio ]]; then
        echo "/var/cache/syncline-apicurio/$APICURIO_VERSION"
    else
        echo "${HOME:-/tmp}/.cache/syncline-apicurio/$APICURIO_VERSION"
    fi
}

# The build's identity: what it was made from.
_apicurio_stamp() {
    cat "$_APICURIO_SRC/pom.xml" "$_APICURIO_SRC/settings.xml" | sha256sum | cut -d' ' -f1
}

_apicurio_runner() {
    echo "$(_apicurio_cache)/build/target/apicurio-runner-1-runner.jar"
}

_apicurio_built() {
    local cache
    cache=$(_apicurio_cache)
    [[ "$(cat "$cache/.complete" 2>/dev/null)" == "$(_apicurio_stamp)" && -f "$(_apicurio_runner)" ]]
}

# The build proper, under the cache's lock: Maven fetches the app jar, its application.properties
# becomes the module's (plus the index of the app jar for CDI), Quarkus packages a legacy-jar
# (target/apicurio-runner-1-runner.jar and target/lib/).
_apicurio_build_locked() {
    local cache=$1 build=$1/build log=$1/build.log appjar
    local -a mvn
    _apicurio_built && return 0
    rm -rf "$build" "$cache/.complete"
    mkdir -p "$build/src/main/resources" || return 1
    cp "$_APICURIO_SRC/pom.xml" "$build/pom.xml" || return 1
    mvn=(mvn -B -s "$_APICURIO_SRC/settings.xml" -Dmaven.repo.local="$cache/m2" -f "$build/pom.xml"
        -Dmaven.test.skip=true)
    echo "apicurio.sh: building Apicurio Registry $APICURIO_VERSION into $build" \
        "(first time: ~213 MB from Maven Central, ~3.5 min); log $log" >&2
    : >"$log"
    if ! "${mvn[@]}" dependency:resolve >>"$log" 2>&1; then
        tail -n 30 "$log" >&2
        _apicurio_die "mvn could not fetch Apicurio Registry $APICURIO_VERSION (log $log)"
        return 1
    fi
    appjar=$cache/m2/io/apicurio/apicurio-registry-app/$APICURIO_VERSION/apicurio-registry-app-$APICURIO_VERSION.jar
    python3 - "$appjar" "$build/src/main/resources/application.properties" <<'PY' || return 1
import sys, zipfile
props = zipfile.ZipFile(sys.argv[1]).read("application.properties").decode()
props += ("\n# syncline tests: index the registry app jar for CDI as if it were this module\n"
          "quarkus.index-dependency.registryapp.group-id=io.apicurio\n"
          "quarkus.index-dependency.registryapp.artifact-id=apicurio-registry-app\n")
with open(sys.argv[2], "w") as f:
    f.write(props)
PY
    if ! "${mvn[@]}" package >>"$log" 2>&1 || [[ ! -f "$(_apicurio_runner)" ]]; then
        tail -n 30 "$log" >&2
        _apicurio_die "the Quarkus build of Apicurio Registry failed (log $log)"
        return 1
    fi
    _apicurio_stamp >"$cache/.complete"
}

apicurio_build() {
    local cache start=$SECONDS
    _apicurio_built && return 0
    command -v mvn >/dev/null 2>&1 || {
        _apicurio_die "mvn not found (scripts/install-deps.sh installs maven and Java)"
        return 1
    }
    command -v python3 >/dev/null 2>&1 || {
        _apicurio_die "python3 not found"
        return 1
    }
    cache=$(_apicurio_cache)
    mkdir -p "$cache" || return 1
    # one build at a time per cache; whoever waited finds it done
    (
        flock 9 || exit 1
        _apicurio_build_locked "$cache"
    ) 9>"$cache/.lock" || return 1
    echo "apicurio.sh: built in $((SECONDS - start)) s" >&2
}

_apicurio_port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_apicurio_free_port() {
    local port=$1 tries=0
    while ! _apicurio_port_free "$port"; do
        port=$((port + 1))
        tries=$((tries + 1))
        ((tries < 200)) || return 1
    done
    echo "$port"
}

apicurio_running() {
    local pid
    pid=$(cat "$1/pid" 2>/dev/null) || return 1
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

apicurio_start() {
    local dir=$1 port=${2:-58081} url i compat=${APICURIO_COMPATIBILITY-BACKWARD}
    command -v curl >/dev/null 2>&1 || {
        _apicurio_die "curl not found"
        return 1
    }
    command -v "${JAVA:-java}" >/dev/null 2>&1 || {
        _apicurio_die "${JAVA:-java} not found (scripts/install-deps.sh installs Java 17)"
        return 1
    }
    if apicurio_running "$dir" && [[ -s "$dir/url" ]]; then
        cat "$dir/url" # already started
        return 0
    fi
    apicurio_build || return 1
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd)
    port=$(_apicurio_free_port "$port") || {
        _apicurio_die "no free port"
        return 1
    }
    url=http://127.0.0.1:$port/apis/ccompat/v7
    rm -f "$dir/pid" "$dir/url"
    # shellcheck disable=SC2016 # expanded by the inner shell
    setsid bash -c 'cd "$1" && echo $$ >pid && shift && exec "$@"' _ "$dir" \
        "${JAVA:-java}" "-Xmx${APICURIO_XMX:-256m}" -XX:+UseSerialGC -Djava.awt.headless=true \
        -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port" -jar "$(_apicurio_runner)" \
        >>"$dir/registry.log" 2>&1 </dev/null &
    for ((i = 0; i < ${APICURIO_WAIT:-180} * 5; i++)); do
        if curl -sf -o /dev/null --max-time 5 "$url/subjects"; then
            break
        fi
        if ((i > 5)) && ! apicurio_running "$dir"; then
            tail -n 30 "$dir/registry.log" >&2
            _apicurio_die "the registry of $dir exited during start"
            return 1
        fi
        sleep 0.2
    done
    if ! apicurio_running "$dir" || ! curl -sf -o /dev/null --max-time 5 "$url/subjects"; then
        _apicurio_die "the registry of $dir did not answer on $url within ${APICURIO_WAIT:-180} s"
        apicurio_stop "$dir"
        return 1
    fi
    if [[ -n "$compat" ]] && ! curl -sf -o /dev/null --max-time 10 -X PUT \
        -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
        --data "{\"compatibility\": \"$compat\"}" "$url/config"; then
        _apicurio_die "could not set the global compatibility to $compat"
        apicurio_stop "$dir"
        return 1
    fi
    echo "$url" >"$dir/url"
    echo "$url"
}

apicurio_stop() {
    local dir=$1 pid i
    pid=$(cat "$dir/pid" 2>/dev/null) || return 0
    if kill -TERM "$pid" 2>/dev/null; then
        for ((i = 0; i < 150; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/pid"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    case "${1:-}" in
    build) apicurio_build ;;
    start) apicurio_start "${2:?usage: apicurio.sh start DIR [PORT]}" "${3:-58081}" ;;
    stop) apicurio_stop "${2:?usage: apicurio.sh stop DIR}" ;;
    *)
        echo "usage: bash tests/lib/apicurio.sh build | start DIR [PORT] | stop DIR" >&2
        exit 2
        ;;
    esac
fi
