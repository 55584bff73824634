# shellcheck shell=bash
# Kafka Connect (standalone worker) with the Debezium PostgreSQL source connector and the Debezium
# JDBC sink, from the official Java artifacts on Maven Central, for the tests and benchmarks that
# show syncline beside the Debezium ecosystem. No Docker. Source tests/lib/kafka.sh first; this
# file defines functions only.
#
#   connect_fetch             gathers the worker (connect-runtime, connect-json, connect-transforms
#                             at $KAFKA_VERSION plus a log4j 2 backend) and one plugin folder per
#                             connector into $CONNECT_CACHE (default
#                             /var/cache/syncline-connect/<versions>, or ~/.cache/... when that is
#                             not writable); a no-op once done
#   connect_start DIR BROKERS [PORT]
#                             starts a standalone worker (REST on the first free port >= PORT,
#                             default 58083) and waits until its REST API answers; prints the URL
#                             and writes it to DIR/url
#   connect_create DIR NAME JSON  creates connector NAME from the JSON object of its settings
#   connect_wait_running DIR NAME [SECONDS]  waits until the connector and its tasks run
#   connect_stop DIR          stops the worker of DIR (SIGTERM, then SIGKILL after 30 s)
#   connect_fetch_apicurio_converter
#                             adds the plugin folder plugins/apicurio-converter: Apicurio's Kafka
#                             Connect converters (io.apicurio.registry.utils.converter.AvroConverter,
#                             $APICURIO_CONVERTER_VERSION) and their runtime closure, resolved
#                             through Maven Central alone; a no-op once done. The JSON Schema and
#                             Protobuf serdes are left out (their POMs need other repositories)
#
# Versions (verified on Maven Central): Debezium 3.6.1.Final for the PostgreSQL connector; the JDBC
# sink 3.6.0.Final (3.6.1.Final is not served), its unserved org.hibernate:hibernate-agroal replaced
# by org.hibernate.orm:hibernate-agroal. Plugin folders hold no jar the worker already has
# (kafka-clients, connect-api, slf4j-api) and no jackson jar: a second jackson-databind in a plugin
# kills the sink task (Jdk8Module "not a subtype").

DEBEZIUM_VERSION=${DEBEZIUM_VERSION:-3.6.1.Final}
DEBEZIUM_JDBC_VERSION=${DEBEZIUM_JDBC_VERSION:-3.6.0.Final}
HIBERNATE_AGROAL_VERSION=${HIBERNATE_AGROAL_VERSION:-7.2.19.Final}
APICURIO_CONVERTER_VERSION=${APICURIO_CONVERTER_VERSION:-2.4.2.Final}
_CONNECT_CENTRAL_ONLY=$(cd "$(dirname "${BASH_SOURCE[0]}")/apicurio" && pwd)/settings.xml

_connect_die() {
    echo "connect.sh: $*" >&2
    return 1
}

_connect_cache() {
    local v="$KAFKA_VERSION-$DEBEZIUM_VERSION-$DEBEZIUM_JDBC_VERSION"
    if [[ -n "${CONNECT_CACHE:-}" ]]; then
        echo "$CONNECT_CACHE"
    elif mkdir -p /var/cache/syncline-connect 2>/dev/null && [[ -w /var/cache/syncline-connect ]]; then
        echo "/var/cache/syncline-connect/$v"
    else
        echo "${HOME:-/tmp}/.cache/syncline-connect/$v"
    fi
}

