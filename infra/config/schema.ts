/**
 * The stack config's one schema: every `inception:` key, its form, its default and its description,
 * and the rules between keys. The config's types are inferred from it and docs/config.md is
 * generated from it (scripts/config-docs.ts).
 *
 * Why zod: types are inferred from the schema, defaults and cross-field rules live in it, and its
 * issues carry the path of the key and the value given, which the one ConfigError turns into messages.
 */
import * as os from "os";
import * as path from "path";
import { z } from "zod";
import { CONTRACT_ENV, OUTPUT_KEYS } from "../contract";
import { show } from "./errors";

/** The stack's role: `local` runs a kind cluster, `devo` and `prod` use an existing cluster. */
export const STAGES = ["local", "devo", "prod"] as const;
export type Stage = (typeof STAGES)[number];

/**
 * The node image the toolchain builds with the mock infra's and the Node runtime's images already
 * in it (scripts/mock-images.sh, on scripts/node-image.sh's); `kind-default` lets kind choose.
 */
export const DEFAULT_NODE_IMAGE = "inception/kind-node:v1.34.4-preloaded";

/**
 * The versions the mock Kafka is built in (toolchain/kafka/version.env's KAFKA_VERSION and
 * KAFKA_3_VERSION; a unit test keeps them equal). 3.9 is the last line that still takes the protocol
 * versions Kafka 4.0 removed (KIP-896): a client pinned to the 0.10 protocol, as old services pin it,
 * is refused by 4.x.
 */
export const KAFKA_VERSIONS = ["4.4.0", "3.9.2"] as const;
export type KafkaVersion = (typeof KAFKA_VERSIONS)[number];

/** BAI's MPIJob CRD without its operator (mock-infra/crds/mpijob.yaml), relative to the project. */
export const MPIJOB_CRD = "mock-infra/crds/mpijob.yaml";

/**
 * Named profiles: how the kind workers are labelled and which nodes the mock infra and the services
 * prefer, the mock Kafka's version, and the CRDs installed on stage local. `bai` is benchmark-ai's
 * (the system inception replaces): worker 1 runs workloads, worker 2 the cheap services; Kafka 3.9,
 * which serves its services' old clients at any protocol level they speak; the MPIJob CRD, which
 * its executor creates for horovod benchmarks.
 */
export const PROFILES = {
  bai: {
    workerLabels: [
      {
        "node.type": "bai-worker",
        "topology.kubernetes.io/zone": "test-zone",
        "failure-domain.beta.kubernetes.io/zone": "test-zone",
        "node.kubernetes.io/instance-type": "local",
        "beta.kubernetes.io/instance-type": "local",
      },
      { "node.type": "bai-services-cheap" },
    ] as Record<string, string>[],
    /** Label the mock infra and the services prefer (a preferred node affinity). */
    servicesNode: { key: "node.type", value: "bai-services-cheap" } as
      { key: string; value: string } | undefined,
    kafkaVersion: "3.9.2" as KafkaVersion,
    /**
     * Installed by default on stage local only, where the stack owns the cluster. A CRD is
     * cluster-wide: on a shared cluster it may be the real operator's, and another stack's too, so
     * there `mockInfra.crds` names it when wanted.
     */
    localCrds: [MPIJOB_CRD] as string[],
  },
  none: {
    workerLabels: [] as Record<string, string>[],
    servicesNode: undefined,
    kafkaVersion: "4.4.0" as KafkaVersion,
    localCrds: [] as string[],
  },
} as const;
export type ProfileName = keyof typeof PROFILES;

/** The default profile's worker labels (what the e2e tests expect of a default kind cluster). */
export const DEFAULT_WORKER_LABELS = PROFILES.bai.workerLabels;

