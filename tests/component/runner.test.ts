// The suite runner (packages/runner/run.ts) as the suite Job runs it, against the tier's host broker:
// a suite directory of its own, importing the harness as @inception/harness, serial and in mocha's
// parallel mode (suite.parallel), must report every test in results.json and junit.xml.
import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const root = path.resolve(__dirname, "../..");

/** A test file that round-trips one plain event through Kafka with the harness. */
const roundTrip = (name: string) => `
import { expect } from "chai";
import { fieldEquals, harness, newId } from "@inception/harness";
describe("${name}", () => {
  it("round-trips an event", async () => {
    const h = harness();
    const request_id = newId("rt");
    await h.send("inception.runner-test", { request_id, from: "${name}" });
    const got = await h.waitFor<{ from: string }>("inception.runner-test", fieldEquals("request_id", request_id), {
      description: "the event back",
    });
    expect(got.from).to.equal("${name}");
  });
});
`;

async function runSuite(parallel: boolean): Promise<{ code: number; out: string; artifacts: string }> {
  const suite = mkdtempSync(path.join(root, ".inception", "runner-suite-"));
  writeFileSync(path.join(suite, "a.test.ts"), roundTrip("a"));
  writeFileSync(path.join(suite, "b.test.ts"), roundTrip("b"));
  const artifacts = mkdtempSync(path.join(tmpdir(), "inception-runner-"));
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", "packages/runner/run.ts"],
      {
        cwd: root,
        env: {
          ...process.env,
          SUITE_DIR: suite,
          ARTIFACTS_DIR: artifacts,
          EMIT_ARTIFACTS: "false",
          MOCHA_PARALLEL: String(parallel),
          HARNESS_TOPICS: "inception.runner-test",
        },
      },
    );
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => {
      rmSync(suite, { recursive: true, force: true });
      resolve({ code: code ?? 1, out, artifacts });
    });
  });
}

describe("the suite runner, with a suite directory of its own", function () {
  this.timeout(120000);
  for (const parallel of [false, true]) {
    it(`${parallel ? "parallel" : "serial"}: runs every file and reports both tests`, async () => {
      const r = await runSuite(parallel);
      expect(r.code, r.out).to.equal(0);
      const results = JSON.parse(readFileSync(path.join(r.artifacts, "results.json"), "utf8")) as {
        passed: number;
        failed: number;
      };
      expect(results.passed, r.out).to.equal(2);
      expect(results.failed).to.equal(0);
      expect(readFileSync(path.join(r.artifacts, "junit.xml"), "utf8")).to.match(/tests="2" failures="0"/);
    });
  }
});
