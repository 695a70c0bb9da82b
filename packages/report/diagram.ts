/**
 * A story as an SVG sequence diagram: one lane per participant, one row per step in time order,
 * the time since the test began on the left. Each step carries the index of its message
 * (`data-msg`), shown in the side panel when clicked.
 */
import { esc } from "./html";
import { fmtMs, Lane, LaneKind, Step, Story } from "./story";

const LANE_W = 164;
const GUTTER = 74;
const HEAD_H = 50;
const ROW_H = 30;
const CHAR_W = 6.3;

const LANE_COLOR: Record<LaneKind, string> = {
  test: "#4f46e5",
  topic: "#0e7490",
  service: "#7c3aed",
  cronjob: "#a16207",
  job: "#c2410c",
  pod: "#15803d",
};
const LANE_LABEL: Record<LaneKind, string> = {
  test: "TEST",
  topic: "KAFKA TOPIC",
  service: "SERVICE",
  cronjob: "CRONJOB",
  job: "JOB",
  pod: "POD",
};
const STEP_COLOR: Record<Step["kind"], string> = {
  send: "#4f46e5",
  receive: "#0e7490",
  produce: "#7c3aed",
  create: "#c2410c",
  note: "#475569",
  log: "#6d28d9",
  missing: "#dc2626",
  wait: "#b45309",
};

export function sequenceDiagram(story: Story, dataId: string): string {
  if (story.steps.length === 0) return "";
  const x = new Map<string, number>(story.lanes.map((l, i) => [l.id, GUTTER + i * LANE_W + LANE_W / 2]));
  const width = GUTTER + story.lanes.length * LANE_W + 8;
  const top = HEAD_H + 16;
  const height = top + story.steps.length * ROW_H + 14;
  const rowY = (i: number) => top + i * ROW_H + ROW_H / 2;
  const t0 = story.t0 ?? story.steps[0].at;
  const out: string[] = [];

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="seq" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif" font-size="11.5">`,
    `<defs>${Object.entries(STEP_COLOR)
      .map(
        ([k, c]) =>
          `<marker id="${dataId}-a-${k}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${c}"/></marker>`,
      )
      .join("")}</defs>`,
  );

  // Zebra rows keep a long diagram readable across its width.
  story.steps.forEach((_, i) => {
    if (i % 2 === 1)
      out.push(`<rect x="0" y="${top + i * ROW_H}" width="${width}" height="${ROW_H}" fill="#f8fafc"/>`);
  });

  // The wait of a failed test: a band on the test's lifeline from its start to its timeout.
  const waitRow = story.steps.findIndex((s) => s.kind === "wait");
  if (waitRow >= 0) {
    let last = story.steps.length - 1;
    while (last > waitRow && story.steps[last].kind !== "missing") last--;
    const lx = x.get(story.lanes[0].id) ?? 0;
    out.push(
      `<rect x="${lx - 5}" y="${rowY(waitRow)}" width="10" height="${Math.max(4, rowY(last) - rowY(waitRow))}" rx="3" fill="#fde68a" stroke="#f59e0b"/>`,
    );
  }

  for (const l of story.lanes) out.push(laneHead(l, x.get(l.id) ?? 0, height));

  story.steps.forEach((s, i) => {
    const y = rowY(i);
    const rel = s.at - t0;
    const sign = rel < 0 ? "−" : "+";
    const when = `${s.approx ? "~" : ""}${sign}${fmtMs(Math.abs(rel))}`;
    const label = `<text x="${GUTTER - 8}" y="${y + 4}" text-anchor="end" fill="#64748b" font-size="10.5">${esc(when)}${s.approx ? " <title>a Kubernetes time (whole seconds)</title>" : ""}</text>`;
    out.push(step(s, i, x.get(s.from) ?? 0, x.get(s.to) ?? 0, y, width, dataId, label));
  });
  out.push("</svg>");
  return out.join("\n");
}

