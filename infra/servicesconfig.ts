/**
 * The `inception:services` section: the services under test. The reference executor is the
 * default entry, not a special case in code.
 */
import * as fs from "fs";
import * as path from "path";
import { DNS_LABEL, Problems, array, int, isObject, labels, objectAt, optStr, show, str } from "./validate";

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export interface ServiceConfig {
  /** Name of the Deployment, ServiceAccount, Role and image. */
  name: string;
  /** Build context (a directory with a Dockerfile), relative to the project; or undefined with `image`. */
  context: string | undefined;
  /** A prebuilt image instead of a build. */
  image: string | undefined;
  /** Literal environment. */
  env: Record<string, string>;
  /** Environment taken from the outputs ConfigMap: variable → key. */
  envFromOutputs: Record<string, string>;
  /** Rules of its Role in the namespace. */
  rules: PolicyRule[];
  replicas: number;
  nodeSelector: Record<string, string>;
  /** Label selector of the pods and Jobs it spawns (the hook collects their logs). */
  spawnedSelector: string;
  /** HTTP readiness path on healthPort, or undefined for "Deployment available". */
  readinessPath: string | undefined;
  /** HTTP liveness path on healthPort, or undefined for none. */
  livenessPath: string | undefined;
  healthPort: number;
}

/** The reference executor: what it needs from the outputs and from Kubernetes. */
export const EXECUTOR_DEFAULT: ServiceConfig = {
  name: "executor",
  context: "services/executor",
  image: undefined,
  env: {},
  envFromOutputs: { KAFKA_BOOTSTRAP_SERVERS: "kafka_bootstrap_servers", KAFKA_TOPICS: "kafka_topics" },
  rules: [
    {
      apiGroups: ["batch"],
      resources: ["jobs", "cronjobs"],
      verbs: ["create", "get", "list", "watch", "delete"],
    },
    { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
  ],
  replicas: 1,
  nodeSelector: {},
  spawnedSelector: "created-by=executor",
  readinessPath: "/ready",
  livenessPath: "/healthz",
  healthPort: 8080,
};

const SERVICE_KEYS = [
  "name",
  "context",
  "image",
  "env",
  "envFromOutputs",
  "rules",
  "replicas",
  "nodeSelector",
  "spawnedSelector",
  "readinessPath",
  "livenessPath",
  "healthPort",
] as const;

const OUTPUT_KEYS = [
  "kafka_bootstrap_servers",
  "kafka_bootstrap_servers_external",
  "kafka_topics",
  "s3_endpoint",
  "s3_endpoint_external",
  "s3_buckets",
  "s3_access_key",
  "zookeeper_connect",
  "data_server_url",
  "data_server_files",
  "crds",
];

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function servicesConfig(p: Problems, v: unknown, projectRoot: string): ServiceConfig[] {
  const list = array(p, "services", v);
  if (list === undefined) return [EXECUTOR_DEFAULT];
  const out: ServiceConfig[] = [];
  list.forEach((entry, i) => {
    const key = `services[${i}]`;
    const given = objectAt(p, key, entry, SERVICE_KEYS);
    if (given === undefined) return;
    // An entry named "executor" without its own image or context is the reference executor with
    // the given settings on top (e.g. only env: {EXECUTOR_FAULT: drop-executor-event}).
    const s: Record<string, unknown> =
      given.name === EXECUTOR_DEFAULT.name && given.context === undefined && given.image === undefined
        ? { ...EXECUTOR_DEFAULT, ...given, env: { ...EXECUTOR_DEFAULT.env, ...(given.env as object) } }
        : given;
    const name = str(p, `${key}.name`, s.name, "", DNS_LABEL, "a DNS-1123 label");
    if (s.name === undefined) p.other(`${key}.name`, "is required");
    if (name && out.some((o) => o.name === name)) p.other(`${key}.name`, `repeats service ${show(name)}`);
    const context = optStr(p, `${key}.context`, s.context);
    const image = optStr(p, `${key}.image`, s.image, /^\S+$/, "an image reference");
    if ((context === undefined) === (image === undefined)) {
      p.other(
        key,
        "needs exactly one of context (a directory with a Dockerfile, built by the stack) or image (prebuilt)",
      );
    }
    if (context !== undefined && !fs.existsSync(path.join(projectRoot, context, "Dockerfile"))) {
      p.other(`${key}.context`, `is ${show(context)}, which has no Dockerfile`);
    }
    out.push({
      name,
      context,
      image,
      env: envMap(p, `${key}.env`, s.env),
      envFromOutputs: outputsEnv(p, `${key}.envFromOutputs`, s.envFromOutputs),
      rules: rules(p, `${key}.rules`, s.rules),
      replicas: int(p, `${key}.replicas`, s.replicas, 1, 0, 20),
      nodeSelector: labels(p, `${key}.nodeSelector`, s.nodeSelector) ?? {},
      spawnedSelector: str(p, `${key}.spawnedSelector`, s.spawnedSelector, `created-by=${name}`),
      readinessPath: optStr(
        p,
        `${key}.readinessPath`,
        s.readinessPath,
        /^\/\S*$/,
        "an HTTP path starting with /",
      ),
      livenessPath: optStr(
        p,
        `${key}.livenessPath`,
        s.livenessPath,
        /^\/\S*$/,
        "an HTTP path starting with /",
      ),
      healthPort: int(p, `${key}.healthPort`, s.healthPort, 8080, 1, 65535),
    });
  });
  return out;
}

export function envMap(p: Problems, key: string, v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) return p.expected(key, "a map of variable to value", v) ?? {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (!ENV_NAME.test(k)) p.other(key, `has an invalid variable name ${show(k)}`);
    else if (typeof val === "object" && val !== null) p.expected(`${key}.${k}`, "a string", val);
    else out[k] = String(val);
  }
  return out;
}

function outputsEnv(p: Problems, key: string, v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) return p.expected(key, "a map of variable to outputs ConfigMap key", v) ?? {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (!ENV_NAME.test(k)) p.other(key, `has an invalid variable name ${show(k)}`);
    else if (typeof val !== "string" || !OUTPUT_KEYS.includes(val)) {
      p.expected(`${key}.${k}`, `an outputs ConfigMap key (${OUTPUT_KEYS.join(", ")})`, val);
    } else out[k] = val;
  }
  return out;
}

function rules(p: Problems, key: string, v: unknown): PolicyRule[] {
  const list = array(p, key, v);
  if (list === undefined) return [];
  return list.flatMap((r, i) => {
    const k = `${key}[${i}]`;
    const o = objectAt(p, k, r, ["apiGroups", "resources", "verbs"]);
    if (o === undefined) return [];
    const strings = (f: string, x: unknown): string[] => {
      if (!Array.isArray(x) || x.some((s) => typeof s !== "string")) {
        p.expected(`${k}.${f}`, "a list of strings", x);
        return [];
      }
      return x as string[];
    };
    return [
      {
        apiGroups: strings("apiGroups", o.apiGroups ?? [""]),
        resources: strings("resources", o.resources),
        verbs: strings("verbs", o.verbs),
      },
    ];
  });
}
