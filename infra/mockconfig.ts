/**
 * The `inception:mockInfra` section: which mock infrastructure runs in the cluster and how it is
 * sized. Read by config.ts, which owns the error reporting.
 */
import { Problems, array, bool, int, isObject, objectAt, oneOf, show, str } from "./validate";
import * as path from "path";
import { CrdDocument, readCrd } from "./mock/crds";

/** Which images the mock infra runs: pinned public images, or the set built on this machine. */
export type ImageSet = "public" | "local";

export interface TopicSpec {
  name: string;
  partitions: number;
}

export interface KafkaConfig {
  enabled: boolean;
  /** Topics created before the broker reports ready (auto creation is off). */
  topics: TopicSpec[];
  /** NodePort of the external listener. */
  nodePort: number;
  /** Host port the external listener is advertised on (`localhost:<hostPort>`); local stage only. */
  hostPort: number;
  /** Keep the broker's data on a PersistentVolumeClaim (survives a pod restart) or in an emptyDir. */
  storage: "pvc" | "emptyDir";
}

export interface ZooKeeperConfig {
  enabled: boolean;
}

export interface S3Config {
  enabled: boolean;
  /** Buckets created before the S3 mock reports ready. */
  buckets: string[];
  /** Access key of the mock (the secret key is `inception:s3SecretKey`, a Pulumi secret). */
  accessKey: string;
  /** NodePort of the S3 API. */
  nodePort: number;
  /** Host port the S3 API is published on (local stage). */
  hostPort: number;
}

export interface DataServerConfig {
  enabled: boolean;
  /** Files served, path → content. */
  files: Record<string, string>;
}

export interface MockInfraConfig {
  images: ImageSet;
  kafka: KafkaConfig;
  zookeeper: ZooKeeperConfig;
  s3: S3Config;
  dataServer: DataServerConfig;
  /** CustomResourceDefinitions to install (read from the manifests named in config). */
  crds: CrdDocument[];
}

/** The BAI profile's topics, with one partition each. */
export const DEFAULT_TOPICS: TopicSpec[] = [
  "BAI_APP_FETCHER",
  "BAI_APP_EXECUTOR",
  "BAI_APP_STATUS",
  "CMD_SUBMIT",
  "CMD_RETURN",
].map((name) => ({ name, partitions: 1 }));

/** The replaced system's (BAI's) buckets. */
export const DEFAULT_BUCKETS = ["data-pull", "user-bucket", "scripts-exchange"];

const MOCK_KEYS = ["images", "kafka", "zookeeper", "s3", "dataServer", "crds"] as const;
const KAFKA_KEYS = ["enabled", "topics", "nodePort", "hostPort", "storage"] as const;
const S3_KEYS = ["enabled", "buckets", "accessKey", "nodePort", "hostPort"] as const;
const DATA_KEYS = ["enabled", "files"] as const;
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
// S3 bucket naming rules, minus the rarely used dotted form.
const BUCKET = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

export function mockInfra(
  p: Problems,
  v: unknown,
  env: NodeJS.ProcessEnv,
  projectRoot: string,
): MockInfraConfig {
  const m = objectAt(p, "mockInfra", v, MOCK_KEYS) ?? {};
  // One switch, in config or the environment (the environment wins, for CI on air-gapped hosts).
  const fromEnv = env.INCEPTION_MOCK_IMAGES;
  const images =
    fromEnv !== undefined && fromEnv !== ""
      ? oneOf<ImageSet>(
          p,
          "mockInfra.images (from INCEPTION_MOCK_IMAGES)",
          fromEnv,
          ["public", "local"],
          "local",
        )
      : oneOf<ImageSet>(p, "mockInfra.images", m.images, ["public", "local"], "local");

  const k = objectAt(p, "mockInfra.kafka", m.kafka, KAFKA_KEYS) ?? {};
  const kafka: KafkaConfig = {
    enabled: bool(p, "mockInfra.kafka.enabled", k.enabled, true),
    topics: topics(p, k.topics),
    nodePort: int(p, "mockInfra.kafka.nodePort", k.nodePort, 30092, 30000, 32767),
    hostPort: int(p, "mockInfra.kafka.hostPort", k.hostPort, 9092, 1, 65535),
    storage: oneOf(p, "mockInfra.kafka.storage", k.storage, ["pvc", "emptyDir"] as const, "pvc"),
  };

  const z = objectAt(p, "mockInfra.zookeeper", m.zookeeper, ["enabled"]) ?? {};
  const zookeeper: ZooKeeperConfig = { enabled: bool(p, "mockInfra.zookeeper.enabled", z.enabled, false) };

  const s = objectAt(p, "mockInfra.s3", m.s3, S3_KEYS) ?? {};
  const s3: S3Config = {
    enabled: bool(p, "mockInfra.s3.enabled", s.enabled, true),
    buckets: buckets(p, s.buckets),
    accessKey: str(
      p,
      "mockInfra.s3.accessKey",
      s.accessKey,
      "inception",
      /^[A-Za-z0-9]{3,64}$/,
      "3 to 64 letters and digits",
    ),
    nodePort: int(p, "mockInfra.s3.nodePort", s.nodePort, 30070, 30000, 32767),
    hostPort: int(p, "mockInfra.s3.hostPort", s.hostPort, 7070, 1, 65535),
  };

  const d = objectAt(p, "mockInfra.dataServer", m.dataServer, DATA_KEYS) ?? {};
  const dataServer: DataServerConfig = {
    enabled: bool(p, "mockInfra.dataServer.enabled", d.enabled, true),
    files: files(p, d.files),
  };

  const crdList = array(p, "mockInfra.crds", m.crds) ?? [];
  const crds: CrdDocument[] = [];
  crdList.forEach((c, i) => {
    if (typeof c !== "string" || c.length === 0) {
      p.expected(`mockInfra.crds[${i}]`, "a path to a CRD manifest", c);
      return;
    }
    const doc = readCrd(path.resolve(projectRoot, c));
    if (typeof doc === "string") p.other(`mockInfra.crds[${i}]`, doc);
    else if (crds.some((x) => x.name === doc.name))
      p.other(`mockInfra.crds[${i}]`, `repeats CRD ${doc.name}`);
    else crds.push(doc);
  });

  return { images, kafka, zookeeper, s3, dataServer, crds };
}

