/**
 * How a run starts, against a fake API server (fake-kube.ts): the suite Job is created suspended and
 * the hook resumes it once every service under test is Ready; a service that never becomes Ready
 * ends the run with its own verdict and artifacts, the Job left suspended.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { V1Deployment, V1Pod } from "@kubernetes/client-node";
import { deploymentDetail } from "@inception/kube";
import { emitArtifacts } from "@inception/runner/run";
import { SUITE_RUN_LABEL, VERDICT_FILE } from "../../infra/suite/collect";
import {
  COULD_NOT_START_FILE,
  awaitServices,
  kubeClient,
  podStateLine,
  runHook,
} from "../../infra/suite/hook";
import { runHostHook } from "../../infra/suite/host";
import { HookSettings } from "../../infra/suite/settings";
import { FakeKube, Obj } from "./fake-kube";

const RUN = "20261201t000000z-0001";
const JOB = `suite-${RUN}`;
const SERVICE_LABELS = { "app.kubernetes.io/name": "executor" };

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "inception-start-"));

function settings(api: FakeKube, over: Partial<HookSettings> = {}): HookSettings {
  return {
    runner: "job",
    kubeconfig: api.kubeconfig(),
    context: "fake",
    namespace: "n",
    jobName: JOB,
    runId: RUN,
    stack: "local",
    stage: "local",
    gitCommit: "0123456789abcdef",
    runDir: path.join(tmp(), RUN),
    services: [
      {
        name: "executor",
        podSelector: "app.kubernetes.io/name=executor",
        spawnedSelector: "created-by=executor",
        readyTimeoutSeconds: 2,
      },
    ],
    timeoutSeconds: 20,
    keepRuns: 5,
    hostEnv: {},
    redactEnv: [],
    couldNotStart: [],
    mockInfra: [],
    ...over,
  };
}

const suiteJob = (name = JOB, runId = RUN, spec: Record<string, unknown> = { suspend: true }): Obj => ({
  metadata: { name, labels: { [SUITE_RUN_LABEL]: runId } },
  spec: { ...spec, template: { spec: { containers: [{ name: "suite", image: "suite:1" }] } } },
  status: {},
});

const deployment = (available: boolean): Obj => ({
  metadata: { name: "executor", generation: 2, labels: SERVICE_LABELS },
  spec: { replicas: 1, template: { spec: { containers: [{ name: "executor", image: "executor:1" }] } } },
  status: available
    ? { observedGeneration: 2, replicas: 1, updatedReplicas: 1, availableReplicas: 1 }
    : {
        observedGeneration: 2,
        replicas: 1,
        updatedReplicas: 1,
        unavailableReplicas: 1,
        conditions: [
          {
            type: "Available",
            status: "False",
            reason: "MinimumReplicasUnavailable",
            message: "Deployment does not have minimum availability.",
          },
        ],
      },
});

const CRASHING_POD = "executor-6d4f-x1";
const crashingPod = (): Obj => ({
  metadata: { name: CRASHING_POD, labels: SERVICE_LABELS },
  spec: { containers: [{ name: "executor", image: "executor:1" }] },
  status: {
    phase: "Running",
    conditions: [{ type: "Ready", status: "False" }],
    containerStatuses: [
      {
        name: "executor",
        restartCount: 3,
        state: { waiting: { reason: "CrashLoopBackOff" } },
        lastState: { terminated: { exitCode: 1, reason: "Error" } },
      },
    ],
  },
});

/** A pod Running and Ready (the kubelet's view), of the service unless labels say otherwise. */
const readyPod = (name = "executor-6d4f-y2", labels: Record<string, string> = SERVICE_LABELS): Obj => ({
  metadata: { name, labels },
  spec: { containers: [{ name: "c", image: "c:1" }] },
  status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
});

/** The same pod restarting: Running, its Ready condition false. */
const unreadyPod = (name = "executor-6d4f-y2", labels: Record<string, string> = SERVICE_LABELS): Obj => ({
  ...readyPod(name, labels),
  status: { phase: "Running", conditions: [{ type: "Ready", status: "False" }] },
});

