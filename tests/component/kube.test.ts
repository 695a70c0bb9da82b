// The Kubernetes part of the harness against a fake API server (list + watch of jobs, pods and
// cronjobs, events, logs): waits driven by watch events, label selection, timeout and fail-fast
// messages, watch resumption and re-listing, the artifact collector, configuration.
import { expect } from "chai";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { KubeClient } from "@inception/kube";
import { byAction, jobFromCronJob, KubeHarness, KubeWaitError } from "../harness";

type Obj = KubernetesObject & { status?: Record<string, unknown>; spec?: Record<string, unknown> };

/** Just enough of the API server: namespaced list and watch with label selectors, events, logs. */
class FakeApi {
  rv = 100;
  readonly store = new Map<string, Map<string, Obj>>(); // plural -> name -> object
  readonly watches = new Set<{ plural: string; selector: string; res: ServerResponse }>();
  /** Every change, so a watch from a resourceVersion gets what happened since (as the real one does). */
  readonly history: { plural: string; type: string; object: Obj }[] = [];
  watchRequests = 0;
  expireNextWatch = false;
  /** Answer creates with 403, as the API server does for a Role without `create`. */
  forbidCreate = false;
  /** Discovery: group version path (`/apis/kubeflow.org/v1`) → the plurals it serves (CRDs installed). */
  readonly discovery = new Map<string, string[]>();
  readonly server: Server = createServer((req, res) => this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async stop(): Promise<void> {
    for (const w of this.watches) w.res.destroy();
    await new Promise((r) => this.server.close(r));
  }

  put(plural: string, o: Obj): void {
    const m = this.store.get(plural) ?? new Map<string, Obj>();
    this.store.set(plural, m);
    const type = m.has(o.metadata!.name!) ? "MODIFIED" : "ADDED";
    o.metadata = { uid: `uid-${o.metadata!.name}`, ...o.metadata, resourceVersion: String(++this.rv) };
    m.set(o.metadata.name!, o);
    this.notify(plural, type, o);
  }
  remove(plural: string, name: string): void {
    const o = this.store.get(plural)?.get(name);
    if (!o) return;
    this.store.get(plural)!.delete(name);
    this.notify(plural, "DELETED", { ...o, metadata: { ...o.metadata, resourceVersion: String(++this.rv) } });
  }
  /** Ends every open watch, as the API server does now and then. */
  closeWatches(): void {
    for (const w of this.watches) w.res.end();
    this.watches.clear();
  }

  private notify(plural: string, type: string, o: Obj): void {
    this.history.push({ plural, type, object: o });
    for (const w of this.watches) {
      if (w.plural === plural && matches(o, w.selector))
        w.res.write(JSON.stringify({ type, object: o }) + "\n");
    }
  }

  /** A create: 403 when forbidden, 409 for a name taken, else the object stored and returned. */
  private create(req: IncomingMessage, res: ServerResponse, plural: string): void {
    let body = "";
    req.on("data", (c: Buffer) => (body += c));
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      const o = JSON.parse(body) as Obj;
      const status = (code: number, reason: string): void =>
        void res.writeHead(code).end(JSON.stringify({ kind: "Status", code, reason, message: reason }));
      if (this.forbidCreate) return status(403, "Forbidden");
      if (this.store.get(plural)?.has(o.metadata!.name!)) return status(409, "AlreadyExists");
      this.put(plural, o);
      res.writeHead(201).end(JSON.stringify(o));
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    const served = this.discovery.get(url.pathname);
    if (served) {
      const resources = served.map((name) => ({
        name,
        singularName: "",
        namespaced: true,
        kind: "X",
        verbs: ["list"],
      }));
      res.setHeader("content-type", "application/json");
      return void res.end(
        JSON.stringify({ kind: "APIResourceList", groupVersion: url.pathname.slice(6), resources }),
      );
    }
    const m = /\/namespaces\/[^/]+\/([a-z]+)(?:\/([^/]+)\/log)?$/.exec(url.pathname);
    if (!m) return void res.writeHead(404).end();
    const [, plural, logOf] = m;
    if (req.method === "POST") return this.create(req, res, plural);
    if (logOf) return void res.writeHead(200, { "content-type": "text/plain" }).end(`log of ${logOf}\n`);
    const q = url.searchParams;
    const selector = q.get("labelSelector") ?? "";
    res.setHeader("content-type", "application/json");
    if (plural === "events") {
      const uid = /involvedObject\.uid=(.*)/.exec(q.get("fieldSelector") ?? "")?.[1];
      const items = [
        { metadata: { name: "e1" }, involvedObject: { uid }, reason: "Created", message: `made ${uid}` },
      ];
      return void res.end(JSON.stringify({ metadata: {}, items }));
    }
    if (q.get("watch") === "true") {
      this.watchRequests += 1;
      res.writeHead(200).flushHeaders(); // as the API server does: headers first, events later
      if (this.expireNextWatch) {
        this.expireNextWatch = false;
        res.write(
          JSON.stringify({ type: "ERROR", object: { kind: "Status", code: 410, message: "too old" } }) + "\n",
        );
        return void res.end();
      }
      const since = Number(q.get("resourceVersion") ?? this.rv);
      for (const h of this.history) {
        if (
          h.plural === plural &&
          Number(h.object.metadata?.resourceVersion) > since &&
          matches(h.object, selector)
        ) {
          res.write(JSON.stringify({ type: h.type, object: h.object }) + "\n");
        }
      }
      const w = { plural, selector, res };
      this.watches.add(w);
      req.on("close", () => this.watches.delete(w));
      return;
    }
    const items = [...(this.store.get(plural)?.values() ?? [])].filter((o) => matches(o, selector));
    res.end(JSON.stringify({ metadata: { resourceVersion: String(this.rv) }, items }));
  }
}

/** `k=v` and `k in (a,b)` terms, comma-separated, all of which must hold. */
function matches(o: Obj, selector: string): boolean {
  const labels = o.metadata?.labels ?? {};
  for (const term of selector.match(/[^,(]+\([^)]*\)|[^,]+/g) ?? []) {
    const set = /^\s*(\S+)\s+in\s+\(([^)]*)\)\s*$/.exec(term);
    if (set && !set[2].split(",").includes(labels[set[1]] ?? "\0")) return false;
    const eq = /^([^=]+)=(.*)$/.exec(term);
    if (!set && eq && labels[eq[1]] !== eq[2]) return false;
  }
  return true;
}

