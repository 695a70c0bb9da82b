/**
 * `npm run bench:shards`'s verdict (scripts/bench-shards.sh runs the three `up`s): reads the run
 * folders of the shard suite (tests/fixtures/shard-suite: 40 tests that each wait 5 s) run with
 * `suite.shards` 1, then 4, then 4 with SHARD_SUITE_FAIL=part-3, and checks Step 14's acceptance:
 *
 * - wall time shards 4 / shards 1 ≤ 0.4. The suite's wall time is the hook's (verdict.json
 *   `durationMs`: from the Job's creation to the verdict, the pods' scheduling and start included),
 *   not the whole `up` (cluster, images, mock infra) and not only mocha's (results.json's
 *   `durationMs`, also reported as `testsMs`);
 * - the merged junit.xml of the sharded run has 40 test cases;
 * - the red run fails (its `up` exits non-zero, verdict.json cause `tests-failed`) and names the
 *   shard that ran part-3: the verdict's reason says `shard <i>`, the merged failure is titled
 *   `[shard <i>] …`, and the `up`'s output shows the hook's `✖ [shard <i>] …` line.
 *
 * Prints a line per run, then writes one JSON line to --out (the script prints it last, after the
 * teardown). Exits 1 when a target is missed or a run folder is missing.
 *
 *   node -r ts-node/register/transpile-only scripts/bench-shards.ts --one DIR --four DIR \
 *     --red DIR --red-log FILE --red-exit N --out FILE
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { create } from "xmlbuilder2";

export const LIMITS = { wallRatio: 0.4, junitCases: 40, shards: 4 };
/** The file SHARD_SUITE_FAIL names in the red run (its last test fails). */
export const FAILING_PART = "part-3";

export interface RunSummary {
  dir: string;
  ok: boolean;
  cause: string;
  reason: string;
  /** The hook's wall time (verdict.json). */
  wallMs: number;
  /** The longest shard's mocha time (results.json). */
  testsMs: number;
  passed: number;
  failed: number;
  /** Shards that handed back results (1 for an unsharded run). */
  shards: number;
  junitCases: number;
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
}

/** The number of <testcase> elements of a JUnit file (parsed: a broken file is an error). */
export function junitCases(file: string): number {
  return create(fs.readFileSync(file, "utf8")).filter((n) => n.node.nodeName === "testcase", false, true)
    .length;
}

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : NaN);

/** A run folder's timings and counts; throws naming what is missing. */
export function readRun(dir: string): RunSummary {
  if (!dir || !fs.existsSync(dir)) throw new Error(`no run folder (${dir || "the up printed none"})`);
  for (const f of ["verdict.json", "results.json", "junit.xml"])
    if (!fs.existsSync(path.join(dir, f))) throw new Error(`${f} is missing in ${dir}`);
  const v = readJson(path.join(dir, "verdict.json"));
  const r = readJson(path.join(dir, "results.json"));
  return {
    dir,
    ok: v.ok === true,
    cause: String(v.cause),
    reason: String(v.reason),
    wallMs: num(v.durationMs),
    testsMs: num(r.durationMs),
    passed: num(r.passed),
    failed: num(r.failed),
    shards: Array.isArray(r.shards) ? r.shards.length : 1,
    junitCases: junitCases(path.join(dir, "junit.xml")),
  };
}

/**
 * Whether the red run failed as it must and named the shard that ran `part`: the shard comes from
 * the merged results (the test's `shard`), then the verdict, the merged failure and the `up`'s
 * output must each name it. Returns that shard (undefined when no single one) and what is wrong.
 */
export function redRunNamesShard(
  dir: string,
  upLog: string,
  upExit: number,
  part = FAILING_PART,
): { shard: number | undefined; problems: string[] } {
  const problems: string[] = [];
  if (upExit === 0) problems.push("the red run's up exited 0");
  const v = readJson(path.join(dir, "verdict.json"));
  const r = readJson(path.join(dir, "results.json")) as {
    tests?: { file?: string; title?: string; state?: string; shard?: number }[];
    failures?: { title?: string }[];
  };
  if (v.ok !== false || v.cause !== "tests-failed")
    problems.push(`the red run's verdict is ok=${v.ok}, cause ${v.cause} (expected a failed test)`);
  const failed = (r.tests ?? []).filter((t) => t.state === "failed");
  const ofPart = failed.filter((t) => path.basename(t.file ?? "").startsWith(`${part}.`));
  if (failed.length !== 1 || ofPart.length !== 1)
    problems.push(
      `expected exactly ${part}'s last test to fail, failed: ${failed.map((t) => `${t.file}: ${t.title}`).join("; ") || "none"}`,
    );
  const shards = [...new Set(ofPart.map((t) => t.shard))];
  const shard = shards.length === 1 && typeof shards[0] === "number" ? shards[0] : undefined;
  if (shard === undefined) {
    problems.push(
      `the merged results do not say which shard ran ${part} (shards: ${JSON.stringify(shards)})`,
    );
    return { shard, problems };
  }
  const name = `shard ${shard}`;
  if (!String(v.reason).includes(name))
    problems.push(`the verdict's reason does not name ${name}: ${JSON.stringify(v.reason)}`);
  if (!(r.failures ?? []).some((f) => f.title?.startsWith(`[${name}] `) && f.title.includes(part)))
    problems.push(`no merged failure titled "[${name}] ${part} …"`);
  if (!upLog.split("\n").some((l) => l.includes(`✖ [${name}] `) && l.includes(part)))
    problems.push(`the up's output has no "✖ [${name}] ${part} …" line`);
  return { shard, problems };
}