const KAFKA_LABELS = {
  "app.kubernetes.io/name": "kafka",
  "app.kubernetes.io/part-of": "inception-mock-infra",
};
const KAFKA = {
  name: "kafka",
  podSelector: "app.kubernetes.io/name=kafka,app.kubernetes.io/part-of=inception-mock-infra",
  readyTimeoutSeconds: 300,
};

/** Runs f with stdout and stderr captured. */
async function captured<T>(f: () => Promise<T>): Promise<{ value: T; stdout: string; stderr: string }> {
  const out: string[] = [];
  const errs: string[] = [];
  const write = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = ((c: string) => out.push(String(c)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((c: string) => errs.push(String(c)) > 0) as typeof process.stderr.write;
  try {
    return { value: await f(), stdout: out.join(""), stderr: errs.join("") };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
}
const lastLine = (out: string) => JSON.parse(out.trim().split("\n").pop() ?? "");

/** The suite's log as the runner prints it: one passed test, then its artifacts block. */
function suiteLog(): string {
  const src = tmp();
  fs.writeFileSync(
    path.join(src, "results.json"),
    JSON.stringify({ passed: 1, failed: 0, pending: 0, durationMs: 5, failures: [], tests: [] }),
  );
  const lines = ["✔ runs a job (5 ms)"];
  emitArtifacts(src, (l) => lines.push(l));
  return lines.join("\n") + "\n";
}

/** The Job controller, as far as the hook sees it: a resumed Job runs one pod to completion. */
function runJobWhenResumed(api: FakeKube, name = JOB, runId = RUN): void {
  api.onPatch = (p, o) => {
    if (p.plural !== "jobs" || p.name !== name || o.spec?.suspend !== false) return;
    const pod = `${name}-abcde`;
    api.logs.set(`${pod}/suite`, suiteLog());
    api.put("pods", {
      metadata: { name: pod, labels: { "job-name": name, [SUITE_RUN_LABEL]: runId } },
      spec: { containers: [{ name: "suite", image: "suite:1" }] },
      status: { phase: "Succeeded" },
    });
    api.put("jobs", {
      ...o,
      status: { succeeded: 1, conditions: [{ type: "Complete", status: "True" }] },
    });
  };
}

describe("starting a run: the suite Job waits, suspended, for the services", () => {
  let api: FakeKube;
  beforeEach(async () => {
    api = new FakeKube();
    await api.start();
  });
  afterEach(() => api.stop());

  it("a service that never becomes Ready: verdict service-not-ready with its pods' states and logs, the Job never resumed", async () => {
    api.put("jobs", suiteJob());
    api.put("deployments", deployment(false));
    api.put("pods", crashingPod());
    api.logs.set(`${CRASHING_POD}/executor`, "2026-12-01T00:00:01Z starting\n");
    api.logs.set(
      `${CRASHING_POD}/executor/previous`,
      "2026-12-01T00:00:00Z Error: KAFKA_BOOTSTRAP_SERVERS\n",
    );
    api.events.set(`uid-${CRASHING_POD}`, [
      { type: "Warning", reason: "BackOff", message: "Back-off restarting failed container" },
    ]);
    api.events.set("uid-executor", [{ reason: "ScalingReplicaSet", message: "Scaled up to 1" }]);
    const s = settings(api);
    const t0 = Date.now();
    const r = await captured(() => runHook(s, t0));

    expect(r.value).to.equal(0);
    expect(Date.now() - t0, "bounded by readyTimeoutSeconds").to.be.below(10_000);
    const line = lastLine(r.stdout);
    expect(line).to.deep.include({ ok: false, cause: "service-not-ready" });
    expect(line.reason).to.equal(
      `service executor is not Ready after 2s: ${CRASHING_POD} Running, not Ready ` +
        "(executor: CrashLoopBackOff, last exit 1 Error), 3 restarts (the suite did not start)",
    );
    expect(line.tests.error).to.equal(line.reason);
    expect(r.stderr).to.contain(
      "timed out after 2000 ms waiting for deployment app.kubernetes.io/name=executor",
    );
    expect(r.stderr).to.contain(`suite Job ${JOB} left suspended`);

    // Never resumed: no patch, still suspended, no suite pod.
    expect(api.patches).to.deep.equal([]);
    expect(api.get("jobs", JOB)?.spec?.suspend).to.equal(true);

    const dir = s.runDir;
    const verdictFile = JSON.parse(fs.readFileSync(path.join(dir, VERDICT_FILE), "utf8"));
    expect(verdictFile).to.deep.include({ ok: false, cause: "service-not-ready", counts: null });
    const svc = path.join(dir, "cluster", "services", "executor");
    expect(fs.readFileSync(path.join(svc, `${CRASHING_POD}.executor.log`), "utf8")).to.contain("starting");
    expect(fs.readFileSync(path.join(svc, `${CRASHING_POD}.executor.previous.log`), "utf8")).to.contain(
      "Error: KAFKA_BOOTSTRAP_SERVERS",
    );
    const podDescribe = JSON.parse(
      fs.readFileSync(path.join(svc, `${CRASHING_POD}.pod.describe.json`), "utf8"),
    );
    expect(podDescribe.events.join("\n")).to.contain("Warning BackOff: Back-off restarting failed container");
    const depDescribe = JSON.parse(
      fs.readFileSync(path.join(svc, "executor.deployment.describe.json"), "utf8"),
    );
    expect(depDescribe.object.status.conditions[0].reason).to.equal("MinimumReplicasUnavailable");
    expect(depDescribe.events.join("\n")).to.contain("ScalingReplicaSet");
    const jobDescribe = JSON.parse(
      fs.readFileSync(path.join(dir, "cluster", `${JOB}.job.describe.json`), "utf8"),
    );
    expect(jobDescribe.object.spec.suspend).to.equal(true);
    const html = fs.readFileSync(path.join(dir, "report.html"), "utf8");
    expect(html).to.contain("service executor is not Ready");
    expect(html).to.contain("a service under test did not become Ready");
    expect(fs.readFileSync(path.join(path.dirname(dir), "index.html"), "utf8")).to.contain(RUN);
  });

  it("services that become Ready: the hook resumes the Job only then, and follows it to a green verdict", async () => {
    api.put("jobs", suiteJob());
    api.put("deployments", deployment(false));
    api.put("pods", readyPod());
    api.logs.set("executor-6d4f-y2/executor", "2026-12-01T00:00:01Z ready\n");
    runJobWhenResumed(api);
    let readyAt = 0;
    const fake = api; // this test's, not whichever test runs when the timer fires
    setTimeout(() => {
      readyAt = Date.now();
      fake.put("deployments", deployment(true));
    }, 400);
    const s = settings(api, { services: [{ ...settings(api).services[0], readyTimeoutSeconds: 30 }] });
    const r = await captured(() => runHook(s));

    const line = lastLine(r.stdout);
    expect(line, r.stderr).to.deep.include({ ok: true, cause: "passed" });
    expect(api.patches.map((p) => [p.name, p.ops])).to.deep.equal([
      [JOB, [{ op: "add", path: "/spec/suspend", value: false }]],
    ]);
    expect(readyAt).to.be.above(0);
    expect(api.patches[0].at, "resumed after the service was Ready").to.be.at.least(readyAt);
    expect(r.stderr).to.contain("service executor is Ready");
    expect(r.stderr).to.contain(`suite Job n/${JOB} resumed`);
    expect(fs.readFileSync(path.join(s.runDir, "suite.log"), "utf8")).to.contain("✔ runs a job");
  });

  it("a Job an earlier up of the same run started (rerun onChange) is followed as it is, the services not awaited", async () => {
    api.put("jobs", {
      ...suiteJob(JOB, RUN, { suspend: false }),
      status: { succeeded: 1, conditions: [{ type: "Complete", status: "True" }] },
    });
    api.put("pods", {
      metadata: { name: `${JOB}-abcde`, labels: { "job-name": JOB, [SUITE_RUN_LABEL]: RUN } },
      spec: { containers: [{ name: "suite", image: "suite:1" }] },
      status: { phase: "Succeeded" },
    });
    api.logs.set(`${JOB}-abcde/suite`, suiteLog());
    // Not Ready now: it does not matter for a run that already ran.
    api.put("deployments", deployment(false));
    api.put("pods", crashingPod());
    const t0 = Date.now();
    const r = await captured(() => runHook(settings(api)));
    expect(lastLine(r.stdout), r.stderr).to.deep.include({ ok: true, cause: "passed" });
    expect(api.patches).to.deep.equal([]);
    expect(r.stderr).to.contain("was started by an earlier up of this run");
    expect(r.stderr).to.not.contain("waiting for executor");
    expect(Date.now() - t0).to.be.below(2000);
  });

  it("a Deployment that says available while its pod is not Ready (an engine restart) holds the suite until the pod is", async () => {
    api.put("jobs", suiteJob());
    // The controller manager's relayed status, stale; the kubelet's own says the pod restarts.
    api.put("deployments", deployment(true));
    api.put("pods", unreadyPod());
    runJobWhenResumed(api);
    let readyAt = 0;
    const fake = api;
    setTimeout(() => {
      readyAt = Date.now();
      fake.put("pods", readyPod());
    }, 400);
    const s = settings(api, { services: [{ ...settings(api).services[0], readyTimeoutSeconds: 30 }] });
    const r = await captured(() => runHook(s));
    expect(lastLine(r.stdout), r.stderr).to.deep.include({ ok: true, cause: "passed" });
    expect(readyAt).to.be.above(0);
    expect(api.patches[0].at, "resumed after the pod was Ready").to.be.at.least(readyAt);
  });

  it("waits for the mock infra too: a mock pod not Ready holds the suite; one never Ready ends the run could-not-start, naming it", async () => {
    api.put("jobs", suiteJob());
    api.put("deployments", deployment(true));
    api.put("pods", readyPod());
    api.put("pods", unreadyPod("kafka-0", KAFKA_LABELS));
    runJobWhenResumed(api);
    let readyAt = 0;
    const fake = api;
    setTimeout(() => {
      readyAt = Date.now();
      fake.put("pods", readyPod("kafka-0", KAFKA_LABELS));
    }, 400);
    const r = await captured(() => runHook(settings(api, { mockInfra: [KAFKA] })));
    expect(lastLine(r.stdout), r.stderr).to.deep.include({ ok: true, cause: "passed" });
    expect(r.stderr).to.contain(
      "inception: waiting for mock kafka (at most 300s), executor (at most 2s) to be Ready",
    );
    expect(r.stderr).to.contain("inception: mock kafka is Ready");
    expect(api.patches[0].at, "resumed after Kafka was Ready").to.be.at.least(readyAt);

    // Never Ready: the wait's bound is the mock's (300 s); asked directly with a short one here.
    api.put("pods", unreadyPod("kafka-0", KAFKA_LABELS));
    const k = kubeClient(settings(api));
    const waits = k.waitFor.bind(k);
    k.waitFor = ((
      kind: Parameters<typeof waits>[0],
      sel: Parameters<typeof waits>[1],
      state: Parameters<typeof waits>[2],
      o?: Parameters<typeof waits>[3],
    ) =>
      waits(kind, sel, state, { ...o, timeoutMs: Math.min(o?.timeoutMs ?? 500, 500) })) as typeof k.waitFor;
    const never = await captured(() => awaitServices(k, settings(api, { mockInfra: [KAFKA] })));
    expect(never.value?.cause).to.equal("could-not-start");
    expect(never.value?.reason).to.match(/^mock kafka is not Ready after 300s: kafka-0 Running, not Ready/);
    expect(never.value?.reason).to.match(/\(the suite did not start\)$/);
  });

  it("a mock that never becomes Ready: the run could-not-start names it, in the outputs' line, verdict.json and the report; the Job never resumed", async () => {
    api.put("jobs", suiteJob());
    api.put("deployments", deployment(true));
    api.put("pods", readyPod());
    api.put("pods", unreadyPod("kafka-0", KAFKA_LABELS));
    const s = settings(api, { mockInfra: [{ ...KAFKA, readyTimeoutSeconds: 1 }] });
    const t0 = Date.now();
    const r = await captured(() => runHook(s, t0));

    expect(r.value).to.equal(0);
    expect(Date.now() - t0, "bounded by the mock's readyTimeoutSeconds").to.be.below(10_000);
    const line = lastLine(r.stdout);
    expect(line).to.deep.include({ ok: false, cause: "could-not-start" });
    expect(line.reason).to.equal(
      "mock kafka is not Ready after 1s: kafka-0 Running, not Ready (the suite did not start)",
    );
    expect(line.tests.error).to.equal(line.reason);
    expect(api.patches).to.deep.equal([]);
    expect(api.get("jobs", JOB)?.spec?.suspend).to.equal(true);
    const verdictFile = JSON.parse(fs.readFileSync(path.join(s.runDir, VERDICT_FILE), "utf8"));
    expect(verdictFile).to.deep.include({ ok: false, cause: "could-not-start", counts: null });
    expect(fs.readFileSync(path.join(s.runDir, "report.html"), "utf8")).to.contain("mock kafka is not Ready");
  });

  it("a service whose readiness cannot be read (403) is the API's failure, not the service's", async () => {
    api.forbidden.add("deployments");
    api.forbidden.add("pods");
    const r = await captured(() => awaitServices(kubeClient(settings(api)), settings(api)));
    expect(r.value?.cause).to.equal("hook-error");
    expect(r.value?.reason).to.match(
      /^could not tell whether service executor is Ready: cannot wait for deployment/,
    );
    expect(r.value?.reason).to.contain("HTTP 403");
  });

  it("the host runner waits for the services the same way, and does not run the suite without them", async () => {
    api.put("deployments", deployment(false));
    api.put("pods", crashingPod());
    api.logs.set(`${CRASHING_POD}/executor`, "log\n");
    api.logs.set(`${CRASHING_POD}/executor/previous`, "crash\n");
    const s = settings(api, { runner: "host", jobName: "", hostEnv: { SUITE_DIR: "/nowhere" } });
    const r = await captured(() => runHostHook(s, Date.now()));
    expect(lastLine(r.stdout)).to.deep.include({ ok: false, cause: "service-not-ready" });
    expect(fs.existsSync(path.join(s.runDir, "suite.log")), "the suite never ran").to.equal(false);
    expect(
      fs.existsSync(
        path.join(s.runDir, "cluster", "services", "executor", `${CRASHING_POD}.executor.previous.log`),
      ),
    ).to.equal(true);
  });
});

describe("stale suite Jobs: an interrupted up's Job is stopped before the next run starts", () => {
  let api: FakeKube;
  beforeEach(async () => {
    api = new FakeKube();
    await api.start();
  });
  afterEach(() => api.stop());

  const STALE = "suite-20261130t000000z-0001";
  const staleJobs = (): void => {
    // Still running: an up interrupted while its suite ran.
    api.put("jobs", {
      ...suiteJob(STALE, "20261130t000000z-0001", { suspend: false }),
      status: { active: 1 },
    });
    // Ended, or suspended already: left alone.
    api.put("jobs", {
      ...suiteJob("suite-20261129t000000z-0001", "20261129t000000z-0001", { suspend: false }),
      status: { succeeded: 1, conditions: [{ type: "Complete", status: "True" }] },
    });
    api.put("jobs", suiteJob("suite-20261128t000000z-0001", "20261128t000000z-0001", { suspend: true }));
  };

  it("suspends every other suite Job still going, then resumes this run's, and says so in one line", async () => {
    staleJobs();
    api.put("jobs", suiteJob());
    api.put("deployments", deployment(true));
    api.put("pods", readyPod());
    runJobWhenResumed(api);
    const r = await captured(() => runHook(settings(api)));
    expect(lastLine(r.stdout), r.stderr).to.deep.include({ ok: true, cause: "passed" });
    expect(api.patches.map((p) => [p.name, p.ops[0].value])).to.deep.equal([
      [STALE, true],
      [JOB, false],
    ]);
    expect(api.get("jobs", STALE)?.spec?.suspend).to.equal(true);
    expect(api.deleted, "kept for inspection").to.deep.equal([]);
    const lines = r.stderr.split("\n").filter((l) => l.includes("stale suite Job"));
    expect(lines).to.deep.equal([
      `inception: stopped 1 stale suite Job of an earlier, interrupted up (suspended, kept for inspection): ${STALE} (1 active)`,
    ]);
  });

  it("the host runner stops them too; none left, nothing said", async () => {
    staleJobs();
    api.put("deployments", deployment(false));
    const s = settings(api, {
      runner: "host",
      jobName: "",
      services: [{ ...settings(api).services[0], readyTimeoutSeconds: 1 }],
    });
    const r = await captured(() => runHostHook(s, Date.now()));
    expect(api.patches.map((p) => [p.name, p.ops[0].value])).to.deep.equal([[STALE, true]]);
    expect(r.stderr).to.contain("stopped 1 stale suite Job");
    const again = await captured(() => runHostHook({ ...s, runDir: path.join(tmp(), RUN) }, Date.now()));
    expect(api.patches).to.have.length(1);
    expect(again.stderr).to.not.contain("stale suite Job");
  });
});

describe("a run that could not start (an image it needs was not published)", () => {
  const BUILD_LOG =
    '#9 [3/4] RUN npm ci\n#9 ERROR: process "/bin/sh -c npm ci" did not complete successfully: exit code: 1';
  const notPublished = [
    { what: "the image of service executor", image: "inception/executor:abc123", log: BUILD_LOG },
    {
      what: "the suite image",
      image: "inception/suite:def456",
      log: "ERROR: failed to solve: no space left",
    },
  ];
  // No API server behind it: a run that could not start has nothing to ask the cluster.
  const nowhere = (runner: "job" | "host") => ({
    ...settings(new FakeKube(), {
      runner,
      jobName: runner === "job" ? JOB : "",
      couldNotStart: notPublished,
    }),
    kubeconfig: "apiVersion: v1\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n",
    context: "c",
  });

  for (const runner of ["job", "host"] as const) {
    it(`${runner} runner: writes the run folder at once — verdict, the build's last lines, report, history — and says why in tests.error`, async () => {
      const s = nowhere(runner);
      const t0 = Date.now();
      const r = await captured(() => (runner === "job" ? runHook(s, t0) : runHostHook(s, t0)));
      expect(r.value).to.equal(0);
      expect(Date.now() - t0, "nothing waited for").to.be.below(3000);
      const reason =
        "could not start: the image of service executor (inception/executor:abc123) could not be built or published; " +
        "the suite image (inception/suite:def456) could not be built or published — " +
        '#9 ERROR: process "/bin/sh -c npm ci" did not complete successfully: exit code: 1';
      const line = lastLine(r.stdout);
      expect(line).to.deep.include({ ok: false, cause: "could-not-start", reason });
      expect(line.tests.error).to.equal(
        `${reason}\nthe image of service executor (inception/executor:abc123):\n${BUILD_LOG}\n\n` +
          "the suite image (inception/suite:def456):\nERROR: failed to solve: no space left",
      );
      const v = JSON.parse(fs.readFileSync(path.join(s.runDir, VERDICT_FILE), "utf8"));
      expect(v).to.deep.include({ ok: false, cause: "could-not-start", reason, counts: null });
      expect(v.detail).to.contain(BUILD_LOG);
      expect(fs.readFileSync(path.join(s.runDir, COULD_NOT_START_FILE), "utf8")).to.contain(
        "ERROR: failed to solve: no space left",
      );
      const html = fs.readFileSync(path.join(s.runDir, "report.html"), "utf8");
      expect(html).to.contain("an image it needs could not be built or published");
      expect(html).to.match(/<pre class="error" id="why">[^<]*did not complete successfully/);
      expect(html).to.contain(`href="${COULD_NOT_START_FILE}"`);
      expect(fs.readFileSync(path.join(path.dirname(s.runDir), "index.html"), "utf8")).to.contain(RUN);
      expect(r.stderr).to.contain(`inception: run ${RUN} FAILED: could not start`);
    });
  }

  it("the same run started later (rerun onChange, the image built by then) no longer lists could-not-start.log", async () => {
    const api = new FakeKube();
    await api.start();
    try {
      const s = settings(api, { runner: "host", jobName: "", services: [] });
      fs.mkdirSync(s.runDir, { recursive: true });
      fs.writeFileSync(path.join(s.runDir, COULD_NOT_START_FILE), "old\n");
      // A suite directory without tests: the run is red, but it started.
      await captured(() =>
        runHostHook(
          { ...s, hostEnv: { SUITE_DIR: tmp(), SUITE_SPEC: "none" }, timeoutSeconds: 30 },
          Date.now(),
        ),
      );
      expect(fs.existsSync(path.join(s.runDir, COULD_NOT_START_FILE))).to.equal(false);
      expect(fs.readFileSync(path.join(s.runDir, "report.html"), "utf8")).to.not.contain(
        COULD_NOT_START_FILE,
      );
    } finally {
      await api.stop();
    }
  });
});

describe("readiness, read from the objects", () => {
  const dep = (generation: number, spec: number, status: Record<string, unknown>) =>
    ({ metadata: { name: "d", generation }, spec: { replicas: spec }, status }) as unknown as V1Deployment;
  it("a Deployment is Ready once its current spec is rolled out: seen, updated, available, no old replica left", () => {
    const done = { observedGeneration: 3, replicas: 2, updatedReplicas: 2, availableReplicas: 2 };
    expect(deploymentDetail(dep(3, 2, done)).started).to.equal(true);
    expect(deploymentDetail(dep(4, 2, done)), "a new spec not yet observed").to.deep.include({
      started: false,
    });
    expect(deploymentDetail(dep(3, 2, { ...done, availableReplicas: 1 })).started).to.equal(false);
    expect(deploymentDetail(dep(3, 2, { ...done, updatedReplicas: 1 })).started).to.equal(false);
    expect(deploymentDetail(dep(3, 2, { ...done, replicas: 3 })).started, "an old pod left").to.equal(false);
    expect(deploymentDetail(dep(3, 0, { observedGeneration: 3 })).started, "zero replicas wanted").to.equal(
      true,
    );
    const stuck = deploymentDetail(
      dep(3, 1, {
        observedGeneration: 3,
        conditions: [
          {
            type: "Progressing",
            status: "False",
            reason: "ProgressDeadlineExceeded",
            message: "took too long",
          },
        ],
      }),
    );
    expect(stuck).to.deep.include({ started: false, outcome: "failed" });
    expect(stuck.detail).to.equal("not available 0/1 updated=0 (ProgressDeadlineExceeded: took too long)");
  });

  it("names a pod's phase, readiness, why its containers wait or ended, and its restarts", () => {
    expect(podStateLine(crashingPod() as V1Pod)).to.equal(
      `${CRASHING_POD} Running, not Ready (executor: CrashLoopBackOff, last exit 1 Error), 3 restarts`,
    );
    const pending = {
      metadata: { name: "p" },
      status: {
        phase: "Pending",
        conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable" }],
        containerStatuses: [
          { name: "c", restartCount: 0, state: { waiting: { reason: "ImagePullBackOff" } } },
        ],
      },
    } as unknown as V1Pod;
    expect(podStateLine(pending)).to.equal(
      "p Pending, not Ready (c: ImagePullBackOff; unscheduled: Unschedulable)",
    );
    const ready = {
      metadata: { name: "r" },
      status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
    };
    expect(podStateLine(ready as unknown as V1Pod)).to.equal("r Running, Ready");
  });
});
