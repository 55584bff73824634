#!/usr/bin/env bash
# DDL through Kafka, Avro in the Confluent wire format: the deploy of 115/116 with the writer
# schemas in a Schema Registry; the DDL events' schema is registered under <topic>-syncline.Ddl
# (see lib-kafka-ddl.sh).
# shellcheck source=tests/e2e/lib-kafka-ddl.sh
source "$(dirname "$0")/lib-kafka-ddl.sh"

KAFKA_DDL_REGISTRY=1 kafka_ddl_scenario avro
