// The run report and the run history (packages/report) on the fixture run folders.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  buildStory,
  parseWaitTimeout,
  renderHistory,
  renderRunReport,
  RunMeta,
  writeHistory,
  writeRunReport,
} from "../../packages/report";
import { metaOf } from "../../packages/report/cli";
import { readRun } from "../../packages/report/read";
import { FIXTURES, makeBigRun } from "../fixtures/run-folders/big-run";

const RED = "20261201t103000z-0d04";
const GREEN = "20261201t102000z-0c03";
const TIMED_OUT = "20261201t101000z-0b02";
const NOT_STARTED = "20261201t100000z-0a01";
const FAILED_TITLE =
  "executor: run a job creates the Job, reports it (executor event + SUCCEEDED) and its pod succeeds";
const HOSTILE = 'a title with <script>alert("title")</script> & <img src=x onerror=alert(1)>';

const temps: string[] = [];
after(() => {
  for (const t of temps) fs.rmSync(t, { recursive: true, force: true });
});

/** The fixture stack copied into a temporary folder (reports are written into the run folders). */
function stack(): string {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "report-"));
  temps.push(tmp);
  const dir = path.join(tmp, "demo");
  fs.cpSync(FIXTURES, dir, { recursive: true });
  return dir;
}

function results(dir: string): { title: string; state: string }[] {
  return JSON.parse(fs.readFileSync(path.join(dir, "results.json"), "utf8")).tests;
}

/** The <details> section of one test, by its (escaped) title. */
function section(html: string, title: string): string {
  const start = html.indexOf(`<details class="test" id="test-`);
  const sections = html.slice(start).split(`<details class="test" `);
  const esc = title
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
  const s = sections.find((x) => x.includes(`data-title="${esc}"`));
  if (!s) throw new Error(`no section for ${title}`);
  return s;
}

