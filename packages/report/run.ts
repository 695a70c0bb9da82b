/**
 * report.html of one run folder: the header (stack, stage, run id, commit, verdict, counts,
 * duration), every test with its status, and per test its sequence diagram, the log lines of its
 * time window and links to its artifacts; then every file of the folder.
 */
import * as fs from "fs";
import * as path from "path";
import { sequenceDiagram } from "./diagram";
import { esc, href, page, scriptJson } from "./html";
import { readRun, RunData, RunMeta, TestResult } from "./read";
import { buildStory, fmtMs, parseWaitTimeout, Story } from "./story";

export const REPORT_FILE = "report.html";
/** The run's meta and counts, beside its report: the history page reads it. */
export const RUN_FILE = "run.json";

export interface RunSummary extends RunMeta {
  counts?: { passed: number; failed: number; pending: number };
}

export function renderRunReport(runDir: string, meta: RunMeta): string {
  const run = readRun(runDir);
  const tests = run.results?.tests ?? [];
  const started = startTime(meta);
  const duration = meta.durationMs ?? run.results?.durationMs;
  const title = `${meta.verdict.ok ? "✔" : "✖"} ${meta.stack} · ${meta.runId}`;
  const parts: string[] = ["<main>"];

  parts.push(`<section class="hero" id="header">
<div><h1>${esc(meta.stack)} <span class="muted">·</span> <span class="mono">${esc(meta.runId)}</span></h1>
<dl class="facts">
<dt>stage</dt><dd>${esc(meta.stage)}</dd>
<dt>commit</dt><dd class="mono">${esc(meta.gitCommit)}</dd>
<dt>started</dt><dd>${
    started !== undefined
      ? esc(
          new Date(started)
            .toISOString()
            .replace("T", " ")
            .replace(/\.\d+Z$/, " UTC"),
        )
      : "unknown"
  }</dd>
<dt>duration</dt><dd>${duration !== undefined ? esc(fmtMs(duration)) : "unknown"}</dd>
</dl></div>
<div class="verdict ${meta.verdict.ok ? "ok" : "bad"}" id="verdict" data-ok="${meta.verdict.ok}">${meta.verdict.ok ? "PASSED" : "FAILED"}<div style="font-size:13px;font-weight:500">${esc(meta.verdict.reason)}</div></div>
<div class="counts">${counts(run)}</div>
</section>`);

  if (!run.results) {
    const what =
      meta.verdict.cause === "could-not-start"
        ? "The suite did not start: an image it needs could not be built or published. What that printed last:"
        : meta.verdict.cause === "service-not-ready"
          ? "The suite did not start: a service under test did not become Ready. Its pods' logs, descriptions and events are listed below."
          : run.files.length === 0
            ? "The run folder is empty: the suite did not start."
            : `No results.json: the suite did not finish (it crashed or ran past its deadline). What it left is listed below.`;
    parts.push(
      `<div class="banner" id="no-results"><strong>${esc(meta.verdict.reason)}.</strong> ${esc(what)}</div>`,
    );
  }
  if (meta.verdict.detail) parts.push(`<pre class="error" id="why">${esc(meta.verdict.detail)}</pre>`);
  for (const p of run.problems) parts.push(`<div class="banner">Could not read ${esc(p)}</div>`);

  if (tests.length > 0) {
    parts.push(
      `<h2>Tests</h2><table id="tests"><thead><tr><th>status</th><th>test</th><th class="num">duration</th><th class="num">retries</th><th>error</th></tr></thead><tbody>`,
    );
    tests.forEach((t, i) => {
      parts.push(
        `<tr data-title="${esc(t.title)}" data-state="${t.state}"><td><span class="state ${t.state}">${t.state}</span></td>` +
          `<td><a href="#test-${i}">${esc(t.title)}</a></td><td class="num">${esc(fmtMs(t.durationMs))}</td>` +
          `<td class="num">${t.retries ?? "–"}</td><td class="msg1">${esc(headline(t))}</td></tr>`,
      );
    });
    parts.push(`</tbody></table>`);
    parts.push(`<h2>Each test</h2>`);
    tests.forEach((t, i) => parts.push(testSection(run, t, i)));
  }

  parts.push(`<h2>Artifacts</h2>`);
  parts.push(
    run.files.length === 0
      ? `<p class="muted">No files.</p>`
      : `<ul class="files" id="artifacts">${run.files.map(fileLink).join("")}</ul>`,
  );
  parts.push(
    `<p><a href="../index.html">Run history of ${esc(meta.stack)}</a></p><footer>inception run report · generated ${esc(new Date().toISOString())}</footer></main>`,
  );
  return page(title, parts.join("\n"));
}

