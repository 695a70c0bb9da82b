import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { readResultsLine } from "../../infra/suite";
import { decodeHookSettings } from "../../infra/suite/settings";
import {
  FAKE_TESTS,
  Registered,
  failingPublishes,
  hookOutput,
  runStack,
  runStackExpectingError,
} from "./stack";

type Obj = Record<string, unknown>;
const jobEnv = (job: Registered): Record<string, string | undefined> => {
  const spec = ((job.inputs.spec as Obj).template as Obj).spec as Obj;
  const env = (spec.containers as Obj[])[0].env as { name: string; value?: string }[];
  return Object.fromEntries(env.map((e) => [e.name, e.value]));
};
/** The hook's one settings value (INCEPTION_HOOK_SETTINGS), decoded as the hook does. */
const hookSettings = (hook: Registered) =>
  decodeHookSettings(hook.inputs.environment as Record<string, string>);
const meta = (r: Registered) => r.inputs.metadata as { name: string; annotations?: Obj; labels?: Obj };
/** The suite's Role (what its ServiceAccount may do in the namespace). */
const suiteRole = (run: { of(type: string): Registered[] }): Registered =>
  run.of("kubernetes:rbac.authorization.k8s.io/v1:Role").find((r) => meta(r).name === "suite")!;

describe("services under test and the suite run", () => {
  it("deploys the reference executor by default, wired to the outputs ConfigMap", async () => {
    const run = await runStack("local", {});
    const dep = run.of("kubernetes:apps/v1:Deployment").find((d) => meta(d).name === "executor")!;
    const c = ((((dep.inputs.spec as Obj).template as Obj).spec as Obj).containers as Obj[])[0];
    const env = c.env as { name: string; valueFrom?: { configMapKeyRef?: { key: string } } }[];
    expect(env.find((e) => e.name === "KAFKA_BOOTSTRAP_SERVERS")?.valueFrom?.configMapKeyRef?.key).to.equal(
      "kafka_bootstrap_servers",
    );
    const role = run
      .of("kubernetes:rbac.authorization.k8s.io/v1:Role")
      .find((r) => meta(r).name === "executor")!;
    expect(JSON.stringify(role.inputs.rules)).to.contain("cronjobs");
    expect(run.exports.services).to.deep.equal(["executor"]);
  });

  it("runs the suite as a Job the hook waits for, and exports the hook's results", async () => {
    const run = await runStack("local", {});
    const [job] = run.of("kubernetes:batch/v1:Job");
    expect(meta(job).name).to.equal(`suite-${run.exports.runId}`);
    expect(meta(job).annotations).to.deep.equal({ "pulumi.com/skipAwait": "true" });
    // Created suspended: the hook resumes it once the services are Ready.
    expect((job.inputs.spec as Obj).suspend).to.equal(true);
    expect((job.inputs.spec as Obj).backoffLimit).to.equal(0);
    expect((job.inputs.spec as Obj).activeDeadlineSeconds).to.equal(900);
    const hook = run.of("command:local:Command").find((c) => c.name === "suite-hook")!;
    expect(hookSettings(hook).jobName).to.equal(meta(job).name);
    expect(hookSettings(hook).services).to.deep.equal([
      {
        name: "executor",
        podSelector: "app.kubernetes.io/name=executor",
        spawnedSelector: "created-by=executor",
        readyTimeoutSeconds: 300,
      },
    ]);
    // Each enabled mock, by a selector of exactly its workload's pods: the hook waits for them.
    const mocks = hookSettings(hook).mockInfra;
    expect(mocks.map((m) => m.name)).to.deep.equal(["kafka", "s3", "data-server"]);
    const workloads = [
      ...run.of("kubernetes:apps/v1:StatefulSet"),
      ...run.of("kubernetes:apps/v1:Deployment"),
    ].map((w) => ({
      name: meta(w).name,
      labels: (((w.inputs.spec as Obj).template as Obj).metadata as { labels: Record<string, string> })
        .labels,
    }));
    for (const m of mocks) {
      const wanted = m.podSelector.split(",").map((kv) => kv.split("="));
      const selected = workloads.filter((w) => wanted.every(([k, v]) => w.labels[k] === v));
      expect(
        selected.map((w) => w.name),
        m.name,
      ).to.have.length(1);
    }
    expect(hook.secretInputs).to.include("environment");
    expect(run.exports.tests).to.deep.equal(FAKE_TESTS);
    expect(run.exports.artifactsDir).to.match(new RegExp(`artifacts/local/${run.exports.runId}$`));
    // It reads; the project's suite also creates Jobs (its scheduled test starts a CronJob's run).
    const rules = suiteRole(run).inputs.rules as { resources: string[]; verbs: string[] }[];
    const writes = rules.filter((r) => r.verbs.some((v) => !["get", "list", "watch"].includes(v)));
    expect(writes).to.deep.equal([{ apiGroups: ["batch"], resources: ["jobs"], verbs: ["create"] }]);
  });

  it("with suite.shards, runs an Indexed Job of that many pods, split by the last kept run's durations", async () => {
    // A stack-specific artifacts folder holding one earlier run: its per-file durations balance the split.
    const artifactsDir = `.inception/unit-shards-${process.pid}`;
    const stackDir = path.resolve(__dirname, "../..", artifactsDir, "local");
    const old = path.join(stackDir, "20261130t000000z-0001");
    fs.mkdirSync(old, { recursive: true });
    fs.writeFileSync(
      path.join(old, "results.json"),
      JSON.stringify({
        passed: 3,
        failed: 0,
        tests: [
          { file: "/suite/tests/suites/a.test.ts", durationMs: 700 },
          { file: "/suite/tests/suites/a.test.ts", durationMs: 300 },
          { file: "/suite/tests/suites/b.test.ts", durationMs: 20 },
        ],
      }),
    );
    try {
      const run = await runStack("local", { "inception:suite": { shards: 4, artifactsDir } });
      const [job] = run.of("kubernetes:batch/v1:Job");
      const spec = job.inputs.spec as Obj;
      expect(spec).to.deep.include({
        completionMode: "Indexed",
        completions: 4,
        parallelism: 4,
        backoffLimitPerIndex: 0,
        activeDeadlineSeconds: 900,
        suspend: true,
      });
      // backoffLimit 0 would fail the whole Job (and stop every shard) at the first failed shard.
      expect(spec).to.not.have.property("backoffLimit");
      const durations = { "/suite/tests/suites/a.test.ts": 1000, "/suite/tests/suites/b.test.ts": 20 };
      expect(jobEnv(job).SUITE_SHARDS).to.equal("4");
      expect(JSON.parse(jobEnv(job).SUITE_FILE_DURATIONS ?? "")).to.deep.equal(durations);
      const settings = hookSettings(run.of("command:local:Command").find((c) => c.name === "suite-hook")!);
      expect(settings).to.deep.include({ shards: 4, fileDurations: durations });
    } finally {
      fs.rmSync(path.dirname(stackDir), { recursive: true, force: true });
    }
  });

  it("with one shard (the default), runs the plain Job as before", async () => {
    const run = await runStack("local", {});
    const [job] = run.of("kubernetes:batch/v1:Job");
    const spec = job.inputs.spec as Obj;
    expect(spec.backoffLimit).to.equal(0);
    for (const k of ["completionMode", "completions", "parallelism", "backoffLimitPerIndex"])
      expect(spec).to.not.have.property(k);
    expect(jobEnv(job)).to.not.have.any.keys("SUITE_SHARDS", "SUITE_FILE_DURATIONS");
    const settings = hookSettings(run.of("command:local:Command").find((c) => c.name === "suite-hook")!);
    expect(settings).to.not.have.any.keys("shards", "fileDurations");
  });

  it("hands the hook the report's header: stack, stage and the checkout's commit", async () => {
    const run = await runStack("local", {});
    const settings = hookSettings(run.of("command:local:Command").find((c) => c.name === "suite-hook")!);
    expect(settings).to.deep.include({ stack: "local", stage: "local" });
    // This checkout is a git one: the full commit, as `git rev-parse HEAD` prints it.
    expect(settings.gitCommit).to.match(/^[0-9a-f]{40}$/);
    expect(run.exports.report).to.equal("/r/report.html");
    expect(run.exports.verdict).to.deep.equal({ ok: true, reason: "5 passed", cause: "passed" });
    expect(process.exitCode ?? 0).to.equal(0);
  });

  describe("a red run", () => {
    const red = {
      ok: false,
      reason: "1 test(s) failed",
      cause: "tests-failed",
      report: "/a/local/r2/report.html",
      tests: {
        ...FAKE_TESTS,
        passed: 4,
        failed: 1,
        failures: [{ title: "executor runs a job", message: "m" }],
      },
    };
    const line = hookOutput.line;
    let exitCode: typeof process.exitCode;
    beforeEach(() => {
      exitCode = process.exitCode;
    });
    afterEach(() => {
      hookOutput.line = line;
      // The program sets it to fail `pulumi up`; here it would fail mocha.
      process.exitCode = exitCode;
    });

    it("exports its own results (not the previous run's) and fails the update after them", async () => {
      hookOutput.line = () => `  │ some suite line\n${JSON.stringify(red)}`;
      const run = await runStack("local", {});
      expect(run.exports.tests).to.deep.equal(red.tests);
      expect(run.exports.verdict).to.deep.equal({ ok: false, reason: red.reason, cause: "tests-failed" });
      expect(run.exports.report).to.equal(red.report);
      // The hook itself does not fail (its outputs would be lost): the program does, once it ends.
      expect(process.exitCode).to.equal(32);
    });

    it("with failOnTestFailure false, exports it without failing the update", async () => {
      hookOutput.line = () => JSON.stringify(red);
      const run = await runStack("local", { "inception:suite": { failOnTestFailure: false } });
      expect(run.exports.verdict).to.deep.include({ ok: false, cause: "tests-failed" });
      expect(process.exitCode ?? 0).to.equal(0);
    });

    it("a run that could not start fails the update even with failOnTestFailure false", async () => {
      hookOutput.line = () =>
        JSON.stringify({ ...red, cause: "could-not-start", reason: "could not start: the suite image …" });
      await runStack("local", { "inception:suite": { failOnTestFailure: false } });
      expect(process.exitCode).to.equal(32);
      process.exitCode = exitCode;
      hookOutput.line = () => JSON.stringify({ ...red, cause: "service-not-ready", reason: "service x …" });
      await runStack("local", { "inception:suite": { failOnTestFailure: false } });
      expect(process.exitCode).to.equal(32);
    });

    it("a hook without a results line is a red run saying so in tests.error", async () => {
      hookOutput.line = () => "Segmentation fault";
      const run = await runStack("local", {});
      expect(run.exports.verdict).to.deep.include({ ok: false, cause: "hook-error" });
      expect((run.exports.tests as { error: string }).error).to.contain("Segmentation fault");
      expect(process.exitCode).to.equal(32);
    });
  });

  it("reads the hook's last stdout line; a run that could not start says why in tests.error", () => {
    const noPod = {
      ok: false,
      reason: "no suite pod started: timed out",
      cause: "no-pod",
      tests: {
        passed: 0,
        failed: 0,
        pending: 0,
        durationMs: 0,
        failures: [],
        error: "no suite pod started: timed out",
      },
    };
    expect(readResultsLine(`noise\n${JSON.stringify(noPod)}\n`)).to.deep.equal(noPod);
    expect(readResultsLine("")).to.deep.include({ ok: false, cause: "hook-error" });
    expect(readResultsLine('{"tests":{}}').tests.error).to.match(/printed no results line/);
  });

  it("gives every up a new run id, or a stable one with rerun onChange", async () => {
    const a = await runStack("local", {});
    const b = await runStack("local", {});
    expect(a.exports.runId).to.not.equal(b.exports.runId);
    const c = await runStack("local", { "inception:suite": { rerun: "onChange" } });
    const d = await runStack("local", { "inception:suite": { rerun: "onChange" } });
    const e = await runStack("local", { "inception:suite": { rerun: "onChange", grep: "cancel" } });
    expect(c.exports.runId).to.equal(d.exports.runId);
    expect(c.exports.runId).to.not.equal(e.exports.runId);
  });

  it("packs the project's suites into the default suite image, published to the cluster", async () => {
    const run = await runStack("local", {});
    const publishes = run.of("command:local:Command").filter((c) => c.name.startsWith("suite-image"));
    expect(publishes.map((c) => c.name)).to.deep.equal(["suite-image-base-publish"]);
    // Pushed to the image cache the kind nodes pull from.
    const env = publishes[0].inputs.environment as Record<string, string>;
    expect(env.TARGET).to.equal("registry");
    expect(env.IMAGE).to.match(/^localhost:5002\/inception\/suite:[0-9a-f]{12}$/);
    expect(jobEnv(run.of("kubernetes:batch/v1:Job")[0]).SUITE_DIR).to.equal("/suite/tests/suites");
  });

  it("layers a suite directory and extra files from config on the default suite image", async () => {
    const run = await runStack("local", {
      "inception:suite": {
        dir: "tests/suites/mockinfra",
        extraFiles: ["mock-infra/crds/mpijob.yaml"],
        parallel: true,
      },
    });
    const publish = (n: string) =>
      run.of("command:local:Command").find((c) => c.name === `suite-image-${n}-publish`)!.inputs
        .environment as Record<string, string>;
    // The default image is only built locally: it is the FROM of the suite's own image.
    const names = run.of("command:local:Command").map((c) => c.name);
    expect(names).to.include("suite-image-project-publish");
    expect(publish("base").TARGET).to.equal("local");
    expect(publish("project").TARGET).to.equal("registry");
    expect(publish("project").BUILD_ARGS).to.equal(`SUITE_BASE=${publish("base").IMAGE}`);
    const context = publish("project").CONTEXT;
    for (const f of [
      "Dockerfile",
      "project/tests/suites/mockinfra/mockinfra.test.ts",
      "project/mock-infra/crds/mpijob.yaml",
    ]) {
      expect(fs.existsSync(path.join(context, f)), f).to.equal(true);
    }
    const env = jobEnv(run.of("kubernetes:batch/v1:Job")[0]);
    expect(env.SUITE_DIR).to.equal("/suite/project/tests/suites/mockinfra");
    expect(env.MOCHA_PARALLEL).to.equal("true");
    // A suite of its own only reads, unless suite.rules says otherwise.
    expect(JSON.stringify(suiteRole(run).inputs.rules)).to.not.match(/create|delete|update|patch/);
  });

  it("hands suite.env to the suite Job", async () => {
    const run = await runStack("local", { "inception:suite": { env: { HARNESS_TOPICS: "a,b", LEVEL: 3 } } });
    const env = jobEnv(run.of("kubernetes:batch/v1:Job")[0]);
    expect(env.HARNESS_TOPICS).to.equal("a,b");
    expect(env.LEVEL).to.equal("3");
  });

  it("with runner host, points the runner at the suite directory on this host", async () => {
    const run = await runStack("local", {
      "inception:suite": { runner: "host", dir: "tests/suites/mockinfra" },
    });
    const hook = run.of("command:local:Command").find((c) => c.name === "suite-hook")!;
    const hostEnv = hookSettings(hook).hostEnv;
    expect(hostEnv.SUITE_DIR).to.equal(path.resolve(__dirname, "../../tests/suites/mockinfra"));
  });

  it("with runner host, runs no Job and no suite image", async () => {
    const run = await runStack("local", { "inception:suite": { runner: "host" } });
    expect(run.of("kubernetes:batch/v1:Job")).to.have.length(0);
    expect(run.of("command:local:Command").map((c) => c.name)).to.not.include("suite-image-publish");
    const hook = run.of("command:local:Command").find((c) => c.name === "suite-hook")!;
    const hostEnv = hookSettings(hook).hostEnv;
    expect(hostEnv.KAFKA_BOOTSTRAP_SERVERS).to.equal("localhost:9092");
  });

  it("takes services from config: a prebuilt image, its own env, spawned selector and rules", async () => {
    const run = await runStack("local", {
      "inception:services": [
        {
          name: "fetcher",
          image: "example/fetcher:1.0",
          env: { MODE: "test" },
          envFromOutputs: { S3: "s3_endpoint" },
          spawnedSelector: "app=fetch-job",
          rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }],
        },
      ],
    });
    expect(run.of("kubernetes:apps/v1:Deployment").map((d) => meta(d).name)).to.include("fetcher");
    expect(run.of("kubernetes:apps/v1:Deployment").map((d) => meta(d).name)).to.not.include("executor");
    const pub = run.of("command:local:Command").find((c) => c.name === "service-fetcher-image-publish")!;
    expect((pub.inputs.environment as Obj).SOURCE_IMAGE).to.equal("example/fetcher:1.0");
    const hook = run.of("command:local:Command").find((c) => c.name === "suite-hook")!;
    expect(hookSettings(hook).services[0].spawnedSelector).to.equal("app=fetch-job");
  });

  it("leaves the services' readiness to the hook: their Deployments are not awaited, each waited for within its readyTimeoutSeconds", async () => {
    const run = await runStack("local", {
      "inception:services": [{ name: "executor", readyTimeoutSeconds: 45 }],
    });
    const dep = run.of("kubernetes:apps/v1:Deployment").find((d) => meta(d).name === "executor")!;
    expect(meta(dep).annotations).to.deep.equal({ "pulumi.com/skipAwait": "true" });
    const hook = run.of("command:local:Command").find((c) => c.name === "suite-hook")!;
    expect(hookSettings(hook).services[0].readyTimeoutSeconds).to.equal(45);
    // The mock infra stays awaited by Pulumi: its Deployments carry no skipAwait.
    const mocks = run
      .of("kubernetes:apps/v1:Deployment")
      .filter((d) => meta(d).name !== "executor")
      .map((d) => meta(d).annotations?.["pulumi.com/skipAwait"]);
    expect(mocks.length).to.be.greaterThan(0);
    expect(mocks.every((a) => a === undefined)).to.equal(true);
  });

  describe("an image the run needs that fails to build", () => {
    afterEach(() => failingPublishes.clear());

    it("is the run's to report (could-not-start), with the build's last lines; the service runs no pod", async () => {
      failingPublishes.set(
        "service-executor-image-publish",
        '#9 [3/4] RUN npm ci\n#9 ERROR: process "npm ci" did not complete successfully: exit code: 1\n',
      );
      const run = await runStack("local", {});
      const hook = run.of("command:local:Command").find((c) => c.name === "suite-hook")!;
      const image = (
        run.of("command:local:Command").find((c) => c.name === "service-executor-image-publish")!.inputs
          .environment as Record<string, string>
      ).IMAGE;
      expect(hookSettings(hook).couldNotStart).to.deep.equal([
        {
          what: "the image of service executor",
          image,
          log: '#9 [3/4] RUN npm ci\n#9 ERROR: process "npm ci" did not complete successfully: exit code: 1',
        },
      ]);
      const dep = run.of("kubernetes:apps/v1:Deployment").find((d) => meta(d).name === "executor")!;
      expect((dep.inputs.spec as Obj).replicas).to.equal(0);
    });

    it("the suite image too; images that were published report nothing", async () => {
      failingPublishes.set("suite-image-base-publish", "ERROR: failed to solve: no space left on device\n");
      const run = await runStack("local", {});
      const hook = run.of("command:local:Command").find((c) => c.name === "suite-hook")!;
      const failed = hookSettings(hook).couldNotStart;
      expect(failed.map((f) => [f.what, f.log])).to.deep.equal([
        ["the suite image", "ERROR: failed to solve: no space left on device"],
      ]);
      const dep = run.of("kubernetes:apps/v1:Deployment").find((d) => meta(d).name === "executor")!;
      expect((dep.inputs.spec as Obj).replicas).to.equal(1);
    });

    it("the broken-image fixture (for the fault checks) is a service context the stack accepts", async () => {
      const run = await runStack("local", {
        "inception:services": [{ name: "broken", context: "tests/fixtures/broken-image" }],
      });
      const env = run.of("command:local:Command").find((c) => c.name === "service-broken-image-publish")!
        .inputs.environment as Record<string, string>;
      expect(env.CONTEXT).to.match(/tests\/fixtures\/broken-image$/);
      expect(env.FAILURE_AS_DATA).to.equal("1");
    });

    it("reports its failure as data only for what a run needs: mock images, and services without a suite, still fail as resources", async () => {
      const run = await runStack("local", { "inception:suite": { enabled: false } });
      const env = (name: string) =>
        run.of("command:local:Command").find((c) => c.name === name)!.inputs.environment as Record<
          string,
          string
        >;
      expect(env("service-executor-image-publish")).to.not.have.property("FAILURE_AS_DATA");
      const mocks = run.of("command:local:Command").filter((c) => c.name.startsWith("mock-"));
      expect(mocks.length).to.be.greaterThan(0);
      for (const m of mocks) expect(m.inputs.environment, m.name).to.not.have.property("FAILURE_AS_DATA");
      const withSuite = await runStack("local", {});
      const on = withSuite
        .of("command:local:Command")
        .filter((c) => (c.inputs.environment as Record<string, string> | undefined)?.FAILURE_AS_DATA === "1")
        .map((c) => c.name)
        .sort();
      expect(on).to.deep.equal(["service-executor-image-publish", "suite-image-base-publish"]);
    });
  });

  const bad: [string, Obj, string][] = [
    [
      "service without image or context",
      { "inception:services": [{ name: "x" }] },
      "inception:services[0] needs exactly one of context",
    ],
    [
      "service context without Dockerfile",
      { "inception:services": [{ name: "x", context: "docs" }] },
      'inception:services[0].context is "docs", which has no Dockerfile',
    ],
    [
      "env from an unknown output",
      { "inception:services": [{ name: "x", image: "i:1", envFromOutputs: { K: "kafka" } }] },
      "inception:services[0].envFromOutputs.K must be an outputs ConfigMap key",
    ],
    [
      "invalid permission rule",
      { "inception:services": [{ name: "x", image: "i:1", rules: [{ resources: "pods", verbs: ["get"] }] }] },
      'inception:services[0].rules[0].resources must be a list of strings, got "pods"',
    ],
    [
      "suite dir that does not exist",
      { "inception:suite": { dir: "tests/nowhere" } },
      'inception:suite.dir is "tests/nowhere", which does not exist under',
    ],
    [
      "suite dir without tests",
      { "inception:suite": { dir: "docs" } },
      'inception:suite.dir is "docs", which holds no test file matching suite.spec (**/*.{test,spec}.{ts,js,mjs,cjs})',
    ],
    [
      "suite dir outside the project",
      { "inception:suite": { dir: "../elsewhere" } },
      'inception:suite.dir is "../elsewhere", which is not inside the project',
    ],
    [
      "missing extra file",
      { "inception:suite": { extraFiles: ["tests/fixtures.json"] } },
      'inception:suite.extraFiles[0] is "tests/fixtures.json", which does not exist under',
    ],
    [
      "suite Dockerfile that is a directory",
      { "inception:suite": { dockerfile: "tests" } },
      'inception:suite.dockerfile is "tests", which is not a file',
    ],
    [
      "suite env overriding the stack's own variable",
      { "inception:suite": { env: { KAFKA_BOOTSTRAP_SERVERS: "x:9092" } } },
      "inception:suite.env.KAFKA_BOOTSTRAP_SERVERS is set by the stack itself",
    ],
    [
      "unknown runner",
      { "inception:suite": { runner: "cloud" } },
      'inception:suite.runner must be one of job, host, got "cloud"',
    ],
    [
      "sharded suite on the host runner",
      { "inception:suite": { runner: "host", shards: 2 } },
      'inception:suite.shards is 2 with runner "host": a sharded suite runs as an Indexed Job',
    ],
    ["more shards than allowed", { "inception:suite": { shards: 33 } }, "inception:suite.shards"],
    [
      "suite without kafka",
      { "inception:mockInfra": { kafka: { enabled: false } } },
      "inception:suite.enabled is true but mockInfra.kafka is disabled",
    ],
  ];
  for (const [what, config, error] of bad) {
    it(`${what}: fails with its own message and registers nothing`, async () => {
      const r = await runStackExpectingError("local", config);
      expect(r.error.message).to.contain(error);
      expect(r.resources).to.have.length(0);
    });
  }
});

