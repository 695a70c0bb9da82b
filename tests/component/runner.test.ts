// The suite runner (@inception/runner, packages/runner/run.ts) as the suite Job runs it, against the
// tier's host broker: a suite directory of its own, importing the harness as @inception/harness,
// serial and in mocha's parallel mode (suite.parallel), must report every test in results.json and
// junit.xml; and a team's plain ESM suite ("type": "module", test/*.spec.mjs, kafkajs used directly:
// tests/fixtures/esm-suite) is found by the default suite.spec and runs.
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

interface Results {
  passed: number;
  failed: number;
  tests: { file: string; title: string }[];
}

function runRunner(
  suiteDir: string,
  env: Record<string, string>,
): Promise<{ code: number; out: string; artifacts: string }> {
  const artifacts = mkdtempSync(path.join(tmpdir(), "inception-runner-"));
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", "packages/runner/run.ts"],
      {
        cwd: root,
        env: {
          ...process.env,
          SUITE_DIR: suiteDir,
          ARTIFACTS_DIR: artifacts,
          EMIT_ARTIFACTS: "false",
          ...env,
        },
      },
    );
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => resolve({ code: code ?? 1, out, artifacts }));
  });
}

const results = (artifacts: string): Results =>
  JSON.parse(readFileSync(path.join(artifacts, "results.json"), "utf8")) as Results;

async function runSuite(parallel: boolean): Promise<{ code: number; out: string; artifacts: string }> {
  const suite = mkdtempSync(path.join(root, ".inception", "runner-suite-"));
  writeFileSync(path.join(suite, "a.test.ts"), roundTrip("a"));
  writeFileSync(path.join(suite, "b.test.ts"), roundTrip("b"));
  try {
    return await runRunner(suite, {
      MOCHA_PARALLEL: String(parallel),
      HARNESS_TOPICS: "inception.runner-test",
    });
  } finally {
    rmSync(suite, { recursive: true, force: true });
  }
}

describe("the suite runner, with a suite directory of its own", function () {
  this.timeout(120000);
  for (const parallel of [false, true]) {
    it(`${parallel ? "parallel" : "serial"}: runs every file and reports both tests`, async () => {
      const r = await runSuite(parallel);
      expect(r.code, r.out).to.equal(0);
      const res = results(r.artifacts);
      expect(res.passed, r.out).to.equal(2);
      expect(res.failed).to.equal(0);
      expect(readFileSync(path.join(r.artifacts, "junit.xml"), "utf8")).to.match(/tests="2" failures="0"/);
    });
  }

  it("serial: records each test's start and ids, and what a timed-out wait waited for (the report's diagram)", async () => {
    const suite = mkdtempSync(path.join(root, ".inception", "runner-suite-"));
    writeFileSync(path.join(suite, "a.test.ts"), roundTrip("a"));
    writeFileSync(
      path.join(suite, "w.test.ts"),
      `import { fieldEquals, harness, newId } from "@inception/harness";
describe("w", () => {
  it("waits for what never comes", async () => {
    await harness().waitFor("inception.runner-test", fieldEquals("request_id", newId("none")), {
      description: "an event nobody sends",
      timeoutMs: 300,
    });
  });
});
`,
    );
    let r: { code: number; out: string; artifacts: string };
    const t0 = Date.now();
    try {
      r = await runRunner(suite, { HARNESS_TOPICS: "inception.runner-test" });
    } finally {
      rmSync(suite, { recursive: true, force: true });
    }
    const res = JSON.parse(readFileSync(path.join(r.artifacts, "results.json"), "utf8")) as {
      tests: {
        title: string;
        state: string;
        startedAt?: number;
        ids?: string[];
        wait?: Record<string, unknown>;
      }[];
    };
    const ok = res.tests.find((t) => t.state === "passed");
    const waited = res.tests.find((t) => t.state === "failed");
    expect(ok?.startedAt, r.out).to.be.within(t0, Date.now());
    // The test's own id and the request id it sent.
    expect(ok?.ids?.some((i) => i.startsWith("t-"))).to.equal(true);
    expect(ok?.ids?.some((i) => i.startsWith("rt"))).to.equal(true);
    expect(waited?.wait, r.out).to.deep.include({ timeoutMs: 300 });
    expect(waited?.wait?.conditions).to.deep.equal([
      { topic: "inception.runner-test", description: "an event nobody sends", matched: false },
    ]);
    expect(waited?.wait?.startedAt).to.be.at.least(waited?.startedAt ?? Infinity);
  });

  it('runs a team\'s ESM suite ("type": "module", test/*.spec.mjs and *.spec.js) by the default suite.spec', async () => {
    const r = await runRunner(path.join(root, "tests/fixtures/esm-suite"), {
      HARNESS_TOPICS: "inception.runner-test",
    });
    expect(r.code, r.out).to.equal(0);
    const res = results(r.artifacts);
    expect(res.tests.map((t) => path.relative(root, t.file)).sort(), r.out).to.deep.equal([
      "tests/fixtures/esm-suite/test/checksum.spec.mjs",
      "tests/fixtures/esm-suite/test/sum.spec.js",
    ]);
    expect(res.passed, r.out).to.equal(2);
  });
});