export interface BenchShardsInput {
  one: string;
  four: string;
  red: string;
  redLog: string;
  redExit: number;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The bench's result (its JSON line) and the lines for people. */
export function evaluate(input: BenchShardsInput): { result: Record<string, unknown>; lines: string[] } {
  const problems: string[] = [];
  const lines: string[] = [];
  const read = (label: string, dir: string): RunSummary | undefined => {
    try {
      const s = readRun(dir);
      lines.push(
        `bench:shards: ${label}: ${s.ok ? "green" : `red (${s.reason})`}, suite wall ${round1(s.wallMs / 1000)} s ` +
          `(mocha ${round1(s.testsMs / 1000)} s), ${s.passed} passed, ${s.failed} failed, ${s.shards} shard(s), ` +
          `${s.junitCases} JUnit cases; ${dir}`,
      );
      return s;
    } catch (e) {
      problems.push(`${label}: ${(e as Error).message}`);
      return undefined;
    }
  };
  const one = read("shards 1", input.one);
  const four = read("shards 4", input.four);
  const red = read(`shards 4, ${FAILING_PART} failing`, input.red);

  for (const [label, s] of [
    ["shards 1", one],
    ["shards 4", four],
  ] as const) {
    if (!s) continue;
    if (!s.ok) problems.push(`${label} is red: ${s.reason}`);
    if (s.junitCases !== LIMITS.junitCases)
      problems.push(`${label}: junit.xml has ${s.junitCases} test cases, expected ${LIMITS.junitCases}`);
  }
  if (four && four.shards !== LIMITS.shards)
    problems.push(`shards 4: results from ${four.shards} shard(s), expected ${LIMITS.shards}`);
  const ratio = one && four && one.wallMs > 0 ? four.wallMs / one.wallMs : NaN;
  if (one && four && !(ratio <= LIMITS.wallRatio))
    problems.push(`wall time shards 4 / shards 1 is ${round3(ratio)}, expected ≤ ${LIMITS.wallRatio}`);

  let redShard: number | undefined;
  if (red) {
    if (red.junitCases !== LIMITS.junitCases)
      problems.push(`red run: junit.xml has ${red.junitCases} test cases, expected ${LIMITS.junitCases}`);
    const upLog = fs.existsSync(input.redLog) ? fs.readFileSync(input.redLog, "utf8") : "";
    const named = redRunNamesShard(input.red, upLog, input.redExit);
    redShard = named.shard;
    problems.push(...named.problems.map((p) => `red run: ${p}`));
  }

  const pass = problems.length === 0;
  const ms = (s: RunSummary | undefined, k: "wallMs" | "testsMs"): number | null => (s ? s[k] : null);
  if (one && four)
    lines.push(
      `bench:shards: wall time shards 4 / shards 1 = ${round3(ratio)} ` +
        `[${ratio <= LIMITS.wallRatio ? "ok" : "MISSED"} ≤ ${LIMITS.wallRatio}]`,
    );
  if (red) lines.push(`bench:shards: the red run names shard ${redShard ?? "(none)"}: ${red.reason}`);
  for (const p of problems) lines.push(`bench:shards: MISSED: ${p}`);
  return {
    lines,
    result: {
      shards1WallMs: ms(one, "wallMs"),
      shards4WallMs: ms(four, "wallMs"),
      wallRatio: Number.isFinite(ratio) ? round3(ratio) : null,
      shards1TestsMs: ms(one, "testsMs"),
      shards4TestsMs: ms(four, "testsMs"),
      junitCases: four ? four.junitCases : null,
      redJunitCases: red ? red.junitCases : null,
      redShard: redShard ?? null,
      redReason: red ? red.reason : null,
      limits: LIMITS,
      problems,
      pass,
      machine: `${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(2)}, node ${process.version}`,
      date: new Date().toISOString(),
    },
  };
}

function main(): number {
  const { values } = parseArgs({
    options: {
      one: { type: "string", default: "" },
      four: { type: "string", default: "" },
      red: { type: "string", default: "" },
      "red-log": { type: "string", default: "" },
      "red-exit": { type: "string", default: "" },
      out: { type: "string" },
    },
  });
  if (!values.out) throw new Error("--out FILE is required (the JSON line goes there)");
  const redExit = values["red-exit"] === "" ? 0 : Number(values["red-exit"]);
  const { result, lines } = evaluate({
    one: values.one,
    four: values.four,
    red: values.red,
    redLog: values["red-log"],
    redExit: Number.isFinite(redExit) ? redExit : 0,
  });
  for (const l of lines) console.log(l);
  fs.writeFileSync(values.out, JSON.stringify(result) + "\n");
  return result.pass ? 0 : 1;
}

if (require.main === module) {
  try {
    process.exit(main());
  } catch (e) {
    console.error(`bench:shards failed: ${(e as Error).stack ?? e}`);
    process.exit(2);
  }
}