/** Writes report.html and run.json into the run folder; returns the report's path. */
export function writeRunReport(runDir: string, meta: RunMeta): string {
  fs.mkdirSync(runDir, { recursive: true });
  const results = readRun(runDir).results;
  const summary: RunSummary = {
    ...meta,
    ...(results
      ? { counts: { passed: results.passed, failed: results.failed, pending: results.pending } }
      : {}),
    ...(meta.durationMs === undefined && results ? { durationMs: results.durationMs } : {}),
  };
  fs.writeFileSync(path.join(runDir, RUN_FILE), JSON.stringify(summary, null, 2) + "\n");
  const file = path.join(runDir, REPORT_FILE);
  fs.writeFileSync(file, renderRunReport(runDir, meta));
  return file;
}

function counts(run: RunData): string {
  const r = run.results;
  const c = (k: string, n: number | string) =>
    `<div class="count ${k}" data-count="${k}"><b>${n}</b>${k}</div>`;
  if (!r) return c("none", "—").replace("none</div>", "no results</div>");
  return c("passed", r.passed) + c("failed", r.failed) + c("pending", r.pending);
}

function testSection(run: RunData, t: TestResult, i: number): string {
  const story = buildStory(run, t);
  const dataId = `msgs-${i}`;
  const out: string[] = [
    `<details class="test" id="test-${i}" data-title="${esc(t.title)}" data-state="${t.state}"${t.state === "failed" ? " open" : ""}>`,
    `<summary><span class="state ${t.state}">${t.state}</span><span class="title">${esc(t.title)}</span>` +
      `${t.retries ? `<span class="muted">${t.retries} retr${t.retries === 1 ? "y" : "ies"}</span>` : ""}` +
      `<span class="dur">${esc(fmtMs(t.durationMs))}</span></summary><div class="body">`,
  ];
  if (t.file) out.push(`<div class="muted mono">${esc(t.file)}</div>`);
  if (t.message) out.push(`<pre class="error">${esc(t.message)}</pre>`);
  const svg = sequenceDiagram(story, dataId);
  if (svg) {
    out.push(`<div class="diagram" data-test="${i}">${svg}</div>`);
    out.push(
      `<script type="application/json" id="${dataId}">${scriptJson(story.steps.map((s) => ({ title: s.detail.title, body: s.detail.body })))}</script>`,
    );
    out.push(`<div class="muted">Click a step to see its message. Times are since the test began.</div>`);
  }
  for (const g of story.gaps) out.push(`<div class="gaps">${esc(g)}</div>`);
  out.push(logs(story));
  if (story.files.length > 0)
    out.push(
      `<details class="logs"><summary>Artifacts of this test (${story.files.length})</summary><ul class="files">${story.files.map(fileLink).join("")}</ul></details>`,
    );
  out.push(`</div></details>`);
  return out.join("\n");
}

function logs(story: Story): string {
  return story.logs
    .map((l) => {
      const lines = l.lines
        .map((line) => {
          const rel =
            line.at !== undefined && story.t0 !== undefined
              ? `<span class="t">${esc(`+${fmtMs(Math.max(0, line.at - story.t0))}`.padEnd(10))}</span>`
              : "";
          return `${rel}<span class="${line.level === "warn" || line.level === "error" ? line.level : ""}">${esc(line.text)}</span>`;
        })
        .join("\n");
      const more = l.omitted > 0 ? ` — ${l.omitted} earlier lines in the file` : "";
      return `<details class="logs" open><summary>${esc(l.label)}: ${l.lines.length} line(s)${more} · <a href="${esc(href(l.file))}">${esc(l.file)}</a></summary><pre class="log">${lines}</pre></details>`;
    })
    .join("\n");
}

function fileLink(f: string): string {
  return `<li><a href="${esc(href(f))}">${esc(f)}</a></li>`;
}

/** What went wrong in one line: for a wait that timed out, what never came. */
function headline(t: TestResult): string {
  const wait = t.wait ?? (t.message ? parseWaitTimeout(t.message) : undefined);
  const missing = wait?.conditions.filter((c) => !c.matched) ?? [];
  if (wait && missing.length > 0)
    return `never came within ${fmtMs(wait.timeoutMs)}: ${missing.map((c) => `${c.description} (${c.topic})`).join(", ")}`;
  const l = (t.message ?? "").split("\n")[0];
  return l.length > 160 ? `${l.slice(0, 159)}…` : l;
}

/** The run's start: the meta's, else the time a run id begins with (20261126T044501Z-3f9a). */
export function startTime(meta: Pick<RunMeta, "startedAt" | "runId">): number | undefined {
  if (typeof meta.startedAt === "number") return meta.startedAt;
  if (typeof meta.startedAt === "string" && Number.isFinite(Date.parse(meta.startedAt)))
    return Date.parse(meta.startedAt);
  const m = /^(\d{4})(\d\d)(\d\d)t(\d\d)(\d\d)(\d\d)z/i.exec(meta.runId);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : undefined;
}
