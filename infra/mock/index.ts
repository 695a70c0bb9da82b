/**
 * The mock infrastructure: the enabled pieces, their images made available to the cluster, and one
 * ConfigMap with every endpoint under stable keys, the way real infrastructure outputs would give
 * them (the replaced system's `outputs-infrastructure`). Its keys are those of the contract table
 * (infra/contract.ts); the secret ones go to a Secret beside it.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { MockInfraConfig } from "../config";
import { MOCK_CONTRACT, MockEndpoints, OUTPUTS_CONFIGMAP, OUTPUTS_SECRET } from "../contract";
import { PublishTarget, PublishedImage } from "../publish";
import { mockLabels } from "./common";
import { CrdDocument, MockCrds } from "./crds";
import { DataServer } from "./dataserver";
import { MockImage, mockImage } from "./images";
import { KAFKA_START_TIMEOUT_SECONDS, Kafka } from "./kafka";
import { S3Mock } from "./s3";
import { ZooKeeper } from "./zookeeper";

export { OUTPUTS_CONFIGMAP };
export type { MockEndpoints };
export { servicesAffinity } from "./common";

/** The region S3 clients sign for: versitygw's default. */
export const S3_REGION = "us-east-1";

export interface MockInfraArgs {
  /** Namespace of every mock (already created by the caller). */
  namespace: string;
  /** Validated mock infra settings. */
  config: MockInfraConfig;
  /** Where the locally built image set goes; undefined means the cluster pulls images itself. */
  publishTo: PublishTarget | undefined;
  /** Repository prefix for pushed images. Defaults to "inception". */
  imagePrefix?: string;
  /** The CRD manifests of `config.crds`, read by the preflight. Defaults to none. */
  crds?: CrdDocument[];
  /** Secret key of the S3 mock's root user. */
  s3SecretKey: pulumi.Input<string>;
  /** Preferred placement of every mock (the profile's nodes). Defaults to none. */
  affinity?: k8s.types.input.core.v1.Affinity;
  /**
   * Publish Kafka's external listener and S3 as NodePorts for the host (kind maps them to
   * localhost). Off on a shared cluster: NodePorts are cluster-wide and two stacks would collide.
   * Defaults to true.
   */
  exposeOnHost?: boolean;
  /**
   * The cluster is shared with other stacks: cluster-scoped objects (CRDs) are kept on destroy,
   * since another stack may use them. Defaults to false.
   */
  sharedCluster?: boolean;
}

/** A mock's workload, as the suite hook finds its pods and how long it waits for one Ready. */
export interface MockWorkload {
  name: string;
  podSelector: string;
  readyTimeoutSeconds: number;
}

/** How long a mock may take to be Ready: the longest start of them, Kafka's own bound. */
const MOCK_READY_TIMEOUT_SECONDS = KAFKA_START_TIMEOUT_SECONDS;

/** A mock component's workload: the label selector of its pods, and its bound. */
function workload(component: string): MockWorkload {
  const podSelector = Object.entries(mockLabels(component))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  return { name: component, podSelector, readyTimeoutSeconds: MOCK_READY_TIMEOUT_SECONDS };
}

export class MockInfra extends pulumi.ComponentResource {
  /** Every endpoint; resolves once all enabled mocks are Ready. */
  readonly endpoints: pulumi.Output<MockEndpoints>;
  /** The outputs ConfigMap's name; resolves once all enabled mocks are Ready. */
  readonly outputsConfigMap: pulumi.Output<string>;
  /**
   * Each enabled mock's workload, by its pods' labels: what the suite hook waits to be Ready before
   * a run, since Pulumi awaits a mock only when it changes it (an engine restart, a crashed broker
   * leave an unchanged one not Ready).
   */
  readonly workloads: MockWorkload[] = [];

