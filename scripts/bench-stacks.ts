/**
 * `npm run bench:stacks`'s verdict (scripts/bench-stacks.sh brings up 1, 2 and 4 devo stacks at
 * once on one kind cluster, a round per count): reads each round's folder and reports, per stack
 * count, the time of the concurrent `up`s (the first start to the last end; each stack's own `up`
 * and its suite's wall time from its run folder's verdict.json) and the peak memory.
 *
 * Memory: `docker stats --no-stream` of the kind node containers, sampled every few seconds during
 * the round's `up`s (memory.tsv), and a few times on the idle cluster just before (baseline.tsv).
 * A sample is the sum over the nodes; the peak is the largest sample, and per stack it is
 * (peak − idle baseline) / stacks: what the stacks' pods, and the cluster's own work for them
 * (API server, etcd, kubelet), added at their worst moment. docker's figure is the containers'
 * cgroup memory without the inactive page cache.
 *
 * Writes one JSON line to --out (the script prints it last, after the teardown). Exits 1 when a
 * round is missing, a stack's `up` or suite was red, or a round has no memory sample.
 *
 *   node -r ts-node/register/transpile-only scripts/bench-stacks.ts --work DIR --counts 1,2,4 --out FILE
 *
 * A round folder (round-<n>/) holds: start (epoch ms), wall-ms, baseline.tsv and memory.tsv (lines
 * `epoch-ms TAB container TAB docker's MemUsage`), and per stack up-<stack>.log and up-<stack>.exit.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";

export const MEMORY_SOURCE =
  "docker stats --no-stream of the kind node containers (cgroup memory without inactive page cache), " +
  "summed over the nodes; per stack: (peak during the ups − idle baseline) / stacks";

const UNITS: Record<string, number> = {
  B: 1,
  kB: 1e3,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
};

/** docker stats' MemUsage ("1.234GiB / 23.5GiB"): the used bytes. */
export function parseMemUsage(text: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]+)\s*(?:\/.*)?$/.exec(text);
  const unit = m ? UNITS[m[2]] : undefined;
  if (!m || unit === undefined) throw new Error(`not docker's memory usage: ${JSON.stringify(text)}`);
  return Number(m[1]) * unit;
}

/** A samples file as the sum over the nodes per sample, in time order. */
export function memorySamples(text: string): { at: number; bytes: number; nodes: number }[] {
  const byTime = new Map<number, { bytes: number; nodes: number }>();
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const [at, , usage] = line.split("\t");
    const t = Number(at);
    if (!Number.isFinite(t) || usage === undefined)
      throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const s = byTime.get(t) ?? { bytes: 0, nodes: 0 };
    s.bytes += parseMemUsage(usage);
    s.nodes += 1;
    byTime.set(t, s);
  }
  return [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([at, s]) => ({ at, ...s }));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The run folder an `up` printed (its last "inception: artifacts: <dir>" line). */
export function runDirOf(upLog: string): string | undefined {
  const dirs = [...upLog.matchAll(/inception: artifacts: (\/\S+)/g)].map((m) => m[1]);
  return dirs.at(-1);
}

export interface StackOutcome {
  stack: string;
  upExit: number | null;
  green: boolean;
  /** The hook's wall time (verdict.json), when the run left one. */
  suiteWallMs: number | null;
  reason: string;
}

export interface Round {
  stacks: number;
  green: boolean;
  upsWallMs: number | null;
  perStack: StackOutcome[];
  baselineBytes: number | null;
  peakBytes: number | null;
  perStackBytes: number | null;
  samples: number;
  problems: string[];
}

const readText = (file: string): string | undefined =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;

function stackOutcome(dir: string, stack: string): StackOutcome {
  const exitText = readText(path.join(dir, `up-${stack}.exit`))?.trim();
  const upExit = exitText === undefined || exitText === "" ? null : Number(exitText);
  const runDir = runDirOf(readText(path.join(dir, `up-${stack}.log`)) ?? "");
  let verdict: { ok?: unknown; reason?: unknown; durationMs?: unknown } | undefined;
  if (runDir && fs.existsSync(path.join(runDir, "verdict.json")))
    verdict = JSON.parse(fs.readFileSync(path.join(runDir, "verdict.json"), "utf8"));
  const green = upExit === 0 && verdict?.ok === true;
  const reason =
    upExit === null
      ? "its up did not end"
      : !verdict
        ? `up exited ${upExit}, no run folder`
        : `up exited ${upExit}, suite ${verdict.ok === true ? "green" : "red"}: ${String(verdict.reason)}`;
  return {
    stack,
    upExit,
    green,
    suiteWallMs: typeof verdict?.durationMs === "number" ? verdict.durationMs : null,
    reason,
  };
}

