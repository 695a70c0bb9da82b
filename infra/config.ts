/**
 * The stack's typed configuration. Everything under the `inception:` namespace is read and
 * validated here, before any resource is declared; bad input throws one ConfigError that lists
 * every problem with its key, the expected form and the value found.
 *
 * docs/config.md documents every key; keep the two in step.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { KubeConfig } from "@kubernetes/client-node";
import {
  ConfigError,
  DNS_LABEL,
  Problems,
  array,
  int,
  isObject,
  labels,
  objectAt,
  oneOf,
  optStr,
  show,
  str,
} from "./validate";
import { MockInfraConfig, checkMockPorts, mockInfra, mockPortMappings } from "./mockconfig";
import { SuiteConfig, suiteConfig } from "./suiteconfig";
import { ServiceConfig, servicesConfig } from "./servicesconfig";

export const NAMESPACE = "inception";

/** The stack's role: `local` runs a kind cluster, `devo` and `prod` use an existing cluster. */
export type Stage = "local" | "devo" | "prod";
export const STAGES: readonly Stage[] = ["local", "devo", "prod"];

/** The node image the toolchain builds (scripts/node-image.sh); `kind-default` lets kind choose. */
export const DEFAULT_NODE_IMAGE = "inception/kind-node:v1.34.4";

/** A port of a kind node published on the host (kind `extraPortMappings`). */
export interface PortMapping {
  /** NodePort inside the cluster (30000–32767). */
  containerPort: number;
  /** Port on the host. */
  hostPort: number;
  /** TCP or UDP. */
  protocol: "TCP" | "UDP";
  /** Host address the port binds to. */
  listenAddress: string;
}

/** The local stage's kind cluster. */
export interface KindClusterConfig {
  type: "kind";
  /** kind cluster name; also the kubeconfig context `kind-<name>`. */
  name: string;
  /** Worker nodes beside the one control-plane node. */
  workers: number;
  /** Node image, or undefined to let kind pick its default. */
  nodeImage: string | undefined;
  /** How long `kind create cluster --wait` waits for the control plane. */
  waitSeconds: number;
  /** Labels of the control-plane node. */
  controlPlaneLabels: Record<string, string>;
  /** Labels of worker i+1 at index i; shorter than `workers` means unlabelled extra workers. */
  workerLabels: Record<string, string>[];
  /** Host ports mapped to NodePorts on the control-plane node. */
  portMappings: PortMapping[];
}

/** The devo/prod stage's existing cluster. */
export interface ExistingClusterConfig {
  type: "existing";
  /** Path of the kubeconfig file. */
  kubeconfigPath: string;
  /** Context the stack deploys to; must be the kubeconfig's current context. */
  context: string;
  /** Labels to set on named nodes (node name → labels); empty means nodes are not touched. */
  nodeLabels: Record<string, Record<string, string>>;
}

export interface ImagesConfig {
  /** Registry images are pushed to on devo/prod (`host[:port][/path]`); unused on local. */
  registry: string | undefined;
  /** Repository prefix of every image the stack builds (`<prefix>/<name>:<content hash>`). */
  prefix: string;
  /** Registry user the pushes log in as; undefined: the host's own `docker login`. */
  username: string | undefined;
  /** Its password (set with `pulumi config set --secret`; wrap it with pulumi.secret). */
  password: string | undefined;
}

export interface StageConfig {
  project: string;
  stack: string;
  stage: Stage;
  /** Namespace everything the stack deploys lives in. */
  namespace: string;
  cluster: KindClusterConfig | ExistingClusterConfig;
  images: ImagesConfig;
  mockInfra: MockInfraConfig;
  /** Secret key of the S3 mock's root user (wrap it with pulumi.secret). */
  s3SecretKey: string;
  suite: SuiteConfig;
  /** The services under test. */
  services: ServiceConfig[];
  /** Directory of Pulumi.yaml: relative paths in config are resolved against it. */
  projectRoot: string;
}

/** The seed's node labels: worker 1 runs workloads, worker 2 runs the cheap services (mock infra). */
export const DEFAULT_WORKER_LABELS: Record<string, string>[] = [
  {
    "node.type": "bai-worker",
    "topology.kubernetes.io/zone": "test-zone",
    "failure-domain.beta.kubernetes.io/zone": "test-zone",
    "node.kubernetes.io/instance-type": "local",
    "beta.kubernetes.io/instance-type": "local",
  },
  { "node.type": "bai-services-cheap" },
];

const TOP_LEVEL_KEYS = [
  "stage",
  "namespace",
  "cluster",
  "images",
  "mockInfra",
  "s3SecretKey",
  "suite",
  "services",
] as const;
const KIND_KEYS = [
  "name",
  "workers",
  "nodeImage",
  "waitSeconds",
  "controlPlaneLabels",
  "workerLabels",
  "portMappings",
] as const;
const EXISTING_KEYS = ["kubeconfig", "context", "nodeLabels"] as const;
const IMAGE_KEYS = ["registry", "prefix", "username", "password"] as const;
const PORT_KEYS = ["containerPort", "hostPort", "protocol", "listenAddress"] as const;

