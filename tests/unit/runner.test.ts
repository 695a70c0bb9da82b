// The suite runner (@inception/runner) on small suites of its own, without Kafka: which files it
// takes (suite.spec), ESM test files, and that the process ends once the results are written even
// when a test leaves a handle open.
import { expect } from "chai";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DEFAULT_SPEC, suiteFiles } from "@inception/runner/files";
import { ARTIFACTS_BEGIN, ARTIFACTS_LINE } from "@inception/runner/protocol";

const root = path.resolve(__dirname, "../..");
// Under the OS temp dir: these suites cannot see @inception/harness, so no Kafka harness starts.
const suite = (files: Record<string, string>): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "inception-suite-"));
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  return dir;
};
const passing = (name: string, esm = false) =>
  `${esm ? 'import assert from "node:assert";' : 'const assert = require("node:assert");'}
describe("${name}", () => { it("passes", () => assert.strictEqual(1 + 1, 2)); });\n`;

function runRunner(dir: string, env: Record<string, string> = {}) {
  const artifacts = fs.mkdtempSync(path.join(os.tmpdir(), "inception-runner-"));
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    ["-r", "ts-node/register/transpile-only", path.join(root, "packages/runner/run.ts")],
    {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, SUITE_DIR: dir, ARTIFACTS_DIR: artifacts, EMIT_ARTIFACTS: "false", ...env },
    },
  );
  const results = fs.existsSync(path.join(artifacts, "results.json"))
    ? (JSON.parse(fs.readFileSync(path.join(artifacts, "results.json"), "utf8")) as {
        passed: number;
        failed: number;
        tests: {
          file: string;
          title: string;
          state: string;
          retries?: number;
          startedAt?: number;
          ids?: string[];
          wait?: unknown;
        }[];
      })
    : undefined;
  return { ...r, ms: Date.now() - t0, results, out: `${r.stdout}${r.stderr}` };
}

describe("suite files (suite.spec)", () => {
  it("takes mocha's usual names by default, at any depth, never from node_modules", () => {
    const dir = suite({
      "a.test.ts": "",
      "deep/er/b.spec.mjs": "",
      "c.spec.cjs": "",
      "d.test.js": "",
      "helper.ts": "",
      "e.spec.json": "",
      "node_modules/dep/x.test.js": "",
    });
    const rel = suiteFiles(dir).map((f) => path.relative(dir, f));
    expect(rel).to.deep.equal(["a.test.ts", "c.spec.cjs", "d.test.js", "deep/er/b.spec.mjs"]);
    expect(DEFAULT_SPEC).to.equal("**/*.{test,spec}.{ts,js,mjs,cjs}");
  });

  it("takes a team's own pattern", () => {
    const dir = suite({ "test/x.spec.mjs": "", "it/y.it.ts": "" });
    expect(suiteFiles(dir, "it/**/*.it.ts").map((f) => path.relative(dir, f))).to.deep.equal(["it/y.it.ts"]);
  });
});