  constructor(name: string, args: MockInfraArgs, opts: pulumi.ComponentResourceOptions) {
    super("inception:mock:MockInfra", name, {}, opts);
    const c = args.config;
    const ns = args.namespace;
    const child = { parent: this };
    const exposeOnHost = args.exposeOnHost ?? true;

    // The public set is pulled by the cluster; the local set is pushed (on local to the image cache).
    const image = (which: MockImage): pulumi.Output<string> => {
      const ref = mockImage(c.images, which, c.kafka.version);
      if (c.images === "public" || args.publishTo === undefined) return pulumi.output(ref);
      // The component's sibling, not its child (see ServiceUnderTest): pushed while kind creates the cluster.
      const published = new PublishedImage(
        `${name}-${which}-image`,
        { name: `mock-${which.toLowerCase()}`, image: ref, target: args.publishTo, prefix: args.imagePrefix },
        { parent: opts.parent },
      );
      return published.ref;
    };

    const ready: pulumi.Output<string>[] = [];
    const endpoints: MockEndpoints = {};
    if (c.kafka.enabled) {
      const kafka = new Kafka(
        `${name}-kafka`,
        { namespace: ns, image: image("kafka"), config: c.kafka, exposeOnHost, affinity: args.affinity },
        child,
      );
      ready.push(kafka.ready);
      this.workloads.push(workload("kafka"));
      endpoints.kafka_bootstrap_servers = kafka.bootstrapServers;
      if (exposeOnHost) endpoints.kafka_bootstrap_servers_external = kafka.externalBootstrapServers;
      endpoints.kafka_topics = c.kafka.topics.map((t) => t.name).join(",");
    }
    if (c.zookeeper.enabled) {
      const zk = new ZooKeeper(
        `${name}-zookeeper`,
        { namespace: ns, image: image("zookeeper"), affinity: args.affinity },
        child,
      );
      ready.push(zk.ready);
      this.workloads.push(workload("zookeeper"));
      endpoints.zookeeper_connect = zk.connect;
    }
    if (c.s3.enabled) {
      const s3 = new S3Mock(
        `${name}-s3`,
        {
          namespace: ns,
          image: image("s3"),
          config: c.s3,
          secretKey: args.s3SecretKey,
          exposeOnHost,
          affinity: args.affinity,
        },
        child,
      );
      ready.push(s3.ready);
      this.workloads.push(workload("s3"));
      endpoints.s3_endpoint = s3.endpoint;
      if (exposeOnHost) endpoints.s3_endpoint_external = s3.externalEndpoint;
      endpoints.s3_region = S3_REGION;
      endpoints.s3_buckets = c.s3.buckets.join(",");
      endpoints.s3_access_key = c.s3.accessKey;
    }
    if (c.dataServer.enabled) {
      const data = new DataServer(
        `${name}-data-server`,
        { namespace: ns, image: image("dataServer"), files: c.dataServer.files, affinity: args.affinity },
        child,
      );
      ready.push(data.ready);
      this.workloads.push(workload("data-server"));
      endpoints.data_server_url = data.url;
      endpoints.data_server_files = Object.keys(c.dataServer.files).sort().join(",");
    }
    if ((args.crds ?? []).length > 0) {
      const crds = new MockCrds(
        `${name}-crds`,
        { crds: args.crds ?? [], shared: args.sharedCluster ?? false },
        child,
      );
      endpoints.crds = crds.names.join(",");
    }

    // Written only once every enabled mock is Ready, so a reader never sees a dead endpoint.
    const outputs = new k8s.core.v1.ConfigMap(
      `${name}-outputs`,
      {
        metadata: {
          name: OUTPUTS_CONFIGMAP,
          namespace: ns,
          labels: { "app.kubernetes.io/part-of": "inception-mock-infra" },
        },
        data: pulumi.all(ready).apply(() => endpoints as Record<string, string>),
      },
      child,
    );
    const secrets: Record<string, pulumi.Input<string>> = c.s3.enabled
      ? { s3_secret_key: args.s3SecretKey }
      : {};
    if (Object.keys(secrets).length > 0) {
      new k8s.core.v1.Secret(
        `${name}-outputs-secrets`,
        {
          metadata: {
            name: OUTPUTS_SECRET,
            namespace: ns,
            labels: { "app.kubernetes.io/part-of": "inception-mock-infra" },
          },
          stringData: secrets,
        },
        child,
      );
    }
    // The contract is the one list of keys: a key it lacks, or a secret in the ConfigMap, is a bug here.
    for (const k of Object.keys(endpoints)) {
      const entry = MOCK_CONTRACT.find((e) => e.key === k || e.hostKey === k);
      if (entry === undefined || entry.secret)
        throw new Error(`outputs key ${k} is not a non-secret contract entry`);
    }
    for (const k of Object.keys(secrets)) {
      if (!MOCK_CONTRACT.some((e) => e.key === k && e.secret))
        throw new Error(`secret ${k} is not in the contract`);
    }
    this.endpoints = outputs.data.apply(() => endpoints);
    this.outputsConfigMap = outputs.metadata.name;
    this.registerOutputs({ endpoints: this.endpoints });
  }
}