/** What the reference executor calls (services/executor/src/kube.ts, watch.ts), and pods read-only. */
export const EXECUTOR_RULES = [
  { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "get", "list", "watch", "delete"] },
  { apiGroups: ["batch"], resources: ["cronjobs"], verbs: ["create", "get", "list", "delete"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
  // A cancel deletes by label what BAI's executor made: also MPIJobs, ConfigMaps, RoleBindings, Services.
  { apiGroups: [""], resources: ["configmaps", "services"], verbs: ["create", "list", "delete"] },
  { apiGroups: ["rbac.authorization.k8s.io"], resources: ["rolebindings"], verbs: ["list", "delete"] },
  { apiGroups: ["kubeflow.org"], resources: ["mpijobs"], verbs: ["create", "list", "delete"] },
];

/**
 * What the project's own suite adds to the suite's read-only Role: its scheduled test starts a run
 * of the executor's CronJob now (`k.startCronJob`) instead of waiting for the schedule's minute.
 */
export const PROJECT_SUITE_RULES = [{ apiGroups: ["batch"], resources: ["jobs"], verbs: ["create"] }];

/** Outputs the reference executor reads, by environment variable. */
export const EXECUTOR_OUTPUTS_ENV = {
  KAFKA_BOOTSTRAP_SERVERS: "kafka_bootstrap_servers",
  KAFKA_TOPICS: "kafka_topics",
};

/** The reference executor: the default entry of `inception:services`. */
export const EXECUTOR_DEFAULT = {
  name: "executor",
  context: "services/executor",
  envFromOutputs: EXECUTOR_OUTPUTS_ENV,
  rules: EXECUTOR_RULES,
  readinessPath: "/ready",
  livenessPath: "/healthz",
};

/** The replaced system's topics, one partition each. */
export const DEFAULT_TOPICS = [
  "BAI_APP_FETCHER",
  "BAI_APP_EXECUTOR",
  "BAI_APP_STATUS",
  "CMD_SUBMIT",
  "CMD_RETURN",
].map((name) => ({ name, partitions: 1 }));

/** The replaced system's buckets. */
export const DEFAULT_BUCKETS = ["data-pull", "user-bucket", "scripts-exchange"];

/** The project's own suites (the executor's and the mock infra's), packed into the default suite image. */
export const DEFAULT_SUITE_DIR = "tests/suites";

/** Mocha's usual test file names, at any depth. */
export const DEFAULT_SUITE_SPEC = "**/*.{test,spec}.{ts,js,mjs,cjs}";

/** Variables the stack sets for the suite itself (infra/suite.ts), and the mock infra contract's. */
export const SUITE_RESERVED_ENV = [
  "RUN_ID",
  "SUITE_NAME",
  "SUITE_DIR",
  "MOCHA_TIMEOUT_MS",
  "MOCHA_RETRIES",
  "MOCHA_PARALLEL",
  "MOCHA_GREP",
  "SUITE_SHARDS",
  "SUITE_FILE_DURATIONS",
  "JOB_COMPLETION_INDEX",
  "NAMESPACE",
  "ARTIFACTS_DIR",
  "JOB_IMAGE",
  ...CONTRACT_ENV,
];

// kind appends `-control-plane` (14 characters) to the name for the node container's hostname,
// which may have 64: kind refuses names longer than 50 (sigs.k8s.io/kind cluster/internal/create).
const KIND_NAME_MAX = 50;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isLabelKey(k: string): boolean {
  const slash = k.lastIndexOf("/");
  if (slash === -1) return LABEL_NAME.test(k);
  return DNS_SUBDOMAIN.test(k.slice(0, slash)) && LABEL_NAME.test(k.slice(slash + 1));
}

/**
 * Problems of a label selector in Kubernetes' syntax (`k=v`, `k!=v`, `k in (a,b)`, `k notin (…)`,
 * `k`, `!k`), or undefined when it parses.
 */
export function selectorProblem(sel: string): string | undefined {
  const reqs = sel.match(/(?:[^,(]|\([^)]*\))+/g) ?? [];
  if (sel.trim() === "" || reqs.length === 0) return "is empty";
  for (const raw of reqs) {
    const r = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^(!?)([^\s!=()]+)$/.exec(r))) {
      if (!isLabelKey(m[2])) return `has an invalid label key ${show(m[2])}`;
    } else if ((m = /^([^\s!=()]+)\s*(==|=|!=)\s*([^\s!=()]*)$/.exec(r))) {
      if (!isLabelKey(m[1])) return `has an invalid label key ${show(m[1])}`;
      if (m[3] !== "" && !LABEL_NAME.test(m[3])) return `has an invalid label value ${show(m[3])}`;
    } else if ((m = /^([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(r))) {
      if (!isLabelKey(m[1])) return `has an invalid label key ${show(m[1])}`;
      const values = m[3].split(",").map((v) => v.trim());
      const bad = values.find((v) => v !== "" && !LABEL_NAME.test(v));
      if (bad !== undefined) return `has an invalid label value ${show(bad)}`;
    } else return `has a requirement that does not parse: ${show(r)}`;
  }
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

// ---- leaf forms: the message of each is the expected form, shown as "must be <form>, got …".

/** Values set with `pulumi config set` arrive as strings: "3" is accepted, "two" and "2.5" are not. */
function integer(min: number, max: number) {
  const form = `an integer from ${min} to ${max}`;
  return z
    .preprocess(
      (v) => (typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v),
      z.number({ error: form }).int({ error: form }).min(min, { error: form }).max(max, { error: form }),
    )
    .meta({ form });
}

function bool() {
  return z
    .preprocess(
      (v) => (v === "true" ? true : v === "false" ? false : v),
      z.boolean({ error: "true or false" }),
    )
    .meta({ form: "true or false" });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  const form = `one of ${values.join(", ")}`;
  return z.enum(values, { error: form }).meta({ form });
}

function text(form = "a non-empty string", pattern?: RegExp) {
  const s = z.string({ error: form }).min(1, { error: form });
  return (pattern ? s.regex(pattern, { error: form }) : s).meta({ form });
}

/** An object whose unknown keys are refused, naming the known ones. */
function section<S extends z.core.$ZodLooseShape>(shape: S) {
  const known = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (iss) => (iss.code === "unrecognized_keys" ? `known: ${known}` : "an object"),
  });
}

const LABEL_VALUE = "a label value (≤ 63 of [A-Za-z0-9-_.], starting and ending alphanumeric)";

/** A map's number and boolean values as their text (YAML gives `8080` or `true` where a string is meant). */
function scalarsAsText(v: unknown): unknown {
  return isObject(v)
    ? Object.fromEntries(
        Object.entries(v).map(([k, x]) => [
          k,
          typeof x === "number" || typeof x === "boolean" ? String(x) : x,
        ]),
      )
    : v;
}

