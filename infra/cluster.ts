/**
 * The cluster a stack deploys to: a kind cluster on `local`, an existing one on `devo`/`prod`.
 * Both expose the same shape (a Kubernetes provider, a kubeconfig secret, a kubeconfig context),
 * so everything after this file is stage-agnostic.
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
  /** Changes whenever the cluster is recreated; image loads key on it. */
  readonly identity: pulumi.Output<string>;
  /** The kind cluster name on local, undefined on an existing cluster. */
  readonly kindName: string | undefined;
}

/** Renders the kind config. JSON is YAML, so kind reads it as is. */
export function renderKindConfig(c: KindClusterConfig): string {
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
  const doc = { kind: "Cluster", apiVersion: "kind.x-k8s.io/v1alpha4", nodes: [controlPlane, ...workers] };
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
}

/** A kind cluster created and deleted with the `kind` CLI through @pulumi/command. */
export class KindCluster extends pulumi.ComponentResource implements Cluster {
  readonly provider: k8s.Provider;
  readonly kubeconfig: pulumi.Output<string>;
  readonly context: pulumi.Output<string>;
  readonly identity: pulumi.Output<string>;
  readonly kindName: string;
  /** The kind config the cluster was created from. */
  readonly kindConfig: string;

  constructor(name: string, args: KindClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("inception:cluster:KindCluster", name, {}, opts);
    const c = args.config;
    this.kindName = c.name;
    this.kindConfig = renderKindConfig(c);
    const environment: Record<string, string> = {
      CLUSTER: c.name,
      KIND_CONFIG: this.kindConfig,
      WORKERS: String(c.workers),
      WAIT_SECONDS: String(c.waitSeconds),
    };
    if (c.nodeImage !== undefined) environment.NODE_IMAGE = c.nodeImage;

    const create = new command.local.Command(
      `${name}-kind`,
      {
        create: KIND_CREATE_SCRIPT,
        delete: KIND_DELETE_SCRIPT,
        interpreter: ["/bin/bash", "-c"],
        environment,
        // Any change to the cluster's shape needs a new cluster.
        triggers: [hash(JSON.stringify(environment))],
        // The kubeconfig holds the cluster's admin credentials.
        logging: "stderr",
      },
      { parent: this, additionalSecretOutputs: ["stdout"], deleteBeforeReplace: true },
    );

    this.kubeconfig = pulumi.secret(create.stdout);
    this.context = pulumi.output(`kind-${c.name}`);
    this.identity = create.id;
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
  readonly identity: pulumi.Output<string>;
  readonly kindName = undefined;

  constructor(name: string, args: ExistingClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("inception:cluster:ExistingCluster", name, {}, opts);
    const c = args.config;
    // Only what the stack uses goes to the state: not the user's other clusters' credentials.
    this.kubeconfig = pulumi.secret(reduceKubeconfig(fs.readFileSync(c.kubeconfigPath, "utf8"), c.context));
    this.context = pulumi.output(c.context);
    this.identity = pulumi.output(c.context);
    this.provider = new k8s.Provider(
      `${name}-k8s`,
      { kubeconfig: this.kubeconfig, context: c.context },
      { parent: this },
    );
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
