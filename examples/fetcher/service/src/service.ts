/**
 * The fetcher service: reads its settings, learns the worker image (WORKER_IMAGE, else its own
 * pod's image), checks its topics exist, starts the worker-Job watch, joins its consumer group once,
 * and serves /healthz (alive) and /ready (group joined, watch started) on HEALTH_PORT. Stops
 * cleanly on SIGTERM/SIGINT.
 */
import * as http from "node:http";
import * as k8s from "@kubernetes/client-node";
import { Kafka, logLevel as KafkaLogLevel, LogEntry, Partitioners } from "kafkajs";
import { ConfigError, loadConfig } from "./config";
import { Fetcher, PublishError } from "./fetcher";
import { JobWatcher, KubeJobs, ownImage } from "./kube";
import { Logger, jsonLogger } from "./log";

const SERVICE = "fetcher";

function kafkaLogCreator(log: Logger) {
  return () =>
    ({ level, label, log: entry }: LogEntry): void => {
      const { message, ...rest } = entry;
      const fields = { kafka: label, ...rest };
      if (level <= KafkaLogLevel.ERROR) log.error(`kafka: ${message}`, fields);
      else if (level === KafkaLogLevel.WARN) log.warn(`kafka: ${message}`, fields);
      else log.debug(`kafka: ${message}`, fields);
    };
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    jsonLogger(SERVICE).error(
      e instanceof ConfigError ? e.message : String(e),
      e instanceof ConfigError ? { problems: e.problems } : {},
    );
    process.exit(2);
  }
  const log = jsonLogger(SERVICE, config.logLevel);

  const kc = new k8s.KubeConfig();
  kc.loadFromDefault(); // in a pod: its service account; elsewhere KUBECONFIG or ~/.kube/config
  const image = config.workerImage ?? (await ownImage(kc, config.podNamespace, config.podName!));
  log.info("starting", {
    brokers: config.brokers.join(","),
    topics: config.topics,
    group: config.groupId,
    namespace: config.namespace,
    workerImage: image,
    workerImageFrom: config.workerImage ? "WORKER_IMAGE" : `pod ${config.podName}`,
  });

  const kafka = new Kafka({
    clientId: config.groupId,
    brokers: config.brokers,
    logLevel: config.logLevel === "debug" ? KafkaLogLevel.INFO : KafkaLogLevel.WARN,
    logCreator: kafkaLogCreator(log),
    retry: { retries: 10 },
  });
  // The topics must exist: auto creation is off, and a missing one should stop us with its name.
  const admin = kafka.admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics());
  await admin.disconnect();
  const missing = Object.values(config.topics).filter((t) => !existing.has(t));
  if (missing.length > 0) {
    throw new Error(`topics missing on the broker (auto creation is off): ${missing.join(", ")}`);
  }

  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const fetcher = new Fetcher(
    new KubeJobs(kc, config.namespace),
    {
      send: async (topic, result) => {
        await producer.send({ topic, messages: [{ key: result.request_id, value: JSON.stringify(result) }] });
      },
    },
    {
      namespace: config.namespace,
      deadlineSeconds: config.jobDeadlineSeconds,
      s3: config.s3,
      resultsTopic: config.topics.results,
    },
    image,
    log,
  );
  const watcher = new JobWatcher(kc, config.namespace, (job) => fetcher.onJobFinished(job), log);

  let joined = false;
  let watching = false;
  const consumer = kafka.consumer({ groupId: config.groupId, allowAutoTopicCreation: false });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joined = true;
    log.info("consumer group joined", { group: e.payload.groupId, member: e.payload.memberId });
  });
  consumer.on(consumer.events.CRASH, (e) => {
    joined = false;
    log.error("consumer crashed", { error: String(e.payload.error), restart: e.payload.restart });
    if (!e.payload.restart) shutdown(1);
  });

  const server = http.createServer((req, res) => {
    const ok = req.url === "/healthz" || (req.url === "/ready" && joined && watching);
    res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" }).end(ok ? "ok\n" : "not ready\n");
  });
  server.listen(config.healthPort);

  let stopping = false;
  const shutdown = (code: number): void => {
    if (stopping) return;
    stopping = true;
    joined = false;
    log.info("stopping", { code });
    watcher.stop();
    server.close();
    Promise.allSettled([consumer.disconnect(), producer.disconnect()]).finally(() => process.exit(code));
  };
  process.on("SIGTERM", () => shutdown(0));
  process.on("SIGINT", () => shutdown(0));

  await producer.connect();
  await watcher.start();
  watching = true;
  await consumer.subscribe({ topics: [config.topics.requests], fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const where = { topic, partition, offset: message.offset };
      try {
        await fetcher.onRequest(message.value);
      } catch (e) {
        // Kafka did not take the result: do not commit, the request is handled again.
        if (e instanceof PublishError) {
          log.error("could not publish; the request will be handled again", { ...where, error: e.message });
          throw e;
        }
        log.error("unexpected error handling a request (skipped)", {
          ...where,
          error: e instanceof Error ? (e.stack ?? e.message) : String(e),
        });
      }
    },
  });
  log.info("running", { subscribed: [config.topics.requests] });
}

main().catch((e) => {
  jsonLogger(SERVICE).error("start-up failed", { error: e instanceof Error ? e.message : String(e) });
  process.exit(1);
});