/** One round's folder: `n` stacks bench-stacks-1..n. */
export function readRound(dir: string, n: number): Round {
  const problems: string[] = [];
  if (!fs.existsSync(dir))
    return {
      stacks: n,
      green: false,
      upsWallMs: null,
      perStack: [],
      baselineBytes: null,
      peakBytes: null,
      perStackBytes: null,
      samples: 0,
      problems: [`round of ${n}: it did not run (${dir})`],
    };
  const perStack = Array.from({ length: n }, (_, i) => stackOutcome(dir, `bench-stacks-${i + 1}`));
  for (const s of perStack)
    if (!s.green) problems.push(`round of ${n}: ${s.stack} is not green (${s.reason})`);
  const wall = Number(readText(path.join(dir, "wall-ms")));
  const baseline = memorySamples(readText(path.join(dir, "baseline.tsv")) ?? "");
  const during = memorySamples(readText(path.join(dir, "memory.tsv")) ?? "");
  if (during.length === 0) problems.push(`round of ${n}: no memory sample during the ups`);
  if (baseline.length === 0) problems.push(`round of ${n}: no memory sample of the idle cluster`);
  const peak = during.length > 0 ? Math.max(...during.map((s) => s.bytes)) : NaN;
  const base = median(baseline.map((s) => s.bytes));
  const perStackBytes = (peak - base) / n;
  return {
    stacks: n,
    green: perStack.every((s) => s.green),
    upsWallMs: Number.isFinite(wall) && wall > 0 ? wall : null,
    perStack,
    baselineBytes: Number.isFinite(base) ? base : null,
    peakBytes: Number.isFinite(peak) ? peak : null,
    perStackBytes: Number.isFinite(perStackBytes) ? Math.round(perStackBytes) : null,
    samples: during.length,
    problems,
  };
}

const mib = (b: number | null): string => (b === null ? "?" : `${Math.round(b / 2 ** 20)} MiB`);
const sec = (ms: number | null): string => (ms === null ? "?" : `${Math.round(ms / 100) / 10} s`);

export function evaluate(
  work: string,
  counts: number[],
): { result: Record<string, unknown>; lines: string[] } {
  const rounds = counts.map((n) => readRound(path.join(work, `round-${n}`), n));
  const problems = rounds.flatMap((r) => r.problems);
  const lines = rounds.map(
    (r) =>
      `bench:stacks: ${r.stacks} stack(s) at once: ${r.green ? "all green" : "NOT all green"}, ups ${sec(r.upsWallMs)} ` +
      `(suites ${r.perStack.map((s) => sec(s.suiteWallMs)).join(", ")}), nodes' memory peak ${mib(r.peakBytes)} ` +
      `over idle ${mib(r.baselineBytes)}: ${mib(r.perStackBytes)} per stack (${r.samples} samples)`,
  );
  for (const p of problems) lines.push(`bench:stacks: MISSED: ${p}`);
  const pass = problems.length === 0;
  return {
    lines,
    result: {
      rounds: rounds.map((r) => ({
        stacks: r.stacks,
        green: r.green,
        upsWallMs: r.upsWallMs,
        suiteWallMs: r.perStack.map((s) => s.suiteWallMs),
        peakMemoryBytes: r.peakBytes,
        idleMemoryBytes: r.baselineBytes,
        perStackMemoryBytes: r.perStackBytes,
        samples: r.samples,
      })),
      memorySource: MEMORY_SOURCE,
      problems,
      pass,
      machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${os.loadavg()[0].toFixed(2)}, node ${process.version}`,
      date: new Date().toISOString(),
    },
  };
}

function main(): number {
  const { values } = parseArgs({
    options: {
      work: { type: "string" },
      counts: { type: "string", default: "1,2,4" },
      out: { type: "string" },
    },
  });
  if (!values.work || !values.out) throw new Error("--work DIR and --out FILE are required");
  const counts = values.counts.split(/[ ,]+/).filter(Boolean).map(Number);
  if (counts.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`--counts ${values.counts}: integers ≥ 1`);
  const { result, lines } = evaluate(values.work, counts);
  for (const l of lines) console.log(l);
  fs.writeFileSync(values.out, JSON.stringify(result) + "\n");
  return result.pass ? 0 : 1;
}

if (require.main === module) {
  try {
    process.exit(main());
  } catch (e) {
    console.error(`bench:stacks failed: ${(e as Error).stack ?? e}`);
    process.exit(2);
  }
}
