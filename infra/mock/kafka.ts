/**
 * One Kafka broker in KRaft mode (broker + controller in one process) with two listeners: INTERNAL,
 * advertised as the in-cluster Service name, and EXTERNAL, advertised as localhost:<hostPort> and
 * reached through a NodePort that kind maps to the host — so the suite inside the cluster and a
 * test process on the host both reach the same broker.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { containerSecurityContext, podSecurityContext } from "../security";
import type { KafkaConfig, KafkaVersion } from "../config";
import { mockLabels, mockService, SERVICE_NO_AWAIT, serviceHost } from "./common";

export const KAFKA_INTERNAL_PORT = 9092;
export const KAFKA_EXTERNAL_PORT = 9094;
const CONTROLLER_PORT = 9093;
// A listener only the pod itself uses (start-up topic creation, readiness): advertised as
// localhost, so it needs neither cluster DNS nor hairpin traffic through the Service.
const LOCAL_PORT = 9095;
const DATA = "/var/lib/kafka/data";

export interface KafkaArgs {
  /** Namespace of the broker. */
  namespace: string;
  /** Broker image (see images.ts). */
  image: pulumi.Input<string>;
  /** Preferred placement (the profile's nodes). Defaults to none. */
  affinity?: k8s.types.input.core.v1.Affinity;
  /** Validated Kafka settings. */
  config: KafkaConfig;
  /** Host name the external listener is advertised with. Defaults to "localhost". */
  externalHost?: string;
  /** Publish the external listener as a NodePort. Defaults to true. */
  exposeOnHost?: boolean;
}

/** Renders server.properties for the broker's version. */
export function kafkaServerProperties(
  namespace: string,
  externalHost: string,
  hostPort: number,
  version: KafkaVersion,
): string {
  const props: Record<string, string | number> = {
    "process.roles": "broker,controller",
    "node.id": 1,
    "controller.quorum.voters": `1@localhost:${CONTROLLER_PORT}`,
    listeners: `INTERNAL://:${KAFKA_INTERNAL_PORT},CONTROLLER://:${CONTROLLER_PORT},EXTERNAL://:${KAFKA_EXTERNAL_PORT},LOCAL://127.0.0.1:${LOCAL_PORT}`,
    "advertised.listeners": `INTERNAL://${serviceHost("kafka", namespace)}:${KAFKA_INTERNAL_PORT},EXTERNAL://${externalHost}:${hostPort},LOCAL://localhost:${LOCAL_PORT}`,
    "listener.security.protocol.map":
      "INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT,LOCAL:PLAINTEXT",
    "inter.broker.listener.name": "INTERNAL",
    "controller.listener.names": "CONTROLLER",
    "log.dirs": DATA,
    // Tests create their consumer group once; a rebalance delay would only add to its first join.
    "group.initial.rebalance.delay.ms": 0,
    // Topics are declared in config; a typo in a test must not silently create a new one.
    "auto.create.topics.enable": "false",
    "num.partitions": 1,
    "offsets.topic.replication.factor": 1,
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
    // Share groups (KIP-932) came with Kafka 4: 3.9 does not know their settings.
    ...(version.startsWith("3.")
      ? {}
      : {
          "share.coordinator.state.topic.replication.factor": 1,
          "share.coordinator.state.topic.min.isr": 1,
        }),
  };
  return Object.entries(props)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n")
    .concat("\n");
}

/** How long the broker may take to answer after its pod starts (the start script's bound). */
export const KAFKA_START_TIMEOUT_SECONDS = 300;

// Formats storage on first start, starts the broker, creates the configured topics once the broker
// answers, and only then marks the pod ready. Polls with a bound; no fixed sleeps.
export const KAFKA_START_SCRIPT = `set -eu
bin=/opt/kafka/bin
if [ ! -f ${DATA}/meta.properties ]; then
  "$bin/kafka-storage.sh" format --ignore-formatted -t "$KAFKA_CLUSTER_ID" -c /etc/inception/kafka/server.properties
fi
"$bin/kafka-server-start.sh" /etc/inception/kafka/server.properties &
broker=$!
trap 'kill -TERM $broker; wait $broker' TERM INT
deadline=$(( $(date +%s) + ${KAFKA_START_TIMEOUT_SECONDS} ))
until "$bin/kafka-topics.sh" --bootstrap-server localhost:${LOCAL_PORT} --list >/dev/null 2>&1; do
  kill -0 $broker 2>/dev/null || { echo "inception: broker exited during start-up" >&2; exit 1; }
  [ "$(date +%s)" -lt "$deadline" ] || { echo "inception: broker did not answer within ${KAFKA_START_TIMEOUT_SECONDS} s" >&2; exit 1; }
  sleep 1
done
for spec in $KAFKA_TOPICS; do
  "$bin/kafka-topics.sh" --bootstrap-server localhost:${LOCAL_PORT} --create --if-not-exists \\
    --topic "\${spec%%:*}" --partitions "\${spec##*:}" --replication-factor 1
done
echo "inception: broker ready, topics: $KAFKA_TOPICS"
touch /tmp/inception-ready
wait $broker
`;

