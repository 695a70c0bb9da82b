/**
 * Checks a green run of the whole stack: the stack outputs and the run's artifacts folder
 * (scripts/e2e.sh passes the outputs in INCEPTION_E2E_OUTPUTS).
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";

function outputs(): Record<string, unknown> {
  const f = process.env.INCEPTION_E2E_OUTPUTS;
  if (!f) throw new Error("INCEPTION_E2E_OUTPUTS is not set (run through scripts/e2e.sh)");
  return JSON.parse(fs.readFileSync(f, "utf8"));
}

const filesUnder = (dir: string): string[] =>
  fs.existsSync(dir)
    ? fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]))
    : [];

describe("a green run of the stack", () => {
  const out = outputs();
  const tests = out.tests as { passed: number; failed: number; pending: number; failures: unknown[] };
  const dir = out.artifactsDir as string;

  it("exports the suite's results: every executor test passed", () => {
    expect(tests.failed).to.equal(0);
    expect(tests.passed).to.be.at.least(5);
    expect(tests.failures).to.deep.equal([]);
    expect(out.runId).to.be.a("string");
    expect(dir.endsWith(`/${process.env.INCEPTION_E2E_STACK ?? "local-e2e"}/${out.runId}`)).to.equal(true);
  });

  it("writes verdict.json (passed) and report.html, and exports the report's path", () => {
    const v = JSON.parse(fs.readFileSync(path.join(dir, "verdict.json"), "utf8"));
    expect(v).to.deep.include({ ok: true, cause: "passed", runId: out.runId });
    expect(out.verdict).to.deep.equal({ ok: true, reason: v.reason, cause: "passed" });
    expect(out.report).to.equal(path.join(dir, "report.html"));
    expect(fs.statSync(out.report as string).size).to.be.greaterThan(0);
    expect(fs.existsSync(path.join(path.dirname(dir), "index.html"))).to.equal(true);
  });

  it("writes junit.xml and results.json agreeing with the outputs", () => {
    const results = JSON.parse(fs.readFileSync(path.join(dir, "results.json"), "utf8"));
    expect(results.passed).to.equal(tests.passed);
    const junit = fs.readFileSync(path.join(dir, "junit.xml"), "utf8");
    expect(junit).to.match(
      new RegExp(`<testsuite [^>]*tests="${tests.passed + tests.pending}" failures="0"`),
    );
  });

  it("keeps the suite log, the Kafka timeline and the logs of the service and its spawned pods", () => {
    expect(fs.readFileSync(path.join(dir, "suite.log"), "utf8")).to.match(/\d+ passed, 0 failed/);
    const timeline = JSON.parse(fs.readFileSync(path.join(dir, "timeline.json"), "utf8")) as unknown[];
    expect(timeline.length).to.be.greaterThan(5);
    const files = filesUnder(path.join(dir, "cluster"));
    expect(files.some((f) => /cluster\/services\/executor\/executor-.*\.log$/.test(f))).to.equal(true);
    expect(files.filter((f) => /cluster\/spawned\/executor\/b-.*\.log$/.test(f)).length).to.be.at.least(1);
    expect(files.some((f) => /cluster\/spawned\/executor\/b-.*\.job\.describe\.json$/.test(f))).to.equal(
      true,
    );
    expect(files.some((f) => /cluster\/suite-.*\.job\.describe\.json$/.test(f))).to.equal(true);
  });
});