/** A map of Kubernetes labels; values may be given as numbers or booleans in YAML. */
function labelMap() {
  return z
    .preprocess(
      scalarsAsText,
      z
        .record(
          z.string(),
          z.string({ error: LABEL_VALUE }).regex(/^(|[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/, {
            error: LABEL_VALUE,
          }),
          { error: "a map of Kubernetes labels" },
        )
        .superRefine((m, ctx) => {
          for (const k of Object.keys(m)) {
            if (!isLabelKey(k)) {
              ctx.addIssue({
                code: "custom",
                message: `has an invalid label key ${show(k)} (want [prefix/]name, name ≤ 63 of [A-Za-z0-9-_.])`,
              });
            }
          }
        }),
    )
    .meta({ form: "a map of Kubernetes labels" });
}

/** A map of environment variables; numbers and booleans are taken as their text. */
function envMap() {
  const form = "a map of variable to value";
  return z
    .preprocess(
      scalarsAsText,
      z.record(z.string(), z.string({ error: "a string" }), { error: form }).superRefine((m, ctx) => {
        for (const k of Object.keys(m)) {
          if (!ENV_NAME.test(k))
            ctx.addIssue({ code: "custom", message: `has an invalid variable name ${show(k)}` });
        }
      }),
    )
    .meta({ form });
}

function list<T extends z.ZodType>(element: T, form?: string) {
  const a = z.array(element, { error: form ?? "a list" });
  return form === undefined ? a : a.meta({ form });
}

/** Entries that must not repeat (topics, buckets, service names). */
function unique<T>(
  items: T[],
  ctx: z.RefinementCtx,
  id: (x: T) => string,
  what: string,
  at: PropertyKey[] = [],
) {
  const seen = new Set<string>();
  items.forEach((x, i) => {
    const k = id(x);
    if (seen.has(k))
      ctx.addIssue({ code: "custom", path: [i, ...at], message: `repeats ${what} ${show(k)}` });
    seen.add(k);
  });
}

// ---- sections

const portMapping = section({
  containerPort: integer(30000, 32767).describe("NodePort inside the cluster (required)"),
  hostPort: integer(1, 65535).describe("port on the host (required)"),
  protocol: oneOf(["TCP", "UDP"]).default("TCP"),
  listenAddress: text("an IP address", /^(\d{1,3}\.){3}\d{1,3}$|^::1?$/)
    .default("127.0.0.1")
    .describe("host address the port binds to"),
}).superRefine((m, ctx) => {
  // Required, but reported with their range rather than as "undefined".
  if (m.containerPort === undefined)
    ctx.addIssue({
      code: "custom",
      path: ["containerPort"],
      message: "is required (a NodePort, 30000-32767)",
    });
  if (m.hostPort === undefined)
    ctx.addIssue({ code: "custom", path: ["hostPort"], message: "is required (a host port, 1-65535)" });
});

function kindCluster(stack: string) {
  return section({
    name: text(
      `a kind cluster name (lower-case alphanumerics and '-', at most ${KIND_NAME_MAX})`,
      /^[a-z0-9]([-a-z0-9]{0,48}[a-z0-9])?$/,
    )
      .optional()
      .meta({ default: "inception-<stack>" })
      .describe("kind cluster name; the kubeconfig context is `kind-<name>`"),
    workers: integer(0, 10).default(2).describe("worker nodes beside the one control-plane node"),
    nodeImage: text("a docker image reference or kind-default", /^[^\s]+$/)
      .default(DEFAULT_NODE_IMAGE)
      .describe("node image (built by `npm run toolchain`), or `kind-default` to let kind choose"),
    waitSeconds: integer(0, 3600).default(300).describe("how long `kind create cluster --wait` waits"),
    controlPlaneLabels: labelMap().default({}).describe("labels of the control-plane node"),
    workerLabels: list(labelMap())
      .optional()
      .meta({ default: "the profile's (see `inception:profile`)" })
      .describe("label maps, entry i for worker i+1; at most `workers` entries"),
    portMappings: list(portMapping)
      .default([])
      .describe("host ports mapped to NodePorts on the control-plane node (kind `extraPortMappings`)"),
  })
    .superRefine((c, ctx) => {
      if (c.workerLabels !== undefined && c.workerLabels.length > c.workers) {
        ctx.addIssue({
          code: "custom",
          path: ["workerLabels"],
          message: `has ${c.workerLabels.length} entries but the cluster has ${c.workers} workers`,
        });
      }
      const seen = new Map<string, number>();
      c.portMappings.forEach((m, i) => {
        const id = `${m.listenAddress}:${m.hostPort}/${m.protocol}`;
        if (seen.has(id)) {
          ctx.addIssue({
            code: "custom",
            path: ["portMappings", i, "hostPort"],
            message: `repeats ${id} of cluster.portMappings[${seen.get(id)}]`,
          });
        }
        seen.set(id, i);
      });
      if (c.name === undefined && defaultName(stack).length > KIND_NAME_MAX) {
        ctx.addIssue({
          code: "custom",
          path: ["name"],
          message:
            `is not set, and its default ${show(defaultName(stack))} (from the stack name) has ${defaultName(stack).length} characters: ` +
            `kind allows ${KIND_NAME_MAX} (its node container is <name>-control-plane, a hostname of at most 64)`,
          params: { fix: { value: "<a kind cluster name of at most 50 characters>" } },
        });
      }
    })
    .transform((c) => ({
      type: "kind" as const,
      ...c,
      name: c.name ?? defaultName(stack),
      nodeImage: c.nodeImage === "kind-default" ? undefined : c.nodeImage,
    }));
}

function existingCluster(kubeconfigDefault: string) {
  return section({
    kubeconfig: text("a path of a kubeconfig file")
      .default(kubeconfigDefault)
      .meta({ default: "first entry of $KUBECONFIG, then ~/.kube/config" })
      .describe("path of the kubeconfig file (`~/` expanded)"),
    context: text("a context name")
      .optional()
      .meta({ default: "required" })
      .describe(
        "the context the stack deploys to; it must be the kubeconfig's current context (the context guard)",
      ),
    nodeLabels: z
      .record(z.string(), labelMap(), { error: "a map of node name to labels" })
      .default({})
      .meta({ form: "a map of node name to labels", default: "none: nodes are not touched" })
      .describe("labels to set on named nodes (server-side apply, left in place on destroy)"),
  })
    .superRefine((c, ctx) => {
      if (c.context === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["context"],
          message: "is required on an existing cluster (the kubeconfig context the stack may deploy to)",
          params: { fix: { value: "<context>" } },
        });
      }
    })
    .transform((c) => ({
      type: "existing" as const,
      kubeconfigPath: c.kubeconfig.startsWith("~/")
        ? path.join(os.homedir(), c.kubeconfig.slice(2))
        : c.kubeconfig,
      context: c.context ?? "",
      nodeLabels: c.nodeLabels,
    }));
}

