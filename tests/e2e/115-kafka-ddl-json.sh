#!/usr/bin/env bash
# DDL through Kafka, JSON: an application deploy under pgbench flows through capture and apply,
# each DDL in its place among the rows, once across an apply kill (see lib-kafka-ddl.sh).
# shellcheck source=tests/e2e/lib-kafka-ddl.sh
source "$(dirname "$0")/lib-kafka-ddl.sh"

kafka_ddl_scenario json
