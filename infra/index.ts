/**
 * The inception stack: wires the components for the stack's stage and exports its outputs.
 * Config is validated first (infra/config.ts), so bad input stops the program before any resource.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { configFromPulumi } from "./config";
import { Cluster, ExistingCluster, KindCluster } from "./cluster";
import * as path from "path";
import { MockInfra } from "./mock";
import { PublishTarget, PublishedImage } from "./publish";
import { ServiceUnderTest } from "./service";
import { SuiteImage, SuiteRun, newRunId } from "./suite";
import { hash } from "./cluster";

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
    : {
        type: "registry",
        registry: config.images.registry ?? "",
        ...(config.images.username !== undefined
          ? {
              credentials: {
                username: config.images.username,
                password: pulumi.secret(config.images.password ?? ""),
              },
            }
          : {}),
      };

const mockInfra = new MockInfra(
  "mock",
  {
    namespace: config.namespace,
    config: config.mockInfra,
    publishTo,
    imagePrefix: config.images.prefix,
    s3SecretKey: pulumi.secret(config.s3SecretKey),
    // A kind cluster is the stack's own: its NodePorts map to localhost. Elsewhere it is shared.
    exposeOnHost: cluster.kindName !== undefined,
    sharedCluster: cluster.kindName === undefined,
  },
  { provider: cluster.provider, dependsOn: [namespace] },
);

// The services under test, each once the mock infra is Ready (they read the outputs ConfigMap).
const servicesUnderTest = config.services.map(
  (svc) =>
    new ServiceUnderTest(
      `service-${svc.name}`,
      {
        namespace: config.namespace,
        publishTo,
        name: svc.name,
        ...(svc.image !== undefined
          ? { image: svc.image }
          : { context: path.resolve(config.projectRoot, svc.context ?? ".") }),
        imagePrefix: config.images.prefix,
        replicas: svc.replicas,
        ...(Object.keys(svc.nodeSelector).length > 0 ? { nodeSelector: svc.nodeSelector } : {}),
        outputsConfigMap: mockInfra.outputsConfigMap,
        configMapEnv: svc.envFromOutputs,
        env: svc.env,
        rules: svc.rules,
        healthPort: svc.healthPort,
        readinessPath: svc.readinessPath ?? null,
        livenessPath: svc.livenessPath ?? null,
      },
      { provider: cluster.provider, dependsOn: [namespace] },
    ),
);

let suite: SuiteRun | undefined;
if (config.suite.enabled) {
  const suiteImage =
    config.suite.runner === "job"
      ? new SuiteImage(
          "suite-image",
          {
            config: config.suite,
            projectRoot: config.projectRoot,
            stack: config.stack,
            target: publishTo,
            prefix: config.images.prefix,
          },
          { provider: cluster.provider },
        )
      : undefined;
  // "always": a new run per `up`; "onChange": the run id follows the suite's inputs.
  const runId =
    config.suite.rerun === "always"
      ? newRunId()
      : `c-${hash(JSON.stringify([config.suite, config.services, suiteImage?.contentHash ?? "host"]))}`;
  const endpoints = mockInfra.endpoints;
  // The host runner has no suite image: the Jobs its tests start run the Node runtime image.
  const hostJobImage =
    config.suite.runner === "host"
      ? new PublishedImage(
          "job-image",
          { name: "node", image: "inception/node:22", target: publishTo, prefix: config.images.prefix },
          { provider: cluster.provider },
        ).ref
      : pulumi.output("");
  suite = new SuiteRun(
    "suite",
    {
      namespace: config.namespace,
      config: config.suite,
      stack: config.stack,
      runId,
      image: suiteImage?.ref ?? "",
      suiteDir: suiteImage?.suiteDir ?? path.join(config.projectRoot, config.suite.dir),
      outputsConfigMap: mockInfra.outputsConfigMap,
      kubeconfig: cluster.kubeconfig,
      context: cluster.context,
      services: config.services.map((svc) => ({
        name: svc.name,
        podSelector: `app.kubernetes.io/name=${svc.name}`,
        spawnedSelector: svc.spawnedSelector,
      })),
      // Components: waiting for one waits for all its children (Deployments Ready, mocks Ready).
      after: [...servicesUnderTest, mockInfra],
      projectRoot: config.projectRoot,
      hostEnv: pulumi
        .all([endpoints, hostJobImage, pulumi.secret(config.s3SecretKey)])
        .apply(([e, jobImage, key]) => ({
          KAFKA_BOOTSTRAP_SERVERS: e.kafka_bootstrap_servers_external ?? "",
          S3_ENDPOINT: e.s3_endpoint_external ?? "",
          S3_BUCKETS: e.s3_buckets ?? "",
          S3_ACCESS_KEY: e.s3_access_key ?? "",
          S3_SECRET_KEY: key,
          JOB_IMAGE: jobImage,
        })),
    },
    { provider: cluster.provider, dependsOn: [namespace] },
  );
}

export const stage = config.stage;
export const kubeconfig = cluster.kubeconfig;
export const kubeContext = cluster.context;
export const kindCluster = cluster.kindName;
export const namespaceName: pulumi.Output<string> = namespace.metadata.name;
export const mockEndpoints = mockInfra.endpoints;
export const outputsConfigMap = mockInfra.outputsConfigMap;
export const services = config.services.map((s) => s.name);
export const tests = suite?.tests;
export const runId = suite?.runId;
export const artifactsDir = suite?.artifactsDir;
