/** The replaced system's "internet" mock: an HTTP server serving files given in config. */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { containerSecurityContext, podSecurityContext } from "../security";
import { MOCK_TERMINATION_GRACE_SECONDS, mockLabels, mockService, serviceHost } from "./common";

export const DATA_SERVER_PORT = 8080;

export interface DataServerArgs {
  /** Namespace of the server. */
  namespace: string;
  /** Server image (see images.ts); must have python3. */
  image: pulumi.Input<string>;
  /** Preferred placement (the profile's nodes). Defaults to none. */
  affinity?: k8s.types.input.core.v1.Affinity;
  /** Files served, path → content. */
  files: Record<string, string>;
}

export class DataServer extends pulumi.ComponentResource {
  /** In-cluster base URL. */
  readonly url: string;
  /** Resolves when the server is Ready. */
  readonly ready: pulumi.Output<string>;

  constructor(name: string, args: DataServerArgs, opts: pulumi.ComponentResourceOptions) {
    super("inception:mock:DataServer", name, {}, opts);
    const ns = args.namespace;
    const labels = mockLabels("data-server");
    this.url = `http://${serviceHost("data-server", ns)}:${DATA_SERVER_PORT}`;
    const child = { parent: this };
    // ConfigMap keys cannot hold '/', so files are stored as f0, f1, … and mounted at their paths.
    const paths = Object.keys(args.files).sort();
    const files = new k8s.core.v1.ConfigMap(
      `${name}-files`,
      {
        metadata: { name: "data-server-files", namespace: ns, labels },
        data: Object.fromEntries(paths.map((p, i) => [`f${i}`, args.files[p]])),
      },
      child,
    );
    mockService(`${name}-service`, "data-server", ns, [{ name: "http", port: DATA_SERVER_PORT }], child);
    const deployment = new k8s.apps.v1.Deployment(
      `${name}-server`,
      {
        metadata: { name: "data-server", namespace: ns, labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              ...(args.affinity ? { affinity: args.affinity } : {}),
              terminationGracePeriodSeconds: MOCK_TERMINATION_GRACE_SECONDS,
              securityContext: podSecurityContext(),
              containers: [
                {
                  name: "http",
                  image: args.image,
                  imagePullPolicy: "IfNotPresent",
                  securityContext: containerSecurityContext(),
                  command: ["python3", "-m", "http.server", String(DATA_SERVER_PORT), "--directory", "/srv"],
                  ports: [{ name: "http", containerPort: DATA_SERVER_PORT }],
                  readinessProbe: {
                    httpGet: { path: paths.length > 0 ? `/${paths[0]}` : "/", port: DATA_SERVER_PORT },
                    periodSeconds: 2,
                  },
                  resources: { requests: { cpu: "20m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                  volumeMounts: [{ name: "files", mountPath: "/srv", readOnly: true }],
                },
              ],
              volumes: [
                {
                  name: "files",
                  configMap: {
                    name: files.metadata.name,
                    items: paths.map((p, i) => ({ key: `f${i}`, path: p })),
                  },
                },
              ],
            },
          },
        },
      },
      child,
    );
    this.ready = deployment.status.apply(() => this.url);
    this.registerOutputs({ url: this.url });
  }
}
