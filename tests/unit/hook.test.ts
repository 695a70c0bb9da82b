import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SuiteLog, newRunId, pruneRuns, verdict } from "../../infra/suite/collect";
import { junitXml } from "../../packages/runner/results";
import { emitArtifacts } from "../../packages/runner/run";

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