const images = section({
  registry: text("a registry as host[:port][/path]", /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._/-]+)?$/)
    .optional()
    .meta({ default: "required on devo/prod; unused on local" })
    .describe("registry images are pushed to on devo/prod (on local: the image cache, images.cachePort)"),
  cachePort: integer(1, 65535)
    .default(5002)
    .describe(
      "local: port on 127.0.0.1 of the image cache, a registry on this machine that outlives kind clusters (docs/registry.md); the stack pushes there and the nodes pull from it. Unused on devo/prod",
    ),
  prefix: text(
    "a repository prefix of lower-case alphanumerics separated by . _ - /",
    /^[a-z0-9]+([._/-][a-z0-9]+)*$/,
  )
    .default("inception")
    .describe("repository prefix of every image the stack builds (`<prefix>/<name>:<content hash>`)"),
  username: text("a user name without spaces", /^\S+$/)
    .optional()
    .describe("registry user the pushes log in as; unset: the host's own `docker login`"),
  password: text("a non-empty string")
    .optional()
    .meta({ secret: true })
    .describe("its password (set it with `pulumi config set --secret --path`)"),
}).superRefine((im, ctx) => {
  if ((im.username === undefined) !== (im.password === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: [im.username === undefined ? "password" : "username"],
      message:
        "is set without its partner: give both images.username and images.password (with --secret), or neither",
      params:
        im.username === undefined
          ? { fix: { remove: true } }
          : { fix: { command: "pulumi config set --path --secret inception:images.password <password>" } },
    });
  }
});

const topic = z.preprocess(
  // A bare name means one partition.
  (t) => (typeof t === "string" ? { name: t } : t),
  section({
    name: text("a Kafka topic name ([a-zA-Z0-9._-], at most 249)", /^[a-zA-Z0-9._-]{1,249}$/),
    partitions: integer(1, 1000).default(1),
  }).meta({ form: "a topic name or {name, partitions}" }),
);

const BUCKET_FORM = "an S3 bucket name (3-63 of a-z, 0-9 and '-')";

const KAFKA_3_LINE =
  "3.9 is the last line that takes the protocol versions old clients pin (e.g. kafka-python 1.4.6 at api_version 0.10)";

function kafkaVersion() {
  const form = `a version the mock Kafka is built in: ${KAFKA_VERSIONS.join(" or ")} (${KAFKA_3_LINE})`;
  return z.enum(KAFKA_VERSIONS, { error: form }).meta({ form: `one of ${KAFKA_VERSIONS.join(", ")}` });
}

