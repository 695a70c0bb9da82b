/**
 * The fetcher's settings, from the environment only. Every variable is checked at start; a bad
 * environment stops the process with ONE error naming every problem.
 *
 * The service (dist/service.js):
 *
 * | variable                  | meaning                                                         | default                                 |
 * | ------------------------- | --------------------------------------------------------------- | --------------------------------------- |
 * | KAFKA_BOOTSTRAP_SERVERS   | host:port list (outputs key kafka_bootstrap_servers)            | (required)                              |
 * | FETCH_REQUESTS_TOPIC      | input: fetch requests                                           | fetch.requests                          |
 * | FETCH_RESULTS_TOPIC       | output: fetch results                                           | fetch.results                           |
 * | KAFKA_GROUP_ID            | consumer group (also the Kafka client id)                       | fetcher                                 |
 * | S3_ENDPOINT               | S3 URL the worker uploads to (outputs key s3_endpoint)          | (required)                              |
 * | S3_ACCESS_KEY             | S3 access key (outputs key s3_access_key)                       | (required)                              |
 * | S3_SECRET_KEY_REF         | `<secret>/<key>` the worker's S3_SECRET_KEY comes from          | outputs-infrastructure-secrets/s3_secret_key |
 * | NAMESPACE                 | namespace of the worker Jobs                                    | POD_NAMESPACE (downward API)            |
 * | WORKER_IMAGE              | image of the worker Jobs                                        | this pod's own image (POD_NAME)         |
 * | POD_NAME                  | this pod (downward API): its image is the worker image          | (none)                                  |
 * | FETCH_JOB_DEADLINE_SECONDS| activeDeadlineSeconds of a worker Job                           | 120                                     |
 * | HEALTH_PORT               | port of /healthz and /ready                                     | 8080                                    |
 * | LOG_LEVEL                 | debug, info, warn, error                                        | info                                    |
 *
 * The worker (dist/worker.js, the container of each Job; the service sets all of these):
 * REQUEST_ID, FETCH_URL, S3_BUCKET, S3_KEY, S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY (required);
 * S3_REGION (default us-east-1), FETCH_TIMEOUT_MS (default 30000), TERMINATION_MESSAGE_PATH
 * (default /dev/termination-log).
 */
import type { Level } from "./log";

export interface Config {
  brokers: string[];
  topics: { requests: string; results: string };
  groupId: string;
  s3: { endpoint: string; accessKey: string; secretRef: { name: string; key: string } };
  namespace: string;
  workerImage: string | undefined;
  podName: string | undefined;
  /** This pod's namespace (POD_NAMESPACE, else NAMESPACE). */
  podNamespace: string;
  jobDeadlineSeconds: number;
  healthPort: number;
  logLevel: Level;
}

export interface WorkerConfig {
  requestId: string;
  url: string;
  bucket: string;
  key: string;
  s3: { endpoint: string; accessKey: string; secretKey: string; region: string };
  timeoutMs: number;
  terminationMessagePath: string;
}