# _connect_mvn OUT DEPENDENCIES-XML [DEPENDENCY-MANAGEMENT-XML [MVN-OPTION...]]: copies the
# runtime closure.
_connect_mvn() {
    local out=$1 deps=$2 mgmt=${3:-} pom
    shift 3 2>/dev/null || shift $#
    pom=$(mktemp -d /tmp/syncline-connect-pom.XXXXXX) || return 1
    cat >"$pom/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>syncline.test</groupId>
  <artifactId>connect-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  $mgmt
  <dependencies>$deps</dependencies>
</project>
POM
    mkdir -p "$out" || return 1
    if ! (cd "$pom" && mvn -q -B "$@" dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$out") >&2; then
        rm -rf "$pom"
        _connect_die "mvn could not fetch into $out"
        return 1
    fi
    rm -rf "$pom"
}

_connect_dep() { # GROUP ARTIFACT VERSION [EXCLUSIONS-XML]
    echo "<dependency><groupId>$1</groupId><artifactId>$2</artifactId><version>$3</version>${4:-}</dependency>"
}

# Removes from a plugin folder what the worker provides, and every jackson jar.
_connect_prune() {
    rm -f "$1"/kafka-clients-*.jar "$1"/connect-api-*.jar "$1"/slf4j-api-*.jar "$1"/jackson-*.jar \
        "$1"/log4j-*.jar "$1"/slf4j-reload4j-*.jar
}

connect_fetch() {
    local cache bom
    cache=$(_connect_cache)
    [[ -f "$cache/.complete" ]] && return 0
    command -v mvn >/dev/null 2>&1 || {
        _connect_die "mvn not found (scripts/install-deps.sh installs maven)"
        return 1
    }
    rm -rf "$cache" && mkdir -p "$cache" || return 1
    echo "connect.sh: fetching Kafka Connect $KAFKA_VERSION, Debezium $DEBEZIUM_VERSION and the JDBC sink $DEBEZIUM_JDBC_VERSION into $cache" >&2
    _connect_mvn "$cache/worker" "$(_connect_dep org.apache.kafka connect-runtime "$KAFKA_VERSION")
        $(_connect_dep org.apache.kafka connect-json "$KAFKA_VERSION")
        $(_connect_dep org.apache.kafka connect-transforms "$KAFKA_VERSION")
        $(_connect_dep org.apache.logging.log4j log4j-core "${KAFKA_LOG4J_VERSION:-2.24.3}")
        $(_connect_dep org.apache.logging.log4j log4j-slf4j-impl "${KAFKA_LOG4J_VERSION:-2.24.3}")" ||
        return 1
    bom="<dependencyManagement><dependencies><dependency><groupId>io.debezium</groupId><artifactId>debezium-bom</artifactId><version>$DEBEZIUM_VERSION</version><type>pom</type><scope>import</scope></dependency></dependencies></dependencyManagement>"
    _connect_mvn "$cache/plugins/debezium-postgres" \
        "$(_connect_dep io.debezium debezium-connector-postgres "$DEBEZIUM_VERSION")" "$bom" || return 1
    _connect_mvn "$cache/plugins/debezium-jdbc" \
        "$(_connect_dep io.debezium debezium-connector-jdbc "$DEBEZIUM_JDBC_VERSION" \
            '<exclusions><exclusion><groupId>org.hibernate</groupId><artifactId>hibernate-agroal</artifactId></exclusion></exclusions>')
        $(_connect_dep org.hibernate.orm hibernate-agroal "$HIBERNATE_AGROAL_VERSION")" || return 1
    _connect_prune "$cache/plugins/debezium-postgres"
    _connect_prune "$cache/plugins/debezium-jdbc"
    cat >"$cache/log4j2.properties" <<'L4J'
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:connect.logs.dir}/connect.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.reflections.name = org.reflections
logger.reflections.level = error
L4J
    touch "$cache/.complete"
}

