import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DEFAULT_BUCKETS, DEFAULT_TOPICS, KAFKA_VERSIONS } from "../../infra/config";
import { KAFKA_IMAGES, MOCK_IMAGES } from "../../infra/mock/images";
import { Registered, runStack, runStackExpectingError } from "./stack";

type Obj = Record<string, unknown>;
const meta = (r: Registered) => r.inputs.metadata as { name: string; namespace?: string };
const byName = (rs: Registered[], name: string) => rs.find((r) => meta(r).name === name);
const container = (r: Registered) =>
  ((((r.inputs.spec as Obj).template as Obj).spec as Obj).containers as Obj[])[0] as {
    image: string;
    env?: { name: string; value: string }[];
    command: string[];
    readinessProbe: Obj;
  };
const envOf = (r: Registered) => Object.fromEntries((container(r).env ?? []).map((e) => [e.name, e.value]));

async function withEnv<T>(name: string, value: string, f: () => Promise<T>): Promise<T> {
  const saved = process.env[name];
  process.env[name] = value;
  try {
    return await f();
  } finally {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  }
}

describe("mock infra", () => {
  it("runs Kafka in KRaft mode with an in-cluster and a host listener, and the replaced system's topics", async () => {
    const run = await runStack("local", {});
    const props = (byName(run.of("kubernetes:core/v1:ConfigMap"), "kafka-config")!.inputs.data as Obj)[
      "server.properties"
    ] as string;
    expect(props).to.contain("process.roles=broker,controller");
    expect(props).to.contain(
      "advertised.listeners=INTERNAL://kafka.inception-local.svc.cluster.local:9092,EXTERNAL://localhost:9092",
    );
    expect(props).to.contain("group.initial.rebalance.delay.ms=0");
    expect(props).to.contain("auto.create.topics.enable=false");
    // The bai profile's Kafka is 3.9, which has no share groups.
    expect(props).to.not.contain("share.coordinator");

    const broker = byName(run.of("kubernetes:apps/v1:StatefulSet"), "kafka")!;
    expect(meta(broker).namespace).to.equal("inception-local");
    expect(envOf(broker).KAFKA_TOPICS).to.equal(DEFAULT_TOPICS.map((t) => `${t.name}:1`).join(" "));
    expect(JSON.stringify(container(broker).readinessProbe)).to.contain("/tmp/inception-ready");
    const tpl = ((broker.inputs.spec as Obj).template as Obj).spec as Obj;
    expect(JSON.stringify(tpl.affinity)).to.contain("bai-services-cheap");
    expect((broker.inputs.spec as Obj).volumeClaimTemplates).to.have.length(1);

    const external = byName(run.of("kubernetes:core/v1:Service"), "kafka-external")!;
    expect((external.inputs.spec as Obj).type).to.equal("NodePort");
    expect(((external.inputs.spec as Obj).ports as Obj[])[0].nodePort).to.equal(30092);
  });

  it("runs the configured Kafka version: the bai profile's 3.9 image, 4.x with profile none or when set", async () => {
    const image = async (config: Obj) => {
      const run = await runStack("local", config);
      const props = (byName(run.of("kubernetes:core/v1:ConfigMap"), "kafka-config")!.inputs.data as Obj)[
        "server.properties"
      ] as string;
      return { image: container(byName(run.of("kubernetes:apps/v1:StatefulSet"), "kafka")!).image, props };
    };
    // Pushed to the image cache under the same name.
    const cached = (ref: string) => `localhost:5002/${ref}`;
    expect((await image({})).image).to.equal(cached(KAFKA_IMAGES.local["3.9.2"]));
    const none = await image({ "inception:profile": "none" });
    expect(none.image).to.equal(cached(KAFKA_IMAGES.local["4.4.0"]));
    expect(none.props).to.contain("share.coordinator.state.topic.replication.factor=1");
    expect((await image({ "inception:mockInfra": { kafka: { version: "4.4.0" } } })).image).to.equal(
      cached(KAFKA_IMAGES.local["4.4.0"]),
    );
    const pub = await withEnv("INCEPTION_MOCK_IMAGES", "public", () =>
      image({ "inception:profile": "none", "inception:mockInfra": { kafka: { version: "3.9.2" } } }),
    );
    expect(pub.image).to.equal("apache/kafka:3.9.2");
  });

  it("creates the S3 buckets before the gateway starts and keeps its key secret", async () => {
    const run = await runStack("local", {});
    const s3 = byName(run.of("kubernetes:apps/v1:Deployment"), "s3")!;
    expect(envOf(s3).S3_BUCKETS).to.equal(DEFAULT_BUCKETS.join(" "));
    expect(container(s3).command.join(" ")).to.match(/mkdir -p[\s\S]*exec versitygw/);
    const creds = byName(run.of("kubernetes:core/v1:Secret"), "s3-credentials")!;
    expect(creds.secretInputs).to.include("stringData");
  });

  it("keeps the S3 objects on a claim of their own (they survive the gateway's pod), or in an emptyDir when asked", async () => {
    const run = await runStack("local", {});
    const s3 = byName(run.of("kubernetes:apps/v1:Deployment"), "s3")!;
    const pod = ((s3.inputs.spec as Obj).template as Obj).spec as Obj;
    expect(pod.volumes).to.deep.equal([{ name: "data", persistentVolumeClaim: { claimName: "s3-data" } }]);
    expect((s3.inputs.spec as Obj).strategy).to.deep.equal({ type: "Recreate" });
    const claim = byName(run.of("kubernetes:core/v1:PersistentVolumeClaim"), "s3-data")!;
    expect(claim.inputs.spec).to.deep.equal({
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "1Gi" } },
    });
    const ephemeral = await runStack("local", { "inception:mockInfra": { s3: { storage: "emptyDir" } } });
    const e = byName(ephemeral.of("kubernetes:apps/v1:Deployment"), "s3")!;
    expect((((e.inputs.spec as Obj).template as Obj).spec as Obj).volumes).to.deep.equal([
      { name: "data", emptyDir: {} },
    ]);
    expect(ephemeral.of("kubernetes:core/v1:PersistentVolumeClaim")).to.have.length(0);
  });

  it("writes every endpoint into the outputs ConfigMap and the stack outputs", async () => {
    const run = await runStack("local", { "inception:mockInfra": { zookeeper: { enabled: true } } });
    const data = byName(run.of("kubernetes:core/v1:ConfigMap"), "outputs-infrastructure")!.inputs.data as Obj;
    expect(data).to.deep.equal({
      kafka_bootstrap_servers: "kafka.inception-local.svc.cluster.local:9092",
      kafka_bootstrap_servers_external: "localhost:9092",
      kafka_topics: DEFAULT_TOPICS.map((t) => t.name).join(","),
      zookeeper_connect: "zookeeper.inception-local.svc.cluster.local:2181",
      s3_endpoint: "http://s3.inception-local.svc.cluster.local:7070",
      s3_endpoint_external: "http://localhost:7070",
      s3_region: "us-east-1",
      s3_buckets: DEFAULT_BUCKETS.join(","),
      s3_access_key: "inception",
      data_server_url: "http://data-server.inception-local.svc.cluster.local:8080",
      data_server_files: "test-file.txt",
      crds: "mpijobs.kubeflow.org",
    });
    expect(run.exports.mockEndpoints).to.deep.equal(data);
  });

  it("pushes the locally built image set to the image cache by default", async () => {
    const run = await runStack("local", {});
    const mocks = run.of("command:local:Command").filter((c) => c.name.startsWith("mock-"));
    const sources = mocks.map((c) => (c.inputs.environment as Obj).SOURCE_IMAGE).sort();
    expect(sources).to.deep.equal(
      [KAFKA_IMAGES.local["3.9.2"], MOCK_IMAGES.local.s3, MOCK_IMAGES.local.dataServer].sort(),
    );
    for (const c of mocks) expect((c.inputs.environment as Obj).TARGET).to.equal("registry");
    expect(container(byName(run.of("kubernetes:apps/v1:StatefulSet"), "kafka")!).image).to.equal(
      "localhost:5002/inception/mock-kafka:3.9.2",
    );
  });

  it("uses the pinned public images, unpublished, when INCEPTION_MOCK_IMAGES=public", async () => {
    const run = await withEnv("INCEPTION_MOCK_IMAGES", "public", () => runStack("local", {}));
    expect(run.of("command:local:Command").filter((c) => c.name.startsWith("mock-"))).to.have.length(0);
    expect(container(byName(run.of("kubernetes:apps/v1:Deployment"), "s3")!).image).to.equal(
      MOCK_IMAGES.public.s3,
    );
  });

  it("stops the stateless mocks within seconds, so down is not held by grace periods", async () => {
    const run = await runStack("local", { "inception:mockInfra": { zookeeper: { enabled: true } } });
    const deployments = run.of("kubernetes:apps/v1:Deployment").filter((d) => d.name.startsWith("mock-"));
    expect(deployments.map((d) => meta(d).name).sort()).to.deep.equal(["data-server", "s3", "zookeeper"]);
    for (const d of deployments) {
      const pod = (d.inputs.spec as { template: { spec: { terminationGracePeriodSeconds?: number } } })
        .template.spec;
      expect(pod.terminationGracePeriodSeconds, meta(d).name).to.be.at.most(5);
    }
  });

  it("each mock Service selects the pods of a mock workload and is not awaited (the workload's readiness is)", async () => {
    const run = await runStack("local", { "inception:mockInfra": { zookeeper: { enabled: true } } });
    const podLabels = [
      ...run.of("kubernetes:apps/v1:StatefulSet"),
      ...run.of("kubernetes:apps/v1:Deployment"),
    ]
      .filter((w) => !meta(w).name.startsWith("executor"))
      .map(
        (w) =>
          ((w.inputs.spec as Obj).template as { metadata: { labels: Record<string, string> } }).metadata
            .labels,
      );
    const services = run.of("kubernetes:core/v1:Service");
    expect(services.map((s) => meta(s).name).sort()).to.deep.equal([
      "data-server",
      "kafka",
      "kafka-external",
      "s3",
      "zookeeper",
    ]);
    for (const svc of services) {
      const selector = (svc.inputs.spec as { selector: Record<string, string> }).selector;
      const selects = podLabels.filter((l) => Object.entries(selector).every(([k, v]) => l[k] === v));
      expect(selects, `Service ${meta(svc).name} selects one mock's pods`).to.have.length(1);
      expect((svc.inputs.metadata as { annotations?: Obj }).annotations).to.deep.include({
        "pulumi.com/skipAwait": "true",
      });
    }
  });

  it("installs configured CRDs and leaves out disabled mocks", async () => {
    const run = await runStack("local", {
      "inception:mockInfra": {
        crds: ["mock-infra/crds/mpijob.yaml"],
        kafka: { enabled: false },
        s3: { enabled: false },
        dataServer: { enabled: false },
      },
      "inception:suite": { enabled: false },
    });
    const crds = run.of("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition");
    expect(crds.map((c) => meta(c).name)).to.deep.equal(["mpijobs.kubeflow.org"]);
    expect(run.of("kubernetes:apps/v1:StatefulSet")).to.have.length(0);
    expect(run.of("kubernetes:apps/v1:Deployment")).to.have.length(0);
    const data = byName(run.of("kubernetes:core/v1:ConfigMap"), "outputs-infrastructure")!.inputs.data;
    expect(data).to.deep.equal({ crds: "mpijobs.kubeflow.org" });
  });

  describe("bad mock infra config", () => {
    const notCrd = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "inception-crd-")), "x.yaml");
    fs.writeFileSync(notCrd, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
    const cases: [string, Obj, string][] = [
      [
        "unknown component",
        { redis: {} },
        "inception:mockInfra.redis is not a known setting (known: images, kafka,",
      ],
      [
        "bad topic spec",
        { kafka: { topics: [{ name: "bad topic!", partitions: 0 }] } },
        'inception:mockInfra.kafka.topics[0].name must be a Kafka topic name ([a-zA-Z0-9._-], at most 249), got "bad topic!"',
      ],
      [
        "topic partitions",
        { kafka: { topics: [{ name: "ok", partitions: 0 }] } },
        "inception:mockInfra.kafka.topics[0].partitions must be an integer from 1 to 1000, got 0",
      ],
      [
        "duplicate topic",
        { kafka: { topics: ["a", "a"] } },
        'inception:mockInfra.kafka.topics[1] repeats topic "a"',
      ],
      [
        "duplicate bucket",
        { s3: { buckets: ["abc", "abc"] } },
        'inception:mockInfra.s3.buckets[1] repeats bucket "abc"',
      ],
      [
        "port collision",
        { s3: { hostPort: 9092 } },
        "inception:mockInfra.s3.hostPort 9092 collides with mockInfra.kafka.hostPort",
      ],
      [
        "unknown image set",
        { images: "docker-hub" },
        'inception:mockInfra.images must be one of public, local, got "docker-hub"',
      ],
      ["missing CRD file", { crds: ["nope.yaml"] }, 'nope.yaml", which does not exist'],
      [
        "not a CRD",
        { crds: [notCrd] },
        "which must hold exactly one apiextensions.k8s.io/v1 CustomResourceDefinition",
      ],
      [
        "data server path escaping",
        { dataServer: { files: { "../etc/passwd": "x" } } },
        'inception:mockInfra.dataServer.files has an invalid path "../etc/passwd"',
      ],
    ];
    for (const [what, mockInfra, error] of cases) {
      it(`${what}: fails with its own message and registers nothing`, async () => {
        const r = await runStackExpectingError("local", { "inception:mockInfra": mockInfra });
        expect(r.error.message).to.contain(error);
        expect(r.resources).to.have.length(0);
      });
    }
  });
});

