/**
 * The mock infrastructure as seen from a pod of the cluster (this suite runs in the suite Job):
 * the in-cluster endpoints of the outputs ConfigMap answer. Kafka's in-cluster listener is proven
 * by the harness itself, which every test of the run goes through.
 */
import { expect } from "chai";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";

const env = (k: string): string | undefined => (process.env[k] ? process.env[k] : undefined);
/**
 * Kubernetes sets this in every pod. The host runner hands the suite the data server's and
 * ZooKeeper's in-cluster addresses (for tests to pass on to services), which only a pod reaches.
 */
const inPod = env("KUBERNETES_SERVICE_HOST") !== undefined;

describe("mock infra, from a pod", () => {
  it("S3: put and get an object in every configured bucket", async function () {
    const endpoint = env("S3_ENDPOINT");
    if (!endpoint) return this.skip(); // the S3 mock is disabled in this stack
    const s3 = new S3Client({
      endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: env("S3_ACCESS_KEY") ?? "", secretAccessKey: env("S3_SECRET_KEY") ?? "" },
    });
    const buckets = (env("S3_BUCKETS") ?? "").split(",").filter(Boolean);
    expect(buckets.length).to.be.greaterThan(0);
    for (const Bucket of buckets) {
      const Key = `probe/${process.env.RUN_ID ?? "run"}.txt`;
      await s3.send(new PutObjectCommand({ Bucket, Key, Body: `hello ${Bucket}` }));
      const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
      expect(await got.Body?.transformToString()).to.equal(`hello ${Bucket}`);
    }
  });

  it("data server: serves every configured file", async function () {
    const url = env("DATA_SERVER_URL");
    if (!url) return this.skip(); // the data server is disabled in this stack
    if (!inPod) return this.skip(); // its address is the in-cluster one: only a pod reaches it
    const files = (env("DATA_SERVER_FILES") ?? "").split(",").filter(Boolean);
    expect(files.length).to.be.greaterThan(0);
    for (const f of files) {
      const res = await fetch(`${url}/${f}`);
      expect(res.status, f).to.equal(200);
      expect((await res.text()).length, f).to.be.greaterThan(0);
    }
  });

  it("ZooKeeper: answers, and stores and reads back a node", async function () {
    const connect = env("ZOOKEEPER_CONNECT");
    if (!connect) return this.skip(); // ZooKeeper is disabled in this stack (the default)
    if (!inPod) return this.skip(); // its address is the in-cluster one: only a pod reaches it
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const zk = require("node-zookeeper-client");
    const client = zk.createClient(connect, { sessionTimeout: 10000 });
    const path = `/inception-probe-${process.env.RUN_ID ?? Date.now()}`;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ZooKeeper session with ${connect} within 20 s`)),
        20000,
      );
      client.once("connected", () => {
        clearTimeout(timer);
        resolve();
      });
      client.connect();
    });
    try {
      await new Promise<void>((resolve, reject) =>
        client.create(path, Buffer.from("stored"), (e: Error | null) => (e ? reject(e) : resolve())),
      );
      const data = await new Promise<Buffer>((resolve, reject) =>
        client.getData(path, (e: Error | null, d: Buffer) => (e ? reject(e) : resolve(d))),
      );
      expect(data.toString()).to.equal("stored");
    } finally {
      client.close();
    }
  });
});
