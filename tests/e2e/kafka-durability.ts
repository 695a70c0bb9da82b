/**
 * The Kafka pod-kill probe, run as its own process by mockinfra.test.ts: keeps producing with
 * acks=all, deletes the broker pod after 20 acknowledged messages, keeps going until 20 more are
 * acknowledged once the replacement pod is Ready, then reads the topic back. Prints one JSON line
 * {acked, ackedByNewPod, killedAt, restartsBeforeKill, seen, strayErrors, failedSends, phasesMs}
 * on stdout; phasesMs says when (ms from the start) the kill, the replacement's readiness, the last
 * send and the read-back happened, so a slow run shows which of them it waited for.
 *
 * Why a process of its own: clients whose broker vanished reject promises nobody awaits any more
 * (kafkajs' "Closed connection" from a socket torn down mid-request). Inside mocha such a late
 * rejection fails whichever test happens to run then; here it is counted and reported instead,
 * and the verdict rests on what the test is about: no acknowledged message lost.
 */
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { Kafka, logLevel } from "kafkajs";

const [bootstrap, kubeconfig, namespace] = process.argv.slice(2);
if (!bootstrap || !kubeconfig || !namespace) {
  console.error("usage: kafka-durability.ts BOOTSTRAP KUBECONFIG NAMESPACE");
  process.exit(2);
}
let strayErrors = 0;
process.on("unhandledRejection", (reason) => {
  strayErrors++;
  console.error(`stray rejection (a client of the killed broker): ${String(reason)}`);
});

const kafka = new Kafka({
  clientId: "inception-e2e-durability",
  brokers: [bootstrap],
  logLevel: logLevel.NOTHING,
  retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 5000 },
});

async function retrying<T>(what: string, f: () => Promise<T>, until: number): Promise<T> {
  for (;;) {
    try {
      return await f();
    } catch (e) {
      console.error(`${new Date().toISOString()} ${what}: ${String(e)} (retrying)`);
      if (Date.now() > until) throw new Error(`${what}: ${String(e)}`, { cause: e });
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function main(): Promise<void> {
  const start = Date.now();
  const phasesMs: Record<string, number> = {};
  const mark = (phase: string): void => void (phasesMs[phase] = Date.now() - start);
  let failedSends = 0;
  const deadline = Date.now() + 240000;
  const topic = `e2e-durable-${Date.now()}`;
  await retrying(
    "create the topic",
    async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      } finally {
        await admin.disconnect();
      }
    },
    deadline,
  );

  // A producer whose broker went away can stay "not connected": reconnect with a new one.
  let producer = kafka.producer();
  await retrying("connect the producer", () => producer.connect(), deadline);
  mark("producing");
  const acked: number[] = [];
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  let killedAt = -1;
  let restartsBeforeKill = -1;
  let oldUid: string | undefined;
  // Acknowledged messages once the replacement pod was Ready: a dying broker can still take a
  // few, so "after the kill" only counts from there.
  let ackedByNewPod = -1;
  let lastPodCheck = 0;
  for (let i = 0; ackedByNewPod < 0 || acked.length - ackedByNewPod < 20; i++) {
    // Each message is sent again until the broker acknowledges it.
    for (;;) {
      if (Date.now() > deadline) throw new Error(`only ${acked.length} messages acknowledged within 240 s`);
      try {
        await producer.send({ topic, acks: -1, messages: [{ value: String(i) }] });
        acked.push(i);
        break;
      } catch {
        failedSends++;
        await producer.disconnect().catch(() => undefined);
        producer = kafka.producer();
        // connect() retries with backoff until the broker answers (or its retries run out).
        await producer.connect().catch(() => undefined);
      }
    }
    if (acked.length === 20 && killedAt < 0) {
      const pod = await core.readNamespacedPod({ name: "kafka-0", namespace });
      oldUid = pod.metadata?.uid;
      // Restarts before the kill would mean the broker was unstable on its own (a probe, OOM).
      restartsBeforeKill = (pod.status?.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0);
      await core.deleteNamespacedPod({ name: "kafka-0", namespace, gracePeriodSeconds: 0 });
      killedAt = acked.length;
      mark("killed");
    } else if (killedAt >= 0 && ackedByNewPod < 0 && Date.now() - lastPodCheck > 1000) {
      lastPodCheck = Date.now();
      const pod = await core.readNamespacedPod({ name: "kafka-0", namespace }).catch(() => undefined);
      const ready = pod?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
      if (pod?.metadata?.uid !== undefined && pod.metadata.uid !== oldUid && ready) {
        ackedByNewPod = acked.length;
        mark("replacementReady");
      }
    }
  }
  await producer.disconnect().catch(() => undefined);
  mark("sent");

  const seen = new Set<number>();
  const consumer = kafka.consumer({ groupId: `${topic}-g` });
  await retrying("connect the consumer", () => consumer.connect(), deadline + 60000);
  await retrying("subscribe", () => consumer.subscribe({ topic, fromBeginning: true }), deadline + 60000);
  await new Promise<void>((resolve) => {
    // Whatever was read by then is reported; the test names what is missing.
    const timer = setTimeout(resolve, 60000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        seen.add(Number(message.value?.toString()));
        if (acked.every((a) => seen.has(a))) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  mark("readBack");
  await consumer.disconnect().catch(() => undefined);
  console.log(
    JSON.stringify({
      acked,
      ackedByNewPod,
      killedAt,
      restartsBeforeKill,
      seen: [...seen].sort((a, b) => a - b),
      strayErrors,
      failedSends,
      phasesMs,
    }),
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`kafka-durability: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
