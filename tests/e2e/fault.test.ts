/**
 * Checks the run where the executor drops its executor event (scripts/e2e.sh): `up` failed, the
 * failure names the missing event, the stack outputs are this red run's, and the artifacts hold
 * what is needed to see why — verdict.json, and report.html opened in a real browser, as is the
 * stack's run history (by then the green first run and this one).
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { checkHistory, checkRunReport } from "./report-browser";

const need = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run through scripts/e2e.sh)`);
  return v;
};

describe("a run against the faulty executor (fault mode)", () => {
  const log = fs.readFileSync(need("INCEPTION_E2E_FAULT_LOG"), "utf8");
  const dir = need("INCEPTION_E2E_FAULT_RUN");

  it("fails the update and says which test failed and why", () => {
    expect(log).to.match(/inception: run \S+ FAILED: \d+ test\(s\) failed/);
    expect(log).to.contain("executor event");
  });

  it("records the failure in results.json and junit.xml", () => {
    const results = JSON.parse(fs.readFileSync(path.join(dir, "results.json"), "utf8"));
    expect(results.failed).to.be.at.least(1);
    const failure = (results.failures as { title: string; message: string }[]).find((f) =>
      /executor event/.test(f.message),
    );
    expect(failure, JSON.stringify(results.failures)).to.not.equal(undefined);
    expect(fs.readFileSync(path.join(dir, "junit.xml"), "utf8")).to.contain("<failure");
  });

  it("writes every file of a run, with non-empty service and spawned-pod logs", () => {
    for (const f of ["junit.xml", "results.json", "suite.log", "timeline.json"]) {
      expect(fs.statSync(path.join(dir, f)).size, f).to.be.greaterThan(0);
    }
    const logs = (sub: string) =>
      fs
        .readdirSync(path.join(dir, "cluster", sub, "executor"))
        .filter((f) => f.endsWith(".log"))
        .map((f) => fs.statSync(path.join(dir, "cluster", sub, "executor", f)).size);
    expect(
      logs("services").some((n) => n > 0),
      "service log",
    ).to.equal(true);
    expect(
      logs("spawned").some((n) => n > 0),
      "spawned pod log",
    ).to.equal(true);
  });

  it("keeps the failed test's event timeline and its job and pod logs", () => {
    const testDirs = fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name.startsWith("executor-run-a-job"));
    expect(testDirs, "the failed test's artifact folder").to.have.length(1);
    const t = path.join(dir, testDirs[0].name);
    const files = fs.readdirSync(t, { recursive: true }).map(String);
    expect(files).to.include("events.json");
    expect(files.some((f) => /job\..*\.json$/.test(f))).to.equal(true);
    expect(files.some((f) => /\.log$/.test(f))).to.equal(true);
  });

  it("names the cause in verdict.json and prints the report's path", () => {
    const v = JSON.parse(fs.readFileSync(path.join(dir, "verdict.json"), "utf8"));
    expect(v).to.deep.include({ ok: false, cause: "tests-failed", runId: path.basename(dir) });
    expect(v.counts.failed).to.be.at.least(1);
    expect(log).to.contain(`inception: report: ${path.join(dir, "report.html")}`);
  });

  it("leaves the stack outputs saying red: this run's id, counts, cause and report", () => {
    // scripts/e2e.sh saves them beside the up's log after the failed up.
    const outputs = JSON.parse(
      fs.readFileSync(path.join(path.dirname(need("INCEPTION_E2E_FAULT_LOG")), "outputs-fault.json"), "utf8"),
    );
    expect(outputs.runId).to.equal(path.basename(dir));
    expect(outputs.artifactsDir).to.equal(dir);
    expect(outputs.tests.failed).to.be.at.least(1);
    expect(outputs.verdict).to.deep.include({ ok: false, cause: "tests-failed" });
    expect(outputs.report).to.equal(path.join(dir, "report.html"));
  });

  it("the report shows every test, and the failed test's diagram: the sent event, the Job, the missing event", async () => {
    const r = await checkRunReport(dir, { screenshot: "report-failed-test.png" });
    expect(fs.statSync(r.screenshot).size).to.be.greaterThan(0);
    expect(r.bytes).to.be.below(2 * 1024 * 1024);
    expect(r.tests.some((t) => t.state === "failed")).to.equal(true);
  });

  it("the run history lists the green first run and this red one, each linking to its report", async () => {
    const h = await checkHistory(path.dirname(dir));
    expect(h.runs.length).to.be.at.least(2);
    expect(h.runs.find((r) => r.id === path.basename(dir))?.ok).to.equal("false");
    expect(h.runs.some((r) => r.ok === "true")).to.equal(true);
  });
});
