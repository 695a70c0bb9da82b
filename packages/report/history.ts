/**
 * artifacts/<stack>/index.html: the kept runs of a stack, newest first, with verdict, counts and
 * duration, a small trend chart, each linking to its report; tests that passed in one kept run and
 * failed in another are marked flaky.
 */
import * as fs from "fs";
import * as path from "path";
import { esc, href, page } from "./html";
import { readRun, subdirs } from "./read";
import { REPORT_FILE, RUN_FILE, RunSummary, startTime } from "./run";
import { fmtMs } from "./story";

export const HISTORY_FILE = "index.html";

interface RunRow {
  id: string;
  ok: boolean | undefined;
  reason: string;
  counts?: { passed: number; failed: number; pending: number };
  durationMs?: number;
  startedAt?: number;
  commit?: string;
  stack?: string;
  hasReport: boolean;
  states: Map<string, string>;
}

export function renderHistory(stackDir: string): string {
  const runs = newestFirst(subdirs(stackDir).map((id) => readRow(path.join(stackDir, id), id)));
  const stack = runs.find((r) => r.stack)?.stack ?? path.basename(path.resolve(stackDir));
  const parts: string[] = ["<main>"];
  const green = runs.filter((r) => r.ok === true).length;
  parts.push(`<section class="hero" id="header"><div><h1>${esc(stack)} <span class="muted">· run history</span></h1>
<div class="muted">${runs.length} kept run(s), ${green} passed, ${runs.length - green} failed or unknown</div></div>
<div style="margin-left:auto">${trend(runs)}</div></section>`);

  if (runs.length === 0) parts.push(`<p class="muted">No runs yet.</p>`);
  else {
    parts.push(
      `<h2>Runs</h2><table id="runs"><thead><tr><th>run</th><th>verdict</th><th class="num">passed</th><th class="num">failed</th><th class="num">pending</th><th class="num">duration</th><th>started</th><th>commit</th></tr></thead><tbody>`,
    );
    for (const r of runs) {
      const state = r.ok === true ? "passed" : r.ok === false ? "failed" : "none";
      const link = r.hasReport ? `${href(r.id)}/${REPORT_FILE}` : `${href(r.id)}/`;
      parts.push(
        `<tr data-run="${esc(r.id)}" data-ok="${r.ok ?? ""}"><td class="mono"><a href="${esc(link)}">${esc(r.id)}</a></td>` +
          `<td><span class="state ${state}">${r.ok === true ? "PASSED" : r.ok === false ? "FAILED" : "unknown"}</span> <span class="muted">${esc(r.reason)}</span></td>` +
          `<td class="num">${r.counts?.passed ?? "–"}</td><td class="num">${r.counts?.failed ?? "–"}</td><td class="num">${r.counts?.pending ?? "–"}</td>` +
          `<td class="num">${r.durationMs !== undefined ? esc(fmtMs(r.durationMs)) : "–"}</td>` +
          `<td>${r.startedAt !== undefined ? esc(new Date(r.startedAt).toISOString().replace("T", " ").slice(0, 19)) : "–"}</td>` +
          `<td class="mono">${esc((r.commit ?? "").slice(0, 12))}</td></tr>`,
      );
    }
    parts.push(`</tbody></table>`);
    parts.push(testsMatrix(runs));
  }
  parts.push(`<footer>inception run history · generated ${esc(new Date().toISOString())}</footer></main>`);
  return page(`${stack} · run history`, parts.join("\n"));
}

/**
 * Newest first by when each run began: a stable run id (rerun "onChange", `c-…`) says nothing about
 * time. Runs without a known start go last, by name.
 */
function newestFirst(rows: RunRow[]): RunRow[] {
  return rows.sort(
    (a, b) =>
      (b.startedAt ?? -Infinity) - (a.startedAt ?? -Infinity) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
  );
}

export function writeHistory(stackDir: string): string {
  const file = path.join(stackDir, HISTORY_FILE);
  fs.mkdirSync(stackDir, { recursive: true });
  fs.writeFileSync(file, renderHistory(stackDir));
  return file;
}

