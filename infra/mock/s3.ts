/**
 * An S3 mock: versitygw (Apache-2.0) with its POSIX backend. Each bucket is a directory under the
 * backend's root, created before the gateway starts, so the buckets exist before it reports ready.
 * The root is a PersistentVolumeClaim by default (storage "pvc"), so an acknowledged object
 * survives the gateway's pod being killed, as a message does the Kafka broker's.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { containerSecurityContext, podSecurityContext } from "../security";
import type { S3Config } from "../config";
import { MOCK_TERMINATION_GRACE_SECONDS, mockLabels, mockService, serviceHost } from "./common";

export const S3_PORT = 7070;

export interface S3MockArgs {
  /** Namespace of the mock. */
  namespace: string;
  /** Gateway image (see images.ts). */
  image: pulumi.Input<string>;
  /** Preferred placement (the profile's nodes). Defaults to none. */
  affinity?: k8s.types.input.core.v1.Affinity;
  /** Validated S3 settings. */
  config: S3Config;
  /** Secret key of the root user (a Pulumi secret). */
  secretKey: pulumi.Input<string>;
  /** Publish the gateway as a NodePort for the host. Defaults to true. */
  exposeOnHost?: boolean;
}

export const S3_START_SCRIPT = `set -eu
for b in $S3_BUCKETS; do mkdir -p "/data/$b"; done
exec versitygw --port :${S3_PORT} --health /health posix /data
`;

export class S3Mock extends pulumi.ComponentResource {
  /** In-cluster endpoint URL. */
  readonly endpoint: string;
  /** Endpoint URL for clients on the host (local stage). */
  readonly externalEndpoint: string;
  /** Resolves when the gateway is Ready. */
  readonly ready: pulumi.Output<string>;

  constructor(name: string, args: S3MockArgs, opts: pulumi.ComponentResourceOptions) {
    super("inception:mock:S3Mock", name, {}, opts);
    const c = args.config;
    const ns = args.namespace;
    const labels = mockLabels("s3");
    this.endpoint = `http://${serviceHost("s3", ns)}:${S3_PORT}`;
    this.externalEndpoint = `http://localhost:${c.hostPort}`;
    const child = { parent: this };

    const secret = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { name: "s3-credentials", namespace: ns, labels },
        stringData: { ROOT_ACCESS_KEY_ID: c.accessKey, ROOT_SECRET_ACCESS_KEY: args.secretKey },
      },
      child,
    );
    mockService(
      `${name}-service`,
      "s3",
      ns,
      [{ name: "s3", port: S3_PORT, nodePort: (args.exposeOnHost ?? true) ? c.nodePort : undefined }],
      child,
    );
    // Not awaited: with a WaitForFirstConsumer storage class (kind's) it binds only once the
    // gateway's pod is scheduled, and the Deployment (awaited) stands for both.
    const claim =
      c.storage === "pvc"
        ? new k8s.core.v1.PersistentVolumeClaim(
            `${name}-data`,
            {
              metadata: {
                name: "s3-data",
                namespace: ns,
                labels,
                annotations: { "pulumi.com/skipAwait": "true" },
              },
              spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
            },
            child,
          )
        : undefined;
    // The strategy of a live Deployment cannot switch to Recreate in place (the API keeps the
    // defaulted rollingUpdate block and refuses it under server-side apply): a new Deployment.
    const deployment = new k8s.apps.v1.Deployment(
      `${name}-gateway`,
      {
        metadata: { name: "s3", namespace: ns, labels },
        spec: {
          replicas: 1,
          // One pod at a time on the ReadWriteOnce claim: the old one gone before the new starts.
          ...(claim ? { strategy: { type: "Recreate" } } : {}),
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              ...(args.affinity ? { affinity: args.affinity } : {}),
              terminationGracePeriodSeconds: MOCK_TERMINATION_GRACE_SECONDS,
              securityContext: podSecurityContext(),
              containers: [
                {
                  name: "s3",
                  image: args.image,
                  imagePullPolicy: "IfNotPresent",
                  securityContext: containerSecurityContext(),
                  command: ["/bin/sh", "-c", S3_START_SCRIPT],
                  env: [{ name: "S3_BUCKETS", value: c.buckets.join(" ") }],
                  envFrom: [{ secretRef: { name: secret.metadata.name } }],
                  ports: [{ name: "s3", containerPort: S3_PORT }],
                  readinessProbe: { httpGet: { path: "/health", port: S3_PORT }, periodSeconds: 2 },
                  resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "512Mi" } },
                  volumeMounts: [{ name: "data", mountPath: "/data" }],
                },
              ],
              volumes: [
                claim
                  ? { name: "data", persistentVolumeClaim: { claimName: claim.metadata.name } }
                  : { name: "data", emptyDir: {} },
              ],
            },
          },
        },
      },
      { ...child, replaceOnChanges: ["spec.strategy"] },
    );
    this.ready = deployment.status.apply(() => this.endpoint);
    this.registerOutputs({ endpoint: this.endpoint });
  }
}
