/**
 * Which test files each pod of a sharded suite runs (`suite.shards`: an Indexed Job, one pod per
 * completion index). Every pod computes the same split from the same inputs — the sorted file list,
 * the shard count and the durations of the last kept run — and takes its own index's part, so no
 * pod needs to hear from another and no scheduler of our own is involved.
 */
import * as path from "path";

/** Per test file, its tests' total duration in ms (keys: absolute or relative to the suite dir). */
export type FileDurations = Record<string, number>;

/**
 * Splits `files` into `shards` parts: greedy longest-processing-time first — the longest file goes
 * to the part with the least work so far (ties: the lowest index), so the parts end close together.
 * A file the last run did not have counts as that run's mean file (1 without any durations, which
 * makes the split a round robin by name). Deterministic: the same inputs give the same split
 * whatever their order; every file is in exactly one part; a part may be empty (more shards than
 * files).
 */
export function splitFiles(files: string[], shards: number, durations: FileDurations = {}): string[][] {
  if (!Number.isInteger(shards) || shards < 1)
    throw new Error(`shards is ${shards}: expected an integer ≥ 1`);
  const unique = [...new Set(files)].sort();
  const known = unique.map((f) => durations[f]).filter((d) => Number.isFinite(d) && d >= 0);
  const fallback = known.length > 0 ? known.reduce((a, b) => a + b, 0) / known.length : 1;
  const weight = (f: string): number => {
    const d = durations[f];
    return Number.isFinite(d) && d >= 0 ? d : fallback;
  };
  const order = unique
    .map((f) => ({ f, w: weight(f) }))
    .sort((a, b) => b.w - a.w || (a.f < b.f ? -1 : a.f > b.f ? 1 : 0));
  const parts = Array.from({ length: shards }, () => ({ files: [] as string[], load: 0 }));
  for (const { f, w } of order) {
    let best = 0;
    for (let i = 1; i < parts.length; i++) if (parts[i].load < parts[best].load) best = i;
    parts[best].files.push(f);
    parts[best].load += w;
  }
  return parts.map((p) => p.files.sort());
}

/**
 * SUITE_FILE_DURATIONS as the stack writes it (a JSON object of file → ms); {} when unset. A bad
 * value is an error: a silently unbalanced split would only show as a slow run.
 */
export function parseFileDurations(v: string | undefined): FileDurations {
  if (!v?.trim()) return {};
  let d: unknown;
  try {
    d = JSON.parse(v);
  } catch {
    throw new Error(`SUITE_FILE_DURATIONS is not JSON: ${v.slice(0, 200)}`);
  }
  if (d === null || typeof d !== "object" || Array.isArray(d))
    throw new Error("SUITE_FILE_DURATIONS must be a JSON object of file → duration in ms");
  const out: FileDurations = {};
  for (const [f, ms] of Object.entries(d)) {
    if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0)
      throw new Error(`SUITE_FILE_DURATIONS[${JSON.stringify(f)}] is ${JSON.stringify(ms)}: expected ms ≥ 0`);
    out[f] = ms;
  }
  return out;
}

/**
 * The durations keyed by the runner's own file paths: a run records absolute paths, which match
 * as long as the suite dir is the same; a key relative to the suite dir matches too.
 */
export function durationsFor(files: string[], suiteDir: string, durations: FileDurations): FileDurations {
  const out: FileDurations = {};
  for (const f of files) {
    const d = durations[f] ?? durations[path.relative(suiteDir, f)];
    if (d !== undefined) out[f] = d;
  }
  return out;
}

/** Per file, the summed durations of its tests in a run's results (results.json's `tests`). */
export function fileDurations(tests: { file?: string; durationMs?: number }[]): FileDurations {
  const out: FileDurations = {};
  for (const t of tests) {
    if (!t.file || typeof t.durationMs !== "number" || !Number.isFinite(t.durationMs)) continue;
    out[t.file] = (out[t.file] ?? 0) + Math.max(0, t.durationMs);
  }
  return out;
}

/** This pod's part of a sharded suite: SUITE_SHARDS (default 1) and JOB_COMPLETION_INDEX. */
export function shardOf(env: NodeJS.ProcessEnv): { index: number; shards: number } {
  const shards = Number(env.SUITE_SHARDS ?? 1);
  if (!Number.isInteger(shards) || shards < 1 || shards > 32)
    throw new Error(`SUITE_SHARDS is ${env.SUITE_SHARDS}: expected an integer 1..32`);
  if (shards === 1) return { index: 0, shards };
  const index = Number(env.JOB_COMPLETION_INDEX);
  if (env.JOB_COMPLETION_INDEX === undefined || !Number.isInteger(index) || index < 0 || index >= shards)
    throw new Error(
      `JOB_COMPLETION_INDEX is ${env.JOB_COMPLETION_INDEX}: a sharded suite runs as an Indexed Job (0..${shards - 1})`,
    );
  return { index, shards };
}
