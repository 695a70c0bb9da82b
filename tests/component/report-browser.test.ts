// The run report and the run history in a real browser (Debian's chromium via playwright-core), on
// the fixture run folders and on a 20-test run: what people see, its size and its render time.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Browser } from "playwright-core";
import { writeHistory, writeRunReport } from "../../packages/report";
import { metaOf } from "../../packages/report/cli";
import { FIXTURES, makeBigRun } from "../fixtures/run-folders/big-run";
import { checkHistory, checkRunReport, launch } from "../e2e/report-browser";

const RED = "20261201t103000z-0d04";

describe("run report in chromium", function () {
  this.timeout(60_000);
  let browser: Browser;
  let stack: string;

  before(async () => {
    browser = await launch();
    stack = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "report-browser-")), "demo");
    fs.cpSync(FIXTURES, stack, { recursive: true });
    for (const run of fs.readdirSync(stack))
      writeRunReport(path.join(stack, run), metaOf(path.join(stack, run)));
    writeHistory(stack);
  });

  after(async () => {
    await browser?.close();
    if (stack) fs.rmSync(path.dirname(stack), { recursive: true, force: true });
  });

  it("shows every test of the red run with its status, and the failed test's sent event, Job and missing event", async () => {
    const r = await checkRunReport(path.join(stack, RED), { browser, screenshot: "report-failed-test.png" });
    expect(r.tests).to.have.length(6);
    expect(fs.statSync(r.screenshot).size).to.be.greaterThan(10_000);
    if (process.env.REPORT_SCREENSHOT_TO) fs.copyFileSync(r.screenshot, process.env.REPORT_SCREENSHOT_TO);
  });

  it("shows the history of the stack's runs (4 runs), each linking to its report", async () => {
    const h = await checkHistory(stack, { browser });
    expect(h.runs.map((r) => r.ok)).to.deep.equal(["false", "true", "false", "false"]);
    expect(h.flaky).to.have.length(1);
  });

  it("renders a 20-test report under 2 MB in under 2 s", async () => {
    const big = path.join(stack, "20261201t120000z-2020");
    makeBigRun(big);
    writeRunReport(big, { ...metaOf(big), stage: "local" });
    const r = await checkRunReport(big, { browser });
    console.log(
      `      20-test report: ${(r.bytes / 1024).toFixed(0)} KiB, rendered in ${r.renderMs.toFixed(0)} ms`,
    );
    expect(r.tests).to.have.length(20);
    expect(r.bytes).to.be.below(2 * 1024 * 1024);
    expect(r.renderMs).to.be.below(2000);
  });
});
