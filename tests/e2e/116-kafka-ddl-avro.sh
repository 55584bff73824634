#!/usr/bin/env bash
# DDL through Kafka, Avro (single-object encoding, schemas in <topic>.schemas): the same deploy
# as 115; the DDL events carry their own writer schema, syncline.Ddl (see lib-kafka-ddl.sh).
# shellcheck source=tests/e2e/lib-kafka-ddl.sh
source "$(dirname "$0")/lib-kafka-ddl.sh"

kafka_ddl_scenario avro
