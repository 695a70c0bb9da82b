/**
 * The cluster a stack deploys to: a kind cluster on `local`, an existing one on `devo`/`prod`.
 * Both expose the same shape (a Kubernetes provider, a kubeconfig secret, a kubeconfig context),
 * so everything after this file is stage-agnostic.
 *
 * Convergence of a kind cluster that went away behind the stack's back (`kind delete cluster`, a
 * Docker engine restart that left its node containers stopped): the state still lists the cluster
 * and every object in it, and nothing in the program's inputs changed, so Pulumi would change
 * nothing and the next step needing the cluster would fail — every `up`, until `npm run down`.
 * So before declaring the cluster, each update (never a preview: no process runs there) asks the
 * world what became of it (probeKindCluster, from the preflight): the node containers by their
 * kind label, then the API server's /readyz. When it is gone, stopped, short of a node or does not
 * answer, the create command's second trigger gets a new value, which replaces the command:
 * the old cluster deleted (what is left of it), a new one created. Its kubeconfig is then another
 * cluster's (new CA), so the Kubernetes provider's DiffConfig asks for the provider's replacement,
 * and with it Pulumi replaces every object the provider manages: the old ones go with the old
 * cluster (every Kubernetes object is `deletedWith` the create command: deleting a kind cluster
 * deletes what is in it, so no Delete request is sent for them), the new ones are created in the
 * new cluster; the suite hook follows its kubeconfig (images are in the image cache, which
 * outlives the cluster: infra/imagecache.ts). That is
 * the program's own equivalent of `up --refresh`, and needs none.
 *
 * deletedWith is more than speed (no per-object delete on `down`): the engine closes the old
 * provider when its DiffConfig says "replace" but keeps it registered (pulumi/pkg
 * resource/deploy/providers/registry.go, Diff), so a Delete sent to the old objects fails with
 * "grpc: the client connection is closing", and the recreating update with it. A stack whose
 * state predates deletedWith needs `npm run down` once (its first `up` after the upgrade recreates
 * the cluster anyway: the default node image became the preloaded one).
 *
 * The trigger must change ONLY then. A value derived from what the probe saw ("healthy" vs
 * "gone") would change again on the next healthy run and replace a good cluster every second
 * `up`. So a healthy cluster's trigger is not computed at all: `ignoreChanges` on it keeps the
 * value the state holds (Pulumi reads it back from the state), and a recreation writes a new,
 * never-repeated value (the time and the reason). kindClusterPlan is that decision. A preview
 * therefore shows a gone cluster as kept; the update after it recreates it (and says why).
 *
 * Stopped node containers are recreated, not started again (`docker start`): a kind cluster's
 * restart is best effort (kubernetes-sigs/kind#148; a maintainer's word in #1217: cheap, ephemeral
 * test clusters, to be recreated), every pod restarts anyway, and the mock infra's data
 * and the suite's Jobs would come back in whatever state the stop caught them; a fresh cluster
 * is the only state a run can vouch for, as for a cluster the state does not know (below). It
 * costs one cluster creation (about a minute and a half here, with the pulls), once. A cluster Docker
 * brought back by itself whose API server answers is kept.
 */
import * as crypto from "crypto";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as YAML from "yaml";
import type { ExistingClusterConfig, KindClusterConfig } from "./config";

/** What later components need from a cluster, whatever the stage. */
export interface Cluster {
  /** Provider every Kubernetes resource of the stack is created with. */
  readonly provider: k8s.Provider;
  /** Kubeconfig content (secret). */
  readonly kubeconfig: pulumi.Output<string>;
  /** Context of `kubeconfig` the stack uses. */
  readonly context: pulumi.Output<string>;
  /** The kind cluster name on local, undefined on an existing cluster. */
  readonly kindName: string | undefined;
  /**
   * Options for every component or object of the stack in the cluster: the provider, and on a kind
   * cluster a transform that makes each Kubernetes object deleted with the cluster.
   */
  readonly objectOptions: pulumi.ComponentResourceOptions;
}

/**
 * A transform (inherited by children) giving every Kubernetes object `deletedWith: cluster`: the
 * objects of a kind cluster the stack deletes or replaces go with it, no Delete sent (see above).
 */
export function deletedWithCluster(cluster: pulumi.Resource): pulumi.ResourceTransform {
  return (a) =>
    a.custom && a.type.startsWith("kubernetes:")
      ? { props: a.props, opts: { ...a.opts, deletedWith: cluster } }
      : undefined;
}

/**
 * Renders the kind config, with `containerdConfigPatches` (TOML, e.g. the image cache's mirror)
 * when given. JSON is YAML, so kind reads it as is.
 */