connect_fetch_apicurio_converter() {
    local cache out
    connect_fetch || return 1
    cache=$(_connect_cache)
    out=$cache/plugins/apicurio-converter
    [[ -f "$out/.complete-$APICURIO_CONVERTER_VERSION" ]] && return 0
    rm -rf "$out"
    echo "connect.sh: fetching Apicurio's converters $APICURIO_CONVERTER_VERSION into $out" >&2
    _connect_mvn "$out" "$(_connect_dep io.apicurio apicurio-registry-utils-converter \
        "$APICURIO_CONVERTER_VERSION" '<exclusions>
        <exclusion><groupId>io.apicurio</groupId><artifactId>apicurio-registry-serdes-jsonschema-serde</artifactId></exclusion>
        <exclusion><groupId>io.apicurio</groupId><artifactId>apicurio-registry-serdes-protobuf-serde</artifactId></exclusion>
        </exclusions>')" "" -s "$_CONNECT_CENTRAL_ONLY" || return 1
    _connect_prune "$out"
    rm -f "$out"/connect-json-*.jar "$out"/lombok-*.jar
    touch "$out/.complete-$APICURIO_CONVERTER_VERSION"
}

connect_start() {
    local dir=$1 brokers=$2 port=${3:-58083} cache i url
    connect_fetch || return 1
    cache=$(_connect_cache)
    mkdir -p "$dir/logs" || return 1
    port=$(_kafka_free_port "$port") || return 1
    url="http://127.0.0.1:$port"
    cat >"$dir/worker.properties" <<PROPS
bootstrap.servers=$brokers
listeners=$url
plugin.path=$cache/plugins
plugin.discovery=only_scan
offset.storage.file.filename=$dir/offsets
offset.flush.interval.ms=1000
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
consumer.max.poll.records=5000
consumer.auto.offset.reset=earliest
PROPS
    echo "$url" >"$dir/url"
    # shellcheck disable=SC2016 # expanded by the inner shell
    setsid bash -c 'echo $$ >"$1/pid"; shift; exec "$@"' _ "$dir" \
        "${JAVA:-java}" -Xmx768m -Xms256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Djava.awt.headless=true -Dconnect.logs.dir="$dir/logs" \
        -Dlog4j2.configurationFile="$cache/log4j2.properties" -cp "$cache/worker/*" \
        org.apache.kafka.connect.cli.ConnectStandalone "$dir/worker.properties" \
        >>"$dir/logs/stdout.log" 2>&1 </dev/null &
    for ((i = 0; i < 900; i++)); do
        if curl -fsS "$url/connectors" >/dev/null 2>&1; then
            echo "$url"
            return 0
        fi
        if ((i > 10)) && ! connect_running "$dir"; then
            tail -n 40 "$dir/logs/stdout.log" "$dir/logs/connect.log" >&2 2>/dev/null
            _connect_die "the worker of $dir exited during start"
            return 1
        fi
        sleep 0.2
    done
    _connect_die "the worker of $dir did not answer on $url within 180 s"
}

connect_running() {
    local pid
    pid=$(cat "$1/pid" 2>/dev/null) || return 1
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

connect_create() {
    local dir=$1 name=$2 json=$3 out
    out=$(curl -sS -X PUT -H 'Content-Type: application/json' --data "$json" \
        "$(cat "$dir/url")/connectors/$name/config" 2>&1) || {
        _connect_die "create $name: $out"
        return 1
    }
    case "$out" in
    *'"error_code"'*)
        _connect_die "create $name: $out"
        return 1
        ;;
    esac
}

# The connector's status document (JSON).
connect_status() {
    curl -sS "$(cat "$1/url")/connectors/$2/status"
}

connect_wait_running() {
    local dir=$1 name=$2 secs=${3:-120} i st
    for ((i = 0; i < secs * 5; i++)); do
        st=$(connect_status "$dir" "$name" 2>/dev/null)
        case "$st" in
        *'"FAILED"'*)
            echo "$st" >&2
            _connect_die "connector $name failed"
            return 1
            ;;
        *'"tasks":[{'*'"RUNNING"'*) return 0 ;;
        esac
        sleep 0.2
    done
    echo "$st" >&2
    _connect_die "connector $name not running within $secs s"
}

connect_stop() {
    local dir=$1 pid i
    pid=$(cat "$dir/pid" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
}
