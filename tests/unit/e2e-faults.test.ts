/**
 * npm run e2e:faults' judge and table (scripts/e2e-faults.ts): what makes a fault's row pass or
 * fail, and that the script and the table agree on the faults.
 */
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  FAULTS,
  FaultRow,
  Observation,
  REFUSAL_LIMIT_S,
  judge,
  notRunRow,
  readRows,
  runDirOf,
  table,
} from "../../scripts/e2e-faults";

const root = path.resolve(__dirname, "../..");

function run(o: Partial<Observation> = {}): Observation {
  return {
    upExit: 0,
    upSeconds: 80,
    log: "inception: artifacts: /a/faults/r1\n",
    runDir: "/a/faults/r1",
    verdict: { ok: true, cause: "passed", reason: "1 passed", durationMs: 12_000, runId: "r1" },
    artifacts: { "verdict.json": true, "report.html": true, "suite.log": true, "service logs": true },
    suiteLog: "left an interval and a socket open\n",
    serviceLogs: "",
    previousServiceLog: false,
    outputs: { runId: "r1", verdict: { ok: true, cause: "passed" } },
    deadlineSeconds: 60,
    lost: [],
    ...o,
  };
}

function red(cause: string, o: Partial<Observation> = {}): Observation {
  return run({
    upExit: 255,
    verdict: { ok: false, cause, reason: cause, durationMs: 31_000, runId: "r1" },
    outputs: { runId: "r1", verdict: { ok: false, cause } },
    ...o,
  });
}

const refusedLog =
  "error: ConfigError: invalid stack config (1 problem):\n" +
  '  - inception:suite.artifactsDir is "/": it must be a directory inside the project\n';

function refused(o: Partial<Observation> = {}): Observation {
  return {
    upExit: 255,
    upSeconds: 14,
    log: refusedLog,
    artifacts: { "verdict.json": false, "report.html": false, "suite.log": false, "service logs": false },
    suiteLog: "",
    serviceLogs: "",
    previousServiceLog: false,
    outputs: { runId: "r0" },
    outputsBefore: { runId: "r0" },
    lost: [],
    ...o,
  };
}

