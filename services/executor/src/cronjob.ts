/**
 * Entry of the CronJob the executor creates for a schedule (`node dist/cronjob.js`, same image):
 * reads the scheduled fetcher event from BENCHMARK_EVENT, publishes its run to PRODUCER_TOPIC
 * (keyed by client id) and status SUCCEEDED "Spawning benchmark with action_id: [<id>]" for the
 * schedule to STATUS_TOPIC; KAFKA_BOOTSTRAP_SERVERS names the brokers. Exit 0 once Kafka took
 * both, 1 otherwise (the CronJob's Job then shows it failed).
 */
import * as os from "node:os";
import { Kafka, logLevel } from "kafkajs";
import { spawnRun } from "./cron";
import { StatusPayload, decode, derive } from "./events";

const SENDER = {
  svc: "executor-cron-job",
  version: process.env.EXECUTOR_VERSION ?? "0.1.0",
  node: os.hostname(),
};

async function main(): Promise<void> {
  const need = (k: string): string => {
    const v = process.env[k]?.trim();
    if (!v) throw new Error(`${k} is required`);
    return v;
  };
  const scheduled = decode(need("BENCHMARK_EVENT"));
  const run = spawnRun(scheduled, SENDER);
  const status = derive<StatusPayload>(
    { ...scheduled, visited: [] },
    need("STATUS_TOPIC"),
    {
      message: `Spawning benchmark with action_id: [${run.action_id}]`,
      status: "SUCCEEDED",
      src_event: scheduled,
    },
    SENDER,
  );
  const kafka = new Kafka({
    clientId: "executor-cron-job",
    brokers: need("KAFKA_BOOTSTRAP_SERVERS").split(","),
    logLevel: logLevel.WARN,
  });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const send = (topic: string, e: { client_id: string }) =>
      producer.send({ topic, messages: [{ key: e.client_id, value: JSON.stringify(e) }] });
    await send(need("PRODUCER_TOPIC"), run);
    await send(status.type, status);
  } finally {
    await producer.disconnect();
  }
  console.log(
    JSON.stringify({ msg: "run spawned", action_id: run.action_id, parent_action_id: scheduled.action_id }),
  );
}

main().catch((e) => {
  console.error(JSON.stringify({ msg: "could not spawn the run", error: String(e) }));
  process.exit(1);
});
