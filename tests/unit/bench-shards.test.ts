// npm run bench:shards's verdict (scripts/bench-shards.ts) on run folders written by the hook's
// own functions (merge, verdict, JUnit), as a sharded and an unsharded run leave them.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SuiteResults, TestResult, junitXml } from "@inception/runner/results";
import { FAILING_PART, evaluate, readRun, redRunNamesShard } from "../../scripts/bench-shards";
import { verdict, writeVerdict } from "../../infra/suite/collect";
import { ShardRun, mergeShardResults, shardedVerdict } from "../../infra/suite/shards";

const root = path.resolve(__dirname, "../..");
const PARTS = Array.from({ length: 8 }, (_, i) => `part-${i + 1}`);
const file = (part: string) => `/suite/tests/fixtures/shard-suite/${part}.test.ts`;

function partTests(part: string, failing: string | undefined): TestResult[] {
  return Array.from({ length: 5 }, (_, i) => {
    const failed = i === 4 && part === failing;
    return {
      title: `${part} waits 5000 ms (${i + 1} of 5)`,
      file: file(part),
      state: failed ? "failed" : "passed",
      durationMs: 5000,
      ...(failed
        ? { message: `${part} fails on purpose`, stack: `AssertionError: ${part} fails on purpose` }
        : {}),
    };
  });
}

function results(tests: TestResult[]): SuiteResults {
  return {
    passed: tests.filter((t) => t.state === "passed").length,
    failed: tests.filter((t) => t.state === "failed").length,
    pending: 0,
    durationMs: tests.reduce((a, t) => a + t.durationMs, 0),
    failures: tests.filter((t) => t.state === "failed").map((t) => ({ title: t.title, message: t.message! })),
    tests,
  };
}

let tmp: string;
beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "inception-bench-shards-"))));
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** An unsharded run's folder: the runner's results.json and junit.xml, the hook's verdict.json. */
function unshardedRun(name: string, wallMs: number): string {
  const dir = fs.mkdtempSync(path.join(tmp, `${name}-`));
  const r = results(PARTS.flatMap((p) => partTests(p, undefined)));
  fs.writeFileSync(path.join(dir, "results.json"), JSON.stringify(r));
  fs.writeFileSync(path.join(dir, "junit.xml"), junitXml(r, "bench"));
  writeVerdict(dir, verdict("complete", r), name, Date.now(), wallMs);
  return dir;
}

/**
 * A sharded run's folder as the hook writes it: parts dealt round robin to 4 shards, merged;
 * returns the folder, the shard that ran the failing part and the hook's ✖ lines.
 */
function shardedRun(
  name: string,
  wallMs: number,
  failing?: string,
  dropTests = 0,
): { dir: string; shardOfFailing: number; log: string } {
  const dir = fs.mkdtempSync(path.join(tmp, `${name}-`));
  const shards: ShardRun[] = Array.from({ length: 4 }, (_, i) => {
    const tests = PARTS.filter((_, j) => j % 4 === i).flatMap((p) => partTests(p, failing));
    return { index: i, outcome: "ended", results: results(i === 0 ? tests.slice(dropTests) : tests) };
  });
  const merged = mergeShardResults(shards);
  fs.writeFileSync(path.join(dir, "results.json"), JSON.stringify(merged));
  fs.writeFileSync(path.join(dir, "junit.xml"), junitXml(merged, "bench"));
  const v = shardedVerdict(shards, merged, false);
  writeVerdict(dir, v, name, Date.now(), wallMs);
  // The hook's summary lines (reportRun), as `pulumi up` shows them.
  const log = [
    `inception: run ${name} ${v.ok ? "PASSED" : "FAILED"}: ${v.reason} (60s)`,
    ...v.tests.failures.map((f) => `    inception:   ✖ ${f.title}: ${f.message.split("\n")[0]}`),
    `inception: artifacts: ${dir}`,
  ].join("\n");
  return { dir, shardOfFailing: PARTS.indexOf(failing ?? "part-1") % 4, log };
}

function inputs(oneMs: number, fourMs: number, opts: { redExit?: number; redLog?: string } = {}) {
  const one = unshardedRun("one", oneMs);
  const four = shardedRun("four", fourMs).dir;
  const red = shardedRun("red", fourMs, FAILING_PART);
  const redLog = path.join(red.dir, "..", `up-${path.basename(red.dir)}.log`);
  fs.writeFileSync(redLog, opts.redLog ?? red.log);
  return { one, four, red: red.dir, redLog, redExit: opts.redExit ?? 255, shard: red.shardOfFailing };
}

