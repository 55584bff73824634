#!/usr/bin/env bash
# Checks that docker-compose.yml is a valid Compose file: `docker compose config --quiet`.
# Needs the docker CLI, not a running engine. When the Compose plugin is missing, builds the
# official one (github.com/docker/compose/v2, COMPOSE_VERSION, default v2.29.7) from the Go
# module proxy with the machine's Go into a cache (COMPOSE_CACHE, default
# /var/cache/syncline-compose; about 2 minutes on 2 cores the first time) and uses it from there.
#
#   bash scripts/check-compose.sh
#
# Exit status: 0 valid; 1 invalid or no way to run the check.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMPOSE_VERSION=${COMPOSE_VERSION:-v2.29.7}
COMPOSE_CACHE=${COMPOSE_CACHE:-/var/cache/syncline-compose}

die() {
    echo "check-compose: $*" >&2
    exit 1
}

command -v docker >/dev/null || die "no docker CLI on this machine"

if ! docker compose version >/dev/null 2>&1; then
    plugin=$COMPOSE_CACHE/$COMPOSE_VERSION/cli-plugins/docker-compose
    if [[ ! -x $plugin ]]; then
        command -v go >/dev/null || die "no Compose plugin and no Go to build it"
        echo "check-compose: building docker compose $COMPOSE_VERSION from the Go module proxy" >&2
        mkdir -p "$COMPOSE_CACHE/$COMPOSE_VERSION/bin" "$(dirname "$plugin")"
        GOBIN=$COMPOSE_CACHE/$COMPOSE_VERSION/bin GOFLAGS=-mod=mod \
            go install "github.com/docker/compose/v2/cmd@$COMPOSE_VERSION"
        mv "$COMPOSE_CACHE/$COMPOSE_VERSION/bin/cmd" "$plugin"
    fi
    # DOCKER_CONFIG points the CLI at the cached plugin without touching ~/.docker
    export DOCKER_CONFIG=$COMPOSE_CACHE/$COMPOSE_VERSION
fi

docker compose version
docker compose -f "$ROOT/docker-compose.yml" config --quiet
echo "check-compose: docker-compose.yml accepted"
