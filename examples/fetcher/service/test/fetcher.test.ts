/** The fetcher's logic with a fake Kubernetes API and a recording publisher (no Kafka, no cluster). */
import { expect } from "chai";
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { Fetcher, FetcherSettings, Jobs, PublishError } from "../src/fetcher";
import { memoryLogger } from "../src/log";
import { FetchResult, jobName, parseRequest, renderJob, resultOf } from "../src/requests";

const SETTINGS: FetcherSettings = {
  namespace: "ns",
  deadlineSeconds: 60,
  s3: {
    endpoint: "http://s3:7070",
    accessKey: "ak",
    secretRef: { name: "outputs-infrastructure-secrets", key: "s3_secret_key" },
  },
  resultsTopic: "fetch.results",
};
const REQUEST = {
  request_id: "r-1",
  url: "http://data-server:8080/a.txt",
  bucket: "fetched",
  key: "x/a.txt",
};

class FakeJobs implements Jobs {
  readonly jobs = new Map<string, V1Job>();
  podsOf = new Map<string, V1Pod[]>();
  failCreate: Error | undefined;
  async create(job: V1Job): Promise<boolean> {
    if (this.failCreate) throw this.failCreate;
    if (this.jobs.has(job.metadata!.name!)) return false;
    this.jobs.set(job.metadata!.name!, job);
    return true;
  }
  async get(name: string): Promise<V1Job | undefined> {
    return this.jobs.get(name);
  }
  async pods(job: V1Job): Promise<V1Pod[]> {
    return this.podsOf.get(job.metadata!.name!) ?? [];
  }
}

function setup() {
  const jobs = new FakeJobs();
  const sent: { topic: string; result: FetchResult }[] = [];
  const publisher = { send: async (topic: string, result: FetchResult) => void sent.push({ topic, result }) };
  const fetcher = new Fetcher(jobs, publisher, SETTINGS, "inception/fetcher:abc", memoryLogger());
  return { jobs, sent, fetcher };
}

/** The Job as the API would show it once finished, and its worker pod with a termination message. */
function finish(job: V1Job, type: "Complete" | "Failed", message?: string, reason?: string): [V1Job, V1Pod] {
  const done: V1Job = {
    ...job,
    status: { conditions: [{ type, status: "True", ...(reason ? { reason, message: "deadline" } : {}) }] },
  };
  const pod: V1Pod = {
    metadata: { labels: job.spec!.template.metadata!.labels },
    status: {
      containerStatuses: [
        {
          name: "worker",
          image: "",
          imageID: "",
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: type === "Complete" ? 0 : 1, ...(message ? { message } : {}) } },
        },
      ],
    },
  };
  return [done, pod];
}