export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    what = "fetcher",
  ) {
    super(`invalid ${what} settings (${problems.length} problem(s)):\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SECRET_REF = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)\/([-._a-zA-Z0-9]{1,253})$/;

function reader(env: NodeJS.ProcessEnv) {
  return (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === "" ? undefined : v;
  };
}

function isHttpUrl(s: string): boolean {
  try {
    return ["http:", "https:"].includes(new URL(s).protocol);
  } catch {
    return false;
  }
}

function integer(
  problems: string[],
  name: string,
  raw: string | undefined,
  def: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    problems.push(`${name}: must be an integer from ${min} to ${max}, got "${raw}"`);
    return def;
  }
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const get = reader(env);

  const brokers = (get("KAFKA_BOOTSTRAP_SERVERS") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (brokers.length === 0) problems.push("KAFKA_BOOTSTRAP_SERVERS is required (comma-separated host:port)");
  for (const b of brokers) {
    const m = /^([^\s:/]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(b);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      problems.push(`KAFKA_BOOTSTRAP_SERVERS: "${b}" is not host:port`);
    }
  }

  const topic = (name: string, def: string): string => {
    const v = get(name) ?? def;
    if (!TOPIC.test(v)) problems.push(`${name}: "${v}" is not a valid Kafka topic name`);
    return v;
  };
  const topics = {
    requests: topic("FETCH_REQUESTS_TOPIC", "fetch.requests"),
    results: topic("FETCH_RESULTS_TOPIC", "fetch.results"),
  };
  if (topics.requests === topics.results) {
    problems.push(`FETCH_REQUESTS_TOPIC and FETCH_RESULTS_TOPIC are both "${topics.requests}"`);
  }

  const endpoint = get("S3_ENDPOINT");
  if (endpoint === undefined) problems.push("S3_ENDPOINT is required (outputs key s3_endpoint)");
  else if (!isHttpUrl(endpoint)) problems.push(`S3_ENDPOINT: "${endpoint}" is not an http(s) URL`);
  const accessKey = get("S3_ACCESS_KEY");
  if (accessKey === undefined) problems.push("S3_ACCESS_KEY is required (outputs key s3_access_key)");
  const refRaw = get("S3_SECRET_KEY_REF") ?? "outputs-infrastructure-secrets/s3_secret_key";
  const ref = SECRET_REF.exec(refRaw);
  if (!ref) problems.push(`S3_SECRET_KEY_REF: "${refRaw}" is not <secret name>/<key>`);

  const namespace = get("NAMESPACE") ?? get("POD_NAMESPACE");
  if (namespace === undefined)
    problems.push("NAMESPACE (or POD_NAMESPACE from the downward API) is required");
  else if (!NAMESPACE.test(namespace)) problems.push(`NAMESPACE: "${namespace}" is not a namespace name`);

  const workerImage = get("WORKER_IMAGE");
  const podName = get("POD_NAME");
  if (workerImage === undefined && podName === undefined) {
    problems.push("WORKER_IMAGE or POD_NAME (to read this pod's own image) is required");
  }

  const jobDeadlineSeconds = integer(
    problems,
    "FETCH_JOB_DEADLINE_SECONDS",
    get("FETCH_JOB_DEADLINE_SECONDS"),
    120,
    5,
    86400,
  );
  const healthPort = integer(problems, "HEALTH_PORT", get("HEALTH_PORT"), 8080, 1, 65535);
  const logLevel = (get("LOG_LEVEL") ?? "info").toLowerCase();
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    problems.push(`LOG_LEVEL: "${logLevel}" is not debug, info, warn or error`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    brokers,
    topics,
    groupId: get("KAFKA_GROUP_ID") ?? "fetcher",
    s3: { endpoint: endpoint!, accessKey: accessKey!, secretRef: { name: ref![1], key: ref![3] } },
    namespace: namespace!,
    workerImage,
    podName,
    podNamespace: get("POD_NAMESPACE") ?? namespace!,
    jobDeadlineSeconds,
    healthPort,
    logLevel: logLevel as Level,
  };
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const problems: string[] = [];
  const get = reader(env);
  const required = (name: string): string => {
    const v = get(name);
    if (v === undefined) problems.push(`${name} is required`);
    return v ?? "";
  };
  const requestId = required("REQUEST_ID");
  const url = required("FETCH_URL");
  if (url !== "" && !isHttpUrl(url)) problems.push(`FETCH_URL: "${url}" is not an http(s) URL`);
  const bucket = required("S3_BUCKET");
  const key = required("S3_KEY");
  const endpoint = required("S3_ENDPOINT");
  if (endpoint !== "" && !isHttpUrl(endpoint))
    problems.push(`S3_ENDPOINT: "${endpoint}" is not an http(s) URL`);
  const accessKey = required("S3_ACCESS_KEY");
  const secretKey = required("S3_SECRET_KEY");
  const timeoutMs = integer(problems, "FETCH_TIMEOUT_MS", get("FETCH_TIMEOUT_MS"), 30_000, 1, 3_600_000);
  if (problems.length > 0) throw new ConfigError(problems, "fetcher worker");
  return {
    requestId,
    url,
    bucket,
    key,
    s3: { endpoint, accessKey, secretKey, region: get("S3_REGION") ?? "us-east-1" },
    timeoutMs,
    terminationMessagePath: get("TERMINATION_MESSAGE_PATH") ?? "/dev/termination-log",
  };
}