describe("e2e:faults judge (scripts/e2e-faults.ts)", () => {
  it("passes a refused config that names its key, fast, with no run and the outputs untouched", () => {
    const row = judge("config-artifacts-root", FAULTS["config-artifacts-root"], refused());
    expect(row.problems).to.deep.equal([]);
    expect(row).to.include({ status: "passed", observed: "refused", verdictSeconds: 14, lost: "nothing" });
  });

  it("fails a refusal that names another key, comes late, starts a run or changes the outputs", () => {
    const def = FAULTS["config-artifacts-root"];
    const other = judge("x", def, refused({ log: refusedLog.replace("suite.artifactsDir", "suite.dir") }));
    expect(other.problems).to.deep.equal(["the refusal does not name inception:suite.artifactsDir"]);
    const late = judge("x", def, refused({ upSeconds: REFUSAL_LIMIT_S + 1 }));
    expect(late.problems[0]).to.match(/^refused after 91 s/);
    const ran = judge(
      "x",
      def,
      refused({ upExit: 0, log: "inception: artifacts: /a/r2\n", runDir: "/a/r2" }),
    );
    expect(ran.status).to.equal("failed");
    expect(ran.problems).to.include("a run started (/a/r2)");
    const changed = judge("x", def, refused({ outputs: { runId: "r9" } }));
    expect(changed.lost).to.equal("the stack outputs changed although nothing was deployed");
    expect(changed.status).to.equal("failed");
  });

  it("passes a run that ends in the expected cause within the deadline, files and outputs its own", () => {
    const row = judge(
      "suite-deadline",
      FAULTS["suite-deadline"],
      red("deadline", {
        suiteLog: "holding until the suite Job's deadline stops this run\n",
        deadlineSeconds: 30,
      }),
    );
    expect(row.problems).to.deep.equal([]);
    expect(row).to.include({ status: "passed", observed: "deadline", verdictSeconds: 31 });
    expect(row.artifacts).to.equal("verdict.json ✓, report.html ✓, suite.log ✓, service logs ✓");
  });

  it("fails another cause, a verdict past its deadline + 30 s, or an up exit that contradicts it", () => {
    const def = FAULTS["open-handle"];
    expect(judge("open-handle", def, red("deadline")).problems[0]).to.equal("expected passed, got deadline");
    // A red run's failed tests are named, each by its title and the first line of its message.
    const failed = red("tests-failed");
    failed.verdict!.failures = [
      { title: "executor: run a job creates the Job", message: "waited 60 s for the Job\n  at stack" },
      { title: "s3: lists", message: "x".repeat(400) },
    ];
    expect(judge("open-handle", def, failed).problems[0]).to.equal(
      `expected passed, got tests-failed (failed: executor: run a job creates the Job: waited 60 s for the Job; s3: lists: ${"x".repeat(300)}…)`,
    );
    const slow = judge("open-handle", def, run({ verdict: { ...run().verdict!, durationMs: 91_000 } }));
    expect(slow.problems).to.deep.equal(["verdict after 91 s (deadline 60 s + 30 s)"]);
    const lied = judge("open-handle", def, run({ upExit: 255 }));
    expect(lied.problems).to.deep.equal(["the up exited 255 on a green verdict"]);
  });

  it("fails a missing file, an unsaid mention, a missing previous log; names them", () => {
    const row = judge(
      "service-crash-loop",
      FAULTS["service-crash-loop"],
      red("service-not-ready", {
        artifacts: { "verdict.json": true, "report.html": false, "suite.log": false, "service logs": true },
        serviceLogs: "started\n",
      }),
    );
    expect(row.artifacts).to.equal("verdict.json ✓, report.html ✗, service logs ✓");
    expect(row.problems).to.deep.equal([
      "missing: report.html",
      'the service logs does not say "EXECUTOR_JOB_TTL_SECONDS"',
      "no crashed container's previous log",
    ]);
  });

  it("counts stack outputs of another run, and what the script found lost, as lost", () => {
    const row = judge(
      "kafka-broker-killed",
      FAULTS["kafka-broker-killed"],
      run({
        outputs: { runId: "r0", verdict: { cause: "passed" } },
        lost: ["the broker pod is not Ready again"],
      }),
    );
    expect(row.status).to.equal("failed");
    expect(row.lost).to.equal(
      "the broker pod is not Ready again; the stack outputs show run r0 (passed), not this one",
    );
  });

  it("fails a run with no folder, and an up its time limit stopped", () => {
    const none = judge("cluster-deleted", FAULTS["cluster-deleted"], {
      ...run(),
      upExit: 255,
      log: "error: configured Kubernetes cluster is unreachable\n",
      runDir: undefined,
      verdict: undefined,
    });
    expect(none.observed).to.equal("no run folder (up exit 255)");
    expect(none.problems[0]).to.equal("the up printed no run folder");
    const hung = judge("test-hangs", FAULTS["test-hangs"], { ...run(), upExit: 124, verdict: undefined });
    expect(hung.observed).to.equal("up did not end (stopped by its time limit)");
    expect(hung.problems).to.include("the up hung until its time limit");
  });

  it("reads the last run folder an up printed", () => {
    expect(runDirOf("inception: artifacts: /x/1\n…\ninception: artifacts: /x/2 \n")).to.equal("/x/2");
    expect(runDirOf("no run\n")).to.equal(undefined);
  });
});