function topics(p: Problems, v: unknown): TopicSpec[] {
  const list = array(p, "mockInfra.kafka.topics", v);
  if (list === undefined) return DEFAULT_TOPICS;
  const out: TopicSpec[] = [];
  const seen = new Set<string>();
  list.forEach((t, i) => {
    const key = `mockInfra.kafka.topics[${i}]`;
    // A bare name means one partition.
    const spec = typeof t === "string" ? { name: t } : t;
    if (!isObject(spec)) {
      p.expected(key, "a topic name or {name, partitions}", t);
      return;
    }
    const name = str(
      p,
      `${key}.name`,
      spec.name,
      "",
      TOPIC_NAME,
      "a Kafka topic name ([a-zA-Z0-9._-], at most 249)",
    );
    if (spec.name === undefined) p.other(`${key}.name`, "is required");
    const partitions = int(p, `${key}.partitions`, spec.partitions, 1, 1, 1000);
    for (const extra of Object.keys(spec).filter((x) => x !== "name" && x !== "partitions")) {
      p.other(`${key}.${extra}`, "is not a known setting (known: name, partitions)");
    }
    if (name !== "" && seen.has(name)) p.other(key, `repeats topic ${show(name)}`);
    seen.add(name);
    if (name !== "") out.push({ name, partitions });
  });
  return out;
}

function buckets(p: Problems, v: unknown): string[] {
  const list = array(p, "mockInfra.s3.buckets", v);
  if (list === undefined) return DEFAULT_BUCKETS;
  const out: string[] = [];
  list.forEach((b, i) => {
    const key = `mockInfra.s3.buckets[${i}]`;
    if (typeof b !== "string" || !BUCKET.test(b)) {
      p.expected(key, "an S3 bucket name (3-63 of a-z, 0-9 and '-')", b);
    } else if (out.includes(b)) p.other(key, `repeats bucket ${show(b)}`);
    else out.push(b);
  });
  return out;
}

function files(p: Problems, v: unknown): Record<string, string> {
  if (v === undefined || v === null) return { "test-file.txt": "inception data server test file\n" };
  if (!isObject(v)) return p.expected("mockInfra.dataServer.files", "a map of path to content", v) ?? {};
  const out: Record<string, string> = {};
  for (const [path, content] of Object.entries(v)) {
    if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(path) || path.split("/").includes("..")) {
      p.other("mockInfra.dataServer.files", `has an invalid path ${show(path)} (relative, no '..')`);
    } else if (typeof content !== "string") {
      p.expected(`mockInfra.dataServer.files.${path}`, "the file's content as a string", content);
    } else out[path] = content;
  }
  return out;
}

/** The host ports the mock infra publishes through kind (local stage). */
export function mockPortMappings(
  mock: MockInfraConfig,
): { key: string; containerPort: number; hostPort: number }[] {
  const out: { key: string; containerPort: number; hostPort: number }[] = [];
  if (mock.kafka.enabled)
    out.push({ key: "mockInfra.kafka", containerPort: mock.kafka.nodePort, hostPort: mock.kafka.hostPort });
  if (mock.s3.enabled)
    out.push({ key: "mockInfra.s3", containerPort: mock.s3.nodePort, hostPort: mock.s3.hostPort });
  return out;
}

/** Port collisions between the mock infra and with the cluster's own mappings. */
export function checkMockPorts(
  p: Problems,
  mock: MockInfraConfig,
  mappings: { containerPort: number; hostPort: number }[],
): void {
  const mine = mockPortMappings(mock);
  const others = [...mappings.map((m, i) => ({ key: `cluster.portMappings[${i}]`, ...m })), ...mine];
  mine.forEach((m, i) => {
    for (const o of others.slice(0, mappings.length + i)) {
      if (o.hostPort === m.hostPort)
        p.other(`${m.key}.hostPort`, `${m.hostPort} collides with ${o.key}.hostPort`);
      if (o.containerPort === m.containerPort) {
        p.other(`${m.key}.nodePort`, `${m.containerPort} collides with ${o.key} (${o.containerPort})`);
      }
    }
  });
}
