import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { KubeClient } from "@inception/kube";
import { KubeConfig } from "@kubernetes/client-node";
import {
  SuiteLog,
  VERDICT_FILE,
  failedRun,
  newRunId,
  pruneRuns,
  verdict,
  writeVerdict,
} from "../../infra/suite/collect";
import { finishRun, reportHookError, reportRun } from "../../infra/suite/hook";
import { runOnHost } from "../../infra/suite/host";
import {
  HOOK_SETTINGS_ENV,
  HookSettings,
  HookSettingsError,
  decodeHookSettings,
  encodeHookSettings,
} from "../../infra/suite/settings";
import { junitXml } from "@inception/runner/results";
import { create } from "xmlbuilder2";
import { emitArtifacts } from "@inception/runner/run";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "inception-hook-"));

describe("suite log and artifacts hand-over", () => {
  it("round-trips an artifacts folder through the log, leaving people's lines alone", () => {
    const src = tmp();
    fs.writeFileSync(path.join(src, "results.json"), '{"passed":1}');
    fs.mkdirSync(path.join(src, "t1"));
    fs.writeFileSync(path.join(src, "t1", "events.json"), "x".repeat(20000));
    const lines: string[] = ["✔ runs a job (12 ms)"];
    emitArtifacts(src, (l) => lines.push(l));
    lines.push("1 passed, 0 failed, 0 pending");

    const log = new SuiteLog();
    const shown = lines.filter((l) => log.push(l));
    expect(shown).to.deep.equal(["✔ runs a job (12 ms)", "1 passed, 0 failed, 0 pending"]);
    const dst = tmp();
    const untar = spawnSync("tar", ["-xzf", "-", "-C", dst], { input: log.artifacts() });
    expect(untar.status).to.equal(0);
    expect(fs.readFileSync(path.join(dst, "t1", "events.json"), "utf8")).to.have.length(20000);
    expect(fs.readFileSync(path.join(dst, "results.json"), "utf8")).to.equal('{"passed":1}');
  });

  it("reports no artifacts when the block was cut off (a crash mid-way)", () => {
    const log = new SuiteLog();
    log.push("INCEPTION-ARTIFACTS-BEGIN");
    log.push("INCEPTION-ARTIFACTS aGVsbG8=");
    expect(log.artifacts()).to.equal(undefined);
  });
});

describe("verdict", () => {
  const results = { passed: 3, failed: 0, pending: 1, durationMs: 1200, failures: [] };
  it("is green only for a completed run with passes and no failure", () => {
    expect(verdict("complete", results).ok).to.equal(true);
    expect(
      verdict("complete", { ...results, failed: 1, failures: [{ title: "t", message: "m" }] }),
    ).to.deep.include({
      ok: false,
      reason: "1 test(s) failed",
    });
    expect(verdict("complete", { ...results, passed: 0 }).reason).to.equal("the suite ran no test");
  });
  it("never reads a missing results file as success", () => {
    expect(verdict("failed", undefined)).to.deep.include({
      ok: false,
      reason: "the suite Job crashed without results",
    });
    expect(verdict("timeout", results)).to.deep.include({
      ok: false,
      reason: "the suite Job ran past its deadline",
    });
  });
});

describe("verdict causes", () => {
  const results = { passed: 3, failed: 0, pending: 0, durationMs: 10, failures: [] };
  it("names the cause of every way a run ends", () => {
    expect(verdict("complete", results).cause).to.equal("passed");
    expect(verdict("complete", { ...results, failed: 1 }).cause).to.equal("tests-failed");
    expect(verdict("complete", { ...results, passed: 0 }).cause).to.equal("no-tests");
    expect(verdict("timeout", results).cause).to.equal("deadline");
    expect(verdict("failed", undefined).cause).to.equal("crashed");
    expect(verdict("complete", undefined).cause).to.equal("no-results");
    expect(failedRun("no-pod", "no suite pod started").cause).to.equal("no-pod");
  });
  it("says why in tests.error when no failed test does", () => {
    expect(verdict("failed", undefined).tests.error).to.equal("the suite Job crashed without results");
    expect(verdict("complete", { ...results, passed: 0 }).tests.error).to.equal("the suite ran no test");
    expect(verdict("complete", { ...results, failed: 1 }).tests).to.not.have.property("error");
    expect(verdict("complete", results).tests).to.not.have.property("error");
  });
  it("writes verdict.json with the cause, the run id and the counts (null without results)", () => {
    const dir = tmp();
    writeVerdict(dir, verdict("complete", { ...results, failed: 2 }), "r1", 1000, 42);
    expect(JSON.parse(fs.readFileSync(path.join(dir, VERDICT_FILE), "utf8"))).to.deep.equal({
      ok: false,
      reason: "2 test(s) failed",
      cause: "tests-failed",
      runId: "r1",
      startedAt: 1000,
      durationMs: 42,
      counts: { passed: 3, failed: 2, pending: 0 },
    });
    writeVerdict(dir, verdict("timeout", undefined), "r1", 1000, 42);
    expect(JSON.parse(fs.readFileSync(path.join(dir, VERDICT_FILE), "utf8"))).to.deep.include({
      cause: "deadline",
      counts: null,
    });
  });
});

