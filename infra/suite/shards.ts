/**
 * Pure parts of a sharded suite run (`suite.shards` > 1): the durations the split is balanced by
 * (from the last kept run), and the merge of the shards' results into the run's one results.json,
 * junit.xml and verdict. The Kubernetes side is the hook's (hook.ts); the split itself is the
 * runner's (@inception/runner/shards), computed in each pod.
 */
import * as fs from "fs";
import * as path from "path";
import type { SuiteResults, TestResult } from "@inception/runner/results";
import { FileDurations, fileDurations } from "@inception/runner/shards";
import { TestsOutput, Verdict, VerdictCause, failedRun, runStartedAt, verdict } from "./collect";

/** What a sharded run used, in its run folder: the same run applied again splits the same way. */
export const SHARDS_FILE = "shards.json";

export interface ShardsFile {
  shards: number;
  fileDurations: FileDurations;
}

/** The folder of shard `i`'s artifacts inside the run folder. */
export const shardDir = (i: number): string => `shard-${i}`;

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * The per-file durations a sharded run `runId` is balanced by: those it already used when its
 * folder holds them (a stable run id of rerun "onChange" applied again must not change its Job),
 * else the newest other kept run's with results. {} when there is none: the split goes by name.
 */
export function lastRunDurations(stackDir: string, runId: string): FileDurations {
  const own = readJson(path.join(stackDir, runId, SHARDS_FILE)) as Partial<ShardsFile> | undefined;
  if (own?.fileDurations && typeof own.fileDurations === "object") return own.fileDurations;
  if (!fs.existsSync(stackDir)) return {};
  const runs = fs
    .readdirSync(stackDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== runId)
    .map((e) => path.join(stackDir, e.name))
    .filter((d) => fs.existsSync(path.join(d, "results.json")))
    .map((d) => ({ d, at: runStartedAt(d) }))
    .sort((a, b) => b.at - a.at || b.d.localeCompare(a.d));
  for (const { d } of runs) {
    const r = readJson(path.join(d, "results.json")) as Partial<SuiteResults> | undefined;
    if (Array.isArray(r?.tests) && r.tests.length > 0) return fileDurations(r.tests);
  }
  return {};
}

/** What the hook saw of one shard's pod. */
export type ShardOutcome =
  /** The pod ended and handed back its artifacts (its results.json may still be missing). */
  | "ended"
  /** No pod of this completion index ever ran. */
  | "no-pod"
  /** The pod ran but left no artifacts: it crashed, or the Job's deadline stopped it. */
  | "cut-off";

export interface ShardRun {
  index: number;
  outcome: ShardOutcome;
  /** Its results.json, when it has one. */
  results: unknown;
  /** Why its pod never ran (the wait's account). */
  why?: string;
}

/** A test of the merged results: which shard ran it. */
export type ShardTestResult = TestResult & { shard: number };

export interface MergedResults extends SuiteResults {
  tests: ShardTestResult[];
  shards: { index: number; passed: number; failed: number; pending: number; durationMs: number }[];
}

const validResults = (r: unknown): r is SuiteResults =>
  r !== null &&
  typeof r === "object" &&
  typeof (r as SuiteResults).passed === "number" &&
  typeof (r as SuiteResults).failed === "number";

const shardName = (i: number): string => `shard ${i}`;

/**
 * The shards' results as one run's: counts add up, the tests (and failures) keep their shard, the
 * duration is the longest shard's (they ran at once). Shards without results add nothing here;
 * the verdict names them.
 */
export function mergeShardResults(shards: ShardRun[]): MergedResults {
  const merged: MergedResults = {
    passed: 0,
    failed: 0,
    pending: 0,
    durationMs: 0,
    failures: [],
    tests: [],
    shards: [],
  };
  for (const s of [...shards].sort((a, b) => a.index - b.index)) {
    if (!validResults(s.results)) continue;
    const r = s.results;
    const pending = typeof r.pending === "number" ? r.pending : 0;
    const durationMs = typeof r.durationMs === "number" ? r.durationMs : 0;
    merged.passed += r.passed;
    merged.failed += r.failed;
    merged.pending += pending;
    merged.durationMs = Math.max(merged.durationMs, durationMs);
    for (const f of Array.isArray(r.failures) ? r.failures : [])
      merged.failures.push({ title: `[${shardName(s.index)}] ${f.title}`, message: f.message });
    for (const t of Array.isArray(r.tests) ? r.tests : []) merged.tests.push({ ...t, shard: s.index });
    merged.shards.push({ index: s.index, passed: r.passed, failed: r.failed, pending, durationMs });
  }
  return merged;
}