function mockInfra() {
  return section({
    images: oneOf(["public", "local"])
      .default("local")
      .describe(
        "`local`: built on this machine by `npm run toolchain` and published with the stack; `public`: pinned upstream images the cluster pulls. The environment variable `INCEPTION_MOCK_IMAGES` overrides it",
      ),
    kafka: section({
      enabled: bool().default(true),
      topics: list(topic)
        .default(DEFAULT_TOPICS)
        .meta({ default: `${DEFAULT_TOPICS.map((t) => t.name).join(", ")} (1 partition each)` })
        .describe(
          "topic names or `{name, partitions}`, created before the broker reports ready (auto creation is off)",
        )
        .superRefine((ts, ctx) => {
          if (ts.length === 0) {
            ctx.addIssue({
              code: "custom",
              message:
                "is empty: the broker would have no topic and every test would wait in vain (remove the key for the default topics, or disable mockInfra.kafka)",
              params: { fix: { value: "'[\"MY_TOPIC\"]'" } },
            });
          }
          unique(ts, ctx, (t) => t.name, "topic");
        }),
      nodePort: integer(30000, 32767).default(30092).describe("NodePort of the external listener"),
      hostPort: integer(1, 65535)
        .default(9092)
        .describe("host port the external listener is advertised on (`localhost:<hostPort>`); local stage"),
      storage: oneOf(["pvc", "emptyDir"]).default("pvc").describe("`pvc`: the data survives a pod restart"),
      version: kafkaVersion()
        .optional()
        .meta({
          default: `the profile's: ${PROFILES.bai.kafkaVersion} (bai), ${PROFILES.none.kafkaVersion} (none)`,
        })
        .describe(
          `the broker's version. ${KAFKA_3_LINE}; 4.x refuses them (KIP-896). Both are built by \`npm run toolchain\``,
        ),
    }).prefault({}),
    zookeeper: section({ enabled: bool().default(false).describe("a standalone ZooKeeper") }).prefault({}),
    s3: section({
      enabled: bool().default(true).describe("versitygw with a POSIX backend"),
      buckets: list(
        z
          .string({ error: BUCKET_FORM })
          .regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, { error: BUCKET_FORM })
          .meta({ form: BUCKET_FORM }),
      )
        .default(DEFAULT_BUCKETS)
        .describe("buckets created before the gateway reports ready")
        .superRefine((bs, ctx) => unique(bs, ctx, (b) => b, "bucket")),
      accessKey: text("3 to 64 letters and digits", /^[A-Za-z0-9]{3,64}$/)
        .default("inception")
        .describe("access key of the root user (the secret key is `inception:s3SecretKey`)"),
      nodePort: integer(30000, 32767).default(30070).describe("NodePort of the S3 API"),
      hostPort: integer(1, 65535).default(7070).describe("host port of the S3 API (local stage)"),
      storage: oneOf(["pvc", "emptyDir"])
        .default("pvc")
        .describe("`pvc`: the objects survive a pod restart (a PersistentVolumeClaim `s3-data`)"),
    }).prefault({}),
    dataServer: section({
      enabled: bool().default(true).describe("an HTTP server of the files below"),
      files: z
        .record(z.string(), z.string({ error: "the file's content as a string" }), {
          error: "a map of path to content",
        })
        .default({ "test-file.txt": "inception data server test file\n" })
        .meta({ form: "a map of relative path to content" })
        .describe("files served")
        .superRefine((files, ctx) => {
          for (const p of Object.keys(files)) {
            if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(p) || p.split("/").includes("..")) {
              ctx.addIssue({ code: "custom", message: `has an invalid path ${show(p)} (relative, no '..')` });
            }
          }
        }),
    }).prefault({}),
    crds: list(text("a path to a CRD manifest"))
      .optional()
      .meta({ default: `stage local: the profile's (bai: \`${MPIJOB_CRD}\`); other stages: none` })
      .describe(
        "CustomResourceDefinition manifests to install (paths relative to the project); a list given replaces the default",
      )
      .superRefine((cs, ctx) => unique(cs ?? [], ctx, (c) => c, "CRD file")),
  }).prefault({});
}

const policyRule = section({
  apiGroups: list(z.string({ error: "a string" }), "a list of strings").default([""]),
  resources: list(z.string({ error: "a string" }), "a list of strings"),
  verbs: list(z.string({ error: "a string" }), "a list of strings"),
  allowWildcard: bool().default(false).describe("allow `*` in verbs or resources (refused otherwise)"),
})
  .superRefine((r, ctx) => {
    if (r.allowWildcard) return;
    for (const f of ["verbs", "resources"] as const) {
      if (r[f].includes("*")) {
        ctx.addIssue({
          code: "custom",
          path: [f],
          message: `has "*", which grants every ${f === "verbs" ? "verb" : "resource"} in the namespace: list what is needed, or set allowWildcard: true on this rule`,
          params: { fix: { value: `'["get","list"]'` } },
        });
      }
    }
  })
  .transform(({ allowWildcard: _, ...rule }) => rule);