/** Raw config as Pulumi hands it over: `inception:<key>` → string (objects as JSON). */
export type RawConfig = Record<string, string>;

export interface LoadInput {
  project: string;
  stack: string;
  config: RawConfig;
  env?: NodeJS.ProcessEnv;
  /** Directory of Pulumi.yaml. Defaults to the working directory. */
  projectRoot?: string;
}

/** Reads and validates the stack config; throws ConfigError listing every problem. */
export function loadConfig(input: LoadInput): StageConfig {
  const env = input.env ?? process.env;
  const p = new Problems(NAMESPACE);
  const raw = parseRaw(p, input.config);

  const stage = oneOf<Stage>(p, "stage", raw.stage, STAGES, defaultStage(input.stack) ?? "local");
  if (raw.stage === undefined && defaultStage(input.stack) === undefined) {
    p.other(
      "stage",
      `is required for stack ${show(input.stack)} (its name is not one of ${STAGES.join(", ")}): ` +
        `pulumi config set inception:stage <local|devo|prod>`,
    );
  }

  const namespace = str(
    p,
    "namespace",
    raw.namespace,
    defaultNamespace(input.stack),
    DNS_LABEL,
    "a DNS-1123 label (lower-case alphanumerics and '-', at most 63)",
  );

  const cluster =
    stage === "local" ? kindCluster(p, raw.cluster, input.stack) : existingCluster(p, raw.cluster, env);

  const im = objectAt(p, "images", raw.images, IMAGE_KEYS) ?? {};
  const images: ImagesConfig = {
    registry: optStr(
      p,
      "images.registry",
      im.registry,
      /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._/-]+)?$/,
      "a registry as host[:port][/path]",
    ),
    prefix: str(
      p,
      "images.prefix",
      im.prefix,
      "inception",
      /^[a-z0-9]+([._/-][a-z0-9]+)*$/,
      "a repository prefix of lower-case alphanumerics separated by . _ - /",
    ),
    username: optStr(p, "images.username", im.username, /^\S+$/, "a user name without spaces"),
    // Never echoed in a message: it is a secret.
    password:
      im.password === undefined || (typeof im.password === "string" && im.password !== "")
        ? (im.password as string | undefined)
        : p.other("images.password", "must be a non-empty string (value not shown: it is a secret)"),
  };
  if ((images.username === undefined) !== (images.password === undefined)) {
    p.other(
      images.username === undefined ? "images.password" : "images.username",
      "is set without its partner: give both images.username and images.password (with --secret), or neither",
    );
  }
  if (stage === "local" && images.username !== undefined) {
    p.other("images.username", "is set on stage local, which loads images into kind and pushes nothing");
  }
  if (stage !== "local" && images.registry === undefined && im.registry === undefined) {
    p.other(
      "images.registry",
      `is required on stage ${stage} (the cluster pulls the stack's images from it)`,
    );
  }

  const projectRoot = input.projectRoot ?? process.cwd();
  const mock = mockInfra(p, raw.mockInfra, env, projectRoot);
  if (cluster.type === "kind") {
    checkMockPorts(p, mock, cluster.portMappings);
    // The mock infra's host endpoints (Kafka's external listener is advertised as
    // localhost:<hostPort>) are kind port mappings to their NodePorts.
    cluster.portMappings = [
      ...cluster.portMappings,
      ...mockPortMappings(mock).map((m) => ({
        containerPort: m.containerPort,
        hostPort: m.hostPort,
        protocol: "TCP" as const,
        listenAddress: "127.0.0.1",
      })),
    ];
  }

  const s3SecretKey = str(
    p,
    "s3SecretKey",
    raw.s3SecretKey,
    "inception-mock-secret",
    /^\S{8,128}$/,
    "8 to 128 characters without spaces",
  );
  const suite = suiteConfig(p, raw.suite, projectRoot);
  const services = servicesConfig(p, raw.services, projectRoot);
  if (suite.enabled && suite.runner === "host" && stage !== "local") {
    p.other(
      "suite.runner",
      `is "host", which needs the host endpoints of the local stage (this is ${stage})`,
    );
  }
  if (suite.enabled && !mock.kafka.enabled) {
    p.other(
      "suite.enabled",
      "is true but mockInfra.kafka is disabled: the suite talks to the service through Kafka",
    );
  }
  if (!p.empty) throw new ConfigError(p.list);
  return {
    suite,
    services,
    projectRoot,
    project: input.project,
    stack: input.stack,
    stage,
    namespace,
    cluster,
    images,
    mockInfra: mock,
    s3SecretKey,
  };
}