export function renderKindConfig(c: KindClusterConfig, containerdConfigPatches: string[] = []): string {
  const controlPlane: Record<string, unknown> = { role: "control-plane" };
  if (Object.keys(c.controlPlaneLabels).length > 0) controlPlane.labels = c.controlPlaneLabels;
  if (c.portMappings.length > 0) {
    // NodePorts answer on every node; mapping them on the control plane is enough.
    controlPlane.extraPortMappings = c.portMappings.map((m) => ({
      containerPort: m.containerPort,
      hostPort: m.hostPort,
      listenAddress: m.listenAddress,
      protocol: m.protocol,
    }));
  }
  const workers = Array.from({ length: c.workers }, (_, i) => {
    const l = c.workerLabels[i] ?? {};
    return Object.keys(l).length > 0 ? { role: "worker", labels: l } : { role: "worker" };
  });
  const doc = {
    kind: "Cluster",
    apiVersion: "kind.x-k8s.io/v1alpha4",
    nodes: [controlPlane, ...workers],
    ...(containerdConfigPatches.length > 0 ? { containerdConfigPatches } : {}),
  };
  return JSON.stringify(doc, null, 2) + "\n";
}

// A cluster of this name that the stack's state does not know was left by an interrupted run (or
// made by hand). It is recreated, not adopted: its nodes, labels and port mappings may not match
// the config, and a fresh cluster is the only state we can vouch for (docs/cluster.md).
export const KIND_CREATE_SCRIPT = `set -eu
cfg=$(mktemp)
trap 'rm -f "$cfg"' EXIT
printf '%s' "$KIND_CONFIG" >"$cfg"
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  echo "inception: kind cluster $CLUSTER exists but this stack did not create it (left by an interrupted run?): deleting it and creating a fresh one" >&2
  kind delete cluster --name "$CLUSTER" >&2
fi
echo "inception: creating kind cluster $CLUSTER (1 control-plane + $WORKERS workers, image \${NODE_IMAGE:-kind default})" >&2
kind create cluster --name "$CLUSTER" --config "$cfg" \${NODE_IMAGE:+--image "$NODE_IMAGE"} --wait "\${WAIT_SECONDS}s" >&2
kind get kubeconfig --name "$CLUSTER"
`;

// Deleting a cluster that is already gone (removed out of band) is a success.
export const KIND_DELETE_SCRIPT = `set -eu
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  kind delete cluster --name "$CLUSTER"
else
  echo "inception: kind cluster $CLUSTER is already gone"
fi
`;

export interface KindClusterArgs {
  /** The validated cluster section of the stack config (no defaults here: config.ts applies them). */
  config: KindClusterConfig;
  /** containerd config patches of every node (TOML), e.g. the image cache's mirror. Defaults to none. */
  containerdConfigPatches?: string[];
  /**
   * What the preflight found of the cluster before this update. Undefined in a preview (nothing is
   * probed there): the cluster is then kept as the state has it.
   */
  health?: KindClusterHealth;
}

/** What probeKindCluster can find; "no-docker" stops the preflight (nothing could be created either). */
export type KindProbeState = "healthy" | "absent" | "stopped" | "incomplete" | "unanswering" | "no-docker";

/** What became of a kind cluster, in one word and one line for people. */
export interface KindProbe {
  state: KindProbeState;
  detail: string;
}

/** A probe the program can act on: the Docker engine answered. */
export type KindClusterHealth = KindProbe & { state: Exclude<KindProbeState, "no-docker"> };

// Facts, one a line, for parseKindProbe: "expect <NODES>" (the config's node count, given),
// "docker ok|<problem>", "node <name> <state> <role>" per node container (kind labels them),
// "api ok|<problem>" once the control plane runs. Every call is
// bounded; the API server gets three tries a few seconds apart (a busy machine answers late;
// API_RETRY_PAUSES, the seconds before each, is for the script's tests).
export const KIND_PROBE_SCRIPT = `set -u
echo "expect $NODES"
oneline() { tr '\\n' ' ' | cut -c1-300; }
if ! out=$(timeout 20 docker info --format '{{.ServerVersion}}' 2>&1); then
  echo "docker $(printf '%s' "$out" | oneline)"
  exit 0
fi
echo "docker ok"
if ! nodes=$(timeout 20 docker ps -a --filter "label=io.x-k8s.kind.cluster=$CLUSTER" \\
  --format '{{.Names}} {{.State}} {{.Label "io.x-k8s.kind.role"}}' 2>&1); then
  echo "docker $(printf '%s' "$nodes" | oneline)"
  exit 0
fi
printf '%s\\n' "$nodes" | sed -n 's/^./node &/p'
printf '%s\\n' "$nodes" | grep -q ' running control-plane$' || exit 0
cfg=$(mktemp)
trap 'rm -f "$cfg"' EXIT
if ! timeout 20 kind get kubeconfig --name "$CLUSTER" >"$cfg" 2>/dev/null; then
  echo "api kind get kubeconfig --name $CLUSTER failed"
  exit 0
fi
why=""
for pause in \${API_RETRY_PAUSES:-0 2 4}; do
  sleep "$pause"
  if why=$(timeout 15 kubectl --kubeconfig "$cfg" --request-timeout=10s get --raw /readyz 2>&1); then
    echo "api ok"
    exit 0
  fi
done
echo "api $(printf '%s' "$why" | oneline)"
`;