describe("run report (packages/report)", () => {
  const dir = stack();
  const meta = (runId: string, ok = false, reason = "1 test(s) failed"): RunMeta => ({
    stack: "demo",
    stage: "local",
    runId,
    gitCommit: "3701447e0b6c",
    verdict: { ok, reason },
  });

  it("lists every test of results.json with its status (red and green runs)", () => {
    for (const [run, ok] of [
      [RED, false],
      [GREEN, true],
    ] as const) {
      const html = renderRunReport(path.join(dir, run), meta(run, ok));
      for (const t of results(path.join(dir, run))) {
        const s = section(html, t.title);
        expect(s, t.title).to.contain(`data-state="${t.state}"`);
        expect(s, t.title).to.contain(`<span class="state ${t.state}">${t.state}</span>`);
      }
    }
  });

  it("has the header: stack, stage, run id, commit, verdict, counts, duration", () => {
    const html = renderRunReport(path.join(dir, RED), { ...meta(RED), durationMs: 50_200 });
    expect(html).to.contain(`<span class="mono">${RED}</span>`);
    expect(html).to.contain("<dd>local</dd>");
    expect(html).to.contain("3701447e0b6c");
    expect(html).to.match(/id="verdict" data-ok="false">FAILED/);
    expect(html).to.contain("1 test(s) failed");
    expect(html).to.match(/data-count="passed"><b>4<\/b>/);
    expect(html).to.match(/data-count="failed"><b>1<\/b>/);
    expect(html).to.contain("<dd>50.2 s</dd>");
  });

  it("draws the failed test's story: the sent event, the Job, the service's fault and the missing event", () => {
    const html = renderRunReport(path.join(dir, RED), meta(RED));
    const s = section(html, FAILED_TITLE);
    expect(s.startsWith(`id="test-0" data-title=`)).to.equal(true);
    expect(s).to.match(/data-state="failed" open>/);
    expect(s).to.match(/data-kind="send"[^>]*>.*<title>action it-3f1c9a4e/);
    expect(s).to.match(/data-lane-kind="topic" data-lane="BAI_APP_FETCHER"/);
    expect(s).to.match(/data-lane-kind="job" data-lane="b-it-3f1c9a4e-5b2d-4c8e-9a71-0d2e6b9f4a10"/);
    expect(s).to.match(/data-lane-kind="pod" data-lane="b-it-3f1c9a4e-5b2d-4c8e-9a71-0d2e6b9f4a10-x7k2q"/);
    expect(s).to.match(/data-kind="missing"[^>]*><title>✖ executor event never came \(timeout 30.0 s\)/);
    expect(s).to.contain("FAULT drop-executor-event");
    // The service log lines of the test's window, and its pod's log, inline.
    expect(s).to.contain("fetcher event received");
    expect(s).to.contain("hello from the inception suite");
  });

  it("puts the steps in time order, the missing event last, from the wait's topic to the test", () => {
    const run = readRun(path.join(dir, RED));
    const test = run.results!.tests[0];
    const story = buildStory(run, test);
    const times = story.steps.map((s) => s.at);
    expect(times).to.deep.equal([...times].sort((a, b) => a - b));
    const last = story.steps[story.steps.length - 1];
    expect(last).to.include({ kind: "missing", from: "topic:BAI_APP_EXECUTOR", to: "test:test" });
    expect(last.at - story.t0!).to.equal(test.durationMs);
    const send = story.steps.findIndex((s) => s.kind === "send");
    const job = story.steps.findIndex((s) => s.kind === "create" && s.to.startsWith("job:"));
    expect(send).to.be.greaterThan(-1);
    expect(job, "the Job comes after the event that caused it").to.be.greaterThan(send);
  });

  it("reads a WaitTimeoutError's message", () => {
    const w = parseWaitTimeout(
      results(path.join(dir, RED)).map((t) => (t as { message?: string }).message)[0]!,
    );
    expect(w).to.deep.equal({
      timeoutMs: 30_000,
      conditions: [
        { matched: false, description: "executor event", topic: "BAI_APP_EXECUTOR" },
        { matched: true, description: "status SUCCEEDED", topic: "BAI_APP_STATUS", matchedAtMs: 5062 },
      ],
    });
    expect(parseWaitTimeout("expected 1 to equal 2")).to.equal(undefined);
  });

  it("uses per-test startedAt and ids from results.json to draw passed tests from timeline.json", () => {
    const html = renderRunReport(path.join(dir, GREEN), meta(GREEN, true, "4 passed"));
    const s = section(html, FAILED_TITLE);
    expect(s).to.match(/data-state="passed">/);
    expect(s).to.match(/data-kind="receive"[^>]*><title>job b-it-0b9e8d7c/);
    expect(s).to.match(/data-lane-kind="job"/);
    expect(section(html, "executor: an invalid event is rejected with status FAILED and no Job")).to.contain(
      '<span class="muted">1 retry</span>',
    );
  });

  it("escapes hostile titles, messages, log lines and events", () => {
    const html = renderRunReport(path.join(dir, RED), meta(RED));
    expect(html).to.not.contain("<script>alert");
    expect(html).to.not.contain("<img src=x");
    expect(html).to.not.contain("</pre><script>");
    expect(html).to.contain("&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt; &amp; &lt;img src=x");
    // Inline scripts: only the page's own and JSON data blocks, none ended early by an event.
    const scripts = html.match(/<script[^>]*>/g) ?? [];
    expect(scripts.filter((s) => s === "<script>")).to.have.length(1);
    expect(html.match(/<\/script>/g)).to.have.length(scripts.length);
    const hostileMeta = { ...meta(RED), stack: "<b>x</b>", verdict: { ok: false, reason: "<i>why</i>" } };
    const h2 = renderRunReport(path.join(dir, RED), hostileMeta);
    expect(h2).to.not.contain("<b>x</b>");
    expect(h2).to.not.contain("<i>why</i>");
  });

  it("is written for a run that timed out (no results.json): verdict, what it left, links", () => {
    const run = path.join(dir, TIMED_OUT);
    const file = writeRunReport(run, meta(TIMED_OUT, false, "the suite Job ran past its deadline"));
    const html = fs.readFileSync(file, "utf8");
    expect(html).to.contain("the suite Job ran past its deadline");
    expect(html).to.contain('id="no-results"');
    expect(html).to.contain('href="suite.log"');
    expect(html).to.contain('href="cluster/services/executor/executor-7d9f8c6b5-q2xkp.executor.log"');
    expect(html).to.not.contain('class="test"');
  });

  it("is written for a run that could not start, and for a folder that does not exist", () => {
    const html = fs.readFileSync(
      writeRunReport(
        path.join(dir, NOT_STARTED),
        meta(NOT_STARTED, false, "the suite image could not be built"),
      ),
      "utf8",
    );
    expect(html).to.contain("the suite image could not be built");
    expect(html).to.contain('id="no-results"');
    const missing = path.join(dir, "20261201t110000z-ffff");
    expect(renderRunReport(missing, meta("20261201t110000z-ffff", false, "no cluster"))).to.contain(
      "no cluster",
    );
  });

  it("links every artifact file relatively", () => {
    const html = renderRunReport(path.join(dir, RED), meta(RED));
    const files = readRun(path.join(dir, RED)).files;
    expect(files.length).to.be.greaterThan(10);
    for (const f of files)
      expect(html, f).to.contain(`href="${f.split("/").map(encodeURIComponent).join("/")}"`);
    expect(html).to.not.match(/(href|src)="(https?:|\/\/)/);
  });

  it("keeps a 20-test report under 2 MB", () => {
    const big = path.join(dir, "20261201t120000z-2020");
    makeBigRun(big);
    const html = fs.readFileSync(writeRunReport(big, meta("20261201t120000z-2020")), "utf8");
    expect(results(big)).to.have.length(20);
    expect(html.match(/<details class="test"/g)).to.have.length(20);
    expect(html.match(/<svg[^>]*class="seq"/g)).to.have.length(20);
    expect(Buffer.byteLength(html)).to.be.below(2 * 1024 * 1024);
  });

  it("regenerates from the CLI's meta: run.json when present, else the folder and results", () => {
    expect(metaOf(path.join(dir, RED))).to.include({ stack: "demo", runId: RED, stage: "local" });
    const bare = path.join(dir, "20261201t130000z-0e05");
    fs.cpSync(path.join(dir, RED), bare, { recursive: true });
    fs.rmSync(path.join(bare, "run.json"));
    expect(metaOf(bare)).to.deep.include({
      stack: "demo",
      runId: "20261201t130000z-0e05",
      verdict: { ok: false, reason: "1 test(s) failed" },
    });
  });
});

describe("run history (packages/report)", () => {
  it("lists the kept runs newest first with verdict, counts and duration, linking each report", () => {
    const dir = stack();
    const html = fs.readFileSync(writeHistory(dir), "utf8");
    const rows = [...html.matchAll(/<tr data-run="([^"]+)" data-ok="([^"]*)">/g)].map((m) => [m[1], m[2]]);
    expect(rows).to.deep.equal([
      [RED, "false"],
      [GREEN, "true"],
      [TIMED_OUT, "false"],
      [NOT_STARTED, "false"],
    ]);
    expect(html).to.contain(`href="${RED}/"`);
    writeRunReport(path.join(dir, RED), metaOf(path.join(dir, RED)));
    expect(renderHistory(dir)).to.contain(`href="${RED}/report.html"`);
    expect(html).to.contain("the suite Job ran past its deadline");
    expect(html).to.match(/<svg[^>]*id="trend"/);
    expect(html.match(/<g class="bar"/g)).to.have.length(4);
  });

  it("marks a test flaky when it passed in one kept run and failed in another", () => {
    const html = renderHistory(stack());
    expect(html).to.match(
      new RegExp(`data-title="${FAILED_TITLE.replace(/[()+]/g, "\\$&")}" data-flaky="true"`),
    );
    expect(html.match(/data-flaky="true"/g)).to.have.length(1);
    expect(html).to.not.contain(HOSTILE);
  });

  it("orders runs by when they began, not by name (stable onChange ids)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "report-order-"));
    temps.push(dir);
    const meta = (runId: string, startedAt: number) => ({
      stack: "local",
      stage: "local",
      runId,
      gitCommit: "unknown",
      verdict: { ok: false, reason: "x" },
      startedAt,
    });
    writeRunReport(path.join(dir, "c-aaa"), meta("c-aaa", 2000));
    writeRunReport(path.join(dir, "c-zzz"), meta("c-zzz", 1000));
    const html = renderHistory(dir);
    const rows = [...html.matchAll(/<tr data-run="([^"]+)"/g)].map((m) => m[1]);
    expect(rows).to.deep.equal(["c-aaa", "c-zzz"]);
  });

  it("renders a stack with no runs", () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "report-empty-"));
    temps.push(empty);
    expect(renderHistory(empty)).to.contain("No runs yet.");
  });
});