const service = z.preprocess(
  // An entry named "executor" without its own image or context is the reference executor with the
  // given settings on top (e.g. only env: {EXECUTOR_FAULT: drop-executor-event}).
  (s) =>
    isObject(s) && s.name === EXECUTOR_DEFAULT.name && s.context === undefined && s.image === undefined
      ? { ...EXECUTOR_DEFAULT, ...s }
      : s,
  section({
    name: text("a DNS-1123 label", DNS_LABEL).describe(
      "name of the Deployment, ServiceAccount, Role and image (required)",
    ),
    context: text("a path relative to the project")
      .optional()
      .describe(
        "a directory of the project with a Dockerfile, built and published by the stack (its `prepare-image` npm script runs first)",
      ),
    image: text("an image reference", /^\S+$/).optional().describe("a prebuilt image instead of `context`"),
    env: envMap().default({}).describe("literal environment variables"),
    secretEnv: envMap()
      .default({})
      .meta({ secret: true })
      .describe(
        "secret environment variables: delivered as a Kubernetes Secret of the service and referenced with secretKeyRef (set each with `pulumi config set --secret --path`)",
      ),
    envFromOutputs: z
      .record(
        z.string(),
        z.enum(OUTPUT_KEYS as [string, ...string[]], {
          error: `an outputs ConfigMap key (${OUTPUT_KEYS.join(", ")})`,
        }),
        {
          error: "a map of variable to outputs ConfigMap key",
        },
      )
      .default({})
      .meta({ form: "a map of variable to outputs key" })
      .describe("environment from the mock infra's outputs, variable → key (see the contract below)"),
    rules: list(policyRule)
      .default([])
      .describe("RBAC rules of its Role in the namespace: `[{apiGroups, resources, verbs}]`"),
    replicas: integer(0, 20).default(1),
    nodeSelector: labelMap().default({}).meta({ default: "none (the profile's preferred nodes)" }),
    spawnedSelector: text("a Kubernetes label selector")
      .optional()
      .meta({ default: "created-by=<name>" })
      .describe("label selector of the pods and Jobs it spawns; the hook collects their logs"),
    readinessPath: text("an HTTP path starting with /", /^\/\S*$/)
      .optional()
      .describe('HTTP readiness path on healthPort; unset: ready means "Deployment available"'),
    livenessPath: text("an HTTP path starting with /", /^\/\S*$/)
      .optional()
      .describe("HTTP liveness path on healthPort"),
    healthPort: integer(1, 65535).default(8080),
    readyTimeoutSeconds: integer(5, 3600)
      .default(300)
      .describe(
        "how long the suite waits for the service's Deployment to be available; past it the run is red with cause service-not-ready and the suite does not start",
      ),
  })
    .superRefine((s, ctx) => {
      if ((s.context === undefined) === (s.image === undefined)) {
        ctx.addIssue({
          code: "custom",
          message:
            "needs exactly one of context (a directory with a Dockerfile, built by the stack) or image (prebuilt)",
          params: { fix: { value: "<a directory with a Dockerfile>", command: undefined } },
        });
      }
      for (const k of Object.keys(s.secretEnv)) {
        if (k in s.env || k in s.envFromOutputs) {
          ctx.addIssue({
            code: "custom",
            path: ["secretEnv", k],
            message: "is also set in env or envFromOutputs: give each variable once",
            params: { fix: { remove: true } },
          });
        }
      }
      if (s.spawnedSelector !== undefined) {
        const problem = selectorProblem(s.spawnedSelector);
        if (problem !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: ["spawnedSelector"],
            message: `is ${show(s.spawnedSelector)}, which is not a Kubernetes label selector: it ${problem}`,
          });
        }
      }
    })
    .transform((s) => ({ ...s, spawnedSelector: s.spawnedSelector ?? `created-by=${s.name}` })),
);

function suite() {
  return section({
    enabled: bool().default(true).describe("run the suite after each deploy (needs mockInfra.kafka)"),
    runner: oneOf(["job", "host"])
      .default("job")
      .describe(
        "`job`: a Kubernetes Job; `host`: mocha on this machine against the host endpoints (local stage only)",
      ),
    rerun: oneOf(["always", "onChange"])
      .default("always")
      .describe("`always`: every `pulumi up` runs the suite; `onChange`: only when its inputs change"),
    timeoutSeconds: integer(30, 86400)
      .default(900)
      .describe("the suite Job's activeDeadlineSeconds (and the hook's wait)"),
    testTimeoutMs: integer(1000, 3600000)
      .default(120000)
      .describe("mocha's per-test timeout; at most the Job's deadline"),
    grep: text().optional().describe("mocha --grep"),
    retries: integer(0, 10).default(0).describe("mocha --retries"),
    keepRuns: integer(1, 100).default(5).describe("suite runs (Jobs and artifact folders) kept"),
    failOnTestFailure: bool()
      .default(true)
      .describe(
        "`pulumi up` fails when a test fails, the Job times out or crashes (a run that could not start or whose service never became Ready fails it in any case)",
      ),
    artifactsDir: text("a relative directory path without '..'")
      .default("artifacts")
      .describe("run folders go to `<artifactsDir>/<stack>/<run id>/`, relative to the project")
      .superRefine((d, ctx) => {
        if (
          path.posix.isAbsolute(d) ||
          path.win32.isAbsolute(d) ||
          d.split(/[\\/]/).includes("..") ||
          path.posix.normalize(d) === "."
        ) {
          ctx.addIssue({
            code: "custom",
            message: `is ${show(d)}: it must be a directory inside the project (relative, no '..', not the project itself), since old runs in it are deleted`,
            params: { fix: { value: "artifacts" } },
          });
        }
      }),
    dir: text("a path relative to the project")
      .default(DEFAULT_SUITE_DIR)
      .describe(
        "directory of the test files, relative to the project; it must exist and hold a file matching `spec`",
      ),
    spec: z
      .union(
        [
          text("a glob"),
          list(text("a glob"), "a list of globs").min(1, { error: "a non-empty list of globs" }),
        ],
        {
          error: "a glob or a list of globs",
        },
      )
      .default(DEFAULT_SUITE_SPEC)
      .meta({ form: "a glob or a list of globs" })
      .describe("mocha spec: which files under `dir` are test files")
      .transform((s) => (typeof s === "string" ? [s] : s)),
    extraFiles: list(text("a path relative to the project"))
      .default([])
      .describe("more files or directories the tests need (fixtures, helpers), relative to the project"),
    dockerfile: text("a path relative to the project")
      .optional()
      .describe(
        "a Dockerfile building the suite image `FROM ${SUITE_BASE}` (the default one) instead of the generated one",
      ),
    rules: list(policyRule)
      .optional()
      .meta({
        default: `the project's suite (\`${DEFAULT_SUITE_DIR}\`): create on batch jobs; a suite of its own: none`,
      })
      .describe(
        "RBAC rules added to the suite's Role, which otherwise only reads (pods, logs, jobs, cronjobs, events): `[{apiGroups, resources, verbs}]`; e.g. create on batch jobs for `k.startCronJob`",
      ),
    parallel: bool().default(false).describe("mocha's parallel mode (each worker starts its own harness)"),
    shards: integer(1, 32)
      .default(1)
      .describe(
        "suite pods: more than 1 runs the suite as an Indexed Job, each pod a part of the files, balanced by the last kept run's durations (runner `job` only)",
      ),
    env: envMap()
      .default({})
      .describe(
        "more environment for the suite (Job and host runner), e.g. `HARNESS_TOPICS`; the stack's own variables are refused",
      )
      .superRefine((env, ctx) => {
        for (const k of Object.keys(env)) {
          if (SUITE_RESERVED_ENV.includes(k)) {
            ctx.addIssue({
              code: "custom",
              path: [k],
              message:
                "is set by the stack itself (endpoints, run and mocha settings): use the matching config key",
              params: { fix: { remove: true } },
            });
          }
        }
      }),
    secretEnv: envMap()
      .default({})
      .meta({ secret: true })
      .describe(
        "secret environment for the suite: a Kubernetes Secret referenced with secretKeyRef by the Job (the host runner gets the values); set each with `pulumi config set --secret --path`",
      ),
  })
    .superRefine((s, ctx) => {
      if (s.runner === "host" && s.shards > 1) {
        ctx.addIssue({
          code: "custom",
          path: ["shards"],
          message: `is ${s.shards} with runner "host": a sharded suite runs as an Indexed Job (runner "job")`,
          params: { fix: { value: "1" } },
        });
      }
      for (const k of Object.keys(s.secretEnv)) {
        if (SUITE_RESERVED_ENV.includes(k) || k in s.env) {
          ctx.addIssue({
            code: "custom",
            path: ["secretEnv", k],
            message: "is set by the stack itself or in suite.env: give each variable once",
            params: { fix: { remove: true } },
          });
        }
      }
      if (s.testTimeoutMs > s.timeoutSeconds * 1000) {
        ctx.addIssue({
          code: "custom",
          path: ["testTimeoutMs"],
          message: `is ${s.testTimeoutMs} ms, longer than the suite Job's deadline suite.timeoutSeconds (${s.timeoutSeconds} s): one test could outlive the whole run`,
          params: { fix: { value: String(s.timeoutSeconds * 1000) } },
        });
      }
    })
    .prefault({});
}