/** The Kafka broker: a StatefulSet of one, its Services and its config. */
export class Kafka extends pulumi.ComponentResource {
  /** In-cluster bootstrap servers. */
  readonly bootstrapServers: string;
  /** Bootstrap servers for clients on the host. */
  readonly externalBootstrapServers: string;
  /** Resolves when the broker is Ready (topics created). */
  readonly ready: pulumi.Output<string>;

  constructor(name: string, args: KafkaArgs, opts: pulumi.ComponentResourceOptions) {
    super("inception:mock:Kafka", name, {}, opts);
    const c = args.config;
    const ns = args.namespace;
    const externalHost = args.externalHost ?? "localhost";
    this.bootstrapServers = `${serviceHost("kafka", ns)}:${KAFKA_INTERNAL_PORT}`;
    this.externalBootstrapServers = `${externalHost}:${c.hostPort}`;
    const child = { parent: this };
    const labels = mockLabels("kafka");

    const props = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: { name: "kafka-config", namespace: ns, labels },
        data: { "server.properties": kafkaServerProperties(ns, externalHost, c.hostPort, c.version) },
      },
      child,
    );
    mockService(`${name}-internal`, "kafka", ns, [{ name: "internal", port: KAFKA_INTERNAL_PORT }], child);
    if (args.exposeOnHost ?? true) {
      new k8s.core.v1.Service(
        `${name}-external`,
        {
          metadata: { name: "kafka-external", namespace: ns, labels, annotations: SERVICE_NO_AWAIT },
          spec: {
            type: "NodePort",
            selector: labels,
            ports: [
              {
                name: "external",
                port: KAFKA_EXTERNAL_PORT,
                targetPort: KAFKA_EXTERNAL_PORT,
                nodePort: c.nodePort,
              },
            ],
          },
        },
        child,
      );
    }

    const persistent = c.storage === "pvc";
    const set = new k8s.apps.v1.StatefulSet(
      `${name}-broker`,
      {
        metadata: { name: "kafka", namespace: ns, labels },
        spec: {
          serviceName: "kafka",
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: {
              labels,
              annotations: { "inception.dev/config-hash": props.metadata.resourceVersion },
            },
            spec: {
              ...(args.affinity ? { affinity: args.affinity } : {}),
              securityContext: podSecurityContext(),
              containers: [
                {
                  name: "kafka",
                  image: args.image,
                  imagePullPolicy: "IfNotPresent",
                  securityContext: containerSecurityContext(),
                  command: ["/bin/bash", "-c", KAFKA_START_SCRIPT],
                  env: [
                    { name: "KAFKA_CLUSTER_ID", value: "aW5jZXB0aW9uLWthZmthMQ" },
                    {
                      name: "KAFKA_TOPICS",
                      value: c.topics.map((t) => `${t.name}:${t.partitions}`).join(" "),
                    },
                    { name: "KAFKA_HEAP_OPTS", value: "-Xms256m -Xmx512m" },
                  ],
                  ports: [
                    { name: "internal", containerPort: KAFKA_INTERNAL_PORT },
                    { name: "external", containerPort: KAFKA_EXTERNAL_PORT },
                  ],
                  // Ready only after the broker answered a request and the topics exist.
                  readinessProbe: {
                    exec: {
                      command: [
                        "/bin/bash",
                        "-c",
                        `test -f /tmp/inception-ready && </dev/tcp/127.0.0.1/${KAFKA_INTERNAL_PORT}`,
                      ],
                    },
                    periodSeconds: 2,
                    // A busy 2-core host can take over a second to fork bash: an unready blip
                    // drops the broker from its Service and resets every client's connection.
                    timeoutSeconds: 5,
                    failureThreshold: 3,
                  },
                  livenessProbe: {
                    tcpSocket: { port: KAFKA_INTERNAL_PORT },
                    initialDelaySeconds: 60,
                    periodSeconds: 10,
                    timeoutSeconds: 5,
                    failureThreshold: 6,
                  },
                  resources: { requests: { cpu: "100m", memory: "512Mi" }, limits: { memory: "1Gi" } },
                  volumeMounts: [
                    { name: "data", mountPath: DATA },
                    { name: "config", mountPath: "/etc/inception/kafka" },
                  ],
                },
              ],
              volumes: [
                { name: "config", configMap: { name: props.metadata.name } },
                ...(persistent ? [] : [{ name: "data", emptyDir: {} }]),
              ],
            },
          },
          volumeClaimTemplates: persistent
            ? [
                {
                  metadata: { name: "data" },
                  spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
                },
              ]
            : [],
        },
      },
      child,
    );
    this.ready = set.status.apply(() => this.bootstrapServers);
    this.registerOutputs({ bootstrapServers: this.bootstrapServers });
  }
}
