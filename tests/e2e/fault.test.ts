/**
 * Checks the run where the executor drops its executor event (scripts/e2e.sh): `up` failed, the
 * failure names the missing event, and the artifacts hold what is needed to see why.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";

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
});