function defaultStage(stack: string): Stage | undefined {
  return (STAGES as readonly string[]).includes(stack) ? (stack as Stage) : undefined;
}

function defaultNamespace(stack: string): string {
  const s = `inception-${stack}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .slice(0, 63);
  return s.replace(/-+$/, "");
}

/** Splits `inception:` keys, parsing JSON objects and rejecting keys this program does not know. */
function parseRaw(p: Problems, config: RawConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(config)) {
    if (!fullKey.startsWith(`${NAMESPACE}:`)) continue;
    const key = fullKey.slice(NAMESPACE.length + 1);
    if (!(TOP_LEVEL_KEYS as readonly string[]).includes(key)) {
      const hint = key.includes(".")
        ? ` (to set a nested value use: pulumi config set --path ${NAMESPACE}:${key} <value>)`
        : ` (known: ${TOP_LEVEL_KEYS.join(", ")})`;
      p.other(key, `is not a known setting${hint}`);
      continue;
    }
    out[key] = parseValue(value);
  }
  return out;
}

function parseValue(v: string): unknown {
  const t = v.trim();
  if (t.startsWith("{") || t.startsWith("[")) {
    try {
      return JSON.parse(t);
    } catch {
      return v;
    }
  }
  return v;
}

function kindCluster(p: Problems, v: unknown, stack: string): KindClusterConfig {
  const c = objectAt(p, "cluster", v, KIND_KEYS) ?? {};
  const workers = int(p, "cluster.workers", c.workers, 2, 0, 10);
  const imageRaw = str(
    p,
    "cluster.nodeImage",
    c.nodeImage,
    DEFAULT_NODE_IMAGE,
    /^[^\s]+$/,
    "a docker image reference or kind-default",
  );

  let workerLabels = DEFAULT_WORKER_LABELS.slice(0, workers);
  const wl = array(p, "cluster.workerLabels", c.workerLabels);
  if (wl !== undefined) {
    if (wl.length > workers) {
      p.other("cluster.workerLabels", `has ${wl.length} entries but the cluster has ${workers} workers`);
    }
    workerLabels = wl.map((entry, i) => labels(p, `cluster.workerLabels[${i}]`, entry) ?? {});
  }

  return {
    type: "kind",
    name: str(
      p,
      "cluster.name",
      c.name,
      defaultNamespace(stack),
      /^[a-z0-9]([-a-z0-9]{0,48}[a-z0-9])?$/,
      "a kind cluster name (lower-case alphanumerics and '-', at most 50)",
    ),
    workers,
    nodeImage: imageRaw === "kind-default" ? undefined : imageRaw,
    waitSeconds: int(p, "cluster.waitSeconds", c.waitSeconds, 300, 0, 3600),
    controlPlaneLabels: labels(p, "cluster.controlPlaneLabels", c.controlPlaneLabels) ?? {},
    workerLabels,
    portMappings: portMappings(p, c.portMappings),
  };
}

function portMappings(p: Problems, v: unknown): PortMapping[] {
  const list = array(p, "cluster.portMappings", v) ?? [];
  const out: PortMapping[] = [];
  const seen = new Map<string, number>();
  list.forEach((entry, i) => {
    const key = `cluster.portMappings[${i}]`;
    const m = objectAt(p, key, entry, PORT_KEYS);
    if (m === undefined) return;
    if (!isObject(entry)) return;
    const pm: PortMapping = {
      containerPort: int(p, `${key}.containerPort`, m.containerPort, -1, 30000, 32767),
      hostPort: int(p, `${key}.hostPort`, m.hostPort, -1, 1, 65535),
      protocol: oneOf(p, `${key}.protocol`, m.protocol, ["TCP", "UDP"] as const, "TCP"),
      listenAddress: str(
        p,
        `${key}.listenAddress`,
        m.listenAddress,
        "127.0.0.1",
        /^(\d{1,3}\.){3}\d{1,3}$|^::1?$/,
        "an IP address",
      ),
    };
    if (m.containerPort === undefined)
      p.other(`${key}.containerPort`, "is required (a NodePort, 30000-32767)");
    if (m.hostPort === undefined) p.other(`${key}.hostPort`, "is required (a host port, 1-65535)");
    const id = `${pm.listenAddress}:${pm.hostPort}/${pm.protocol}`;
    if (pm.hostPort > 0 && seen.has(id)) {
      p.other(`${key}.hostPort`, `repeats ${id} of cluster.portMappings[${seen.get(id)}]`);
    }
    seen.set(id, i);
    out.push(pm);
  });
  return out;
}

function existingCluster(p: Problems, v: unknown, env: NodeJS.ProcessEnv): ExistingClusterConfig {
  const c = objectAt(p, "cluster", v, EXISTING_KEYS) ?? {};
  const fromEnv = env.KUBECONFIG?.split(path.delimiter).find((s) => s.length > 0);
  const kubeconfigPath = expandHome(
    str(p, "cluster.kubeconfig", c.kubeconfig, fromEnv ?? path.join(os.homedir(), ".kube", "config")),
  );
  const context = optStr(p, "cluster.context", c.context);
  if (c.context === undefined) {
    p.other(
      "cluster.context",
      "is required on an existing cluster (the kubeconfig context the stack may deploy to)",
    );
  }

  const nodeLabels: Record<string, Record<string, string>> = {};
  const nl = c.nodeLabels;
  if (nl !== undefined && !isObject(nl)) p.expected("cluster.nodeLabels", "a map of node name to labels", nl);
  else if (nl !== undefined) {
    for (const [node, l] of Object.entries(nl)) {
      nodeLabels[node] = labels(p, `cluster.nodeLabels.${node}`, l) ?? {};
    }
  }

  if (
    context !== undefined &&
    contextGuard(p, kubeconfigPath, context) &&
    env.INCEPTION_SKIP_CLUSTER_CHECK !== "1"
  ) {
    const problem = clusterUnreachable(kubeconfigPath, context);
    if (problem !== undefined) p.other("cluster.context", `is ${show(context)}, whose ${problem}`);
  }
  return { type: "existing", kubeconfigPath, context: context ?? "", nodeLabels };
}

/**
 * Asks the context's API server for its version (5 s at most); returns what is wrong, or
 * undefined when it answers. Synchronous (a child process) because config is validated before
 * any resource is declared: an unreachable cluster stops the program with this message, not with
 * the provider's half-way through an update.
 */
export function clusterUnreachable(
  kubeconfigPath: string,
  context: string,
  timeoutMs = 5000,
): string | undefined {
  const script = `
    const { KubeConfig, VersionApi } = require(process.argv[1]);
    const kc = new KubeConfig();
    kc.loadFromFile(process.argv[2]);
    kc.setCurrentContext(process.argv[3]);
    const server = kc.getCurrentCluster()?.server ?? "(no server)";
    const fail = (m) => { console.log(JSON.stringify({ server, error: m })); process.exit(0); };
    setTimeout(() => fail("no answer within ${timeoutMs / 1000} s"), ${timeoutMs}).unref();
    kc.makeApiClient(VersionApi).getCode().then(
      () => { console.log(JSON.stringify({ server })); process.exit(0); },
      (e) => fail(e && e.code === 401 ? "refuses the kubeconfig's credentials (401)" : String((e && (e.cause?.message ?? e.message)) ?? e)),
    );`;
  const r = spawnSync(
    process.execPath,
    ["-e", script, require.resolve("@kubernetes/client-node"), kubeconfigPath, context],
    { encoding: "utf8", timeout: timeoutMs + 5000 },
  );
  let answer: { server?: string; error?: string };
  try {
    answer = JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as typeof answer;
  } catch {
    return `API server could not be asked: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`;
  }
  if (answer.error === undefined) return undefined;
  return `API server ${answer.server} is unreachable: ${answer.error} (is the cluster up, and is this its kubeconfig?)`;
}

/** Refuses a kubeconfig whose current context is not the one the stack names. */
function contextGuard(p: Problems, file: string, context: string): boolean {
  if (!fs.existsSync(file)) {
    p.other("cluster.kubeconfig", `names ${show(file)}, which does not exist`);
    return false;
  }
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (e) {
    p.other(
      "cluster.kubeconfig",
      `names ${show(file)}, which is not a readable kubeconfig: ${(e as Error).message}`,
    );
    return false;
  }
  const names = kc.getContexts().map((x) => x.name);
  if (!names.includes(context)) {
    p.other(
      "cluster.context",
      `is ${show(context)}, which ${file} does not have (it has: ${names.join(", ") || "none"})`,
    );
    return false;
  }
  const current = kc.getCurrentContext();
  if (current !== context) {
    p.other(
      "cluster.context",
      `is ${show(context)} but the current context of ${file} is ${show(current)}: refusing to deploy ` +
        `(run: kubectl config use-context ${context})`,
    );
    return false;
  }
  return true;
}

function expandHome(f: string): string {
  return f.startsWith("~/") ? path.join(os.homedir(), f.slice(2)) : f;
}

/** Reads the running stack's config through the Pulumi runtime. */
export function configFromPulumi(): StageConfig {
  // Imported here so the pure loader above stays usable without a Pulumi runtime.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
  return loadConfig({
    project: pulumi.getProject(),
    stack: pulumi.getStack(),
    config: pulumi.runtime.allConfig(),
    // Pulumi runs the program in its `main` directory (infra/); paths in config are the project's.
    projectRoot: path.resolve(__dirname, ".."),
  });
}
