/**
 * The inception stack: wires the components for the stack's stage and exports its outputs.
 * Config is validated first (infra/config.ts), so bad input stops the program before any resource.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { configFromPulumi } from "./config";
import { Cluster, ExistingCluster, KindCluster } from "./cluster";

const config = configFromPulumi();

const cluster: Cluster =
  config.cluster.type === "kind"
    ? new KindCluster("cluster", { config: config.cluster })
    : new ExistingCluster("cluster", { config: config.cluster });

const namespace = new k8s.core.v1.Namespace(
  "namespace",
  {
    metadata: {
      name: config.namespace,
      labels: { "app.kubernetes.io/managed-by": "inception", "inception.dev/stack": config.stack },
    },
  },
  { provider: cluster.provider },
);

export const stage = config.stage;
export const kubeconfig = cluster.kubeconfig;
export const kubeContext = cluster.context;
export const kindCluster = cluster.kindName;
export const namespaceName: pulumi.Output<string> = namespace.metadata.name;