const job = (name: string, action: string, status: Record<string, unknown> = {}): Obj => ({
  metadata: { name, labels: { "action-id": action, "client-id": "c-1", "created-by": "executor" } },
  status,
});
const pod = (name: string, action: string, phase: string, waiting?: string): Obj => ({
  metadata: { name, labels: { "action-id": action, "client-id": "c-1" } },
  spec: { containers: [{ name: "benchmark", image: "x" }] },
  status: {
    phase,
    ...(waiting
      ? { containerStatuses: [{ name: "benchmark", state: { waiting: { reason: waiting } } }] }
      : {}),
  },
});
const later = (ms: number, f: () => void): void => void setTimeout(f, ms);

describe("kube harness (component, fake API server)", () => {
  let api: FakeApi;
  let k: KubeHarness;

  beforeEach(async () => {
    api = new FakeApi();
    const server = await api.start();
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "fake", server, skipTLSVerify: true }],
      users: [{ name: "u" }],
      contexts: [{ name: "fake", cluster: "fake", user: "u" }],
      currentContext: "fake",
    });
    k = new KubeHarness(kc, "ns", 2_000);
  });
  afterEach(() => api.stop());

  it("waits for a job to exist, succeed and be gone, selected by its labels", async () => {
    api.put("jobs", job("b-other", "a-2"));
    const exists = k.waitFor("job", byAction("a-1"), "exists");
    later(50, () => api.put("jobs", job("b-a-1", "a-1", { active: 1 })));
    const [j] = await exists;
    expect(j.metadata?.name).to.equal("b-a-1");

    later(50, () =>
      api.put("jobs", job("b-a-1", "a-1", { conditions: [{ type: "Complete", status: "True" }] })),
    );
    await k.waitFor("job", byAction("a-1"), "succeeded");
    later(50, () => api.remove("jobs", "b-a-1"));
    expect(await k.waitFor("job", byAction("a-1"), "gone")).to.deep.equal([]);
    expect((await k.list("job", {})).map((x) => x.metadata?.name)).to.deep.equal(["b-other"]);
  });

  it("custom objects: tells whether the cluster serves MPIJobs, and waits for one by its labels", async () => {
    expect(await k.serves("mpijob")).to.equal(false); // no CRD: discovery answers 404
    expect(await k.serves("job")).to.equal(true);
    api.discovery.set("/apis/kubeflow.org/v1", ["tfjobs"]);
    expect(await k.serves("mpijob")).to.equal(false);
    api.discovery.set("/apis/kubeflow.org/v1", ["tfjobs", "mpijobs"]);
    expect(await k.serves("mpijob")).to.equal(true);

    const mpijob = (name: string, action: string, status?: Record<string, unknown>): Obj => ({
      ...job(name, action, status),
      apiVersion: "kubeflow.org/v1",
      kind: "MPIJob",
    });
    const exists = k.waitFor("mpijob", byAction("a-1"), "exists");
    later(50, () => api.put("mpijobs", mpijob("b-a-1", "a-1")));
    const [m] = await exists;
    expect(m.metadata?.labels).to.include({ "action-id": "a-1", "created-by": "executor" });
    // Without an operator it never starts: a wait for that says what it saw.
    const stuck = await k.waitFor("mpijob", byAction("a-1"), "running", { timeoutMs: 300 }).catch((e) => e);
    expect(String(stuck)).to.match(/mpijob b-a-1: no status/);
    // With one, its conditions end it.
    later(50, () =>
      api.put("mpijobs", mpijob("b-a-1", "a-1", { conditions: [{ type: "Succeeded", status: "True" }] })),
    );
    await k.waitFor("mpijob", byAction("a-1"), "succeeded");
    later(50, () => api.remove("mpijobs", "b-a-1"));
    expect(await k.waitFor("mpijob", byAction("a-1"), "gone")).to.deep.equal([]);
  });

  it("resolves at once from the list when the state already holds", async () => {
    api.put("pods", pod("p-1", "a-1", "Succeeded"));
    await k.waitFor("pod", byAction("a-1"), "running"); // started = running or already finished
    await k.waitFor("pod", byAction("a-9"), "gone");
  });

  it("times out naming what it awaited and the last state it saw", async () => {
    api.put("pods", pod("p-1", "a-1", "Pending", "ErrImageNeverPull"));
    const e = await k.waitFor("pod", byAction("a-1"), "succeeded", { timeoutMs: 300 }).catch((x) => x);
    expect(e).to.be.instanceOf(KubeWaitError);
    expect(e.message).to.match(
      /timed out after 300 ms waiting for pod action-id=a-1 to succeed in namespace ns/,
    );
    expect(e.message).to.contain("pod p-1: Pending [benchmark: ErrImageNeverPull]");
    const none = await k.waitFor("job", byAction("a-7"), "exists", { timeoutMs: 200 }).catch((x) => x);
    expect(none.message).to.contain("no jobs matched");
  });

  it("fails fast when the object ends the other way", async () => {
    // The timeout is longer than the test's own: only failing fast can end this wait in time,
    // and the message says which way it ended (a timeout would say "timed out").
    const wait = k.waitFor("pod", byAction("a-1"), "succeeded", { timeoutMs: 120_000 }).catch((x) => x);
    later(50, () => api.put("pods", pod("p-1", "a-1", "Failed")));
    const e = await wait;
    expect(e.message).to.contain("pod p-1 ended failed instead");
    expect(e.message).to.not.contain("timed out");
  });

  it("resumes a watch the server ended, and re-lists after 410 Gone", async () => {
    api.expireNextWatch = true;
    const wait = k.waitFor("job", byAction("a-1"), "exists");
    later(100, () => api.closeWatches());
    later(200, () => api.put("jobs", job("b-a-1", "a-1")));
    await wait;
    expect(api.watchRequests).to.be.at.least(3);
  });

  it("collects the test's jobs and pods with their events and logs", async () => {
    api.put("jobs", job("b-a-1", "a-1"));
    api.put("pods", pod("b-a-1-xyz", "a-1", "Failed"));
    api.put("pods", pod("someone-else", "a-2", "Running"));
    const dir = mkdtempSync(path.join(tmpdir(), "kube-artifacts-"));
    try {
      await k.collect(["c-1", "a-1"], dir);
      expect(readdirSync(dir).sort()).to.deep.equal([
        "job.b-a-1.json",
        "pod.b-a-1-xyz.benchmark.log",
        "pod.b-a-1-xyz.json",
        "pod.someone-else.benchmark.log", // same client id
        "pod.someone-else.json",
        "selectors.json",
      ]);
      const j = JSON.parse(readFileSync(path.join(dir, "job.b-a-1.json"), "utf8"));
      expect(j.object.metadata.name).to.equal("b-a-1");
      expect(j.events[0]).to.include({ reason: "Created", message: "made uid-b-a-1" });
      expect(readFileSync(path.join(dir, "pod.b-a-1-xyz.benchmark.log"), "utf8")).to.equal(
        "log of b-a-1-xyz\n",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("collects the test's MPIJobs too where the cluster serves them", async () => {
    api.put("mpijobs", job("b-a-1", "a-1"));
    const dir = mkdtempSync(path.join(tmpdir(), "kube-artifacts-"));
    try {
      await k.collect(["a-1"], dir);
      expect(readdirSync(dir)).to.not.include("mpijob.b-a-1.json"); // no CRD: not asked for
      api.discovery.set("/apis/kubeflow.org/v1", ["mpijobs"]);
      await k.collect(["a-1"], dir);
      expect(readdirSync(dir)).to.include("mpijob.b-a-1.json");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("starts a CronJob's run now: a Job from its template, owned by it; refuses none, several, or no right", async () => {
    const cron = (name: string, action: string): Obj => ({
      metadata: { name, uid: `uid-${name}`, labels: { "action-id": action } },
      spec: {
        schedule: "0 0 1 1 *",
        jobTemplate: {
          metadata: { labels: { "action-id": action, "created-by": "executor" }, annotations: { a: "1" } },
          spec: { template: { spec: { containers: [{ name: "starter", image: "x" }] } } },
        },
      },
    });
    await k.startCronJob({ "action-id": "a-1" }).then(
      () => expect.fail("started a CronJob that does not exist"),
      (e: Error) => expect(e.message).to.match(/no CronJob match action-id=a-1 in namespace ns/),
    );
    api.put("cronjobs", cron("b-a-1", "a-1"));
    const run = await k.startCronJob({ "action-id": "a-1" });
    expect(run.metadata?.name).to.match(/^b-a-1-manual-[0-9a-f]{5}$/);
    const [stored] = api.store.get("jobs")!.values();
    expect(stored.metadata).to.deep.include({
      name: run.metadata?.name,
      labels: { "action-id": "a-1", "created-by": "executor" },
      annotations: { a: "1", "cronjob.kubernetes.io/instantiate": "manual" },
      ownerReferences: [
        { apiVersion: "batch/v1", kind: "CronJob", name: "b-a-1", uid: "uid-b-a-1", controller: true },
      ],
    });
    expect(stored.spec).to.deep.equal((cron("b-a-1", "a-1").spec!.jobTemplate as Obj).spec);
    await k.waitFor("job", byAction("a-1"), "exists"); // what a test waits for next

    api.put("cronjobs", cron("b-a-2", "a-1"));
    await k.startCronJob(byAction("a-1")).then(
      () => expect.fail("started one of two"),
      (e: Error) => expect(e.message).to.match(/2 CronJobs \(b-a-1, b-a-2\) match action-id=a-1/),
    );
    api.forbidCreate = true;
    await k.startCronJob({ "action-id": "a-2" }).then(
      () => expect.fail("no CronJob a-2"),
      (e: Error) => expect(e.message).to.match(/no CronJob/),
    );
    api.remove("cronjobs", "b-a-2");
    await k.startCronJob(byAction("a-1")).then(
      () => expect.fail("created a Job without the right to"),
      (e: Error) =>
        expect(e.message).to.match(/refused to create Job b-a-1-manual-.* \(403\).*inception:suite\.rules/),
    );
  });

  it("names a started run within a Job name's 63 characters", () => {
    const long = "b-" + "x".repeat(61);
    const j = jobFromCronJob(
      {
        metadata: { name: long, uid: "u" },
        spec: { schedule: "@daily", jobTemplate: { spec: { template: {} } } },
      },
      "abcde",
    );
    expect(j.metadata!.name)
      .to.have.length(63)
      .and.match(/-manual-abcde$/);
    expect(() =>
      jobFromCronJob({ metadata: { name: "c" }, spec: { schedule: "@daily", jobTemplate: {} } }, "a"),
    ).to.throw(/CronJob c has no jobTemplate\.spec or no uid/);
  });

  it("configures itself from KUBECONFIG, KUBE_CONTEXT and NAMESPACE", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "kubeconfig-"));
    const file = path.join(dir, "config");
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: "v1",
        clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:1" } }],
        users: [{ name: "u", user: {} }],
        contexts: [
          { name: "one", context: { cluster: "c", user: "u", namespace: "from-context" } },
          { name: "two", context: { cluster: "c", user: "u" } },
        ],
        "current-context": "two",
      }),
    );
    try {
      const env = { KUBECONFIG: file, WAIT_TIMEOUT_MS: "1234" };
      expect(KubeHarness.fromEnv(env).namespace).to.equal("default");
      const one = KubeHarness.fromEnv({ ...env, KUBE_CONTEXT: "one" });
      expect([one.namespace, one.kc.getCurrentContext(), one.defaultTimeoutMs]).to.deep.equal([
        "from-context",
        "one",
        1234,
      ]);
      expect(KubeHarness.fromEnv({ ...env, KUBE_CONTEXT: "one", NAMESPACE: "ns" }).namespace).to.equal("ns");
      expect(() => KubeHarness.fromEnv({ ...env, KUBE_CONTEXT: "three" })).to.throw(
        /KUBE_CONTEXT "three" is not in/,
      );
      expect(() => KubeHarness.fromEnv({ KUBECONFIG: path.join(dir, "nope") })).to.throw(
        /no Kubernetes config/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("waits against an API server that fails (@inception/kube)", () => {
  it("back off between retries, keep their deadline and say what they met", async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests += 1;
      res.writeHead(503, { "content-type": "application/json" }).end('{"message":"etcd is down"}');
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [
          {
            name: "down",
            server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            skipTLSVerify: true,
          },
        ],
        users: [{ name: "u" }],
        contexts: [{ name: "down", cluster: "down", user: "u" }],
        currentContext: "down",
      });
      const t0 = Date.now();
      const e = await new KubeClient(kc, "ns")
        .waitFor("job", "inception.dev/suite-run=r1", "ended", { timeoutMs: 4_000 })
        .catch((x: Error) => x);
      expect(e).to.be.instanceOf(KubeWaitError);
      expect(Date.now() - t0).to.be.within(3_900, 5_000);
      const msg = (e as Error).message;
      expect(msg).to.contain("waiting for job inception.dev/suite-run=r1 to end in namespace ns");
      expect(msg).to.contain("no jobs matched");
      expect(msg).to.match(/API errors during the wait \(\d+, the last \d+\):\n {2}\+\d+ ms HTTP 503/);
      // 250, 500, 1000, 2000 ms apart: 5 requests in 4 s, where a fixed 500 ms retry makes 8 and
      // no pause at all thousands.
      expect(requests).to.be.within(3, 6);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
