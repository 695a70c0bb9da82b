// A sharded suite run's pure parts (infra/suite/shards.ts): the durations it is balanced by, the
// merge of the shards' results into one results.json/junit.xml, and its one verdict.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { junitXml } from "@inception/runner/results";
import {
  SHARDS_FILE,
  ShardRun,
  lastRunDurations,
  liftShardArtifacts,
  mergeShardResults,
  shardedVerdict,
} from "../../infra/suite/shards";
import { HOOK_SETTINGS_ENV, decodeHookSettings, encodeHookSettings } from "../../infra/suite/settings";

const test = (file: string, title: string, state: "passed" | "failed" | "pending", durationMs = 10) => ({
  title,
  file,
  state,
  durationMs,
  ...(state === "failed" ? { message: `${title} broke`, stack: `Error: ${title} broke\n    at x` } : {}),
});
const results = (tests: ReturnType<typeof test>[], durationMs: number) => ({
  passed: tests.filter((t) => t.state === "passed").length,
  failed: tests.filter((t) => t.state === "failed").length,
  pending: tests.filter((t) => t.state === "pending").length,
  durationMs,
  failures: tests.filter((t) => t.state === "failed").map((t) => ({ title: t.title, message: t.message! })),
  tests,
});
const ended = (index: number, r: unknown): ShardRun => ({ index, outcome: "ended", results: r });

const shard0 = results(
  [test("/s/a.test.ts", "a one", "passed"), test("/s/a.test.ts", "a two", "pending")],
  900,
);
const shard1 = results(
  [
    test("/s/b.test.ts", "b one", "passed"),
    test("/s/b.test.ts", "b two", "failed"),
    test("/s/c.test.ts", "c", "passed"),
  ],
  1200,
);