/** Reads KIND_PROBE_SCRIPT's lines: what became of the cluster. */
export function parseKindProbe(stdout: string | undefined): KindProbe {
  const lines = (stdout ?? "").split("\n").map((l) => l.trim());
  const fact = (key: string) => lines.find((l) => l.startsWith(`${key} `))?.slice(key.length + 1);
  const nodes = Number(fact("expect"));
  const docker = fact("docker");
  if (docker === undefined) return { state: "no-docker", detail: "the probe printed nothing about Docker" };
  if (docker !== "ok") return { state: "no-docker", detail: `the Docker engine does not answer: ${docker}` };
  const found = lines
    .filter((l) => l.startsWith("node "))
    .map((l) => {
      const [, name = "", state = "", role = ""] = l.split(/\s+/);
      return { name, state, role };
    });
  if (found.length === 0) return { state: "absent", detail: "does not exist (no node container)" };
  const down = found.filter((n) => n.state !== "running");
  if (down.length > 0) {
    return {
      state: "stopped",
      detail: `has node containers that do not run (${down.map((n) => `${n.name} ${n.state}`).join(", ")}), as a Docker engine restart leaves them`,
    };
  }
  if ((Number.isInteger(nodes) && found.length !== nodes) || !found.some((n) => n.role === "control-plane")) {
    return {
      state: "incomplete",
      detail: `has ${found.length} node container(s) (${found.map((n) => n.name).join(", ")}) where the config makes ${nodes}, one a control plane`,
    };
  }
  const api = fact("api");
  if (api !== "ok") {
    return {
      state: "unanswering",
      detail: `runs, but its API server does not answer: ${api ?? "not asked"}`,
    };
  }
  return { state: "healthy", detail: "runs and its API server answers" };
}

/**
 * Asks the world what became of kind cluster `name` (KIND_PROBE_SCRIPT through the command
 * provider's run: during an update only, the caller's to ensure).
 */
export async function probeKindCluster(name: string, nodes: number): Promise<KindProbe> {
  const r = await command.local.run({
    command: KIND_PROBE_SCRIPT,
    interpreter: ["/bin/bash", "-c"],
    environment: { CLUSTER: name, NODES: String(nodes) },
    logging: "none",
  });
  return parseKindProbe(r.stdout);
}

/** The index of the create command's trigger that replaces a cluster that went away. */
export const GENERATION_TRIGGER = "triggers[1]";

/** What kindClusterPlan decided for this update. */
export interface KindClusterPlan {
  /** The create command's second trigger: a new value only when the cluster is recreated. */
  generation: string;
  /** The command's ignoreChanges: the state's generation is kept unless the cluster is recreated. */
  ignoreChanges: string[];
  /** Why a new cluster is made, for the log; undefined when the cluster is kept. */
  recreate?: string;
}

/**
 * Keep the cluster, or make a new one (see the comment on top): kept when it answers, or when
 * nothing was probed (a preview); otherwise a generation never used before (the time and why).
 */
export function kindClusterPlan(
  name: string,
  health: KindClusterHealth | undefined,
  now: Date = new Date(),
): KindClusterPlan {
  if (health === undefined)
    return { generation: "not probed (preview)", ignoreChanges: [GENERATION_TRIGGER] };
  if (health.state === "healthy")
    return { generation: "found answering", ignoreChanges: [GENERATION_TRIGGER] };
  const recreate = `kind cluster ${name} ${health.detail}`;
  return {
    generation: `${now.toISOString()} ${health.state}: ${recreate}`.slice(0, 300),
    ignoreChanges: [],
    recreate,
  };
}

/** A kind cluster created and deleted with the `kind` CLI through @pulumi/command. */
export class KindCluster extends pulumi.ComponentResource implements Cluster {
  readonly provider: k8s.Provider;
  readonly kubeconfig: pulumi.Output<string>;
  readonly context: pulumi.Output<string>;
  readonly kindName: string;
  readonly objectOptions: pulumi.ComponentResourceOptions;
  /** The kind config the cluster was created from. */
  readonly kindConfig: string;

