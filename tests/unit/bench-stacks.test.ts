// npm run bench:stacks's verdict (scripts/bench-stacks.ts) on round folders as
// scripts/bench-stacks.sh leaves them: the ups' logs and exit statuses, the stacks' run folders,
// docker stats samples of the kind nodes.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { evaluate, memorySamples, parseMemUsage, readRound, runDirOf } from "../../scripts/bench-stacks";
import { verdict, writeVerdict } from "../../infra/suite/collect";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

let work: string;
beforeEach(() => (work = fs.mkdtempSync(path.join(os.tmpdir(), "inception-bench-stacks-"))));
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

/** docker stats lines of the two nodes at time `at`, `mib` MiB each. */
const sample = (at: number, cp: number, worker: number): string =>
  `${at}\tinception-bench-stacks-control-plane\t${cp}MiB / 23.47GiB\n` +
  `${at}\tinception-bench-stacks-worker\t${worker}MiB / 23.47GiB\n`;

/** A round folder: n stacks whose ups exited `exits[i]` and whose suites were green unless red[i]. */
function round(
  n: number,
  opts: { exits?: number[]; red?: boolean[]; memory?: string; baseline?: string } = {},
) {
  const dir = path.join(work, `round-${n}`);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "wall-ms"), `${100_000 + n * 30_000}\n`);
  fs.writeFileSync(
    path.join(dir, "baseline.tsv"),
    opts.baseline ?? sample(1, 700, 300) + sample(2, 720, 300) + sample(3, 710, 300),
  );
  fs.writeFileSync(
    path.join(dir, "memory.tsv"),
    opts.memory ??
      sample(10, 800, 300 + n * 400) + sample(15, 850, 400 + n * 800) + sample(20, 800, 300 + n * 600),
  );
  for (let i = 1; i <= n; i++) {
    const stack = `bench-stacks-${i}`;
    const runDir = path.join(work, "artifacts", stack, `round-${n}`);
    const red = opts.red?.[i - 1] ?? false;
    const tests = {
      passed: red ? 15 : 16,
      failed: red ? 1 : 0,
      pending: 0,
      durationMs: 60_000,
      failures: [],
    };
    writeVerdict(runDir, verdict("complete", tests), "r1", 0, 65_000 + i * 1000);
    fs.writeFileSync(
      path.join(dir, `up-${stack}.log`),
      `Updating (${stack})\ninception: artifacts: ${runDir}\ninception: report: ${runDir}/report.html\n`,
    );
    fs.writeFileSync(path.join(dir, `up-${stack}.exit`), `${opts.exits?.[i - 1] ?? (red ? 255 : 0)}\n`);
  }
  return dir;
}

describe("bench:stacks verdict (scripts/bench-stacks.ts)", () => {
  it("reads docker stats' memory column in its units", () => {
    expect(parseMemUsage("1.5GiB / 23.47GiB")).to.equal(1.5 * GiB);
    expect(parseMemUsage("512MiB / 23.47GiB")).to.equal(512 * MiB);
    expect(parseMemUsage("640KiB / 1GiB")).to.equal(640 * 1024);
    expect(parseMemUsage("0B / 0B")).to.equal(0);
    expect(parseMemUsage("12.5MB / 1GB")).to.equal(12.5e6);
    expect(() => parseMemUsage("--")).to.throw(/not docker's memory usage/);
  });

  it("sums the nodes per sample, in time order", () => {
    expect(memorySamples(sample(20, 100, 50) + sample(10, 1, 2) + "\n")).to.deep.equal([
      { at: 10, bytes: 3 * MiB, nodes: 2 },
      { at: 20, bytes: 150 * MiB, nodes: 2 },
    ]);
    expect(() => memorySamples("nonsense\n")).to.throw(/not a sample line/);
  });

  it("takes the last run folder an up printed", () => {
    expect(runDirOf("inception: artifacts: /a/1\n…\ninception: artifacts: /a/2 \n")).to.equal("/a/2");
    expect(runDirOf("error: boom\n")).to.equal(undefined);
  });

  it("a round: time, peak over the idle median, per stack; every stack green", () => {
    round(2);
    const r = readRound(path.join(work, "round-2"), 2);
    expect(r.problems).to.deep.equal([]);
    expect(r.green).to.equal(true);
    expect(r.upsWallMs).to.equal(160_000);
    expect(r.perStack.map((s) => s.suiteWallMs)).to.deep.equal([66_000, 67_000]);
    expect(r.baselineBytes).to.equal(1010 * MiB); // median of 1000, 1020, 1010
    expect(r.peakBytes).to.equal((850 + 400 + 1600) * MiB);
    expect(r.perStackBytes).to.equal(((2850 - 1010) * MiB) / 2);
    expect(r.samples).to.equal(3);
  });

  it("passes when every round is green, with one JSON-ready result per stack count", () => {
    for (const n of [1, 2, 4]) round(n);
    const { result, lines } = evaluate(work, [1, 2, 4]);
    expect(result.problems).to.deep.equal([]);
    expect(result.pass).to.equal(true);
    const rounds = result.rounds as { stacks: number; perStackMemoryBytes: number; suiteWallMs: number[] }[];
    expect(rounds.map((r) => r.stacks)).to.deep.equal([1, 2, 4]);
    expect(rounds[2].suiteWallMs).to.have.length(4);
    expect(rounds[2].perStackMemoryBytes).to.equal(Math.round(((850 + 400 + 3200 - 1010) * MiB) / 4));
    expect(lines[2]).to.match(/^bench:stacks: 4 stack\(s\) at once: all green, ups 220 s/);
    expect(JSON.parse(JSON.stringify(result))).to.deep.equal(result);
  });

  it("fails naming a red suite, a failed up, a round that did not run and a round without samples", () => {
    round(1, { memory: "" });
    round(2, { red: [false, true] });
    const dir4 = round(4, { exits: [0, 0, 0, 1] });
    fs.rmSync(path.join(dir4, "up-bench-stacks-2.exit"));
    const { result } = evaluate(work, [1, 2, 4, 8]);
    expect(result.pass).to.equal(false);
    expect(result.problems).to.deep.equal([
      "round of 1: no memory sample during the ups",
      "round of 2: bench-stacks-2 is not green (up exited 255, suite red: 1 test(s) failed)",
      "round of 4: bench-stacks-2 is not green (its up did not end)",
      "round of 4: bench-stacks-4 is not green (up exited 1, suite green: 16 passed)",
      `round of 8: it did not run (${path.join(work, "round-8")})`,
    ]);
  });
});
