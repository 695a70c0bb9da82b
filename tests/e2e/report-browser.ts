/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The callbacks of page.evaluate run in the browser: they need the DOM types.
/**
 * Checks a run report (report.html) or a run history (index.html) the way a person sees it: in
 * Debian's chromium, driven by playwright-core, through the DOM. Shared by the component tier
 * (fixture folders) and the e2e tier (the fault-mode run's real folder).
 *
 *   const r = await checkRunReport(runDir, { screenshot: "report-failed-test.png" });
 *   const h = await checkHistory(stackDir);
 */
import * as fs from "fs";
import * as path from "path";
import { Browser, chromium, Page } from "playwright-core";
import type { RunMeta } from "../../packages/report/read";
import { RUN_FILE, startTime } from "../../packages/report/run";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Launches the system chromium; without it, fails saying how to install it (never skips). */
export async function launch(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: the report's browser test needs Debian's chromium — ` +
        `run "apt-get update && apt-get install -y chromium" (or scripts/chromium.sh), or set CHROMIUM_PATH`,
    );
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}

export interface ReportCheck {
  /** Milliseconds from navigation to the load event (everything parsed, laid out and scripted). */
  renderMs: number;
  /** Size of the page file in bytes. */
  bytes: number;
  screenshot: string;
  tests: { title: string; state: string }[];
}

async function open(browser: Browser, file: string, width = 1400): Promise<{ page: Page; renderMs: number }> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("dialog", (d) => {
    errors.push(`a dialog opened (${d.message()}): the page ran injected script`);
    void d.dismiss();
  });
  // Self-contained: any request other than the file itself is a failure.
  page.on("request", (r) => {
    if (r.url() !== `file://${file}`) errors.push(`the page requested ${r.url()}`);
  });
  await page.goto(`file://${file}`, { waitUntil: "load" });
  const renderMs = await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
    return nav.loadEventEnd - nav.startTime;
  });
  if (errors.length > 0) throw new Error(`${file}:\n${errors.join("\n")}`);
  return { page, renderMs };
}

/**
 * Opens <runDir>/report.html and checks: every test of results.json is there with its status; the
 * failed test(s) are open and their diagram shows the sent event, the Job and the missing event;
 * clicking the missing event shows its message in the side panel. Saves a screenshot of the first
 * failed test (or the page) into the run folder.
 */
export async function checkRunReport(
  runDir: string,
  o: { screenshot?: string; browser?: Browser } = {},
): Promise<ReportCheck> {
  const file = path.resolve(runDir, "report.html");
  const results = JSON.parse(fs.readFileSync(path.join(runDir, "results.json"), "utf8")) as {
    tests: { title: string; state: string }[];
  };
  const browser = o.browser ?? (await launch());
  try {
    const { page, renderMs } = await open(browser, file);
    const shown = await page.$$eval("details.test", (els) =>
      els.map((e) => ({
        title: e.getAttribute("data-title") ?? "",
        state: e.getAttribute("data-state") ?? "",
        badge: e.querySelector("summary .state")?.textContent ?? "",
        visibleTitle: e.querySelector("summary .title")?.textContent ?? "",
        open: (e as HTMLDetailsElement).open,
      })),
    );
    const problems: string[] = [];
    for (const t of results.tests) {
      const s = shown.find((x) => x.visibleTitle === t.title);
      if (!s) problems.push(`test not shown: ${t.title}`);
      else if (s.state !== t.state || s.badge !== t.state)
        problems.push(`${t.title}: shown as ${s.badge}, results.json says ${t.state}`);
    }
    const failed = shown.filter((s) => s.state === "failed");
    let failedWithJob = 0;
    for (const f of failed) {
      if (!f.open) problems.push(`failed test not open: ${f.title}`);
      const d = await page.evaluate((title) => {
        const sec = [...document.querySelectorAll("details.test")].find(
          (e) => e.getAttribute("data-title") === title,
        );
        const svg = sec?.querySelector("svg.seq");
        const text = (sel: string) =>
          [...(svg?.querySelectorAll(sel) ?? [])].map((e) => e.querySelector("title")?.textContent ?? "");
        const box = svg?.getBoundingClientRect();
        return {
          visible: !!box && box.width > 200 && box.height > 100,
          sends: text('[data-kind="send"]'),
          jobs: [...(svg?.querySelectorAll('[data-lane-kind="job"]') ?? [])].map((e) =>
            e.getAttribute("data-lane"),
          ),
          missing: text('[data-kind="missing"]'),
          // A Job the harness collected for this test (its kubernetes/ folder) must be drawn. A test
          // that cleans up after itself (a cascade cancel in a `finally`, an inference server
          // removed once its client ends) may leave none to collect.
          jobCollected: [...(sec?.querySelectorAll("a") ?? [])].some((a) =>
            /\/kubernetes\/job\.[^/]*\.json$/.test(a.getAttribute("href") ?? ""),
          ),
        };
      }, f.title);
      if (!d.visible) problems.push(`${f.title}: no visible diagram`);
      if (d.sends.length === 0) problems.push(`${f.title}: the diagram shows no sent event`);
      if (d.jobCollected && d.jobs.length === 0) problems.push(`${f.title}: the diagram shows no Job`);
      if (d.jobs.length > 0) failedWithJob++;
      if (d.missing.length === 0) problems.push(`${f.title}: the diagram shows no missing event`);
    }
    if (failed.length > 0 && failedWithJob === 0) problems.push("no failed test's diagram shows a Job");
    if (failed.length > 0) {
      // Clicking the missing event shows the wait's message in the side panel.
      const step = page.locator('details.test[data-state="failed"] [data-kind="missing"]').first();
      await step.scrollIntoViewIfNeeded();
      await step.click();
      const panel = await page.locator("#panel-body").textContent();
      if (!(await page.locator("#panel").isVisible()) || !/timed out after/.test(panel ?? ""))
        problems.push("clicking the missing event does not show its message");
      await page.keyboard.press("Escape");
      if (await page.locator("#panel").isVisible()) problems.push("Escape does not close the side panel");
      await page.mouse.move(0, 0);
    }
    if (problems.length > 0) throw new Error(`${file}:\n  ${problems.join("\n  ")}`);

    const screenshot = path.join(runDir, o.screenshot ?? "report.png");
    const target = failed.length > 0 ? page.locator('details.test[data-state="failed"]').first() : undefined;
    if (target) await target.screenshot({ path: screenshot });
    else await page.screenshot({ path: screenshot, fullPage: true });
    await page.close();
    return { renderMs, bytes: fs.statSync(file).size, screenshot, tests: results.tests };
  } finally {
    if (!o.browser) await browser.close();
  }
}