describe("e2e:faults table", () => {
  const rows: FaultRow[] = [
    judge("config-artifacts-root", FAULTS["config-artifacts-root"], refused()),
    judge("open-handle", FAULTS["open-handle"], red("deadline")),
    notRunRow("docker-restart", FAULTS["docker-restart"], "the machine's only engine"),
  ];

  it("has the issue's columns, a row per fault, loud lines for those not run, then N passed, N failed", () => {
    const lines = table(rows).split("\n");
    expect(lines[0]).to.equal(
      "| fault | expected verdict (cause) | observed | seconds to verdict | up s | artifacts present | anything lost | result |",
    );
    expect(lines).to.have.length(2 + 3 + 1 + 1);
    expect(lines[2]).to.match(
      /^\| suite.artifactsDir is \/ \| refused \(suite.artifactsDir\) \| refused \| 14 \| 14 \| n\/a \| nothing \| passed \|$/,
    );
    expect(lines[3]).to.match(
      /\| deadline \| 31 \| 80 \| .* \| nothing \| FAILED: expected passed, got deadline \|$/,
    );
    expect(lines[4]).to.contain("| NOT RUN: the machine's only engine |");
    expect(lines[5]).to.equal(
      "!!!!! NOT RUN: the Docker engine restarted between two ups: the machine's only engine !!!!!",
    );
    expect(lines.at(-1)).to.equal("1 passed, 1 failed");
  });

  it("the command appends rows, prints the table and exits 1 when a fault failed", function () {
    this.timeout(60_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "inception-faults-"));
    const runDir = path.join(dir, "faults", "r1");
    fs.mkdirSync(path.join(runDir, "cluster", "services", "executor"), { recursive: true });
    fs.writeFileSync(
      path.join(runDir, "verdict.json"),
      JSON.stringify({
        ok: false,
        cause: "crashed",
        reason: "the suite Job crashed without results",
        runId: "r1",
        durationMs: 9000,
      }),
    );
    fs.writeFileSync(path.join(runDir, "report.html"), "<html></html>");
    fs.writeFileSync(
      path.join(runDir, "suite.log"),
      "inception fault tier: this suite image is broken on purpose\n",
    );
    fs.writeFileSync(path.join(runDir, "cluster", "services", "executor", "executor-1.executor.log"), "up\n");
    fs.writeFileSync(path.join(dir, "up.log"), `inception: artifacts: ${runDir}\n`);
    fs.writeFileSync(
      path.join(dir, "outputs.json"),
      JSON.stringify({ runId: "r1", verdict: { cause: "crashed" } }),
    );
    const rowsFile = path.join(dir, "rows.jsonl");
    const cli = (...args: string[]) =>
      spawnSync(
        process.execPath,
        ["-r", "ts-node/register/transpile-only", "scripts/e2e-faults.ts", ...args],
        {
          cwd: root,
          encoding: "utf8",
        },
      );
    const ok = cli(
      ...["observe", "--fault", "broken-suite-image", "--rows", rowsFile, "--log", path.join(dir, "up.log")],
      ...[
        "--exit",
        "255",
        "--up-seconds",
        "70",
        "--outputs",
        path.join(dir, "outputs.json"),
        "--deadline",
        "60",
      ],
    );
    expect(ok.status, ok.stdout + ok.stderr).to.equal(0);
    expect(ok.stdout).to.contain(
      "fault PASSED: the suite image crashes at start: expected crashed, observed crashed in 9 s",
    );
    const bad = cli(
      ...["observe", "--fault", "open-handle", "--rows", rowsFile, "--log", path.join(dir, "up.log")],
      ...[
        "--exit",
        "255",
        "--up-seconds",
        "70",
        "--outputs",
        path.join(dir, "outputs.json"),
        "--lost=a stale Job",
      ],
    );
    expect(bad.status).to.equal(1);
    expect(bad.stdout).to.contain("expected passed, got crashed;");
    // The failed tests of the run folder's results.json are named in an unexpected verdict.
    fs.writeFileSync(
      path.join(runDir, "results.json"),
      JSON.stringify({ passed: 0, failed: 1, failures: [{ title: "s3: lists", message: "boom\nstack" }] }),
    );
    const named = cli(
      ...["observe", "--fault", "open-handle", "--rows", path.join(dir, "other-rows.jsonl")],
      ...["--log", path.join(dir, "up.log"), "--exit", "255", "--up-seconds", "70"],
    );
    expect(named.stdout).to.contain("expected passed, got crashed (failed: s3: lists: boom)");
    const skipped = cli("not-run", "--fault", "docker-restart", "--rows", rowsFile, "--why", "shared engine");
    expect(skipped.status).to.equal(0);
    const blocked = cli(
      "not-run",
      "--failed",
      "--fault",
      "cluster-deleted",
      "--rows",
      rowsFile,
      "--why",
      "no baseline",
    );
    expect(blocked.status).to.equal(1);
    expect(readRows(rowsFile).map((r) => r.status)).to.deep.equal(["passed", "failed", "not run", "failed"]);
    const t = cli("table", "--rows", rowsFile);
    expect(t.status).to.equal(1);
    expect(t.stdout).to.contain("| FAILED: could not run: no baseline |");
    expect(t.stdout.trim().split("\n").at(-1)).to.equal("1 passed, 2 failed");
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe("scripts/e2e-faults.sh and its FAULTS table", () => {
  const script = fs.readFileSync(path.join(root, "scripts", "e2e-faults.sh"), "utf8");
  const run = [...script.matchAll(/^fault ([a-z0-9-]+) [a-z_]+$/gm)].map((m) => m[1]);
  const notRun = [...script.matchAll(/not-run --fault ([a-z0-9-]+)/g)]
    .map((m) => m[1])
    .filter((f) => f !== '"$id"');

  it("runs (or says why not) every fault the table knows, and only those", () => {
    expect([...run, ...notRun].sort()).to.deep.equal(Object.keys(FAULTS).sort());
  });

  it("observes each fault it runs under its own id", () => {
    for (const id of run)
      expect(script, id).to.match(new RegExp(`(observe|config_refused|config_refused_keep) ${id} `));
  });
});