describe("a team's own service and suite, through config alone (examples/fetcher)", () => {
  it("deploys the fetcher instead of the executor and layers its suite on the suite image", async () => {
    const file = path.join(__dirname, "../../examples/fetcher/Pulumi.example-config.yaml");
    const { config } = YAML.parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    const run = await runStack("local", config);
    expect(run.exports.services).to.deep.equal(["fetcher"]);
    const names = run.of("kubernetes:apps/v1:Deployment").map((d) => meta(d).name);
    expect(names).to.include("fetcher");
    expect(names).to.not.include("executor");
    const publish = run.of("command:local:Command").find((c) => c.name === "service-fetcher-image-publish")!;
    expect((publish.inputs.environment as Record<string, string>).CONTEXT).to.match(
      /examples\/fetcher\/service$/,
    );
    expect(jobEnv(run.of("kubernetes:batch/v1:Job")[0]).SUITE_DIR).to.equal(
      "/suite/project/examples/fetcher/suite",
    );
    const hook = run.of("command:local:Command").find((c) => c.name === "suite-hook")!;
    expect(hookSettings(hook).services).to.deep.equal([
      {
        name: "fetcher",
        podSelector: "app.kubernetes.io/name=fetcher",
        spawnedSelector: "spawned-by=fetcher",
        readyTimeoutSeconds: 300,
      },
    ]);
  });
});

describe("the executor entry of inception:services", () => {
  it("overlays the given settings on the reference executor", async () => {
    const run = await runStack("local", {
      "inception:services": [{ name: "executor", env: { EXECUTOR_FAULT: "drop-executor-event" } }],
    });
    const dep = run.of("kubernetes:apps/v1:Deployment").find((d) => meta(d).name === "executor")!;
    const c = ((((dep.inputs.spec as Obj).template as Obj).spec as Obj).containers as Obj[])[0];
    const env = c.env as { name: string; value?: string; valueFrom?: unknown }[];
    expect(env.find((e) => e.name === "EXECUTOR_FAULT")?.value).to.equal("drop-executor-event");
    expect(env.find((e) => e.name === "KAFKA_BOOTSTRAP_SERVERS")?.valueFrom).to.not.equal(undefined);
    const role = run
      .of("kubernetes:rbac.authorization.k8s.io/v1:Role")
      .find((r) => meta(r).name === "executor")!;
    expect(JSON.stringify(role.inputs.rules)).to.contain("cronjobs");
  });
});