describe("bench:shards verdict (scripts/bench-shards.ts)", () => {
  it("passes a 4-shard run at 0.3 of the unsharded wall time, 40 cases, the red run naming its shard", () => {
    const i = inputs(210_000, 63_000);
    const { result, lines } = evaluate(i);
    expect(result.problems).to.deep.equal([]);
    expect(result.pass).to.equal(true);
    expect(result.wallRatio).to.equal(0.3);
    expect(result.shards1WallMs).to.equal(210_000);
    expect(result.shards4WallMs).to.equal(63_000);
    expect(result.shards1TestsMs).to.equal(200_000);
    expect(result.shards4TestsMs).to.equal(50_000);
    expect(result.junitCases).to.equal(40);
    expect(result.redJunitCases).to.equal(40);
    expect(result.redShard).to.equal(i.shard);
    expect(result.redReason).to.contain(`shard ${i.shard}`);
    expect(lines.join("\n")).to.contain("wall time shards 4 / shards 1 = 0.3 [ok ≤ 0.4]");
  });

  it("misses when the sharded run takes more than 0.4 of the unsharded one", () => {
    const { result, lines } = evaluate(inputs(200_000, 81_000));
    expect(result.pass).to.equal(false);
    expect(result.wallRatio).to.equal(0.405);
    expect(result.problems).to.deep.equal(["wall time shards 4 / shards 1 is 0.405, expected ≤ 0.4"]);
    expect(lines.join("\n")).to.contain("[MISSED ≤ 0.4]");
  });

  it("counts the merged junit.xml's cases: a lost test misses the 40", () => {
    const i = inputs(210_000, 63_000);
    const short = shardedRun("short", 63_000, undefined, 1).dir;
    const { result } = evaluate({ ...i, four: short });
    expect(readRun(short).junitCases).to.equal(39);
    expect(result.pass).to.equal(false);
    expect(result.problems).to.deep.equal(["shards 4: junit.xml has 39 test cases, expected 40"]);
  });

  it("misses when the red run's up passed or its output names no shard", () => {
    const exit0 = evaluate(inputs(210_000, 63_000, { redExit: 0 }));
    expect(exit0.result.problems).to.deep.equal(["red run: the red run's up exited 0"]);
    const i = inputs(210_000, 63_000, { redLog: "inception: run red FAILED: 1 test(s) failed\n" });
    expect(evaluate(i).result.problems).to.deep.equal([
      `red run: the up's output has no "✖ [shard ${i.shard}] part-3 …" line`,
    ]);
  });

  it("misses when the verdict does not name the shard that ran the failing part", () => {
    const i = inputs(210_000, 63_000);
    const v = JSON.parse(fs.readFileSync(path.join(i.red, "verdict.json"), "utf8"));
    fs.writeFileSync(path.join(i.red, "verdict.json"), JSON.stringify({ ...v, reason: "1 test(s) failed" }));
    const named = redRunNamesShard(i.red, fs.readFileSync(i.redLog, "utf8"), 1);
    expect(named.shard).to.equal(i.shard);
    expect(named.problems).to.deep.equal([
      `the verdict's reason does not name shard ${i.shard}: "1 test(s) failed"`,
    ]);
  });

  it("misses when another test failed than part-3's, or the red run was green", () => {
    const other = shardedRun("other", 63_000, "part-6");
    const named = redRunNamesShard(other.dir, other.log, 1);
    expect(named.shard).to.equal(undefined);
    expect(named.problems[0]).to.match(/^expected exactly part-3's last test to fail, failed: .*part-6/);
    const green = shardedRun("green", 63_000);
    expect(redRunNamesShard(green.dir, green.log, 1).problems[0]).to.equal(
      "the red run's verdict is ok=true, cause passed (expected a failed test)",
    );
  });

  it("a missing run folder is a miss named in the result, not a crash", () => {
    const i = inputs(210_000, 63_000);
    const { result } = evaluate({ ...i, one: "" });
    expect(result.pass).to.equal(false);
    expect(result.wallRatio).to.equal(null);
    expect(result.problems).to.deep.equal(["shards 1: no run folder (the up printed none)"]);
  });

  it("the command writes the JSON line to --out and exits 1 on a miss", function () {
    this.timeout(60_000);
    const i = inputs(200_000, 100_000);
    const out = path.join(tmp, "result.json");
    const r = spawnSync(
      process.execPath,
      [
        ...["-r", "ts-node/register/transpile-only", "scripts/bench-shards.ts"],
        ...["--one", i.one, "--four", i.four, "--red", i.red, "--red-log", i.redLog, "--red-exit", "1"],
        ...["--out", out],
      ],
      { cwd: root, encoding: "utf8" },
    );
    expect(r.status, r.stderr).to.equal(1);
    expect(r.stdout).to.contain("MISSED: wall time shards 4 / shards 1 is 0.5");
    const text = fs.readFileSync(out, "utf8");
    expect(text.trim().split("\n")).to.have.length(1);
    expect(JSON.parse(text)).to.include({ pass: false, wallRatio: 0.5, junitCases: 40 });
  });
});
