/**
 * The canary test's search (tests/e2e/canary-scan.ts): it must find a canary wherever the e2e run
 * could leave one — plain, base64 at any alignment, split across two reads, deep in a tree — and
 * report where, or the e2e's "zero hits" would mean nothing.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { needles, scan } from "../e2e/canary-scan";

const CANARIES = { s3SecretKey: "canary3f9a1c0e77d2b54a9e01", "images.password": "Zq8WkP2vLmN4xR7tY1sB" };

describe("canary scan (tests/e2e/canary-scan.ts)", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-scan-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (rel: string, content: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  };

  it("finds nothing in clean files, and lists every file it read", () => {
    write("a.log", "inception: run r-1 PASSED\n");
    write("deep/er/state.json", JSON.stringify({ secret: "[secret]" }));
    const r = scan([dir], CANARIES);
    expect(r.hits).to.deep.equal([]);
    expect(r.files.map((f) => path.relative(dir, f)).sort()).to.deep.equal(["a.log", "deep/er/state.json"]);
    expect(r.bytes).to.be.greaterThan(0);
  });

  it("finds a plain canary in a nested file and names the canary, not its value", () => {
    const text = `{"env":[{"name":"S3","value":"${CANARIES.s3SecretKey}"}]}`;
    write("run/cluster/pod.describe.json", text);
    const [hit, ...more] = scan([dir], CANARIES).hits;
    expect(more).to.deep.equal([]);
    expect(hit).to.deep.include({
      canary: "s3SecretKey",
      form: "plain",
      offset: text.indexOf(CANARIES.s3SecretKey),
    });
    expect(hit.file).to.equal(path.join(dir, "run/cluster/pod.describe.json"));
  });

  it("finds a canary base64-encoded after any number of leading bytes (a docker auth, Secret data)", () => {
    for (const lead of ["", "u", "us", "user:", "inception:"]) {
      write(
        "config.json",
        JSON.stringify({ auth: Buffer.from(lead + CANARIES["images.password"]).toString("base64") }),
      );
      const hits = scan([dir], CANARIES).hits;
      expect(
        hits.map((h) => `${h.canary}/${h.form}`),
        `after ${lead.length} bytes`,
      ).to.deep.equal(["images.password/base64"]);
    }
  });

  it("finds a canary split across two reads", () => {
    const v = CANARIES.s3SecretKey;
    write("big.log", `${"x".repeat(61)}${v}${"y".repeat(50)}`);
    for (const chunk of [8, 16, 64, 65, 70]) {
      const hits = scan([dir], CANARIES, chunk).hits;
      expect(
        hits.map((h) => [h.form, h.offset]),
        `chunks of ${chunk}`,
      ).to.deep.include(["plain", 61]);
    }
  });

  it("reads a file given as a root, and does not follow symbolic links", () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "canary-outside-"));
    try {
      fs.writeFileSync(path.join(outside, "leak.txt"), CANARIES.s3SecretKey);
      fs.symlinkSync(path.join(outside, "leak.txt"), path.join(dir, "link.txt"));
      fs.symlinkSync(outside, path.join(dir, "linked-dir"));
      expect(scan([dir], CANARIES).hits).to.deep.equal([]);
      expect(scan([dir, path.join(outside, "leak.txt")], CANARIES).hits.map((h) => h.canary)).to.deep.equal([
        "s3SecretKey",
      ]);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it("refuses a root that does not exist (a search of nothing would pass)", () => {
    expect(() => scan([path.join(dir, "missing")], CANARIES)).to.throw(/does not exist/);
  });

  it("keeps only the base64 groups made of the value's own bytes", () => {
    const v = "abcdefghijklmnop";
    for (const n of needles("x", v).filter((n) => n.form === "base64")) {
      const text = n.bytes.toString("ascii");
      const found = ["", "1", "12"].some((lead) =>
        Buffer.from(`${lead}${v}!`).toString("base64").includes(text),
      );
      expect(found, text).to.equal(true);
      expect(text.length % 4).to.equal(0);
    }
  });
});