/**
 * The verdict of a sharded run. A shard that never started, was cut off or left no results fails
 * the run whatever the others did, and the reason names it; failed tests name their shards.
 */
export function shardedVerdict(shards: ShardRun[], merged: MergedResults, deadlineHit: boolean): Verdict {
  const problems: { cause: VerdictCause; text: string }[] = [];
  for (const s of [...shards].sort((a, b) => a.index - b.index)) {
    const name = shardName(s.index);
    if (s.outcome === "no-pod")
      problems.push({
        cause: "no-pod",
        text: `${name} never started${s.why ? ` (${firstLine(s.why)})` : ""}`,
      });
    else if (s.outcome === "cut-off")
      problems.push(
        deadlineHit
          ? { cause: "deadline", text: `${name} ran past the suite Job's deadline` }
          : { cause: "crashed", text: `${name} crashed without results` },
      );
    else if (!validResults(s.results))
      problems.push({ cause: "no-results", text: `${name} ended without results` });
  }
  const tests: TestsOutput = {
    passed: merged.passed,
    failed: merged.failed,
    pending: merged.pending,
    durationMs: merged.durationMs,
    failures: merged.failures,
  };
  const failedIn = merged.shards.filter((s) => s.failed > 0).map((s) => `${shardName(s.index)}: ${s.failed}`);
  const testsFailed = merged.failed > 0 ? `${merged.failed} test(s) failed (${failedIn.join(", ")})` : "";
  if (problems.length > 0) {
    const reason = [...problems.map((p) => p.text), ...(testsFailed ? [testsFailed] : [])].join("; ");
    return failedRun(problems[0].cause, reason, tests);
  }
  const v = verdict("complete", tests, `the suite Job (${shards.length} shards)`);
  return v.cause === "tests-failed" ? { ...v, reason: testsFailed } : v;
}

function firstLine(text: string, max = 200): string {
  const l = text.split("\n")[0].trim();
  return l.length > max ? `${l.slice(0, max - 1)}…` : l;
}

const timeOf = (x: unknown): number => {
  const at = (x as { at?: unknown } | null)?.at;
  const t = typeof at === "number" ? at : typeof at === "string" ? Date.parse(at) : NaN;
  return Number.isFinite(t) ? t : Number.POSITIVE_INFINITY;
};

/**
 * Gives the run folder what the report reads at its top (infra-wide tools too): one timeline.json
 * of every shard's Kafka events in time order (each entry with its `shard`), and each shard's
 * failed-test folders (those holding events.json or collectors.json). Each shard's own files stay
 * in `shard-<i>/`. A folder name two shards both have is kept from the lower shard. Returns the
 * folders lifted.
 */
export function liftShardArtifacts(runDir: string, shards: number): string[] {
  const timeline: { entry: unknown; order: number }[] = [];
  const lifted: string[] = [];
  for (let i = 0; i < shards; i++) {
    const dir = path.join(runDir, shardDir(i));
    if (!fs.existsSync(dir)) continue;
    const t = readJson(path.join(dir, "timeline.json"));
    if (Array.isArray(t))
      for (const e of t)
        timeline.push({
          entry: e !== null && typeof e === "object" ? { ...e, shard: i } : e,
          order: timeline.length,
        });
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const src = path.join(dir, e.name);
      const dst = path.join(runDir, e.name);
      const isTest = ["events.json", "collectors.json"].some((f) => fs.existsSync(path.join(src, f)));
      if (!isTest || fs.existsSync(dst)) continue;
      fs.cpSync(src, dst, { recursive: true });
      lifted.push(e.name);
    }
  }
  if (timeline.length > 0) {
    timeline.sort((a, b) => timeOf(a.entry) - timeOf(b.entry) || a.order - b.order);
    fs.writeFileSync(
      path.join(runDir, "timeline.json"),
      JSON.stringify(
        timeline.map((t) => t.entry),
        null,
        2,
      ),
    );
  }
  return lifted;
}