describe("the suite runner process", function () {
  this.timeout(90_000);

  it("ends once its results are written, even when a test leaves a handle open", () => {
    const dir = suite({
      "open.test.js": `describe("open handle", () => {
  it("starts a timer it never clears", () => { setInterval(() => {}, 1000); });
});\n`,
    });
    const r = runRunner(dir);
    expect(r.error, r.out).to.equal(undefined); // spawnSync's timeout would set ETIMEDOUT
    expect(r.status, r.out).to.equal(0);
    expect(r.results?.passed, r.out).to.equal(1);
  });

  it("runs ESM test files (.spec.mjs) beside CommonJS ones, and SUITE_SPEC narrows them", () => {
    const dir = suite({ "test/a.spec.mjs": passing("esm", true), "test/b.test.js": passing("cjs") });
    const all = runRunner(dir);
    expect(all.status, all.out).to.equal(0);
    expect(all.results?.passed, all.out).to.equal(2);
    const only = runRunner(dir, { SUITE_SPEC: "**/*.spec.mjs" });
    expect(
      only.results?.tests.map((t) => path.basename(t.file)),
      only.out,
    ).to.deep.equal(["a.spec.mjs"]);
  });

  it("records each test's retries, the start and ids left on it, and a timed-out wait's details", () => {
    // What the harness's beforeEach leaves on the test (tests/harness/hooks.ts), and the
    // structured details of its WaitTimeoutError, written here by hand: no harness outside tests/.
    const dir = suite({
      "r.test.js": `const assert = require("node:assert");
let attempts = 0;
beforeEach(function () {
  this.currentTest.inceptionTest = { startedAt: 1234, ids: new Set(["t-1", "a-9"]) };
});
describe("recorded", () => {
  it("passes at its second attempt", () => { attempts += 1; assert.strictEqual(attempts, 2); });
  it("times out waiting", () => {
    const e = new Error("timed out after 50 ms waiting for: ...");
    e.details = { timeoutMs: 50, startedAt: 1300, conditions: [
      { topic: "T1", description: "the reply", matched: false },
      { topic: "T2", description: "the ack", matched: true, matchedAtMs: 12 },
    ] };
    throw e;
  });
});\n`,
    });
    const r = runRunner(dir, { MOCHA_RETRIES: "1" });
    const [passed, failed] = r.results?.tests ?? [];
    expect(passed, r.out).to.deep.include({
      state: "passed",
      retries: 1,
      startedAt: 1234,
      ids: ["t-1", "a-9"],
    });
    expect(failed, r.out).to.deep.include({ state: "failed", retries: 1 });
    expect(failed.wait).to.deep.equal({
      timeoutMs: 50,
      startedAt: 1300,
      conditions: [
        { topic: "T1", description: "the reply", matched: false },
        { topic: "T2", description: "the ack", matched: true, matchedAtMs: 12 },
      ],
    });
  });

  it("records no start or ids for a suite without the harness", () => {
    const r = runRunner(suite({ "p.test.js": passing("plain") }));
    expect(r.results?.tests[0], r.out).to.deep.include({ retries: 0 });
    expect(r.results?.tests[0]).to.not.have.property("startedAt");
    expect(r.results?.tests[0]).to.not.have.property("ids");
  });

  it("with SUITE_SHARDS, runs only its completion index's part, balanced by SUITE_FILE_DURATIONS", () => {
    const dir = suite({
      "a.test.js": passing("a"),
      "b.test.js": passing("b"),
      "c.test.js": passing("c"),
    });
    // a is as long as b and c together: a alone in one shard, b and c in the other.
    const durations = JSON.stringify({
      [path.join(dir, "a.test.js")]: 900,
      "b.test.js": 400,
      "c.test.js": 500,
    });
    const ran = (index: string) => {
      const r = runRunner(dir, {
        SUITE_SHARDS: "2",
        JOB_COMPLETION_INDEX: index,
        SUITE_FILE_DURATIONS: durations,
      });
      expect(r.status, r.out).to.equal(0);
      expect(r.out).to.contain(`shard ${index} of 2`);
      return r.results?.tests.map((t) => path.basename(t.file));
    };
    expect(ran("0")).to.deep.equal(["a.test.js"]);
    expect(ran("1")).to.deep.equal(["b.test.js", "c.test.js"]);
  });

  it("a shard with no file left for it passes with no test; a bad completion index is an error", () => {
    const dir = suite({ "a.test.js": passing("a") });
    const empty = runRunner(dir, { SUITE_SHARDS: "2", JOB_COMPLETION_INDEX: "1" });
    expect(empty.status, empty.out).to.equal(0);
    expect(empty.results?.tests, empty.out).to.deep.equal([]);
    const bad = runRunner(dir, { SUITE_SHARDS: "2", JOB_COMPLETION_INDEX: "2" });
    expect(bad.status, bad.out).to.equal(3);
    expect(bad.out).to.contain("JOB_COMPLETION_INDEX is 2");
  });

  it("exits 2 naming the pattern when no file matches", () => {
    const r = runRunner(suite({ "x.txt": "" }));
    expect(r.status).to.equal(2);
    expect(r.out).to.contain(`matches ${DEFAULT_SPEC}`);
  });
});

describe("the suite runner stopped by SIGTERM (its Job's deadline)", function () {
  this.timeout(60_000);

  it("ends at once with 143, handing back what the tests wrote so far", async () => {
    const dir = suite({
      "hold.test.js": `const fs = require("node:fs");
describe("hold", () => {
  it("writes a file, then never settles", function () {
    this.timeout(0);
    fs.writeFileSync(process.env.ARTIFACTS_DIR + "/partial.txt", "written before the stop");
    console.log("holding");
    return new Promise(() => {});
  });
});\n`,
    });
    const artifacts = fs.mkdtempSync(path.join(os.tmpdir(), "inception-runner-"));
    const child = spawn(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", path.join(root, "packages/runner/run.ts")],
      { cwd: root, env: { ...process.env, SUITE_DIR: dir, ARTIFACTS_DIR: artifacts } },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const ended = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    while (!out.includes("holding") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(out, "the test never started").to.contain("holding");
    const stopped = Date.now();
    child.kill("SIGTERM");
    const code = await ended;
    expect(code, out).to.equal(143);
    expect(Date.now() - stopped, "it ended only when killed").to.be.below(5_000);
    expect(out).to.contain("inception: the suite was stopped (SIGTERM");
    // The folder as the hook receives it: the partial file inside the handed-back tarball.
    const b64 = out
      .split("\n")
      .filter((l) => l.startsWith(ARTIFACTS_LINE))
      .map((l) => l.slice(ARTIFACTS_LINE.length))
      .join("");
    expect(out).to.contain(ARTIFACTS_BEGIN);
    const listed = spawnSync("tar", ["-tzf", "-"], { input: Buffer.from(b64, "base64"), encoding: "utf8" });
    expect(listed.stdout).to.contain("partial.txt");
  });
});