/** What the schema's defaults depend on. */
export interface SchemaContext {
  stack: string;
  /** The stage, resolved first (it decides the cluster's form). */
  stage: Stage;
  /** Default kubeconfig of an existing cluster. */
  kubeconfig: string;
}

/** The namespace (and kind cluster) name a stack gets by default. */
export function defaultName(stack: string): string {
  return `inception-${stack}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .slice(0, 63)
    .replace(/-+$/, "");
}

/** The stack config's schema, for one stack and stage. */
export function stackSchema(ctx: SchemaContext) {
  const namespace = text("a DNS-1123 label (lower-case alphanumerics and '-', at most 63)", DNS_LABEL)
    .default(defaultName(ctx.stack))
    .meta({ default: "inception-<stack>" })
    .describe("namespace everything the stack deploys lives in; `default` and `kube-*` are refused")
    .superRefine((ns, c) => {
      if (ns === "default" || ns.startsWith("kube-")) {
        c.addIssue({
          code: "custom",
          message: `is ${show(ns)}, a namespace of the cluster itself: the stack deletes what it deploys, so it needs its own`,
          params: { fix: { value: defaultName(ctx.stack) } },
        });
      }
    });
  const cluster =
    ctx.stage === "local"
      ? kindCluster(ctx.stack).prefault({})
      : existingCluster(ctx.kubeconfig).prefault({});
  return section({
    stage: oneOf(STAGES)
      .optional()
      .meta({ default: "the stack name when it is one of those; otherwise required" })
      .describe("`local`: a kind cluster; `devo`, `prod`: an existing cluster"),
    profile: oneOf(Object.keys(PROFILES) as [ProfileName, ...ProfileName[]])
      .default("bai")
      .describe(
        "`bai` (benchmark-ai's layout): kind worker 1 labelled `node.type=bai-worker` (and zone, instance type) and worker 2 `node.type=bai-services-cheap`, which the mock infra and services prefer; Kafka 3.9; the MPIJob CRD on stage local. `none`: no labels, no preference, Kafka 4.x, no CRD",
      ),
    namespace,
    adoptNamespace: bool()
      .default(false)
      .describe(
        "take over a namespace that exists without this stack's owner label (`inception.dev/stack`); `pulumi destroy` then deletes it with everything in it",
      ),
    cluster,
    images: images.prefault({}),
    mockInfra: mockInfra(),
    s3SecretKey: text("8 to 128 characters without spaces", /^\S{8,128}$/)
      .default("inception-mock-secret")
      .meta({ secret: true })
      .describe("secret key of the S3 mock's root user (set it with `pulumi config set --secret`)"),
    suite: suite(),
    services: list(service)
      .optional()
      .meta({ default: "the reference executor (`services/executor`)" })
      .describe(
        "the services under test; an entry named `executor` without `image` or `context` is the reference executor with the given settings on top",
      )
      .superRefine((ss, c) => unique(ss ?? [], c, (s) => s.name, "service", ["name"])),
  })
    .superRefine((c, rc) => {
      const issue = (p: PropertyKey[], message: string, fix?: object) =>
        rc.addIssue({ code: "custom", path: p, message, ...(fix ? { params: { fix } } : {}) });
      if (ctx.stage === "local" && c.images.username !== undefined) {
        issue(
          ["images", "username"],
          "is set on stage local, whose image cache on this machine takes no login",
          { remove: true },
        );
      }
      if (ctx.stage !== "local" && c.images.registry === undefined) {
        issue(
          ["images", "registry"],
          `is required on stage ${ctx.stage} (the cluster pulls the stack's images from it)`,
          { value: "<host[:port][/path]>" },
        );
      }
      if (c.suite.enabled && c.suite.runner === "host" && ctx.stage !== "local") {
        issue(
          ["suite", "runner"],
          `is "host", which needs the host endpoints of the local stage (this is ${ctx.stage})`,
          { value: "job" },
        );
      }
      if (c.suite.enabled && !c.mockInfra.kafka.enabled) {
        issue(
          ["suite", "enabled"],
          "is true but mockInfra.kafka is disabled: the suite talks to the service through Kafka",
          { value: "false" },
        );
      }
      if (c.cluster.type === "kind") {
        for (const p of mockPortProblems(c.mockInfra, c.cluster.portMappings)) issue(p.path, p.message);
      }
    })
    .transform((c) => {
      const profile = PROFILES[c.profile];
      const cluster =
        c.cluster.type === "kind"
          ? {
              ...c.cluster,
              workerLabels: c.cluster.workerLabels ?? profile.workerLabels.slice(0, c.cluster.workers),
            }
          : c.cluster;
      const mockInfra = {
        ...c.mockInfra,
        kafka: { ...c.mockInfra.kafka, version: c.mockInfra.kafka.version ?? profile.kafkaVersion },
        crds: c.mockInfra.crds ?? (ctx.stage === "local" ? profile.localCrds : []),
      };
      return {
        ...c,
        stage: ctx.stage,
        cluster,
        mockInfra,
        services: c.services ?? [service.parse({ name: "executor" })],
        suite: {
          ...c.suite,
          rules: c.suite.rules ?? (c.suite.dir === DEFAULT_SUITE_DIR ? PROJECT_SUITE_RULES : []),
        },
      };
    });
}

