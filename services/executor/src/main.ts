/**
 * The executor service: reads its settings, checks its topics exist, joins its consumer group once,
 * watches scheduled runs, and serves /healthz (alive) and /ready (the group is joined and the
 * producer connected) on HEALTH_PORT. Stops cleanly on SIGTERM/SIGINT.
 */
import * as http from "node:http";
import * as os from "node:os";
import * as k8s from "@kubernetes/client-node";
import { Consumer, Kafka, logLevel as KafkaLogLevel, LogEntry, Partitioners, Producer } from "kafkajs";
import { ConfigError, loadConfig } from "./config";
import { Executor, PublishError } from "./executor";
import { KubeBatch } from "./kube";
import { Logger, jsonLogger } from "./log";
import { RunWatcher } from "./watch";

const SERVICE = "executor";
const VERSION = process.env.EXECUTOR_VERSION ?? "0.1.0";

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

/**
 * The image this executor runs (CRON_JOB_IMAGE, else its own pod's): the image of the cron-job
 * component its CronJobs run. Undefined (logged) when it cannot be told: CronJobs then run the
 * benchmark themselves.
 */
async function ownImage(
  kc: k8s.KubeConfig,
  podName: string | undefined,
  log: Logger,
): Promise<string | undefined> {
  const explicit = process.env.CRON_JOB_IMAGE?.trim();
  if (explicit) return explicit;
  const namespace = process.env.POD_NAMESPACE?.trim();
  if (!podName || !namespace) {
    log.warn("POD_NAME or POD_NAMESPACE unset: scheduled runs start without the cron-job component");
    return undefined;
  }
  try {
    const pod = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedPod({ name: podName, namespace });
    return pod.spec?.containers?.[0]?.image;
  } catch (e) {
    log.warn("could not read the executor's own pod: scheduled runs start without the cron-job component", {
      error: String(e),
    });
    return undefined;
  }
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    const log = jsonLogger(SERVICE);
    log.error(
      e instanceof ConfigError ? e.message : String(e),
      e instanceof ConfigError ? { problems: e.problems } : {},
    );
    process.exit(2);
  }
  const log = jsonLogger(SERVICE, config.logLevel);
  log.info("starting", {
    version: VERSION,
    brokers: config.brokers.join(","),
    topics: config.topics,
    group: config.groupId,
    namespace: config.namespace,
    fault: config.fault,
  });
  if (config.fault) log.warn(`FAULT ${config.fault} is ON: this executor misbehaves on purpose`);

  const kafka = new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    logLevel: config.logLevel === "debug" ? KafkaLogLevel.INFO : KafkaLogLevel.WARN,
    logCreator: kafkaLogCreator(log),
    retry: { retries: 10 },
  });

  // Alive from the start, Ready once the group is joined: while the broker is still coming up (a
  // restarted cluster) the liveness probe must not kill a process that is only waiting for it.
  let ready = false;
  const server = http.createServer((req, res) => {
    const ok = req.url === "/healthz" || (req.url === "/ready" && ready);
    res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" }).end(ok ? "ok\n" : "not ready\n");
  });
  server.listen(config.healthPort);

  // The topics must exist: auto creation is off, and a missing one should stop us with its name.
  const admin = kafka.admin();
  await admin.connect();
  const wanted = Object.values(config.topics);
  const existing = new Set(await admin.listTopics());
  await admin.disconnect();
  const missing = wanted.filter((t) => !existing.has(t));
  if (missing.length > 0)
    throw new Error(`topics missing on the broker (auto creation is off): ${missing.join(", ")}`);

  const kc = new k8s.KubeConfig();
  kc.loadFromDefault(); // in a pod: its service account; elsewhere KUBECONFIG or ~/.kube/config
  const producer: Producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const sender = { svc: SERVICE, version: VERSION, node: config.nodeName ?? os.hostname() };
  const cronImage = await ownImage(kc, config.podName, log);
  const executor = new Executor(
    new KubeBatch(kc, config.namespace),
    {
      send: async (topic, event) => {
        await producer.send({ topic, messages: [{ key: event.client_id, value: JSON.stringify(event) }] });
      },
    },
    { ...config, ...(cronImage ? { cronJob: { image: cronImage, brokers: config.brokers } } : {}) },
    sender,
    log,
  );

  // A stop (SIGTERM: every rollout) leaves the group only once the fetch in flight returns, which an
  // idle topic makes wait the broker's whole long poll: kafkajs's default 5 s, on every rollout
  // (Recreate: the new pod starts after the old one is gone). Half a second, as the harness's.
  const consumer: Consumer = kafka.consumer({
    groupId: config.groupId,
    maxWaitTimeInMs: 500,
    allowAutoTopicCreation: false,
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    ready = true;
    log.info("consumer group joined", { group: e.payload.groupId, member: e.payload.memberId });
  });
  consumer.on(consumer.events.CRASH, (e) => {
    ready = false;
    log.error("consumer crashed", { error: String(e.payload.error), restart: e.payload.restart });
    if (!e.payload.restart) shutdown(1);
  });

  const watcher = new RunWatcher(kc, config.namespace, (job) => executor.onScheduledRun(job), log);

  let stopping = false;
  const shutdown = (code: number): void => {
    if (stopping) return;
    stopping = true;
    ready = false;
    log.info("stopping", { code });
    watcher.stop();
    server.close();
    Promise.allSettled([consumer.disconnect(), producer.disconnect()]).finally(() => process.exit(code));
  };
  process.on("SIGTERM", () => shutdown(0));
  process.on("SIGINT", () => shutdown(0));

  await producer.connect();
  await watcher.start();
  await consumer.subscribe({
    topics: [config.topics.fetcher, config.topics.cmdSubmit],
    fromBeginning: false,
  });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const where = { topic, partition, offset: message.offset };
      try {
        if (topic === config.topics.fetcher) await executor.onFetcherMessage(message.value);
        else await executor.onCommandMessage(message.value);
      } catch (e) {
        // Kafka did not take an answer: do not commit, the message is handled again.
        if (e instanceof PublishError) {
          log.error("could not publish; the message will be handled again", { ...where, error: e.message });
          throw e;
        }
        // A bug must not stop the service or loop on one message: log it and move on.
        log.error("unexpected error handling a message (skipped)", {
          ...where,
          error: e instanceof Error ? (e.stack ?? e.message) : String(e),
        });
      }
    },
  });
  log.info("running", { subscribed: [config.topics.fetcher, config.topics.cmdSubmit] });
}

main().catch((e) => {
  jsonLogger(SERVICE).error("start-up failed", { error: e instanceof Error ? e.message : String(e) });
  process.exit(1);
});
