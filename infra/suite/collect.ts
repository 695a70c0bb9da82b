/**
 * Pure pieces of the post-deploy hook, kept apart from the Kubernetes calls so they can be unit
 * tested: splitting the suite log into what people read and the artifacts it carries, the
 * verdict, and pruning of old runs.
 */
import * as fs from "fs";
import * as path from "path";

import { ARTIFACTS_BEGIN, ARTIFACTS_END, ARTIFACTS_LINE } from "@inception/runner/protocol";

/** The label every suite Job and its pod carry: the run id. */
export const SUITE_RUN_LABEL = "inception.dev/suite-run";

/** Separates the artifact block (base64 lines between markers) from the log people read. */
export class SuiteLog {
  readonly lines: string[] = [];
  private chunks: string[] = [];
  private inBlock = false;
  private complete = false;

  /** Feeds one log line; returns true when the line is for people (not part of the artifacts). */
  push(line: string): boolean {
    if (line === ARTIFACTS_BEGIN) {
      this.inBlock = true;
      this.chunks = [];
      return false;
    }
    if (line === ARTIFACTS_END && this.inBlock) {
      this.inBlock = false;
      this.complete = true;
      return false;
    }
    if (this.inBlock && line.startsWith(ARTIFACTS_LINE)) {
      this.chunks.push(line.slice(ARTIFACTS_LINE.length));
      return false;
    }
    this.lines.push(line);
    return true;
  }

  /** The artifacts tarball, or undefined when the block never completed (crash, timeout). */
  artifacts(): Buffer | undefined {
    return this.complete ? Buffer.from(this.chunks.join(""), "base64") : undefined;
  }
}

export interface TestsOutput {
  passed: number;
  failed: number;
  pending: number;
  durationMs: number;
  failures: { title: string; message: string }[];
  /** Why the run is red when no test failed (it could not start, crashed, timed out, ran nothing). */
  error?: string;
}

export type JobOutcome = "complete" | "failed" | "timeout";

/**
 * What decided the verdict, for machines (verdict.json, the stack outputs' `cause`): one word per
 * way a run ends, so a CI step or the fault tier can tell a failed test from a run that never ran.
 */
export type VerdictCause =
  | "passed"
  | "tests-failed"
  | "no-tests"
  | "deadline"
  | "crashed"
  | "no-results"
  | "no-pod"
  | "service-not-ready"
  | "could-not-start"
  | "interrupted"
  | "hook-error";

export interface Verdict {
  ok: boolean;
  reason: string;
  cause: VerdictCause;
  /** More than the reason's one line, when there is more to say (a failed build's last lines). */
  detail?: string;
  tests: TestsOutput;
}

const NO_TESTS: TestsOutput = { passed: 0, failed: 0, pending: 0, durationMs: 0, failures: [] };

/**
 * A red verdict with no test to blame: `tests.error` says why, as the stack outputs show it (the
 * reason, then the detail when there is one).
 */
export function failedRun(
  cause: VerdictCause,
  reason: string,
  tests: TestsOutput = NO_TESTS,
  detail?: string,
): Verdict {
  return {
    ok: false,
    reason,
    cause,
    ...(detail !== undefined ? { detail } : {}),
    tests: { ...tests, error: detail !== undefined ? `${reason}\n${detail}` : reason },
  };
}

/**
 * The run's verdict: green only when the Job completed and results.json says nothing failed.
 * A missing results file (crash, timeout) is a failure of its own, never "0 failed".
 */
export function verdict(outcome: JobOutcome, results: unknown, who = "the suite Job"): Verdict {
  const r = results as Partial<TestsOutput> | undefined;
  const valid = r !== undefined && typeof r.passed === "number" && typeof r.failed === "number";
  const tests: TestsOutput = valid
    ? {
        passed: r.passed as number,
        failed: r.failed as number,
        pending: typeof r.pending === "number" ? r.pending : 0,
        durationMs: typeof r.durationMs === "number" ? r.durationMs : 0,
        failures: Array.isArray(r.failures)
          ? r.failures.map((f) => ({ title: f.title, message: f.message }))
          : [],
      }
    : NO_TESTS;
  if (outcome === "timeout") return failedRun("deadline", `${who} ran past its deadline`, tests);
  if (!valid)
    return outcome === "failed"
      ? failedRun("crashed", `${who} crashed without results`, tests)
      : failedRun("no-results", `${who} ended without results`, tests);
  if (tests.failed > 0)
    return { ok: false, reason: `${tests.failed} test(s) failed`, cause: "tests-failed", tests };
  if (tests.passed === 0) return failedRun("no-tests", "the suite ran no test", tests);
  return { ok: true, reason: `${tests.passed} passed`, cause: "passed", tests };
}

/** verdict.json of a run folder: the verdict and its cause, written in every case. */
export const VERDICT_FILE = "verdict.json";

export interface VerdictFile {
  ok: boolean;
  reason: string;
  cause: VerdictCause;
  runId: string;
  /** Epoch ms the hook began the run: what pruning orders runs by. */
  startedAt: number;
  durationMs: number;
  /** Null when the suite left no results. */
  counts: { passed: number; failed: number; pending: number } | null;
  /** The verdict's detail, when it has one (could-not-start: what the failed build printed last). */
  detail?: string;
}

export function writeVerdict(
  runDir: string,
  v: Verdict,
  runId: string,
  startedAt: number,
  durationMs: number,
): void {
  const hasResults = v.cause === "passed" || v.cause === "tests-failed" || v.cause === "no-tests";
  const doc: VerdictFile = {
    ok: v.ok,
    reason: v.reason,
    cause: v.cause,
    runId,
    startedAt,
    durationMs,
    counts: hasResults ? { passed: v.tests.passed, failed: v.tests.failed, pending: v.tests.pending } : null,
    ...(v.detail !== undefined ? { detail: v.detail } : {}),
  };
  fs.mkdirSync(runDir, { recursive: true });
  fs.writeFileSync(path.join(runDir, VERDICT_FILE), JSON.stringify(doc, null, 2) + "\n");
}

/**
 * When a run folder's run began: its verdict.json's startedAt, else the folder's modification time
 * (a run folder from before verdict.json, or one a run is still writing).
 */
export function runStartedAt(dir: string): number {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(dir, VERDICT_FILE), "utf8")) as Partial<VerdictFile>;
    if (typeof v.startedAt === "number" && Number.isFinite(v.startedAt)) return v.startedAt;
  } catch {
    // no verdict.json (yet): the folder's time
  }
  return fs.statSync(dir).mtimeMs;
}

/**
 * Deletes all but the newest `keep` run folders under `dir`, newest by when each run began (not by
 * name: a stable run id of rerun "onChange", `c-…`, says nothing about time), never `current`.
 */
export function pruneRuns(dir: string, keep: number, current?: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const runs = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== current)
    .map((e) => ({ name: e.name, at: runStartedAt(path.join(dir, e.name)) }))
    .sort((a, b) => a.at - b.at || a.name.localeCompare(b.name));
  const gone = runs
    .slice(0, Math.max(0, runs.length - (current === undefined ? keep : keep - 1)))
    .map((r) => r.name);
  for (const r of gone) fs.rmSync(path.join(dir, r), { recursive: true, force: true });
  return gone;
}

/** A run id that sorts by time and is unique: 20261126T044501Z-3f9a. */
export function newRunId(now = new Date(), rand = Math.random): string {
  const t = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${t}-${Math.floor(rand() * 0xffff)
    .toString(16)
    .padStart(4, "0")}`.toLowerCase();
}
