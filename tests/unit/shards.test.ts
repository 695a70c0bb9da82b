// How a sharded suite's files are split between its pods (packages/runner/shards.ts).
import { expect } from "chai";
import {
  durationsFor,
  fileDurations,
  parseFileDurations,
  shardOf,
  splitFiles,
} from "@inception/runner/shards";

const files = (n: number) =>
  Array.from({ length: n }, (_, i) => `/suite/f${String(i).padStart(2, "0")}.test.ts`);
const load = (part: string[], d: Record<string, number>) => part.reduce((a, f) => a + d[f], 0);

describe("sharding a suite by file", () => {
  it("puts every file in exactly one part, whatever the order of the input", () => {
    const fs = files(13);
    const parts = splitFiles(fs, 4);
    expect(parts).to.have.length(4);
    expect(parts.flat().sort()).to.deep.equal([...fs].sort());
    expect(splitFiles([...fs].reverse(), 4)).to.deep.equal(parts);
  });

  it("without durations, spreads the files evenly by name", () => {
    const parts = splitFiles(files(8), 4);
    expect(parts.map((p) => p.length)).to.deep.equal([2, 2, 2, 2]);
    expect(parts[0]).to.deep.equal(["/suite/f00.test.ts", "/suite/f04.test.ts"]);
  });

  it("balances by the last run's durations: longest file first, to the least loaded part (LPT)", () => {
    const fs = files(6);
    const d = Object.fromEntries(fs.map((f, i) => [f, [50, 30, 25, 20, 15, 10][i]]));
    // 50 → 0; 30 → 1; 25 → 2; 20 → 2 (25); 15 → 1 (30); 10 → 1 (45, tied with 2: the lower index).
    expect(splitFiles(fs, 3, d)).to.deep.equal([[fs[0]], [fs[1], fs[4], fs[5]], [fs[2], fs[3]]]);
  });

  it("keeps the long files apart where a split by name would put them together", () => {
    const fs = files(8);
    const d = Object.fromEntries(fs.map((f, i) => [f, i % 4 === 0 ? 100 : 1]));
    expect(Math.max(...splitFiles(fs, 4).map((p) => load(p, d)))).to.equal(200);
    expect(Math.max(...splitFiles(fs, 4, d).map((p) => load(p, d)))).to.equal(100);
  });

  it("on a skewed suite, no part is longer than 4/3 of the best possible longest part", () => {
    const fs = files(20);
    const d = Object.fromEntries(fs.map((f, i) => [f, ((i * 37) % 23) * 100 + 50]));
    const parts = splitFiles(fs, 4, d);
    const total = fs.reduce((a, f) => a + d[f], 0);
    const longest = Math.max(...parts.map((p) => load(p, d)));
    expect(longest).to.be.at.most((4 / 3) * Math.max(total / 4, ...Object.values(d)));
  });

  it("counts a new file as the last run's mean file", () => {
    const [a, b, c, fresh] = files(4);
    // fresh counts as the known files' mean, 20: after a (40) and fresh (20) come b and c (10 each).
    const parts = splitFiles([a, b, c, fresh], 2, { [a]: 40, [b]: 10, [c]: 10 });
    expect(parts).to.deep.equal([[a], [b, c, fresh]]);
  });

  it("leaves parts empty when there are more shards than files, and refuses a count below 1", () => {
    expect(splitFiles(files(2), 4).map((p) => p.length)).to.deep.equal([1, 1, 0, 0]);
    expect(() => splitFiles(files(2), 0)).to.throw("shards is 0");
  });

  it("reads SUITE_FILE_DURATIONS strictly and matches keys absolute or relative to the suite dir", () => {
    expect(parseFileDurations(undefined)).to.deep.equal({});
    expect(parseFileDurations('{"a.test.ts": 12}')).to.deep.equal({ "a.test.ts": 12 });
    expect(() => parseFileDurations("[1]")).to.throw("JSON object");
    expect(() => parseFileDurations('{"a": -1}')).to.throw('SUITE_FILE_DURATIONS["a"] is -1');
    expect(() => parseFileDurations("{")).to.throw("not JSON");
    expect(
      durationsFor(["/suite/a.test.ts", "/suite/x/b.test.ts", "/suite/c.test.ts"], "/suite", {
        "/suite/a.test.ts": 5,
        "x/b.test.ts": 7,
      }),
    ).to.deep.equal({ "/suite/a.test.ts": 5, "/suite/x/b.test.ts": 7 });
  });

  it("sums a run's test durations per file", () => {
    expect(
      fileDurations([
        { file: "/s/a.ts", durationMs: 5 },
        { file: "/s/a.ts", durationMs: 7 },
        { file: "/s/b.ts", durationMs: 1 },
        { durationMs: 100 },
      ]),
    ).to.deep.equal({ "/s/a.ts": 12, "/s/b.ts": 1 });
  });

  it("takes its part from SUITE_SHARDS and JOB_COMPLETION_INDEX", () => {
    expect(shardOf({})).to.deep.equal({ index: 0, shards: 1 });
    expect(shardOf({ SUITE_SHARDS: "4", JOB_COMPLETION_INDEX: "3" })).to.deep.equal({ index: 3, shards: 4 });
    expect(() => shardOf({ SUITE_SHARDS: "4" })).to.throw("Indexed Job");
    expect(() => shardOf({ SUITE_SHARDS: "33" })).to.throw("1..32");
  });
});