describe("runs", () => {
  it("run ids sort by time and are valid Kubernetes names", () => {
    const a = newRunId(new Date("2026-11-26T04:45:01.123Z"), () => 0.5);
    const b = newRunId(new Date("2026-11-26T04:45:02.000Z"), () => 0.1);
    expect(a).to.equal("20261126t044501z-7fff");
    expect([b, a].sort()).to.deep.equal([a, b]);
    expect(`suite-${a}`).to.match(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
  });
  it("pruning keeps the newest runs", () => {
    const dir = tmp();
    for (const r of ["20261126t01", "20261126t02", "20261126t03"]) fs.mkdirSync(path.join(dir, r));
    expect(pruneRuns(dir, 2)).to.deep.equal(["20261126t01"]);
    expect(fs.readdirSync(dir).sort()).to.deep.equal(["20261126t02", "20261126t03"]);
  });
  it("pruning goes by when each run began, not by name", () => {
    const dir = tmp();
    // Started in the order c-new (newest), 20261126t01, c-old (oldest): names say otherwise.
    const runs: [string, number][] = [
      ["c-new", 3000],
      ["20261126t01", 2000],
      ["c-old", 1000],
    ];
    for (const [r, at] of runs) writeVerdict(path.join(dir, r), verdict("timeout", undefined), r, at, 1);
    expect(pruneRuns(dir, 2)).to.deep.equal(["c-old"]);
    expect(fs.readdirSync(dir).sort()).to.deep.equal(["20261126t01", "c-new"]);
  });
  it("pruning orders a run folder without verdict.json by its modification time", () => {
    const dir = tmp();
    for (const [r, s] of [
      ["z-oldest", 100],
      ["a-newest", 300],
      ["m-middle", 200],
    ] as const) {
      fs.mkdirSync(path.join(dir, r));
      fs.utimesSync(path.join(dir, r), s, s);
    }
    expect(pruneRuns(dir, 2)).to.deep.equal(["z-oldest"]);
  });
  it("pruning never deletes the run just written (a stable onChange id sorts first)", () => {
    const dir = tmp();
    for (const r of ["20261126t01", "20261126t02", "c-3f9a"]) fs.mkdirSync(path.join(dir, r));
    expect(pruneRuns(dir, 2, "c-3f9a")).to.deep.equal(["20261126t01"]);
    expect(fs.readdirSync(dir).sort()).to.deep.equal(["20261126t02", "c-3f9a"]);
  });
});

describe("junit", () => {
  it("renders passes, failures (escaped) and pending tests", () => {
    const xml = junitXml(
      {
        passed: 1,
        failed: 1,
        pending: 1,
        durationMs: 1500,
        failures: [],
        tests: [
          { title: "a ok", file: "s.ts", state: "passed", durationMs: 10 },
          { title: "b <bad>", file: "s.ts", state: "failed", durationMs: 20, message: 'want "x" & got y' },
          { title: "c", file: "s.ts", state: "pending", durationMs: 0 },
        ],
      },
      "local-run",
    );
    expect(xml).to.contain('<testsuite name="local-run" tests="3" failures="1" skipped="1" time="1.500">');
    expect(xml).to.contain('<testcase classname="s.ts" name="b &lt;bad&gt;" time="0.020">');
    expect(xml).to.contain('<failure message="want &quot;x&quot; &amp; got y">');
    expect(xml).to.contain("<skipped/>");
  });

  it("stays well-formed XML 1.0 for titles with ]]>, &, quotes, control characters and non-ASCII", () => {
    const title = 'ends ]]> & "quoted" \u0001 bell\u0007 ünïcødé 日本 ✔';
    const message = "expected \u001b[31mred\u001b[0m ]]> to be <b> & 'x'";
    const xml = junitXml(
      {
        passed: 0,
        failed: 1,
        pending: 0,
        durationMs: 5,
        failures: [{ title, message }],
        tests: [{ title, file: "t.spec.mjs", state: "failed", durationMs: 5, message, stack: message }],
      },
      "suite \u0002",
    );
    // No character XML 1.0 forbids (C0 controls other than tab, newline, carriage return).
    const forbidden = [...xml].filter((ch) => ch < " " && !"\t\n\r".includes(ch));
    expect(forbidden).to.deep.equal([]);
    expect(xml).to.not.contain("]]>");
    expect(xml).to.contain('name="ends ]]&gt; &amp; &quot;quoted&quot; \ufffd bell\ufffd ünïcødé 日本 ✔"');
    expect(xml).to.contain("expected \ufffd[31mred\ufffd[0m ]]&gt; to be &lt;b&gt; &amp; 'x'</failure>");
    expect(xml).to.contain('<testsuite name="suite \ufffd"');
    // And a real XML parser reads it back.
    const testcase = create(xml).root().first().first().node as unknown as {
      getAttribute(name: string): string | null;
    };
    expect(testcase.getAttribute("name")).to.equal('ends ]]> & "quoted" \ufffd bell\ufffd ünïcødé 日本 ✔');
  });
});

describe("hook settings (one validated value)", () => {
  const settings: HookSettings = {
    runner: "job",
    kubeconfig: "apiVersion: v1\nclusters: []\n# CANARY-kubeconfig",
    context: "kind-inception",
    namespace: "inception",
    jobName: "suite-20261126t044501z-7fff",
    runId: "20261126t044501z-7fff",
    stack: "local",
    stage: "local",
    gitCommit: "0123456789abcdef0123456789abcdef01234567",
    runDir: "/work/artifacts/local/20261126t044501z-7fff",
    services: [
      {
        name: "executor",
        podSelector: "app=executor",
        spawnedSelector: "created-by=executor",
        readyTimeoutSeconds: 300,
      },
    ],
    timeoutSeconds: 1020,
    keepRuns: 5,
    hostEnv: {},
    redactEnv: [],
    couldNotStart: [],
    mockInfra: [],
  };

  it("round-trips through the one environment variable", () => {
    const env = { [HOOK_SETTINGS_ENV]: encodeHookSettings(settings) };
    expect(decodeHookSettings(env)).to.deep.equal(settings);
  });

  it("refuses a bad value naming every bad field, without echoing the secret kubeconfig", () => {
    const bad = { ...settings, timeoutSeconds: "1020", keepRuns: 0, services: [{ name: "x" }], jobName: "" };
    let e: unknown;
    try {
      decodeHookSettings({ [HOOK_SETTINGS_ENV]: JSON.stringify(bad) });
    } catch (x) {
      e = x;
    }
    expect(e).to.be.instanceOf(HookSettingsError);
    const msg = (e as Error).message;
    expect(msg).to.contain(HOOK_SETTINGS_ENV);
    expect(msg).to.match(/^ {2}timeoutSeconds: .*expected number/m);
    expect(msg).to.match(/^ {2}keepRuns: /m);
    expect(msg).to.match(/^ {2}services\.0\.podSelector: /m);
    expect(msg).to.not.contain("CANARY");
    expect(() =>
      decodeHookSettings({ [HOOK_SETTINGS_ENV]: JSON.stringify({ ...settings, colour: 1 }) }),
    ).to.throw(/colour/);
  });

  it("says so when the variable is missing or not JSON (without quoting it)", () => {
    expect(() => decodeHookSettings({})).to.throw(`${HOOK_SETTINGS_ENV} is not set`);
    expect(() => decodeHookSettings({ [HOOK_SETTINGS_ENV]: "{CANARY" })).to.throw(/is not valid JSON$/);
  });

  it("the encoder checks too: a Job runner without a Job name is refused", () => {
    expect(() => encodeHookSettings({ ...settings, jobName: "" })).to.throw(
      /jobName: must name the suite Job/,
    );
  });
});

describe("host runner", () => {
  const hostSettings = (timeoutSeconds: number): HookSettings => ({
    runner: "host",
    kubeconfig: "k",
    context: "c",
    namespace: "n",
    jobName: "",
    runId: "r",
    stack: "local",
    stage: "local",
    gitCommit: "unknown",
    runDir: tmp(),
    services: [],
    timeoutSeconds,
    keepRuns: 5,
    hostEnv: {},
    redactEnv: [],
    couldNotStart: [],
    mockInfra: [],
  });
  const log = () => fs.createWriteStream(path.join(tmp(), "suite.log"));

  it("reports a suite that outlives its deadline as a timeout, not as a run without results", async () => {
    const t0 = Date.now();
    const outcome = await runOnHost(hostSettings(1), process.env, log(), [
      "-e",
      "setInterval(() => {}, 1000)",
    ]);
    expect(outcome).to.equal("timeout");
    expect(Date.now() - t0).to.be.below(8000);
    expect(verdict(outcome, undefined, "the suite on this host").reason).to.equal(
      "the suite on this host ran past its deadline",
    );
  });

  it("reports a runner that exits with a test failure as complete, and a crash as failed", async () => {
    expect(await runOnHost(hostSettings(30), process.env, log(), ["-e", "process.exit(1)"])).to.equal(
      "complete",
    );
    expect(await runOnHost(hostSettings(30), process.env, log(), ["-e", "process.exit(3)"])).to.equal(
      "failed",
    );
  });
});

describe("hook process guard", () => {
  it("turns a hook whose event loop drains before it finished into exit 1, not a silent 0", () => {
    const script = `
      require("ts-node/register/transpile-only");
      const { exitLoudlyIfUnfinished } = require(${JSON.stringify(path.resolve(__dirname, "../../infra/suite/hook.ts"))});
      exitLoudlyIfUnfinished();
      new Promise(() => {}); // pending forever, nothing keeps the loop alive
    `;
    const r = spawnSync(process.execPath, ["-e", script], {
      encoding: "utf8",
      cwd: path.resolve(__dirname, "../.."),
    });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain("the hook stopped before it finished");
  });
});

describe("the run's report and verdict, in every case", () => {
  const settingsIn = (runDir: string): HookSettings => ({
    runner: "host",
    kubeconfig: "k",
    context: "c",
    namespace: "n",
    jobName: "",
    runId: path.basename(runDir),
    stack: "local",
    stage: "local",
    gitCommit: "0123456789abcdef",
    runDir,
    services: [],
    timeoutSeconds: 60,
    keepRuns: 5,
    hostEnv: {},
    redactEnv: [],
    couldNotStart: [],
    mockInfra: [],
  });
  /** Runs f with stdout and stderr captured. */
  function captured<T>(f: () => T): { value: T; stdout: string; stderr: string } {
    const out: string[] = [];
    const errs: string[] = [];
    const write = { out: process.stdout.write, err: process.stderr.write };
    process.stdout.write = ((c: string) => out.push(String(c)) > 0) as typeof process.stdout.write;
    process.stderr.write = ((c: string) => errs.push(String(c)) > 0) as typeof process.stderr.write;
    try {
      return { value: f(), stdout: out.join(""), stderr: errs.join("") };
    } finally {
      process.stdout.write = write.out;
      process.stderr.write = write.err;
    }
  }
  const lastLine = (out: string) => JSON.parse(out.trim().split("\n").pop() ?? "");
  const results = {
    passed: 1,
    failed: 1,
    pending: 0,
    durationMs: 900,
    failures: [{ title: "s fails", message: "boom" }],
    tests: [
      { title: "s passes", state: "passed", durationMs: 10 },
      { title: "s fails", state: "failed", durationMs: 20, message: "boom" },
    ],
  };

  it("writes verdict.json, report.html and the stack's history, and prints the outputs line", () => {
    const stack = tmp();
    const runDir = path.join(stack, "20261130t010000z-0001");
    fs.mkdirSync(runDir);
    fs.writeFileSync(path.join(runDir, "results.json"), JSON.stringify(results));
    const v = verdict("complete", results);
    const r = captured(() => reportRun(settingsIn(runDir), v, Date.now() - 1500));
    expect(r.value).to.equal(0);
    const line = lastLine(r.stdout);
    expect(line).to.deep.include({
      ok: false,
      cause: "tests-failed",
      report: path.join(runDir, "report.html"),
    });
    expect(line.tests.failed).to.equal(1);
    expect(r.stderr).to.contain(`inception: report: ${path.join(runDir, "report.html")}`);
    expect(JSON.parse(fs.readFileSync(path.join(runDir, VERDICT_FILE), "utf8")).cause).to.equal(
      "tests-failed",
    );
    const html = fs.readFileSync(path.join(runDir, "report.html"), "utf8");
    expect(html).to.contain("0123456789abcdef");
    expect(html).to.contain("s fails");
    expect(fs.readFileSync(path.join(stack, "index.html"), "utf8")).to.contain("20261130t010000z-0001");
  });

  it("a report that cannot be written is printed and does not change the verdict", () => {
    const runDir = path.join(tmp(), "r");
    fs.mkdirSync(path.join(runDir, "report.html"), { recursive: true }); // a folder where the file goes
    const r = captured(() =>
      reportRun(settingsIn(runDir), verdict("complete", { ...results, failed: 0 }), 0),
    );
    expect(lastLine(r.stdout)).to.deep.include({ ok: true, cause: "passed" });
    expect(lastLine(r.stdout)).to.not.have.property("report");
    expect(r.stderr).to.match(/could not write the run's report: .*EISDIR/);
    expect(fs.existsSync(path.join(runDir, VERDICT_FILE))).to.equal(true);
  });

  it("a suite that ran past its deadline without results: cause deadline, report and verdict written", async () => {
    const runDir = path.join(tmp(), "r");
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server: "https://127.0.0.1:1" }],
      users: [{ name: "u" }],
      contexts: [{ name: "c", cluster: "c", user: "u" }],
      currentContext: "c",
    });
    // No services and the host runner: finishRun needs no API call.
    const out: string[] = [];
    const write = process.stdout.write;
    const errWrite = process.stderr.write;
    process.stdout.write = ((c: string) => out.push(String(c)) > 0) as typeof process.stdout.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    let code: number;
    try {
      code = await finishRun(new KubeClient(kc, "n"), settingsIn(runDir), "timeout", Date.now());
    } finally {
      process.stdout.write = write;
      process.stderr.write = errWrite;
    }
    expect(code).to.equal(0);
    expect(lastLine(out.join(""))).to.deep.include({
      ok: false,
      cause: "deadline",
      reason: "the suite on this host ran past its deadline",
    });
    expect(lastLine(out.join("")).tests.error).to.equal("the suite on this host ran past its deadline");
    expect(fs.readFileSync(path.join(runDir, "report.html"), "utf8")).to.contain("ran past its deadline");
  });

  it("a hook error without settings still prints a red outputs line", () => {
    const r = captured(() => reportHookError(undefined, "the hook failed: bad settings", 0));
    expect(r.value).to.equal(0);
    expect(lastLine(r.stdout)).to.deep.include({ ok: false, cause: "hook-error" });
    expect(lastLine(r.stdout).tests.error).to.equal("the hook failed: bad settings");
  });

  const runMain = (hookBody: string, runDir: string) => {
    const script = `
      require("ts-node/register/transpile-only");
      const { runAsMain } = require(${JSON.stringify(path.resolve(__dirname, "../../infra/suite/hook.ts"))});
      runAsMain(${hookBody});
    `;
    return spawnSync(process.execPath, ["-e", script], {
      encoding: "utf8",
      cwd: path.resolve(__dirname, "../.."),
      env: { ...process.env, [HOOK_SETTINGS_ENV]: encodeHookSettings(settingsIn(runDir)) },
    });
  };

  it("a hook that throws reports a red run (hook-error) with its report, and exits 0", () => {
    const runDir = path.join(tmp(), "r");
    const r = runMain(`async () => { throw new Error("the API server is gone"); }`, runDir);
    expect(r.status, r.stderr).to.equal(0);
    expect(lastLine(r.stdout)).to.deep.include({
      ok: false,
      cause: "hook-error",
      reason: "the hook failed: the API server is gone",
    });
    expect(JSON.parse(fs.readFileSync(path.join(runDir, VERDICT_FILE), "utf8")).cause).to.equal("hook-error");
    expect(fs.existsSync(path.join(runDir, "report.html"))).to.equal(true);
  });

  it("an interrupted hook (Ctrl-C on the up) writes its verdict: interrupted, with its report", () => {
    const runDir = path.join(tmp(), "r");
    // The hook waits on a timer (as on the API) and is interrupted once it has started.
    const r = runMain(
      `() => new Promise(() => { setInterval(() => {}, 1000); setTimeout(() => process.kill(process.pid, "SIGINT"), 300); })`,
      runDir,
    );
    expect(r.status, r.stderr).to.equal(0);
    expect(lastLine(r.stdout)).to.deep.include({ ok: false, cause: "interrupted" });
    const verdict = JSON.parse(fs.readFileSync(path.join(runDir, VERDICT_FILE), "utf8"));
    expect(verdict.cause).to.equal("interrupted");
    expect(verdict.reason).to.match(/^interrupted \(SIGINT\) before the run ended/);
    expect(fs.existsSync(path.join(runDir, "report.html"))).to.equal(true);
  });

  it("a hook that stops early reports a red run too", () => {
    const runDir = path.join(tmp(), "r");
    const r = runMain(`() => new Promise(() => {})`, runDir);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.contain("the hook stopped before it finished");
    expect(lastLine(r.stdout)).to.deep.include({ ok: false, cause: "hook-error" });
    expect(fs.existsSync(path.join(runDir, "report.html"))).to.equal(true);
  });
});
