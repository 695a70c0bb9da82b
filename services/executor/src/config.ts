/**
 * The executor's settings, from the environment. Every variable is checked at start; a bad
 * environment stops the service with ONE error naming every problem.
 *
 * | variable                      | meaning                                                | default          |
 * | ----------------------------- | ------------------------------------------------------ | ---------------- |
 * | KAFKA_BOOTSTRAP_SERVERS       | host:port list (outputs ConfigMap kafka_bootstrap_servers) | (required)   |
 * | KAFKA_TOPICS                  | topics that exist (outputs ConfigMap kafka_topics); when set, the service's topics must be in it | (not checked) |
 * | KAFKA_GROUP_ID                | consumer group                                         | executor         |
 * | KAFKA_CLIENT_ID               | Kafka client id                                        | executor         |
 * | TOPIC_FETCHER                 | input: fetcher events                                  | BAI_APP_FETCHER  |
 * | TOPIC_EXECUTOR                | output: executor events                                | BAI_APP_EXECUTOR |
 * | TOPIC_STATUS                  | output: status events                                  | BAI_APP_STATUS   |
 * | TOPIC_CMD_SUBMIT              | input: commands                                        | CMD_SUBMIT       |
 * | TOPIC_CMD_RETURN              | output: command answers                                | CMD_RETURN       |
 * | JOB_NAMESPACE                 | namespace of the Jobs and CronJobs                     | POD_NAMESPACE    |
 * | EXECUTOR_JOB_NODE_SELECTOR    | node selector of benchmark pods, `k=v,k=v`             | (none)           |
 * | EXECUTOR_JOB_TTL_SECONDS      | ttlSecondsAfterFinished of Jobs                        | (kept)           |
 * | EXECUTOR_FAULT                | deliberate fault: `drop-executor-event`                | (none)           |
 * | HEALTH_PORT                   | port of /healthz and /ready                            | 8080             |
 * | LOG_LEVEL                     | debug, info, warn, error                               | info             |
 * | NODE_NAME, POD_NAME           | reported in `visited` and logs                         | (none)           |
 */
import type { Level } from "./log";

export const FAULTS = ["drop-executor-event"] as const;
export type Fault = (typeof FAULTS)[number];

export interface Topics {
  fetcher: string;
  executor: string;
  status: string;
  cmdSubmit: string;
  cmdReturn: string;
}

export const DEFAULT_TOPICS: Readonly<Topics> = Object.freeze({
  fetcher: "BAI_APP_FETCHER",
  executor: "BAI_APP_EXECUTOR",
  status: "BAI_APP_STATUS",
  cmdSubmit: "CMD_SUBMIT",
  cmdReturn: "CMD_RETURN",
});

export const TOPIC_VARS: Record<keyof Topics, string> = {
  fetcher: "TOPIC_FETCHER",
  executor: "TOPIC_EXECUTOR",
  status: "TOPIC_STATUS",
  cmdSubmit: "TOPIC_CMD_SUBMIT",
  cmdReturn: "TOPIC_CMD_RETURN",
};

export interface Config {
  brokers: string[];
  /** Topics known to exist (KAFKA_TOPICS); undefined when not given. */
  knownTopics?: string[];
  groupId: string;
  clientId: string;
  topics: Topics;
  namespace: string;
  nodeSelector: Record<string, string>;
  ttlSecondsAfterFinished?: number;
  fault?: Fault;
  healthPort: number;
  logLevel: Level;
  nodeName?: string;
  podName?: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid executor settings (${problems.length} problem(s)):\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

const list = (s: string | undefined): string[] =>
  (s ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const get = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === "" ? undefined : v;
  };

  const brokers = list(get("KAFKA_BOOTSTRAP_SERVERS"));
  if (brokers.length === 0) problems.push("KAFKA_BOOTSTRAP_SERVERS is required (comma-separated host:port)");
  for (const b of brokers) {
    const m = /^([^\s:/]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(b);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
      problems.push(`KAFKA_BOOTSTRAP_SERVERS: "${b}" is not host:port`);
  }

  const topics = { ...DEFAULT_TOPICS };
  for (const [key, name] of Object.entries(TOPIC_VARS) as [keyof Topics, string][]) {
    const v = get(name);
    if (v === undefined) continue;
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(v)) problems.push(`${name}: "${v}" is not a valid Kafka topic name`);
    topics[key] = v;
  }
  const known = get("KAFKA_TOPICS") !== undefined ? list(get("KAFKA_TOPICS")) : undefined;
  if (known) {
    const missing = Object.values(topics).filter((t) => !known.includes(t));
    if (missing.length > 0) {
      problems.push(
        `topics ${missing.join(", ")} are not in KAFKA_TOPICS (${known.join(", ")}); auto creation is off`,
      );
    }
  }

  const namespace = get("JOB_NAMESPACE") ?? get("POD_NAMESPACE");
  if (namespace === undefined) problems.push("JOB_NAMESPACE (or POD_NAMESPACE) is required");
  else if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) {
    problems.push(`JOB_NAMESPACE: "${namespace}" is not a namespace name`);
  }

  const nodeSelector: Record<string, string> = {};
  for (const pair of list(get("EXECUTOR_JOB_NODE_SELECTOR"))) {
    const i = pair.indexOf("=");
    if (i <= 0) problems.push(`EXECUTOR_JOB_NODE_SELECTOR: "${pair}" is not key=value`);
    else nodeSelector[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
  }

  let ttlSecondsAfterFinished: number | undefined;
  const ttl = get("EXECUTOR_JOB_TTL_SECONDS");
  if (ttl !== undefined) {
    if (/^\d{1,9}$/.test(ttl)) ttlSecondsAfterFinished = Number(ttl);
    else problems.push(`EXECUTOR_JOB_TTL_SECONDS: "${ttl}" is not a number of seconds`);
  }

  const faultRaw = get("EXECUTOR_FAULT");
  let fault: Fault | undefined;
  if (faultRaw !== undefined) {
    if ((FAULTS as readonly string[]).includes(faultRaw)) fault = faultRaw as Fault;
    else problems.push(`EXECUTOR_FAULT: "${faultRaw}" is not one of ${FAULTS.join(", ")}`);
  }

  const portRaw = get("HEALTH_PORT") ?? "8080";
  const healthPort = Number(portRaw);
  if (!/^\d{1,5}$/.test(portRaw) || healthPort < 1 || healthPort > 65535) {
    problems.push(`HEALTH_PORT: "${portRaw}" is not a port`);
  }

  const levelRaw = (get("LOG_LEVEL") ?? "info").toLowerCase();
  if (!["debug", "info", "warn", "error"].includes(levelRaw)) {
    problems.push(`LOG_LEVEL: "${levelRaw}" is not debug, info, warn or error`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    brokers,
    ...(known ? { knownTopics: known } : {}),
    groupId: get("KAFKA_GROUP_ID") ?? "executor",
    clientId: get("KAFKA_CLIENT_ID") ?? "executor",
    topics,
    namespace: namespace!,
    nodeSelector,
    ...(ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished } : {}),
    ...(fault ? { fault } : {}),
    healthPort,
    logLevel: levelRaw as Level,
    ...(get("NODE_NAME") ? { nodeName: get("NODE_NAME") } : {}),
    ...(get("POD_NAME") ? { podName: get("POD_NAME") } : {}),
  };
}
