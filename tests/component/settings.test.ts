// Settings from the environment: defaults, and ONE error naming every bad variable.
import { expect } from "chai";
import * as path from "node:path";
import { loadSettings, SettingsError } from "../harness";

describe("settings (from the environment)", () => {
  it("needs only KAFKA_BOOTSTRAP_SERVERS; everything else has a default", () => {
    const s = loadSettings({ KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:9092, kafka-0.kafka:9092" });
    expect(s.kafkaBootstrapServers).to.deep.equal(["127.0.0.1:9092", "kafka-0.kafka:9092"]);
    expect(s.extraTopics).to.deep.equal([]);
    expect(s.s3Endpoint).to.equal(undefined);
    expect(s.waitTimeoutMs).to.equal(30_000);
    expect(s.artifactsDir).to.equal(path.resolve("artifacts"));
  });

  it("reads the S3 endpoint, timeouts and the artifacts dir", () => {
    const s = loadSettings({
      KAFKA_BOOTSTRAP_SERVERS: "k:1",
      S3_ENDPOINT: "http://s3.mock:8000",
      WAIT_TIMEOUT_MS: "5000",
      ARTIFACTS_DIR: "/tmp/a",
    });
    expect(s.s3Endpoint).to.equal("http://s3.mock:8000");
    expect(s.waitTimeoutMs).to.equal(5000);
    expect(s.artifactsDir).to.equal("/tmp/a");
  });

  it("fails once, listing every missing or invalid variable", () => {
    let err: unknown;
    try {
      loadSettings({
        HARNESS_TOPICS: "bad topic!",
        S3_ENDPOINT: "s3.mock:8000",
        WAIT_TIMEOUT_MS: "soon",
        HARNESS_BUFFER_SIZE: "-1",
      });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(SettingsError);
    const e = err as SettingsError;
    expect(e.problems).to.have.length(5);
    expect(e.message).to.contain("KAFKA_BOOTSTRAP_SERVERS is required");
    expect(e.message).to.contain('HARNESS_TOPICS: "bad topic!" is not a valid Kafka topic name');
    expect(e.message).to.contain('S3_ENDPOINT: "s3.mock:8000" is not an http(s) URL');
    expect(e.message).to.contain('WAIT_TIMEOUT_MS: must be an integer from 1 to 3600000, got "soon"');
    expect(e.message).to.contain("HARNESS_BUFFER_SIZE");
  });

  it("rejects a bootstrap entry that is not host:port", () => {
    expect(() => loadSettings({ KAFKA_BOOTSTRAP_SERVERS: "k:1,nohost,h:99999" })).to.throw(
      SettingsError,
      /"nohost" is not host:port[\s\S]*"h:99999" is not host:port/,
    );
  });
});
