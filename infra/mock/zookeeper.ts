/** A standalone ZooKeeper for services that keep state in it (the replaced system's did). */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { containerSecurityContext, podSecurityContext } from "../security";
import { MOCK_TERMINATION_GRACE_SECONDS, mockLabels, mockService, serviceHost } from "./common";

export const ZOOKEEPER_PORT = 2181;

export interface ZooKeeperArgs {
  /** Namespace of the server. */
  namespace: string;
  /** Server image (see images.ts); must have zkServer.sh on PATH. */
  image: pulumi.Input<string>;
  /** Preferred placement (the profile's nodes). Defaults to none. */
  affinity?: k8s.types.input.core.v1.Affinity;
}

export const ZOO_CFG = `tickTime=2000
dataDir=/data
clientPort=${ZOOKEEPER_PORT}
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
`;

export class ZooKeeper extends pulumi.ComponentResource {
  /** Connect string for in-cluster clients. */
  readonly connect: string;
  /** Resolves when the server is Ready. */
  readonly ready: pulumi.Output<string>;

  constructor(name: string, args: ZooKeeperArgs, opts: pulumi.ComponentResourceOptions) {
    super("inception:mock:ZooKeeper", name, {}, opts);
    const ns = args.namespace;
    const labels = mockLabels("zookeeper");
    this.connect = `${serviceHost("zookeeper", ns)}:${ZOOKEEPER_PORT}`;
    const child = { parent: this };
    const cfg = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      { metadata: { name: "zookeeper-config", namespace: ns, labels }, data: { "zoo.cfg": ZOO_CFG } },
      child,
    );
    mockService(`${name}-service`, "zookeeper", ns, [{ name: "client", port: ZOOKEEPER_PORT }], child);
    const deployment = new k8s.apps.v1.Deployment(
      `${name}-server`,
      {
        metadata: { name: "zookeeper", namespace: ns, labels },
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
                  name: "zookeeper",
                  image: args.image,
                  imagePullPolicy: "IfNotPresent",
                  securityContext: containerSecurityContext(),
                  command: ["zkServer.sh", "start-foreground", "/etc/inception/zookeeper/zoo.cfg"],
                  env: [
                    { name: "JVMFLAGS", value: "-Xmx256m" },
                    // The image's own log directory may be root's: the data volume is the user's (fsGroup).
                    { name: "ZOO_LOG_DIR", value: "/data/log" },
                  ],
                  ports: [{ name: "client", containerPort: ZOOKEEPER_PORT }],
                  // "imok" to ruok proves the server answers, not just that the port is open.
                  readinessProbe: {
                    exec: {
                      command: [
                        "/bin/bash",
                        "-c",
                        `exec 3<>/dev/tcp/127.0.0.1/${ZOOKEEPER_PORT} && printf ruok >&3 && grep -q imok <&3`,
                      ],
                    },
                    periodSeconds: 2,
                  },
                  resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } },
                  volumeMounts: [
                    { name: "data", mountPath: "/data" },
                    { name: "config", mountPath: "/etc/inception/zookeeper" },
                  ],
                },
              ],
              volumes: [
                { name: "data", emptyDir: {} },
                { name: "config", configMap: { name: cfg.metadata.name } },
              ],
            },
          },
        },
      },
      child,
    );
    this.ready = deployment.status.apply(() => this.connect);
    this.registerOutputs({ connect: this.connect });
  }
}