export type StackConfig = z.output<ReturnType<typeof stackSchema>>;
export type KindClusterConfig = Extract<StackConfig["cluster"], { type: "kind" }>;
export type ExistingClusterConfig = Extract<StackConfig["cluster"], { type: "existing" }>;
export type MockInfraConfig = StackConfig["mockInfra"];
export type KafkaConfig = MockInfraConfig["kafka"];
export type S3Config = MockInfraConfig["s3"];
export type ImageSet = MockInfraConfig["images"];
export type SuiteConfig = StackConfig["suite"];
export type ServiceConfig = StackConfig["services"][number];
export type PolicyRule = ServiceConfig["rules"][number];
export type PortMapping = KindClusterConfig["portMappings"][number];

/** The host ports the mock infra publishes through kind (local stage). */
export function mockPortMappings(mock: {
  kafka: { enabled: boolean; nodePort: number; hostPort: number };
  s3: { enabled: boolean; nodePort: number; hostPort: number };
}): { key: "kafka" | "s3"; containerPort: number; hostPort: number }[] {
  return (["kafka", "s3"] as const)
    .filter((k) => mock[k].enabled)
    .map((k) => ({ key: k, containerPort: mock[k].nodePort, hostPort: mock[k].hostPort }));
}

/** Port collisions between the mock infra and with the cluster's own mappings. */
function mockPortProblems(
  mock: Parameters<typeof mockPortMappings>[0],
  mappings: { containerPort: number; hostPort: number }[],
): { path: PropertyKey[]; message: string }[] {
  const mine = mockPortMappings(mock);
  const others = [
    ...mappings.map((m, i) => ({ key: `cluster.portMappings[${i}]`, ...m })),
    ...mine.map((m) => ({ ...m, key: `mockInfra.${m.key}` })),
  ];
  const out: { path: PropertyKey[]; message: string }[] = [];
  mine.forEach((m, i) => {
    for (const o of others.slice(0, mappings.length + i)) {
      if (o.hostPort === m.hostPort)
        out.push({
          path: ["mockInfra", m.key, "hostPort"],
          message: `${m.hostPort} collides with ${o.key}.hostPort`,
        });
      if (o.containerPort === m.containerPort) {
        out.push({
          path: ["mockInfra", m.key, "nodePort"],
          message: `${m.containerPort} collides with ${o.key} (${o.containerPort})`,
        });
      }
    }
  });
  return out;
}

/** Paths whose values are secrets, whatever Pulumi says: never shown, set with --secret. */
export const SECRET_PATHS = ["images.password", "s3SecretKey", "services[].secretEnv", "suite.secretEnv"];

/** Whether a dotted config path (`services.0.secretEnv.TOKEN`) is, or is inside, a secret path. */
export function isSecretPath(key: string): boolean {
  const generic = key.replace(/\.\d+(?=\.|$)/g, "[]");
  return SECRET_PATHS.some((s) => generic === s || generic.startsWith(`${s}.`));
}
