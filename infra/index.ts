/**
 * The inception stack: wires the components for the stack's stage and exports its outputs.
 * Config is validated first (infra/config.ts), so bad input stops the program before any resource.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { configFromPulumi } from "./config";
import { Cluster, ExistingCluster, KindCluster } from "./cluster";
import { MockInfra } from "./mock";
import { PublishTarget } from "./publish";

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

// Local: images are loaded into the kind cluster; elsewhere pushed to the stack's registry.
const publishTo: PublishTarget =
  cluster.kindName !== undefined
    ? { type: "kind", clusterName: cluster.kindName, clusterIdentity: cluster.identity }
    : { type: "registry", registry: config.images.registry ?? "" };

const mockInfra = new MockInfra(
  "mock",
  {
    namespace: config.namespace,
    config: config.mockInfra,
    publishTo,
    imagePrefix: config.images.prefix,
    s3SecretKey: pulumi.secret(config.s3SecretKey),
  },
  { provider: cluster.provider, dependsOn: [namespace] },
);

export const stage = config.stage;
export const kubeconfig = cluster.kubeconfig;
export const kubeContext = cluster.context;
export const kindCluster = cluster.kindName;
export const namespaceName: pulumi.Output<string> = namespace.metadata.name;
export const mockEndpoints = mockInfra.endpoints;
export const outputsConfigMap = mockInfra.outputsConfigMap;
