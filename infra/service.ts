/**
 * The service under test: its image built from a directory of the repo and published for the
 * cluster (PublishedImage), a Deployment running it with a ServiceAccount and a namespaced Role for
 * what it does in Kubernetes, and its environment from the mock infra's outputs ConfigMap (by key)
 * plus literal values. Ready means the Deployment is rolled out, i.e. the service's readiness probe
 * passed — for the executor: its consumer group is joined. Pulumi does not wait for that (the
 * Deployment is `pulumi.com/skipAwait`): the suite hook does, bounded by the service's
 * readyTimeoutSeconds, so that a service that never becomes Ready still ends in a run folder with
 * its pods' logs and the verdict service-not-ready instead of an update failed at Pulumi's timeout.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { EXECUTOR_OUTPUTS_ENV, EXECUTOR_RULES } from "./config";
import { OUTPUTS_CONFIGMAP } from "./contract";
import { PublishFailure, PublishTarget, PublishedImage } from "./publish";
import { containerSecurityContext, podSecurityContext } from "./security";

/** The reference executor's rules and outputs, defined once in the config schema. */
export { EXECUTOR_RULES };
export const EXECUTOR_CONFIGMAP_ENV: Record<string, string> = EXECUTOR_OUTPUTS_ENV;

export const DEFAULT_SERVICE_CONTEXT = "services/executor";

export interface ServiceUnderTestArgs {
  /** Namespace of everything the component creates (already created by the caller). Defaults to none (required). */
  namespace: pulumi.Input<string>;
  /** The registry the image is pushed to (on local the image cache). Defaults to none (required). */
  publishTo: PublishTarget;
  /** Name of the Deployment, ServiceAccount, Role and image (`<prefix>/<name>`). Defaults to "executor". */
  name?: string;
  /** Build context directory with a Dockerfile (absolute or relative to the working directory). Defaults to "services/executor". */
  context?: string;
  /**
   * Command run on the host in the context before the image is built (compile, install production
   * dependencies), again only when the context's sources change. Defaults to
   * ["npm", "run", "--silent", "prepare-image"] when the context's package.json has a `prepare-image` script, else none.
   */
  prepare?: string[];
  /** A prebuilt image to publish instead of building `context`. Defaults to none (build). */
  image?: string;
  /** Repository prefix of the image. Defaults to "inception". */
  imagePrefix?: string;
  /** Number of pods. Defaults to 1. */
  replicas?: number;
  /** Node selector of the pods. Defaults to none. */
  nodeSelector?: Record<string, string>;
  /** Preferred placement when there is no node selector (the profile's nodes, like the mock infra). Defaults to none. */
  affinity?: k8s.types.input.core.v1.Affinity;
  /** Name of the outputs ConfigMap; pass MockInfra's `outputsConfigMap` so the service waits for the mocks. Defaults to "outputs-infrastructure". */
  outputsConfigMap?: pulumi.Input<string>;
  /** Environment variables taken from the outputs ConfigMap: variable → key. Defaults to the executor's (KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPICS). */
  configMapEnv?: Record<string, string>;
  /** Literal environment variables (topics, EXECUTOR_FAULT, …). Defaults to none. */
  env?: Record<string, pulumi.Input<string>>;
  /**
   * Secret environment variables: kept in a Kubernetes Secret `<name>-secret-env` and referenced
   * with secretKeyRef, so no value is in the Deployment (nor in a describe of its pods). Defaults to none.
   */
  secretEnv?: Record<string, pulumi.Input<string>>;
  /** Rules of the service's Role in its namespace. Defaults to EXECUTOR_RULES (jobs, cronjobs; pods read-only). */
  rules?: k8s.types.input.rbac.v1.PolicyRule[];
  /** Port of the service's health endpoints (HEALTH_PORT is set to it). Defaults to 8080. */
  healthPort?: number;
  /** HTTP path that answers 200 once the service is ready; null for none. Defaults to "/ready". */
  readinessPath?: string | null;
  /** HTTP path that answers 200 while the service is alive; null for none. Defaults to "/healthz". */
  livenessPath?: string | null;
  /** Container resources. Defaults to requests cpu 50m / memory 128Mi, limit memory 512Mi. */
  resources?: k8s.types.input.core.v1.ResourceRequirements;
  /**
   * An image that cannot be built or published does not fail the update but is reported in
   * `imageFailure` (for a suite run to say why it could not start, see infra/publish.ts); the
   * Deployment then runs no pod. Defaults to false.
   */
  imageFailureAsData?: boolean;
  /** Seconds Pulumi waits for the Deployment when nobody else does (no imageFailureAsData). Defaults to 300. */
  readyTimeoutSeconds?: number;
}

/** The service under test, deployed (its readiness is the suite hook's to wait for). */
export class ServiceUnderTest extends pulumi.ComponentResource {
  /** The Deployment's name; resolves once the Deployment is applied (not once it is available). */
  readonly deploymentName: pulumi.Output<string>;
  /** The published image reference. */
  readonly image: pulumi.Output<string>;
  /** What the image is built from (or the given image's name): a run with rerun "onChange" follows it. */
  readonly contentHash: string;
  /** Name of the service's ServiceAccount. */
  readonly serviceAccountName: pulumi.Output<string>;
  /** With imageFailureAsData: why its image was not published; undefined once it was. */
  readonly imageFailure: pulumi.Output<PublishFailure | undefined>;

