/**
 * The fetcher example's run (scripts/e2e-example.sh): its own suite green through config alone,
 * with the artifacts of Step 6 and the worker pods' logs collected by the example's own selector.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";

const f = process.env.INCEPTION_E2E_OUTPUTS;
if (!f) throw new Error("INCEPTION_E2E_OUTPUTS is not set (run through scripts/e2e-example.sh)");
const out = JSON.parse(fs.readFileSync(f, "utf8")) as Record<string, unknown>;
const dir = out.artifactsDir as string;
const filesUnder = (d: string): string[] =>
  fs.existsSync(d)
    ? fs
        .readdirSync(d, { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(d, e.name)) : [path.join(d, e.name)]))
    : [];
// The example's suite: one file per behaviour would change this; it is its test count.
const EXAMPLE_TESTS = fs
  .readFileSync(path.join(__dirname, "../../examples/fetcher/suite/fetcher.test.ts"), "utf8")
  .match(/^\s+it\(/gm)!.length;

describe("the fetcher example, deployed through config alone", () => {
  it("deploys the fetcher instead of the executor and runs the fetcher suite green", () => {
    expect(out.services).to.deep.equal(["fetcher"]);
    const tests = out.tests as { passed: number; failed: number; failures: unknown[] };
    expect(tests.failures).to.deep.equal([]);
    expect(tests.failed).to.equal(0);
    expect(tests.passed).to.equal(EXAMPLE_TESTS);
    const junit = fs.readFileSync(path.join(dir, "junit.xml"), "utf8");
    expect(junit).to.match(new RegExp(`<testsuite [^>]*tests="${EXAMPLE_TESTS}" failures="0"`));
  });

  it("collects the service's log and its worker pods' logs by spawned-by=fetcher", () => {
    const files = filesUnder(path.join(dir, "cluster"));
    const service = files.filter((x) => /cluster\/services\/fetcher\/.*\.log$/.test(x));
    expect(service, "service logs").to.not.have.length(0);
    expect(fs.statSync(service[0]).size).to.be.greaterThan(0);
    const workers = files.filter((x) => /cluster\/spawned\/fetcher\/.*\.log$/.test(x));
    // One worker per request that reached a Job: the file fetched and the missing one.
    expect(workers.length, "worker pod logs").to.be.at.least(2);
    for (const w of workers) expect(fs.statSync(w).size, w).to.be.greaterThan(0);
  });
});
