// kafkajs 2.2.4 (the suite's client) against the host broker's Kafka version, directly: the
// protocol features the harness relies on. Kafka 4 removed old protocol versions (KIP-896); this
// proves the client still speaks what the broker offers. Uses its own topic and group.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { settings } from "../harness";

describe("broker compatibility (kafkajs 2.2.4)", () => {
  it("admin createTopics/listTopics/deleteTopics, produce, consume in a consumer group, commit offsets", async () => {
    const kafka = new Kafka({
      clientId: "compat",
      brokers: settings().kafkaBootstrapServers,
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    const producer = kafka.producer();
    const topic = `compat-${randomUUID()}`;
    const groupId = `compat-${randomUUID()}`;
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
    await admin.connect();
    try {
      expect(
        await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true }),
      ).to.equal(true);
      expect(await admin.listTopics()).to.include(topic);
      const cluster = await admin.describeCluster();
      expect(cluster.brokers).to.have.length(1);

      await producer.connect();
      await producer.send({ topic, messages: [0, 1, 2, 3].map((i) => ({ key: `k${i}`, value: `v${i}` })) });

      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const got: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`consumed only ${got.join(",")}`)), 20_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            got.push(String(message.value));
            if (got.length === 4) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
      expect(got.sort()).to.deep.equal(["v0", "v1", "v2", "v3"]);
      await consumer.stop();
      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
      const committed = offsets[0].partitions.reduce((n, p) => n + Number(p.offset), 0);
      expect(committed).to.equal(4);
      const groups = await admin.describeGroups([groupId]);
      expect(groups.groups[0].protocolType).to.equal("consumer");
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});