  constructor(name: string, args: ServiceUnderTestArgs, opts?: pulumi.ComponentResourceOptions) {
    super("inception:service:ServiceUnderTest", name, {}, opts);
    const svc = args.name ?? "executor";
    const ns = args.namespace;
    const port = args.healthPort ?? 8080;
    const context = path.resolve(args.context ?? DEFAULT_SERVICE_CONTEXT);
    const child = { parent: this };
    const labels = {
      "app.kubernetes.io/name": svc,
      "app.kubernetes.io/part-of": "inception-service-under-test",
    };

    const failureAsData = args.imageFailureAsData ?? false;
    // The component's sibling, not its child: a child is registered after its parent, which waits
    // for its provider (the cluster's) and its dependsOn, and the image is built and pushed while
    // kind creates the cluster.
    const image = new PublishedImage(
      `${name}-image`,
      args.image !== undefined
        ? { name: svc, image: args.image, target: args.publishTo, prefix: args.imagePrefix, failureAsData }
        : {
            name: svc,
            context,
            prepare: args.prepare,
            target: args.publishTo,
            prefix: args.imagePrefix,
            failureAsData,
          },
      { parent: opts?.parent },
    );

    const sa = new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      { metadata: { name: svc, namespace: ns, labels } },
      child,
    );
    const role = new k8s.rbac.v1.Role(
      `${name}-role`,
      { metadata: { name: svc, namespace: ns, labels }, rules: args.rules ?? EXECUTOR_RULES },
      child,
    );
    const binding = new k8s.rbac.v1.RoleBinding(
      `${name}-rolebinding`,
      {
        metadata: { name: svc, namespace: ns, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: ns }],
      },
      child,
    );

    const configMap = args.outputsConfigMap ?? OUTPUTS_CONFIGMAP;
    const fieldEnv = (envName: string, fieldPath: string): k8s.types.input.core.v1.EnvVar => ({
      name: envName,
      valueFrom: { fieldRef: { fieldPath } },
    });
    const env: k8s.types.input.core.v1.EnvVar[] = [
      fieldEnv("POD_NAMESPACE", "metadata.namespace"),
      fieldEnv("POD_NAME", "metadata.name"),
      fieldEnv("NODE_NAME", "spec.nodeName"),
      { name: "HEALTH_PORT", value: String(port) },
      ...Object.entries(args.configMapEnv ?? EXECUTOR_CONFIGMAP_ENV).map(([envName, key]) => ({
        name: envName,
        valueFrom: { configMapKeyRef: { name: configMap, key } },
      })),
      ...Object.entries(args.env ?? {}).map(([envName, value]) => ({ name: envName, value })),
    ];
    const secretEnv = args.secretEnv ?? {};
    if (Object.keys(secretEnv).length > 0) {
      const secret = new k8s.core.v1.Secret(
        `${name}-secret-env`,
        {
          metadata: { name: `${svc}-secret-env`, namespace: ns, labels },
          stringData: pulumi.secret(secretEnv) as pulumi.Input<Record<string, pulumi.Input<string>>>,
        },
        child,
      );
      for (const envName of Object.keys(secretEnv)) {
        env.push({
          name: envName,
          valueFrom: { secretKeyRef: { name: secret.metadata.name, key: envName } },
        });
      }
    }

    const deployment = new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: {
          name: svc,
          namespace: ns,
          labels,
          // Ready is awaited by the suite hook, bounded and reported (see the comment on top).
          // Without a suite nothing else would wait for it: then Pulumi does, as for any Deployment.
          ...(failureAsData ? { annotations: { "pulumi.com/skipAwait": "true" } } : {}),
        },
        spec: {
          // No pod for an image that is not there: once it is, the next up scales up a fresh pod
          // (one left in ImagePullBackOff would try again only after its back-off).
          replicas: image.failure.apply((f) => (f === undefined ? (args.replicas ?? 1) : 0)),
          // One consumer group member at a time: no overlap of old and new pods during an update.
          strategy: { type: "Recreate" },
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: sa.metadata.name,
              securityContext: podSecurityContext(),
              ...(args.nodeSelector
                ? { nodeSelector: args.nodeSelector }
                : args.affinity
                  ? { affinity: args.affinity }
                  : {}),
              containers: [
                {
                  name: svc,
                  image: image.ref,
                  imagePullPolicy: "IfNotPresent",
                  securityContext: containerSecurityContext(),
                  env,
                  ports: [{ name: "health", containerPort: port }],
                  // null: no HTTP probe; "Deployment available" (containers running) means ready.
                  ...(args.readinessPath === null
                    ? {}
                    : {
                        readinessProbe: {
                          httpGet: { path: args.readinessPath ?? "/ready", port },
                          periodSeconds: 2,
                          failureThreshold: 3,
                        },
                      }),
                  ...(args.livenessPath === null
                    ? {}
                    : {
                        livenessProbe: {
                          httpGet: { path: args.livenessPath ?? "/healthz", port },
                          initialDelaySeconds: 10,
                          periodSeconds: 10,
                        },
                      }),
                  resources: args.resources ?? {
                    requests: { cpu: "50m", memory: "128Mi" },
                    limits: { memory: "512Mi" },
                  },
                },
              ],
            },
          },
        },
      },
      {
        ...child,
        // The Role must be bound before the service starts using it.
        dependsOn: [binding],
        ...(failureAsData
          ? {}
          : {
              customTimeouts: {
                create: `${args.readyTimeoutSeconds ?? 300}s`,
                update: `${args.readyTimeoutSeconds ?? 300}s`,
              },
            }),
      },
    );

    this.deploymentName = deployment.metadata.name;
    this.image = image.ref;
    this.contentHash = image.contentHash;
    this.serviceAccountName = sa.metadata.name;
    this.imageFailure = image.failure;
    this.registerOutputs({ deploymentName: this.deploymentName, image: this.image });
  }
}

export { PREPARED_STAMP, defaultPrepare, sourcesHash } from "./prepare";
