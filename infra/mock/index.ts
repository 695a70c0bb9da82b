/**
 * The mock infrastructure: the enabled pieces, their images made available to the cluster, and one
 * ConfigMap with every endpoint under stable keys, the way real infrastructure outputs would give
 * them (BAI's `outputs-infrastructure`).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { MockInfraConfig } from "../mockconfig";
import { PublishTarget, PublishedImage } from "../publish";
import { MockCrds } from "./crds";
import { DataServer } from "./dataserver";
import { MOCK_IMAGES, MockImage } from "./images";
import { Kafka } from "./kafka";
import { S3Mock } from "./s3";
import { ZooKeeper } from "./zookeeper";

export const OUTPUTS_CONFIGMAP = "outputs-infrastructure";

export interface MockInfraArgs {
  /** Namespace of every mock (already created by the caller). */
  namespace: string;
  /** Validated mock infra settings. */
  config: MockInfraConfig;
  /** Where the locally built image set goes; undefined means the cluster pulls images itself. */
  publishTo: PublishTarget | undefined;
  /** Repository prefix for pushed images. Defaults to "inception". */
  imagePrefix?: string;
  /** Secret key of the S3 mock's root user. */
  s3SecretKey: pulumi.Input<string>;
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

/** Keys of the outputs ConfigMap (stable: services and suites read them). */
export type MockEndpoints = Partial<
  Record<
    | "kafka_bootstrap_servers"
    | "kafka_bootstrap_servers_external"
    | "kafka_topics"
    | "s3_endpoint"
    | "s3_endpoint_external"
    | "s3_buckets"
    | "s3_access_key"
    | "zookeeper_connect"
    | "data_server_url"
    | "data_server_files"
    | "crds",
    string
  >
>;

export class MockInfra extends pulumi.ComponentResource {
  /** Every endpoint; resolves once all enabled mocks are Ready. */
  readonly endpoints: pulumi.Output<MockEndpoints>;
  /** The outputs ConfigMap's name; resolves once all enabled mocks are Ready. */
  readonly outputsConfigMap: pulumi.Output<string>;

  constructor(name: string, args: MockInfraArgs, opts: pulumi.ComponentResourceOptions) {
    super("inception:mock:MockInfra", name, {}, opts);
    const c = args.config;
    const ns = args.namespace;
    const child = { parent: this };
    const exposeOnHost = args.exposeOnHost ?? true;

    // The public set is pulled by the cluster; the local set is loaded into kind or pushed.
    const image = (which: MockImage): pulumi.Output<string> => {
      const ref = MOCK_IMAGES[c.images][which];
      if (c.images === "public" || args.publishTo === undefined) return pulumi.output(ref);
      const published = new PublishedImage(
        `${name}-${which}-image`,
        { name: `mock-${which.toLowerCase()}`, image: ref, target: args.publishTo, prefix: args.imagePrefix },
        child,
      );
      return published.ref;
    };

    const ready: pulumi.Output<string>[] = [];
    const endpoints: MockEndpoints = {};
    if (c.kafka.enabled) {
      const kafka = new Kafka(
        `${name}-kafka`,
        { namespace: ns, image: image("kafka"), config: c.kafka, exposeOnHost },
        child,
      );
      ready.push(kafka.ready);
      endpoints.kafka_bootstrap_servers = kafka.bootstrapServers;
      if (exposeOnHost) endpoints.kafka_bootstrap_servers_external = kafka.externalBootstrapServers;
      endpoints.kafka_topics = c.kafka.topics.map((t) => t.name).join(",");
    }
    if (c.zookeeper.enabled) {
      const zk = new ZooKeeper(`${name}-zookeeper`, { namespace: ns, image: image("zookeeper") }, child);
      ready.push(zk.ready);
      endpoints.zookeeper_connect = zk.connect;
    }
    if (c.s3.enabled) {
      const s3 = new S3Mock(
        `${name}-s3`,
        { namespace: ns, image: image("s3"), config: c.s3, secretKey: args.s3SecretKey, exposeOnHost },
        child,
      );
      ready.push(s3.ready);
      endpoints.s3_endpoint = s3.endpoint;
      if (exposeOnHost) endpoints.s3_endpoint_external = s3.externalEndpoint;
      endpoints.s3_buckets = c.s3.buckets.join(",");
      endpoints.s3_access_key = c.s3.accessKey;
    }
    if (c.dataServer.enabled) {
      const data = new DataServer(
        `${name}-data-server`,
        { namespace: ns, image: image("dataServer"), files: c.dataServer.files },
        child,
      );
      ready.push(data.ready);
      endpoints.data_server_url = data.url;
      endpoints.data_server_files = Object.keys(c.dataServer.files).sort().join(",");
    }
    if (c.crds.length > 0) {
      const crds = new MockCrds(`${name}-crds`, { crds: c.crds, shared: args.sharedCluster ?? false }, child);
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
    if (c.s3.enabled) {
      new k8s.core.v1.Secret(
        `${name}-outputs-secrets`,
        {
          metadata: { name: `${OUTPUTS_CONFIGMAP}-secrets`, namespace: ns },
          stringData: { s3_secret_key: args.s3SecretKey },
        },
        child,
      );
    }
    this.endpoints = outputs.data.apply(() => endpoints);
    this.outputsConfigMap = outputs.metadata.name;
    this.registerOutputs({ endpoints: this.endpoints });
  }
}
