/**
 * The mock infrastructure from the host (scripts/e2e.sh runs this after `up`): Kafka's external
 * listener, the S3 NodePort, a configured CRD, and Kafka surviving the loss of its pod without
 * losing an acknowledged message. The in-cluster side runs in the suite (tests/suites/mockinfra).
 */
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Kafka, logLevel } from "kafkajs";

const need = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run through scripts/e2e.sh)`);
  return v;
};
const outputs = () => JSON.parse(fs.readFileSync(need("INCEPTION_E2E_OUTPUTS"), "utf8"));
const kube = () => {
  const kc = new KubeConfig();
  kc.loadFromFile(need("INCEPTION_E2E_KUBECONFIG"));
  return kc;
};

describe("mock infra, from the host", () => {
  const out = outputs();
  const endpoints = out.mockEndpoints as Record<string, string>;
  const namespace = out.namespaceName as string;
  const kafka = new Kafka({
    clientId: "inception-e2e",
    brokers: [endpoints.kafka_bootstrap_servers_external],
    logLevel: logLevel.NOTHING,
    retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 5000 },
  });

  it("Kafka: produces and consumes through the host listener", async () => {
    const topic = `e2e-host-${Date.now()}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: "from the host" }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: `${topic}-g` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no message within 30 s")), 30000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          clearTimeout(timer);
          resolve(message.value?.toString() ?? "");
        },
      });
    });
    await consumer.disconnect();
    expect(got).to.equal("from the host");
  });

  it("S3: put and get an object in every configured bucket through the host port", async () => {
    const secret = await kube()
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: "outputs-infrastructure-secrets", namespace });
    const s3 = new S3Client({
      endpoint: endpoints.s3_endpoint_external,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: {
        accessKeyId: endpoints.s3_access_key,
        secretAccessKey: Buffer.from(secret.data?.s3_secret_key ?? "", "base64").toString(),
      },
    });
    for (const Bucket of endpoints.s3_buckets.split(",")) {
      await s3.send(new PutObjectCommand({ Bucket, Key: "host.txt", Body: Bucket }));
      const got = await s3.send(new GetObjectCommand({ Bucket, Key: "host.txt" }));
      expect(await got.Body?.transformToString()).to.equal(Bucket);
    }
  });

  it("CRDs: the configured MPIJob CRD accepts an object", async () => {
    expect(endpoints.crds).to.contain("mpijobs.kubeflow.org");
    const api = kube().makeApiClient(CustomObjectsApi);
    const name = `e2e-${Date.now()}`;
    await api.createNamespacedCustomObject({
      group: "kubeflow.org",
      version: "v1",
      namespace,
      plural: "mpijobs",
      body: {
        apiVersion: "kubeflow.org/v1",
        kind: "MPIJob",
        metadata: { name },
        spec: { slotsPerWorker: 1 },
      },
    });
    const got = (await api.getNamespacedCustomObject({
      group: "kubeflow.org",
      version: "v1",
      namespace,
      plural: "mpijobs",
      name,
    })) as { spec: { slotsPerWorker: number } };
    expect(got.spec.slotsPerWorker).to.equal(1);
  });

  it("Kafka: a killed broker pod comes back and no acknowledged message is lost", async function () {
    this.timeout(330000);
    // In a process of its own: see kafka-durability.ts for why.
    const probe = spawnSync(
      process.execPath,
      [
        "-r",
        "ts-node/register/transpile-only",
        path.join(__dirname, "kafka-durability.ts"),
        endpoints.kafka_bootstrap_servers_external,
        need("INCEPTION_E2E_KUBECONFIG"),
        namespace,
      ],
      { encoding: "utf8", timeout: 320000 },
    );
    process.stderr.write(probe.stderr);
    expect(probe.status, `the durability probe failed: ${probe.stderr.slice(-2000)}`).to.equal(0);
    const result = JSON.parse(probe.stdout.trim().split("\n").pop() ?? "{}") as {
      acked: number[];
      ackedByNewPod: number;
      killedAt: number;
      restartsBeforeKill: number;
      seen: number[];
      strayErrors: number;
      failedSends: number;
      phasesMs: Record<string, number>;
    };
    const phases = Object.entries(result.phasesMs)
      .map(([p, ms]) => `${p} ${(ms / 1000).toFixed(1)} s`)
      .join(", ");
    console.log(
      `      durability: ${result.acked.length} acknowledged, broker restarts before the kill: ` +
        `${result.restartsBeforeKill}, stray client errors: ${result.strayErrors}, ` +
        `failed sends: ${result.failedSends}; ${phases}`,
    );
    expect(result.killedAt).to.equal(20);
    // The replacement broker came up and took 20 more.
    expect(result.ackedByNewPod).to.be.at.least(20);
    expect(result.acked.length).to.be.at.least(result.ackedByNewPod + 20);
    const seen = new Set(result.seen);
    expect(result.acked.filter((a) => !seen.has(a))).to.deep.equal([]);
  });
});