function readRow(dir: string, id: string): RunRow {
  const run = readRun(dir);
  let meta: Partial<RunSummary> = {};
  try {
    meta = JSON.parse(fs.readFileSync(path.join(dir, RUN_FILE), "utf8"));
  } catch {
    // a run without run.json (older hook): its results say what they can
  }
  const r = run.results;
  const counts = meta.counts ?? (r ? { passed: r.passed, failed: r.failed, pending: r.pending } : undefined);
  const ok =
    typeof meta.verdict?.ok === "boolean" ? meta.verdict.ok : r ? r.failed === 0 && r.passed > 0 : undefined;
  const startedAt = startTime({
    runId: id,
    ...(meta.startedAt !== undefined ? { startedAt: meta.startedAt } : {}),
  });
  const durationMs = meta.durationMs ?? r?.durationMs;
  return {
    id,
    ok,
    reason: meta.verdict?.reason ?? (r ? "" : "no results"),
    ...(counts ? { counts } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(startedAt !== undefined ? { startedAt } : {}),
    ...(meta.gitCommit ? { commit: meta.gitCommit } : {}),
    ...(meta.stack ? { stack: meta.stack } : {}),
    hasReport: fs.existsSync(path.join(dir, REPORT_FILE)),
    states: new Map((r?.tests ?? []).map((t) => [t.title, t.state])),
  };
}

/** Duration bars of the runs, oldest left, coloured by verdict; failed counts on top. */
function trend(runs: RunRow[]): string {
  const rows = [...runs].reverse();
  if (rows.length === 0) return "";
  const W = 34;
  const H = 90;
  const max = Math.max(1, ...rows.map((r) => r.durationMs ?? 0));
  const width = Math.max(rows.length * W + 46, 220);
  const bars = rows
    .map((r, i) => {
      const h = r.durationMs !== undefined ? Math.max(3, (r.durationMs / max) * (H - 22)) : 3;
      const fill = r.ok === true ? "#22c55e" : r.ok === false ? "#ef4444" : "#cbd5e1";
      const x = 40 + i * W;
      const label = `${r.id}: ${r.ok === true ? "passed" : r.ok === false ? "failed" : "unknown"}, ${r.counts ? `${r.counts.passed} passed, ${r.counts.failed} failed` : "no results"}, ${r.durationMs !== undefined ? fmtMs(r.durationMs) : "no duration"}`;
      return (
        `<g class="bar" data-run="${esc(r.id)}"><title>${esc(label)}</title>` +
        `<rect x="${x}" y="${H - h}" width="${W - 8}" height="${h}" rx="3" fill="${fill}"/>` +
        (r.counts?.failed
          ? `<text x="${x + (W - 8) / 2}" y="${H - h - 4}" text-anchor="middle" font-size="10" fill="#b91c1c">${r.counts.failed}</text>`
          : "") +
        `</g>`
      );
    })
    .join("");
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" id="trend" width="${width}" height="${H + 18}" viewBox="0 0 ${width} ${H + 18}" font-family="system-ui,sans-serif">` +
    `<text x="0" y="12" font-size="10" fill="#6b7280">${esc(fmtMs(max))}</text>` +
    `<line x1="36" y1="${H}" x2="${width}" y2="${H}" stroke="#cbd5e1"/>` +
    bars +
    `<text x="40" y="${H + 14}" font-size="10" fill="#6b7280">oldest → newest</text></svg>` +
    `<div class="muted" style="font-size:11px">bar: duration · red: failed · number: failed tests</div>`
  );
}

/** Each test's status in each kept run; tests both passed and failed across them are flaky. */
function testsMatrix(runs: RunRow[]): string {
  const titles = [...new Set(runs.flatMap((r) => [...r.states.keys()]))].sort();
  if (titles.length === 0) return "";
  const flaky = (t: string) => {
    const s = runs.map((r) => r.states.get(t));
    return s.includes("passed") && s.includes("failed");
  };
  const ordered = [...titles.filter(flaky), ...titles.filter((t) => !flaky(t))];
  const rows = ordered.map((t) => {
    const f = flaky(t);
    const dots = runs
      .map((r) => {
        const s = r.states.get(t) ?? "none";
        return `<span class="dot ${s}" title="${esc(`${r.id}: ${s === "none" ? "not run" : s}`)}"></span>`;
      })
      .join("");
    return `<tr data-title="${esc(t)}" data-flaky="${f}"><td>${esc(t)} ${f ? `<span class="flaky">flaky</span>` : ""}</td><td>${dots}</td></tr>`;
  });
  const nFlaky = titles.filter(flaky).length;
  return (
    `<h2>Tests across the kept runs</h2><p class="muted">${nFlaky} flaky (passed in one kept run, failed in another). Dots: newest run first.</p>` +
    `<table id="matrix"><thead><tr><th>test</th><th>runs</th></tr></thead><tbody>${rows.join("")}</tbody></table>`
  );
}
