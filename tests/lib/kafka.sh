# shellcheck shell=bash
# A throwaway single-node Apache Kafka broker (KRaft, combined broker+controller) on loopback for
# the tests and benchmarks, from the official Java artifacts on Maven Central. No Docker.
# Source this file; it defines functions only.
#
#   kafka_fetch                 gathers the broker jars (org.apache.kafka:kafka_2.13 plus a log4j 2
#                               backend) with a throwaway pom and `mvn dependency:copy-dependencies`
#                               into $KAFKA_CACHE (default /var/cache/syncline-kafka/$KAFKA_VERSION,
#                               or ~/.cache/... when that is not writable); a no-op once done
#   kafka_start DIR [PORT]      formats KRaft storage in DIR and starts the broker on the first free
#                               port >= PORT (default 59092; the controller takes the next free one);
#                               waits until `kcat -L` answers; prints the bootstrap address
#                               (127.0.0.1:PORT) and writes it to DIR/brokers
#   kafka_stop DIR              stops the broker of DIR (SIGTERM, then SIGKILL after 30 s)
#   kafka_kill DIR              SIGKILL (a crash)
#   kafka_restart DIR           starts the broker of DIR again on the same ports and data
#   kafka_running DIR           true while the broker of DIR runs
#   kafka_admin OP ARGS...      tests/lib/KafkaAdmin.java against $KAFKA_BROKERS: create TOPIC N
#                               [KEY=VALUE...], config TOPIC KEY=VALUE..., delete-records TOPIC
#                               PARTITION OFFSET (what kcat cannot do); output on failure only
#
# Environment: KAFKA_VERSION (default 4.1.1), KAFKA_CACHE, JAVA (default java), KAFKA_JVM_OPTS
# (the broker's heap and GC; default small and serial, for tests on a small machine; the
# benchmarks use KAFKA_SHIPPED_JVM_OPTS, what Kafka's own start scripts give a broker).

KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
# kafka-server-start.sh's heap and kafka-run-class.sh's performance options
# shellcheck disable=SC2034 # used by the benchmarks that source this file
KAFKA_SHIPPED_JVM_OPTS="-Xmx1G -Xms1G -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15"
KAFKA_LOG4J_VERSION=${KAFKA_LOG4J_VERSION:-2.24.3}

_kafka_die() {
    echo "kafka.sh: $*" >&2
    return 1
}

_kafka_cache() {
    if [[ -n "${KAFKA_CACHE:-}" ]]; then
        echo "$KAFKA_CACHE"
    elif mkdir -p /var/cache/syncline-kafka 2>/dev/null && [[ -w /var/cache/syncline-kafka ]]; then
        echo "/var/cache/syncline-kafka/$KAFKA_VERSION"
    else
        echo "${HOME:-/tmp}/.cache/syncline-kafka/$KAFKA_VERSION"
    fi
}

