#!/bin/bash
# Runs a Kafka main class with the image's jars (the subset of upstream's script the mock needs).
# shellcheck disable=SC2086 # KAFKA_HEAP_OPTS may hold several JVM options: split on purpose
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} -XX:+UseG1GC -Djava.awt.headless=true \
  -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.yaml -cp '/opt/kafka/libs/*' "$@"
