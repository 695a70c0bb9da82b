/**
 * The images the mock infra runs. `public`: pinned upstream images (clusters that can pull).
 * `local`: the same software built on this machine from the package registries by
 * scripts/mock-images.sh (toolchain), for air-gapped hosts; the stack publishes them to the cluster.
 * Both sets honour the same contract (paths and commands used by the components).
 */
import type { ImageSet, KafkaVersion } from "../config";

export type MockImage = "kafka" | "zookeeper" | "s3" | "dataServer";

// Pinned tags; the local set's versions come from toolchain/kafka/version.env and
// images/versions.env (kept equal to these by a unit test).
export const MOCK_IMAGES: Record<ImageSet, Record<Exclude<MockImage, "kafka">, string>> = {
  public: {
    zookeeper: "zookeeper:3.8.4",
    s3: "versity/versitygw:v1.8.0",
    dataServer: "python:3.12.8-slim-bookworm",
  },
  local: {
    zookeeper: "inception/mock-zookeeper:3.8-2",
    s3: "inception/mock-s3:v1.8.0-1",
    dataServer: "inception/mock-http:3.11-2",
  },
};

/** Kafka's image of each version `mockInfra.kafka.version` may name. */
export const KAFKA_IMAGES: Record<ImageSet, Record<KafkaVersion, string>> = {
  public: { "4.4.0": "apache/kafka:4.4.0", "3.9.2": "apache/kafka:3.9.2" },
  local: { "4.4.0": "inception/mock-kafka:4.4.0", "3.9.2": "inception/mock-kafka:3.9.2" },
};

/** The image of a mock in a set; Kafka's of the configured version. */
export function mockImage(set: ImageSet, which: MockImage, kafkaVersion: KafkaVersion): string {
  return which === "kafka" ? KAFKA_IMAGES[set][kafkaVersion] : MOCK_IMAGES[set][which];
}