export interface HistoryCheck {
  renderMs: number;
  runs: { id: string; ok: string; href: string }[];
  flaky: string[];
  screenshot: string;
}

/**
 * Opens <stackDir>/index.html and checks that every run folder is listed, newest first, each with a
 * link that resolves to its report (or folder), and that the trend chart has a bar per run.
 */
export async function checkHistory(
  stackDir: string,
  o: { screenshot?: string; browser?: Browser } = {},
): Promise<HistoryCheck> {
  const file = path.resolve(stackDir, "index.html");
  // Newest first by each run's start (run.json, else the time its id begins with), as the page orders them.
  const started = (id: string): number => {
    try {
      const m = JSON.parse(fs.readFileSync(path.join(stackDir, id, RUN_FILE), "utf8")) as RunMeta;
      return (
        startTime({ runId: id, ...(m.startedAt !== undefined ? { startedAt: m.startedAt } : {}) }) ??
        -Infinity
      );
    } catch {
      return startTime({ runId: id }) ?? -Infinity;
    }
  };
  const dirs = fs
    .readdirSync(stackDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .reverse()
    .sort((a, b) => started(b) - started(a) || 0);
  const browser = o.browser ?? (await launch());
  try {
    const { page, renderMs } = await open(browser, file, 1300);
    const runs = await page.$$eval("#runs tbody tr", (rows) =>
      rows.map((r) => ({
        id: r.getAttribute("data-run") ?? "",
        ok: r.getAttribute("data-ok") ?? "",
        href: (r.querySelector("a") as HTMLAnchorElement | null)?.href ?? "",
      })),
    );
    const bars = await page.locator("#trend .bar").count();
    const flaky = await page.$$eval('#matrix tr[data-flaky="true"]', (rows) =>
      rows.map((r) => r.getAttribute("data-title") ?? ""),
    );
    const problems: string[] = [];
    if (JSON.stringify(runs.map((r) => r.id)) !== JSON.stringify(dirs))
      problems.push(`runs listed ${runs.map((r) => r.id).join(", ")}; folders ${dirs.join(", ")}`);
    for (const r of runs) {
      const target = decodeURIComponent(new URL(r.href).pathname);
      if (!fs.existsSync(target)) problems.push(`${r.id}: its link ${r.href} leads nowhere`);
    }
    if (bars !== dirs.length) problems.push(`the trend chart has ${bars} bars for ${dirs.length} runs`);
    if (problems.length > 0) throw new Error(`${file}:\n  ${problems.join("\n  ")}`);
    const screenshot = path.join(stackDir, o.screenshot ?? "index.png");
    await page.screenshot({ path: screenshot, fullPage: true });
    await page.close();
    return { renderMs, runs, flaky, screenshot };
  } finally {
    if (!o.browser) await browser.close();
  }
}