describe("a sharded run's results", () => {
  it("merges the shards: counts add up, the run lasts as long as its longest shard", () => {
    const m = mergeShardResults([ended(1, shard1), ended(0, shard0)]);
    expect({
      passed: m.passed,
      failed: m.failed,
      pending: m.pending,
      durationMs: m.durationMs,
    }).to.deep.equal({
      passed: 3,
      failed: 1,
      pending: 1,
      durationMs: 1200,
    });
    expect(m.tests.map((t) => [t.shard, t.title])).to.deep.equal([
      [0, "a one"],
      [0, "a two"],
      [1, "b one"],
      [1, "b two"],
      [1, "c"],
    ]);
    expect(m.failures).to.deep.equal([{ title: "[shard 1] b two", message: "b two broke" }]);
    expect(m.shards.map((s) => [s.index, s.passed, s.failed])).to.deep.equal([
      [0, 1, 0],
      [1, 2, 1],
    ]);
  });

  it("renders one JUnit file with every shard's cases", () => {
    const xml = junitXml(mergeShardResults([ended(0, shard0), ended(1, shard1)]), "local-run");
    expect(xml.match(/<testcase /g)).to.have.length(5);
    expect(xml).to.contain('tests="5" failures="1" skipped="1"');
    for (const t of ["a one", "a two", "b one", "b two", "c"]) expect(xml).to.contain(`name="${t}"`);
  });

  it("is green only when every shard passed", () => {
    const ok = [ended(0, shard0), ended(1, results([test("/s/b.test.ts", "b", "passed")], 5))];
    expect(shardedVerdict(ok, mergeShardResults(ok), false)).to.deep.include({
      ok: true,
      cause: "passed",
      reason: "2 passed",
    });
  });

  it("a failed test fails the run and names its shard", () => {
    const runs = [ended(0, shard0), ended(1, shard1)];
    const v = shardedVerdict(runs, mergeShardResults(runs), false);
    expect(v).to.deep.include({ ok: false, cause: "tests-failed", reason: "1 test(s) failed (shard 1: 1)" });
    expect(v.tests.failures[0].title).to.equal("[shard 1] b two");
  });

  it("a shard that never started, was cut off or left no results fails the run, naming it", () => {
    const runs: ShardRun[] = [
      ended(0, shard0),
      { index: 1, outcome: "cut-off", results: undefined },
      { index: 2, outcome: "no-pod", results: undefined, why: "timed out after 5 ms waiting for pod\nmore" },
      ended(3, undefined),
    ];
    const merged = mergeShardResults(runs);
    const crash = shardedVerdict(runs, merged, false);
    expect(crash.ok).to.equal(false);
    expect(crash.cause).to.equal("crashed");
    expect(crash.reason).to.equal(
      "shard 1 crashed without results; shard 2 never started (timed out after 5 ms waiting for pod); " +
        "shard 3 ended without results",
    );
    // The shards that did run still count.
    expect(crash.tests).to.deep.include({ passed: 1, pending: 1, error: crash.reason });
    const late = shardedVerdict(runs, merged, true);
    expect(late.cause).to.equal("deadline");
    expect(late.reason).to.match(/^shard 1 ran past the suite Job's deadline;/);
    const none = shardedVerdict(
      [{ index: 0, outcome: "no-pod", results: undefined }],
      mergeShardResults([]),
      false,
    );
    expect(none).to.deep.include({ ok: false, cause: "no-pod", reason: "shard 0 never started" });
  });
});

describe("a sharded run's folder", () => {
  it("gets one timeline of every shard in time order and each shard's failed-test folders", () => {
    const run = fs.mkdtempSync(path.join(os.tmpdir(), "inception-shard-run-"));
    try {
      const put = (rel: string, v: unknown) => {
        fs.mkdirSync(path.dirname(path.join(run, rel)), { recursive: true });
        fs.writeFileSync(path.join(run, rel), JSON.stringify(v));
      };
      put("shard-0/timeline.json", [
        { topic: "T", at: 10 },
        { topic: "T", at: "1970-01-01T00:00:00.030Z" },
      ]);
      put("shard-1/timeline.json", [{ topic: "U", at: 20 }]);
      put("shard-1/b two/events.json", { test: "b two" });
      put("shard-1/not-a-test/other.json", {});
      put("shard-2/results.json", {});
      expect(liftShardArtifacts(run, 3)).to.deep.equal(["b two"]);
      const t = JSON.parse(fs.readFileSync(path.join(run, "timeline.json"), "utf8")) as { shard: number }[];
      expect(t.map((e) => e.shard)).to.deep.equal([0, 1, 0]);
      expect(fs.existsSync(path.join(run, "b two", "events.json"))).to.equal(true);
      expect(fs.existsSync(path.join(run, "shard-1", "b two", "events.json"))).to.equal(true);
      expect(fs.existsSync(path.join(run, "not-a-test"))).to.equal(false);
    } finally {
      fs.rmSync(run, { recursive: true, force: true });
    }
  });
});

describe("the durations a sharded run is balanced by", () => {
  const made: string[] = [];
  const stackDir = () => {
    made.push(fs.mkdtempSync(path.join(os.tmpdir(), "inception-shards-")));
    return made[made.length - 1];
  };
  after(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const run = (dir: string, id: string, startedAt: number, tests?: unknown[]) => {
    fs.mkdirSync(path.join(dir, id), { recursive: true });
    fs.writeFileSync(path.join(dir, id, "verdict.json"), JSON.stringify({ startedAt }));
    if (tests)
      fs.writeFileSync(path.join(dir, id, "results.json"), JSON.stringify({ passed: 1, failed: 0, tests }));
  };

  it("come from the newest kept run with results, summed per file", () => {
    const dir = stackDir();
    run(dir, "c-old", 1000, [{ file: "/s/a.test.ts", durationMs: 1 }]);
    run(dir, "b-newest", 3000, [
      { file: "/s/a.test.ts", durationMs: 40 },
      { file: "/s/a.test.ts", durationMs: 2 },
      { file: "/s/b.test.ts", durationMs: 7 },
    ]);
    run(dir, "a-crashed", 4000); // no results: skipped
    expect(lastRunDurations(dir, "new-run")).to.deep.equal({ "/s/a.test.ts": 42, "/s/b.test.ts": 7 });
  });

  it("are those a run already used when it is applied again (its Job must not change)", () => {
    const dir = stackDir();
    run(dir, "b-newest", 3000, [{ file: "/s/a.test.ts", durationMs: 40 }]);
    run(dir, "c-stable", 2000, [{ file: "/s/a.test.ts", durationMs: 99 }]);
    fs.writeFileSync(
      path.join(dir, "c-stable", SHARDS_FILE),
      JSON.stringify({ shards: 2, fileDurations: { x: 5 } }),
    );
    expect(lastRunDurations(dir, "c-stable")).to.deep.equal({ x: 5 });
  });

  it("are none without an earlier run", () => {
    expect(lastRunDurations(path.join(os.tmpdir(), "inception-no-such-dir"), "r")).to.deep.equal({});
    const dir = stackDir();
    run(dir, "r", 1, [{ file: "/s/a.test.ts", durationMs: 3 }]);
    expect(lastRunDurations(dir, "r")).to.deep.equal({});
  });

  it("reach the hook through its settings, checked", () => {
    const s = {
      runner: "job" as const,
      kubeconfig: "k",
      context: "c",
      namespace: "n",
      jobName: "suite-r",
      runId: "r",
      stack: "local",
      stage: "local",
      gitCommit: "unknown",
      runDir: "/a/local/r",
      services: [],
      timeoutSeconds: 60,
      keepRuns: 5,
      hostEnv: {},
      shards: 4,
      fileDurations: { "/s/a.test.ts": 42 },
      redactEnv: [],
      couldNotStart: [],
      mockInfra: [],
    };
    expect(decodeHookSettings({ [HOOK_SETTINGS_ENV]: encodeHookSettings(s) })).to.deep.equal(s);
    expect(() => encodeHookSettings({ ...s, shards: 33 })).to.throw(/shards/);
    expect(() => encodeHookSettings({ ...s, fileDurations: { x: -1 } })).to.throw(/fileDurations\.x/);
  });
});
