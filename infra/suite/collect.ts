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
}

export type JobOutcome = "complete" | "failed" | "timeout";

export interface Verdict {
  ok: boolean;
  reason: string;
  tests: TestsOutput;
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
    : { passed: 0, failed: 0, pending: 0, durationMs: 0, failures: [] };
  if (outcome === "timeout") return { ok: false, reason: `${who} ran past its deadline`, tests };
  if (!valid)
    return {
      ok: false,
      reason: `${who} ${outcome === "failed" ? "crashed" : "ended"} without results`,
      tests,
    };
  if (tests.failed > 0) return { ok: false, reason: `${tests.failed} test(s) failed`, tests };
  if (tests.passed === 0) return { ok: false, reason: "the suite ran no test", tests };
  return { ok: true, reason: `${tests.passed} passed`, tests };
}

/**
 * Deletes all but the newest `keep` run folders under `dir` (names sort by time: run ids do),
 * never `current`: a stable run id (rerun "onChange", `c-…`) sorts before the time-stamped ones.
 */
export function pruneRuns(dir: string, keep: number, current?: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const runs = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .filter((n) => n !== current)
    .sort();
  const gone = runs.slice(0, Math.max(0, runs.length - (current === undefined ? keep : keep - 1)));
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
