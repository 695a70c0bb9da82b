#!/bin/bash
# Runs a Kafka main class with the image's jars (the subset of upstream's script the mock needs).
# Both logging configurations: 4.x logs through log4j2, the 3.9 line through reload4j (log4j 1.x);
# each reads its own property.
# shellcheck disable=SC2086 # KAFKA_HEAP_OPTS may hold several JVM options: split on purpose
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} -XX:+UseG1GC -Djava.awt.headless=true \
  -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.yaml \
  -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties -cp '/opt/kafka/libs/*' "$@"