function laneHead(l: Lane, cx: number, height: number): string {
  const c = LANE_COLOR[l.kind];
  const w = LANE_W - 14;
  return [
    `<line x1="${cx}" y1="${HEAD_H}" x2="${cx}" y2="${height - 6}" stroke="${c}" stroke-opacity=".35" stroke-dasharray="4 4"/>`,
    `<g class="lane" data-lane-kind="${l.kind}" data-lane="${esc(l.name)}"><title>${esc(`${LANE_LABEL[l.kind]} ${l.name}`)}</title>`,
    `<rect x="${cx - w / 2}" y="6" width="${w}" height="${HEAD_H - 10}" rx="7" fill="${c}" fill-opacity=".09" stroke="${c}"/>`,
    `<text x="${cx}" y="21" text-anchor="middle" fill="${c}" font-size="9.5" font-weight="700" letter-spacing=".06em">${LANE_LABEL[l.kind]}</text>`,
    `<text x="${cx}" y="37" text-anchor="middle" fill="#111827" font-weight="600">${esc(fit(l.name, w - 8))}</text>`,
    `</g>`,
  ].join("");
}

function step(
  s: Step,
  i: number,
  x1: number,
  x2: number,
  y: number,
  width: number,
  dataId: string,
  when: string,
): string {
  const c = s.warn && s.kind !== "missing" && s.kind !== "send" ? "#dc2626" : STEP_COLOR[s.kind];
  const open = `<g class="step k-${s.kind}" data-kind="${s.kind}" data-src="${dataId}" data-msg="${i}" tabindex="0" role="button"><title>${esc(s.label)}</title>`;
  // The row's hit area first: the time and the drawing stay above its hover colour.
  const hit = `<rect class="hit" x="0" y="${y - ROW_H / 2}" width="${width}" height="${ROW_H}" fill="transparent"/>${when}`;
  if (x1 === x2) {
    // A note on one lane: its text in a box, wider than the lane when it needs to be.
    const maxW = LANE_W * 1.9;
    const text = fit(s.label, maxW - 14);
    const w = Math.min(maxW, text.length * CHAR_W + 16);
    const bx = Math.min(Math.max(x1 - w / 2, GUTTER), width - w - 4);
    const fill = s.warn ? "#fef2f2" : s.kind === "wait" ? "#fffbeb" : "#ffffff";
    return (
      open +
      hit +
      `<rect x="${bx}" y="${y - 10}" width="${w}" height="20" rx="5" fill="${fill}" stroke="${c}" stroke-opacity=".8"/>` +
      `<text x="${bx + 8}" y="${y + 4}" fill="${c}">${esc(text)}</text></g>`
    );
  }
  const dir = x2 > x1 ? 1 : -1;
  const span = Math.abs(x2 - x1);
  const text = fit(s.label, Math.max(span - 12, LANE_W - 20));
  const missing = s.kind === "missing";
  const line =
    `<line x1="${x1 + dir * 3}" y1="${y + 3}" x2="${x2 - dir * 4}" y2="${y + 3}" stroke="${c}" stroke-width="${missing ? 2 : 1.6}"` +
    (missing || s.kind === "produce" ? ` stroke-dasharray="${missing ? "6 4" : "3 3"}"` : "") +
    ` marker-end="url(#${dataId}-a-${s.kind})"/>`;
  const cross = missing
    ? `<g stroke="#dc2626" stroke-width="2.4"><line x1="${x1 - 6}" y1="${y - 3}" x2="${x1 + 6}" y2="${y + 9}"/><line x1="${x1 + 6}" y1="${y - 3}" x2="${x1 - 6}" y2="${y + 9}"/></g>`
    : "";
  return (
    open +
    hit +
    line +
    cross +
    `<text x="${(x1 + x2) / 2}" y="${y - 3}" text-anchor="middle" fill="${c}"${missing ? ' font-weight="700"' : ""}>${esc(text)}</text></g>`
  );
}

/** Shortens text to about `px` pixels (the full text is in the step's <title> and panel). */
function fit(s: string, px: number): string {
  const n = Math.max(6, Math.floor(px / CHAR_W));
  const one = s.replace(/\s+/g, " ");
  return one.length <= n ? one : `${one.slice(0, n - 1)}…`;
}