describe("mock image versions", () => {
  it("the local set's tags are the ones scripts/mock-images.sh builds", () => {
    const env = Object.fromEntries(
      fs
        .readFileSync(path.join(__dirname, "../../images/versions.env"), "utf8")
        .split("\n")
        .filter((l) => /^[A-Z0-9_]+=/.test(l))
        .map((l) => l.split("=", 2) as [string, string]),
    );
    expect([env.MOCK_ZOOKEEPER_TAG, env.MOCK_S3_TAG, env.MOCK_HTTP_TAG]).to.deep.equal([
      MOCK_IMAGES.local.zookeeper,
      MOCK_IMAGES.local.s3,
      MOCK_IMAGES.local.dataServer,
    ]);
    // Kafka: each version the config accepts is a version scripts/mock-images.sh builds, and back.
    const kafka = fs.readFileSync(path.join(__dirname, "../../toolchain/kafka/version.env"), "utf8");
    const pinned = ["KAFKA_VERSION", "KAFKA_3_VERSION"].map(
      (k) => new RegExp(`^${k}=(.*)$`, "m").exec(kafka)![1],
    );
    expect([...KAFKA_VERSIONS]).to.deep.equal(pinned);
    expect([env.MOCK_KAFKA_TAG, env.MOCK_KAFKA_3_TAG]).to.deep.equal(
      pinned.map((v) => `inception/mock-kafka:${v}`),
    );
    for (const v of KAFKA_VERSIONS) {
      expect(KAFKA_IMAGES.local[v]).to.equal(`inception/mock-kafka:${v}`);
      expect(KAFKA_IMAGES.public[v]).to.equal(`apache/kafka:${v}`);
    }
  });
});