describe("fetcher example: requests", () => {
  it("parses a request; refuses a missing field or a non-http url with every problem; drops what has no id", () => {
    expect(parseRequest(JSON.stringify(REQUEST))).to.deep.equal({ kind: "ok", request: REQUEST });
    const bad = parseRequest(JSON.stringify({ request_id: "r-2", url: "ftp://x/y", bucket: "fetched" }));
    expect(bad.kind).to.equal("invalid");
    if (bad.kind !== "invalid") return;
    expect(bad.problems).to.deep.equal(['url must be an http(s) URL, got "ftp://x/y"', "key is required"]);
    expect(bad.partial).to.deep.equal({
      request_id: "r-2",
      status: "FAILED",
      bucket: "fetched",
      key: "",
      job: "",
    });
    expect(parseRequest("nope")).to.deep.equal({ kind: "unreadable", why: "not JSON" });
    expect(parseRequest(JSON.stringify({ url: "http://x" }))).to.deep.equal({
      kind: "unreadable",
      why: "no request_id",
    });
  });

  it("names the Job after the request id: a DNS label of at most 55 characters, the same every time", () => {
    expect(jobName("r-1")).to.match(/^fetch-r-1-[0-9a-f]{8}$/);
    expect(jobName("r-1")).to.equal(jobName("r-1"));
    expect(jobName("R_1")).to.not.equal(jobName("r-1"));
    const long = jobName("X".repeat(63));
    expect(long.length).to.be.at.most(55);
    expect(long).to.match(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });

  it("renders the worker Job: labels spawned-by and request-id, the secret by reference, no retries", () => {
    const job = renderJob(REQUEST, { ...SETTINGS, image: "img:1" });
    const labels = { "spawned-by": "fetcher", "request-id": "r-1" };
    expect(job.metadata).to.include({ name: jobName("r-1"), namespace: "ns" });
    expect(job.metadata!.labels).to.deep.equal(labels);
    expect(job.spec).to.include({ backoffLimit: 0, activeDeadlineSeconds: 60 });
    expect(job.spec!.template.metadata!.labels).to.deep.equal(labels);
    const c = job.spec!.template.spec!.containers[0];
    expect(c).to.include({
      image: "img:1",
      imagePullPolicy: "IfNotPresent",
      terminationMessagePolicy: "FallbackToLogsOnError",
    });
    expect(c.command).to.deep.equal(["node", "/app/dist/worker.js"]);
    // Admitted by the namespace's Pod Security "restricted".
    expect(job.spec!.template.spec!.securityContext).to.deep.include({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(c.securityContext).to.deep.include({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(c.env).to.deep.include({ name: "FETCH_URL", value: REQUEST.url });
    expect(c.env).to.deep.include({
      name: "S3_SECRET_KEY",
      valueFrom: { secretKeyRef: { name: "outputs-infrastructure-secrets", key: "s3_secret_key" } },
    });
    expect(JSON.stringify(job)).to.not.contain("secretAccessKey");
  });
});

describe("fetcher example: the service's logic", () => {
  it("a valid request creates one Job; the finished Job is reported DONE with bytes and sha256", async () => {
    const { jobs, sent, fetcher } = setup();
    await fetcher.onRequest(JSON.stringify(REQUEST));
    expect([...jobs.jobs.keys()]).to.deep.equal([jobName("r-1")]);
    expect(sent).to.deep.equal([]);

    const [done, pod] = finish(
      jobs.jobs.get(jobName("r-1"))!,
      "Complete",
      '{"status":"DONE","bytes":5,"sha256":"ab"}',
    );
    jobs.podsOf.set(jobName("r-1"), [pod]);
    await fetcher.onJobFinished(done);
    expect(sent).to.deep.equal([
      {
        topic: "fetch.results",
        result: {
          request_id: "r-1",
          status: "DONE",
          bucket: "fetched",
          key: "x/a.txt",
          bytes: 5,
          sha256: "ab",
          job: jobName("r-1"),
        },
      },
    ]);
  });

  it("a failed Job is FAILED with the worker's reason; without one, the log tail or the Job's condition", () => {
    const job = renderJob(REQUEST, { ...SETTINGS, image: "img:1" });
    const reason = "download failed: HTTP 404 File not found for http://data-server:8080/a.txt";
    const [j1, p1] = finish(job, "Failed", JSON.stringify({ status: "FAILED", reason }));
    expect(resultOf(j1, [p1])).to.include({ status: "FAILED", reason, job: jobName("r-1") });
    const [j2, p2] = finish(job, "Failed", "Error: boom\n    at main");
    expect(resultOf(j2, [p2])?.reason).to.equal("the worker failed: Error: boom |     at main");
    const [j3] = finish(job, "Failed", undefined, "DeadlineExceeded");
    expect(resultOf(j3, [])?.reason).to.equal("the Job failed: DeadlineExceeded (deadline)");
    expect(resultOf(job, [])).to.equal(undefined); // not finished
  });

  it("an invalid request is FAILED at once, naming the problem, and creates no Job", async () => {
    const { jobs, sent, fetcher } = setup();
    await fetcher.onRequest(JSON.stringify({ request_id: "r-3", bucket: "fetched", key: "k" }));
    expect(jobs.jobs.size).to.equal(0);
    expect(sent.map((s) => s.result)).to.deep.equal([
      {
        request_id: "r-3",
        status: "FAILED",
        bucket: "fetched",
        key: "k",
        job: "",
        reason: "invalid request: url is required",
      },
    ]);
  });

  it("a redelivered request of a finished Job is answered again, without a second Job", async () => {
    const { jobs, sent, fetcher } = setup();
    await fetcher.onRequest(JSON.stringify(REQUEST));
    const name = jobName("r-1");
    const [done, pod] = finish(jobs.jobs.get(name)!, "Complete", '{"status":"DONE","bytes":1,"sha256":"x"}');
    jobs.jobs.set(name, done);
    jobs.podsOf.set(name, [pod]);
    await fetcher.onRequest(JSON.stringify(REQUEST));
    expect(jobs.jobs.size).to.equal(1);
    expect(sent.map((s) => s.result.status)).to.deep.equal(["DONE"]);
  });

  it("a Job the API refuses is FAILED with the API's message; a refused publish throws PublishError", async () => {
    const { jobs, sent, fetcher } = setup();
    jobs.failCreate = new Error("forbidden");
    await fetcher.onRequest(JSON.stringify(REQUEST));
    expect(sent[0].result).to.include({ status: "FAILED", job: jobName("r-1") });
    expect(sent[0].result.reason).to.contain("forbidden");

    const failing = new Fetcher(
      new FakeJobs(),
      { send: async () => Promise.reject(new Error("broker down")) },
      SETTINGS,
      "img",
      memoryLogger(),
    );
    const err = await failing.onRequest(JSON.stringify({ request_id: "r-4" })).catch((e: Error) => e);
    expect(err).to.be.instanceOf(PublishError);
  });
});