  constructor(name: string, args: KindClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("inception:cluster:KindCluster", name, {}, opts);
    const c = args.config;
    this.kindName = c.name;
    this.kindConfig = renderKindConfig(c, args.containerdConfigPatches);
    const environment: Record<string, string> = {
      CLUSTER: c.name,
      KIND_CONFIG: this.kindConfig,
      WORKERS: String(c.workers),
      WAIT_SECONDS: String(c.waitSeconds),
    };
    if (c.nodeImage !== undefined) environment.NODE_IMAGE = c.nodeImage;

    const plan = kindClusterPlan(c.name, args.health);
    if (plan.recreate !== undefined) {
      const say = args.health?.state === "absent" ? pulumi.log.info : pulumi.log.warn;
      void say(
        `inception: ${plan.recreate}: a new one is made, and with it every object of the stack in it`,
        this,
      );
    }
    const create = new command.local.Command(
      `${name}-kind`,
      {
        create: KIND_CREATE_SCRIPT,
        delete: KIND_DELETE_SCRIPT,
        interpreter: ["/bin/bash", "-c"],
        environment,
        // Any change to the cluster's shape needs a new cluster; so does a cluster gone (plan).
        triggers: [hash(JSON.stringify(environment)), plan.generation],
        // The kubeconfig holds the cluster's admin credentials.
        logging: "stderr",
      },
      {
        parent: this,
        additionalSecretOutputs: ["stdout"],
        deleteBeforeReplace: true,
        ignoreChanges: plan.ignoreChanges,
      },
    );

    this.kubeconfig = pulumi.secret(create.stdout);
    this.context = pulumi.output(`kind-${c.name}`);
    this.provider = new k8s.Provider(
      `${name}-k8s`,
      {
        kubeconfig: this.kubeconfig,
        context: this.context,
        // When the cluster is already gone, destroy drops its objects from state instead of failing.
        deleteUnreachable: true,
      },
      { parent: this },
    );
    this.objectOptions = { provider: this.provider, transforms: [deletedWithCluster(create)] };
    this.registerOutputs({ kubeconfig: this.kubeconfig, context: this.context });
  }
}

export interface ExistingClusterArgs {
  /** The validated cluster section of the stack config; the context guard already passed. */
  config: ExistingClusterConfig;
}

/** An existing cluster reached through a kubeconfig file; its nodes are labelled only on request. */
export class ExistingCluster extends pulumi.ComponentResource implements Cluster {
  readonly provider: k8s.Provider;
  readonly kubeconfig: pulumi.Output<string>;
  readonly context: pulumi.Output<string>;
  readonly kindName = undefined;
  readonly objectOptions: pulumi.ComponentResourceOptions;

  constructor(name: string, args: ExistingClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("inception:cluster:ExistingCluster", name, {}, opts);
    const c = args.config;
    // Only what the stack uses goes to the state: not the user's other clusters' credentials.
    this.kubeconfig = pulumi.secret(reduceKubeconfig(fs.readFileSync(c.kubeconfigPath, "utf8"), c.context));
    this.context = pulumi.output(c.context);
    this.provider = new k8s.Provider(
      `${name}-k8s`,
      { kubeconfig: this.kubeconfig, context: c.context },
      { parent: this },
    );
    // A shared cluster outlives the stack: its objects are always deleted one by one.
    this.objectOptions = { provider: this.provider };
    for (const [node, labels] of Object.entries(c.nodeLabels)) {
      new k8s.core.v1.NodePatch(
        `${name}-labels-${node}`,
        { metadata: { name: node, labels } },
        { parent: this, provider: this.provider, retainOnDelete: true },
      );
    }
    this.registerOutputs({ context: this.context });
  }
}

type Named = { name?: unknown; context?: { cluster?: unknown; user?: unknown } };

/**
 * The kubeconfig cut to one context, its cluster and its user, that context current; every other
 * field of theirs is kept as written. Throws when the context is missing (the preflight's context
 * guard has already named that).
 */
export function reduceKubeconfig(text: string, context: string): string {
  const doc = (YAML.parse(text) ?? {}) as Record<string, unknown>;
  const entries = (k: string) => (Array.isArray(doc[k]) ? (doc[k] as Named[]) : []);
  const ctx = entries("contexts").find((c) => c.name === context);
  if (ctx === undefined) throw new Error(`the kubeconfig has no context ${JSON.stringify(context)}`);
  const reduced: Record<string, unknown> = {
    apiVersion: doc.apiVersion ?? "v1",
    kind: doc.kind ?? "Config",
    clusters: entries("clusters").filter((c) => c.name === ctx.context?.cluster),
    users: entries("users").filter((u) => u.name === ctx.context?.user),
    contexts: [ctx],
    "current-context": context,
  };
  if (doc.preferences !== undefined) reduced.preferences = doc.preferences;
  return YAML.stringify(reduced);
}

export function hash(s: string): string {
  return crypto.createHash("sha256").update(s).digest("hex").slice(0, 16);
}
