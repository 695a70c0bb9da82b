"""A Kafka round trip by an old client, kafka-python 1.4.6, the way BAI's services make one.

    scripts/kafka-python.sh tests/component/kafka-python-client.py BOOTSTRAP TOPIC COUNT API_VERSION

API_VERSION is `auto` (the client asks the broker, as BAI's services do: it settles on its newest
level, 1.0.0) or a pinned protocol level such as 0.10.1 (Produce v2, Fetch v3, message format v1:
what clients of that era pin, and what Kafka 4.0 removed) for the producer and the consumer.
Creates TOPIC with the admin client as BAI's services do at start (an existing topic is fine),
produces COUNT keyed messages, consumes them
from the beginning in a consumer group of its own and commits the offsets. Prints one JSON line: on
success the client's version, its protocol level, what it consumed and the committed offset; on
failure the error's class and message (exit 1). Every wait is bounded, so a broker that refuses
the client fails within seconds.
"""

import json
import sys
import time
import uuid

import kafka
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError


def main(bootstrap, topic, count, api_version):
    result = {"client": "kafka-python " + kafka.__version__}
    common = {"bootstrap_servers": bootstrap, "client_id": "old-protocol-client"}
    # 1.4.6's admin client cannot work at a pinned level (it needs the broker's version list):
    # it asks, as BAI's services' admin clients do.
    admin = KafkaAdminClient(request_timeout_ms=5000, **common)
    try:
        admin.create_topics([NewTopic(name=topic, num_partitions=1, replication_factor=1)])
    except TopicAlreadyExistsError:
        pass
    admin.close()

    if api_version != "auto":
        common["api_version"] = tuple(int(n) for n in api_version.split("."))

    producer = KafkaProducer(acks="all", request_timeout_ms=5000, max_block_ms=10000, **common)
    result["api_version"] = ".".join(str(n) for n in producer.config["api_version"])
    for i in range(count):
        producer.send(topic, key=b"k%d" % i, value=b"v%d" % i).get(timeout=10)
    producer.close(timeout=5)
    result["produced"] = count

    group = "old-protocol-" + uuid.uuid4().hex
    consumer = KafkaConsumer(
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        request_timeout_ms=15000,
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
        **common
    )
    consumer.subscribe([topic])
    consumed = []
    deadline = time.time() + 20
    while len(consumed) < count and time.time() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            consumed.extend(r.value.decode() for r in records)
    consumer.commit()
    result["consumed"] = consumed
    result["committed"] = consumer.committed(TopicPartition(topic, 0))
    consumer.close()
    return result


if __name__ == "__main__":
    try:
        print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])))
    except Exception as e:  # the test reads the failure from the one line
        print(json.dumps({"error": type(e).__name__, "message": str(e)}))
        sys.exit(1)