kafka_fetch() {
    local cache pom
    cache=$(_kafka_cache)
    if [[ -f "$cache/.complete-slf4j1" ]]; then
        return 0
    fi
    command -v mvn >/dev/null 2>&1 || {
        _kafka_die "mvn not found (scripts/install-deps.sh installs maven)"
        return 1
    }
    rm -rf "$cache/jars" && mkdir -p "$cache/jars" || return 1
    pom=$(mktemp -d /tmp/syncline-kafka-pom.XXXXXX) || return 1
    cat >"$pom/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>syncline.test</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$KAFKA_LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$KAFKA_LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
POM
    echo "kafka.sh: fetching kafka_2.13 $KAFKA_VERSION jars into $cache/jars" >&2
    if ! (cd "$pom" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$cache/jars") >&2; then
        rm -rf "$pom"
        _kafka_die "mvn could not fetch the broker jars"
        return 1
    fi
    rm -rf "$pom"
    cat >"$cache/log4j2.properties" <<'L4J'
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
L4J
    touch "$cache/.complete-slf4j1"
}

_kafka_port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_kafka_free_port() {
    local port=$1 tries=0
    while ! _kafka_port_free "$port"; do
        port=$((port + 1))
        tries=$((tries + 1))
        ((tries < 200)) || return 1
    done
    echo "$port"
}

_kafka_java() {
    local dir=$1 cache
    shift
    cache=$(_kafka_cache)
    "${JAVA:-java}" -Xmx512m -Xms128m -XX:+UseSerialGC -Djava.awt.headless=true \
        -Dkafka.logs.dir="$dir/logs" -Dlog4j2.configurationFile="$cache/log4j2.properties" \
        -cp "$cache/jars/*" "$@"
}

_kafka_launch() {
    local dir=$1 brokers i
    brokers=$(cat "$dir/brokers")
    mkdir -p "$dir/logs"
    local jvm
    read -r -a jvm <<<"${KAFKA_JVM_OPTS:--Xmx512m -Xms128m -XX:+UseSerialGC}"
    # shellcheck disable=SC2016 # expanded by the inner shell
    setsid bash -c 'echo $$ >"$1/pid"; shift; exec "$@"' _ "$dir" \
        "${JAVA:-java}" "${jvm[@]}" -Djava.awt.headless=true \
        -Dkafka.logs.dir="$dir/logs" -Dlog4j2.configurationFile="$(_kafka_cache)/log4j2.properties" \
        -cp "$(_kafka_cache)/jars/*" kafka.Kafka "$dir/server.properties" \
        >>"$dir/logs/stdout.log" 2>&1 </dev/null &
    for ((i = 0; i < 600; i++)); do
        if kcat -L -b "$brokers" -m 2 >/dev/null 2>&1; then
            return 0
        fi
        if ((i > 5)) && ! kafka_running "$dir"; then
            tail -n 30 "$dir/logs/stdout.log" "$dir/logs/server.log" >&2 2>/dev/null
            _kafka_die "the broker of $dir exited during start"
            return 1
        fi
        sleep 0.2
    done
    _kafka_die "the broker of $dir did not answer on $brokers within 120 s"
}

kafka_start() {
    local dir=$1 port=${2:-59092} cport
    command -v kcat >/dev/null 2>&1 || {
        _kafka_die "kcat not found"
        return 1
    }
    kafka_fetch || return 1
    mkdir -p "$dir/data" "$dir/logs" || return 1
    port=$(_kafka_free_port "$port") || return 1
    cport=$(_kafka_free_port $((port + 1))) || return 1
    cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.segment.bytes=67108864
PROPS
    echo "127.0.0.1:$port" >"$dir/brokers"
    _kafka_java "$dir" kafka.tools.StorageTool format -t MkU3OEVBNTcwNTJENDM2Qk \
        -c "$dir/server.properties" --ignore-formatted >"$dir/logs/format.log" 2>&1 || {
        cat "$dir/logs/format.log" >&2
        _kafka_die "StorageTool format failed"
        return 1
    }
    _kafka_launch "$dir" || return 1
    cat "$dir/brokers"
}

kafka_running() {
    local pid
    pid=$(cat "$1/pid" 2>/dev/null) || return 1
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

kafka_stop() {
    local dir=$1 pid i
    pid=$(cat "$dir/pid" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
}

kafka_kill() {
    local pid
    pid=$(cat "$1/pid" 2>/dev/null) || return 0
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

kafka_restart() {
    local dir=$1
    kafka_running "$dir" && return 0
    _kafka_launch "$dir"
}

kafka_admin() {
    local out rc=0
    out=$("${JAVA:-java}" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dkafka.logs.dir="${TMPDIR:-/tmp}" \
        -Dlog4j2.configurationFile="$(_kafka_cache)/log4j2.properties" \
        -cp "$(_kafka_cache)/jars/*" "$(dirname "${BASH_SOURCE[0]}")/KafkaAdmin.java" "$@" 2>&1) || rc=$?
    ((rc == 0)) || echo "kafka_admin $*: exit $rc: $out" >&2
    return "$rc"
}
