/**
 * The suite's settings, from the environment. Every variable is checked; a bad environment
 * fails with ONE error listing every missing or invalid variable.
 *
 * | variable                  | meaning                                         | default               |
 * | ------------------------- | ----------------------------------------------- | --------------------- |
 * | KAFKA_BOOTSTRAP_SERVERS   | comma-separated host:port list                  | (required)            |
 * | HARNESS_TOPICS            | more topics to read (and create when missing), comma-separated | (none)   |
 * | S3_ENDPOINT               | mock S3 URL (http/https)                        | (none)                |
 * | WAIT_TIMEOUT_MS           | default timeout of one wait                     | 30000                 |
 * | HARNESS_START_TIMEOUT_MS  | connecting, creating topics, joining the group  | 60000                 |
 * | HARNESS_BUFFER_SIZE       | recent messages kept for late waiters           | 5000                  |
 * | ARTIFACTS_DIR             | where failed tests' artifacts go                | <cwd>/artifacts       |
 */
import * as path from "node:path";

export interface Settings {
  kafkaBootstrapServers: string[];
  /**
   * Topics the harness reads and creates when missing besides those suites declare with
   * `harness({ topics })`: HARNESS_TOPICS, for a stack that names a suite's topics in its config.
   */
  extraTopics: string[];
  s3Endpoint: string | undefined;
  waitTimeoutMs: number;
  startTimeoutMs: number;
  bufferSize: number;
  artifactsDir: string;
}

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid test settings (${problems.length} problem(s)):\n  - ${problems.join("\n  - ")}`);
    this.name = "SettingsError";
  }
}

/** Reads and validates the settings; throws a SettingsError naming every bad variable. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const problems: string[] = [];
  const get = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === "" ? undefined : v;
  };

  const servers = (get("KAFKA_BOOTSTRAP_SERVERS") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (servers.length === 0) {
    problems.push("KAFKA_BOOTSTRAP_SERVERS is required (comma-separated host:port, e.g. 127.0.0.1:9092)");
  }
  for (const s of servers) {
    const m = /^([^\s:/]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(s);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      problems.push(`KAFKA_BOOTSTRAP_SERVERS: "${s}" is not host:port`);
    }
  }

  const extraTopics: string[] = [];
  for (const t of (get("HARNESS_TOPICS") ?? "").split(",").map((x) => x.trim())) {
    if (t === "" || extraTopics.includes(t)) continue;
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(t)) {
      problems.push(
        `HARNESS_TOPICS: "${t}" is not a valid Kafka topic name ([a-zA-Z0-9._-], 1 to 249 characters)`,
      );
    } else extraTopics.push(t);
  }

  const s3Endpoint = get("S3_ENDPOINT");
  if (s3Endpoint !== undefined) {
    let ok: boolean;
    try {
      ok = ["http:", "https:"].includes(new URL(s3Endpoint).protocol);
    } catch {
      ok = false;
    }
    if (!ok) problems.push(`S3_ENDPOINT: "${s3Endpoint}" is not an http(s) URL`);
  }

  const int = (name: string, def: number, min: number, max: number): number => {
    const v = get(name);
    if (v === undefined) return def;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) {
      problems.push(`${name}: must be an integer from ${min} to ${max}, got "${v}"`);
      return def;
    }
    return n;
  };
  const waitTimeoutMs = int("WAIT_TIMEOUT_MS", 30_000, 1, 3_600_000);
  const startTimeoutMs = int("HARNESS_START_TIMEOUT_MS", 60_000, 1, 3_600_000);
  const bufferSize = int("HARNESS_BUFFER_SIZE", 5_000, 0, 1_000_000);

  const artifactsDir = path.resolve(get("ARTIFACTS_DIR") ?? path.join(process.cwd(), "artifacts"));

  if (problems.length > 0) throw new SettingsError(problems);
  return {
    kafkaBootstrapServers: servers,
    extraTopics,
    s3Endpoint,
    waitTimeoutMs,
    startTimeoutMs,
    bufferSize,
    artifactsDir,
  };
}
