/**
 * A test's story in time, from what the run recorded: the lanes of its sequence diagram (the test,
 * each Kafka topic it touched, the services, the Kubernetes objects carrying its ids) and the steps
 * between them in time order, with the awaited event that never came drawn as such.
 */
import {
  isObject,
  KafkaEntry,
  KubeObject,
  LogFile,
  RunData,
  TestFolder,
  TestResult,
  time,
  WaitTimeout,
} from "./read";

export type LaneKind = "test" | "topic" | "service" | "cronjob" | "job" | "pod";

export interface Lane {
  id: string;
  kind: LaneKind;
  name: string;
}

export type StepKind = "send" | "receive" | "produce" | "create" | "note" | "log" | "missing" | "wait";

export interface Step {
  at: number;
  kind: StepKind;
  from: string;
  to: string;
  label: string;
  /** What clicking the step shows. */
  detail: { title: string; body: string };
  warn?: boolean;
  /** The time is a Kubernetes time (whole seconds), moved no earlier than what caused it. */
  approx?: boolean;
}

/** A log line inside the test's time window (or of one of its own pods). */
export interface LogLine {
  at: number | undefined;
  text: string;
  level?: string;
}

export interface LogExcerpt {
  file: string;
  label: string;
  lines: LogLine[];
  /** Lines of the window left out (too many to show inline). */
  omitted: number;
}

export interface Story {
  /** Epoch ms of the test's start: relative times count from here. */
  t0: number | undefined;
  end: number | undefined;
  ids: string[];
  lanes: Lane[];
  steps: Step[];
  wait?: WaitTimeout;
  logs: LogExcerpt[];
  /** Run-folder-relative files about this test. */
  files: string[];
  /** Why the diagram is empty or partial, for the reader. */
  gaps: string[];
}

const HARNESS_SVC = "inception-harness";
const MAX_LOG_LINES = 300;
/** Service logs a little after the test's end still belong to it (the service's last words). */
const LOG_GRACE_MS = 2_000;

export function buildStory(run: RunData, test: TestResult): Story {
  const folder = findFolder(run.testFolders, test.title);
  const t0 = test.startedAt ?? folder?.startedAt;
  const end = t0 !== undefined ? t0 + test.durationMs : undefined;
  const ids = [...new Set([...(test.ids ?? []), ...(folder?.ids ?? [])])];
  const gaps: string[] = [];

  let entries: KafkaEntry[] = [];
  if (folder?.events) entries = folder.events;
  else if (ids.length > 0 && run.timeline) entries = run.timeline.filter((e) => mentions(e.event, ids));
  else if (test.state !== "pending")
    gaps.push(
      "no Kafka events recorded for this test (only failed tests get events.json; results.json carries no ids for the others)",
    );

  const kube = folder && folder.kube.length > 0 ? folder.kube : run.spawned.filter((o) => carries(o, ids));
  const wait = test.wait ?? (test.message ? parseWaitTimeout(test.message) : undefined);

  const lanes = new Map<string, Lane>();
  const lane = (kind: LaneKind, name: string): string => {
    const id = `${kind}:${name}`;
    if (!lanes.has(id)) lanes.set(id, { id, kind, name });
    return id;
  };
  const testLane = lane("test", "test");
  const steps: Step[] = [];
  const defaultService = run.services[0];

  for (const e of entries) {
    const topic = lane("topic", e.topic);
    const body = e.event !== undefined ? JSON.stringify(e.event, null, 2) : (e.raw ?? "");
    const sum = summarize(e.event, e.raw);
    if (e.direction === "sent") {
      steps.push({
        at: e.at,
        kind: "send",
        from: testLane,
        to: topic,
        label: `${sum}${e.error ? " (refused)" : ""}`,
        detail: { title: `sent to ${e.topic}${e.error ? ` — refused: ${e.error}` : ""}`, body },
        ...(e.error ? { warn: true } : {}),
      });
      continue;
    }
    const producer = producerOf(e.event);
    if (producer) {
      steps.push({
        at: producer.at ?? e.at,
        kind: "produce",
        from: lane("service", producer.svc),
        to: topic,
        label: sum,
        detail: { title: `${producer.svc} produced on ${e.topic}`, body },
      });
    }
    steps.push({
      at: e.at,
      kind: "receive",
      from: topic,
      to: testLane,
      label: sum,
      detail: { title: `received from ${e.topic}`, body },
    });
  }

  const kubeLanes = (["cronjob", "job", "pod"] as const).flatMap((k) =>
    kube.filter((o) => o.kind === k).sort((a, b) => (created(a) ?? 0) - (created(b) ?? 0)),
  );
  // Kubernetes times have whole seconds: an object made 300 ms after the test's send reads as
  // up to a second before it. Nothing the test caused can precede its first send, nor its owner.
  const firstSend = entries.find((e) => e.direction === "sent")?.at ?? t0;
  const createdAt = new Map<string, number>();
  const floorOf = (o: KubeObject): number | undefined => {
    const owner = ownerLane(o, kube, (k, n) => `${k}:${n}`, undefined);
    const ownerAt = owner ? createdAt.get(owner) : undefined;
    return [firstSend, ownerAt]
      .filter((v): v is number => v !== undefined)
      .reduce((a, b) => Math.max(a, b), -Infinity);
  };
  for (const o of kubeLanes) {
    const me = lane(o.kind, o.name);
    const floor = floorOf(o);
    const raw = created(o);
    const at = raw !== undefined ? Math.max(raw, floor ?? raw) : undefined;
    if (at !== undefined) createdAt.set(me, at);
    const owner = ownerLane(o, kube, lane, defaultService);
    if (at !== undefined && owner)
      steps.push({
        approx: true,
        at,
        kind: "create",
        from: owner,
        to: me,
        label: `creates ${kindName(o.kind)} ${o.name}`,
        detail: { title: `${kindName(o.kind)} ${o.name} created`, body: JSON.stringify(o.object, null, 2) },
      });
    for (const c of changes(o))
      steps.push({
        approx: true,
        at: Math.max(c.at, at ?? floor ?? c.at),
        kind: "note",
        from: me,
        to: me,
        label: c.label,
        detail: { title: `${kindName(o.kind)} ${o.name}: ${c.label}`, body: c.body },
        ...(c.warn ? { warn: true } : {}),
      });
  }

  // The services' own words about the test's ids: what they received, created, dropped.
  for (const f of run.logs.filter((l) => l.source === "service")) {
    const svc = f.service ?? "service";
    for (const line of f.lines) {
      if (ids.length === 0 || !ids.some((id) => line.includes(id))) continue;
      const p = parseLogLine(line);
      if (p.at === undefined) continue;
      if (t0 !== undefined && end !== undefined && (p.at < t0 - 1000 || p.at > end + LOG_GRACE_MS)) continue;
      const warn = p.level === "warn" || p.level === "error";
      steps.push({
        at: p.at,
        kind: "log",
        from: lane("service", svc),
        to: lane("service", svc),
        label: p.msg ?? line,
        detail: { title: `${svc} log (${f.file})`, body: pretty(line) },
        ...(warn ? { warn: true } : {}),
      });
    }
  }

  if (wait && end !== undefined) {
    const waitStart = wait.startedAt ?? end - wait.timeoutMs;
    steps.push({
      at: waitStart,
      kind: "wait",
      from: testLane,
      to: testLane,
      label: `waits ≤ ${fmtMs(wait.timeoutMs)} for ${wait.conditions.map((c) => c.description).join(", ")}`,
      detail: { title: "wait", body: test.message ?? "" },
    });
    for (const c of wait.conditions.filter((c) => !c.matched)) {
      steps.push({
        at: waitStart + wait.timeoutMs,
        kind: "missing",
        from: lane("topic", c.topic),
        to: testLane,
        label: `✖ ${c.description} never came (timeout ${fmtMs(wait.timeoutMs)})`,
        detail: { title: `missing: ${c.description} on ${c.topic}`, body: test.message ?? "" },
        warn: true,
      });
    }
  } else if (wait)
    gaps.push("the test's start time is not recorded: the missing event cannot be placed in time");

  if (steps.length === 0 && gaps.length === 0 && test.state !== "pending")
    gaps.push(`nothing was recorded about this test's ids (${ids.join(", ") || "none"})`);
  // Stable sort: equal times keep cause before effect (the order they were added in).
  steps.sort((a, b) => a.at - b.at);
  const order: Record<LaneKind, number> = { test: 0, topic: 1, service: 2, cronjob: 3, job: 4, pod: 5 };
  const sortedLanes = [...lanes.values()].sort((a, b) => order[a.kind] - order[b.kind]);

  return {
    t0: t0 ?? steps[0]?.at,
    end,
    ids,
    lanes: sortedLanes,
    steps,
    ...(wait ? { wait } : {}),
    logs: logExcerpts(run.logs, folder, kube, t0, end),
    files: [
      ...(folder ? run.files.filter((f) => f.startsWith(`${folder.dir}/`)) : []),
      ...kube.flatMap((o) => o.files).filter((f) => !folder || !f.startsWith(`${folder.dir}/`)),
    ],
    gaps,
  };
}

function findFolder(folders: TestFolder[], title: string): TestFolder | undefined {
  return folders.find((f) => f.title === title) ?? folders.find((f) => f.dir === slugify(title));
}

/** The harness's artifact folder name of a test (tests/harness/context.ts slugify: keep in step). */
export function slugify(title: string): string {
  const s = title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 100)
    .replace(/-+$/, "");
  return s || "test";
}

/** Whether any of `ids` is a string value somewhere in the event (any service's JSON shape). */
export function mentions(v: unknown, ids: string[], depth = 0): boolean {
  if (typeof v === "string") return ids.includes(v);
  if (depth > 6 || typeof v !== "object" || v === null) return false;
  return Object.values(v).some((x) => mentions(x, ids, depth + 1));
}

function carries(o: KubeObject, ids: string[]): boolean {
  return ids.length > 0 && Object.values(o.labels).some((v) => ids.includes(v));
}

function producerOf(event: unknown): { svc: string; at?: number } | undefined {
  if (!isObject(event) || !Array.isArray(event.visited)) return undefined;
  const last = event.visited[event.visited.length - 1];
  if (!isObject(last) || typeof last.svc !== "string" || last.svc === HARNESS_SVC) return undefined;
  const at = time(last.tstamp) ?? time(event.tstamp);
  return { svc: last.svc, ...(at !== undefined ? { at } : {}) };
}

/** One line about an event: its type and status or job, else its JSON, shortened. */
export function summarize(event: unknown, raw?: string): string {
  if (!isObject(event)) return raw !== undefined ? `(not JSON) ${raw.slice(0, 80)}` : String(event);
  const p = isObject(event.payload) ? event.payload : {};
  const parts: string[] = [];
  if (typeof p.status === "string") parts.push(p.status);
  if (typeof p.command === "string") parts.push(`command ${p.command}`);
  if (typeof p.return_code === "number") parts.push(`rc ${p.return_code}`);
  if (isObject(p.job) && typeof p.job.id === "string") parts.push(`job ${p.job.id}`);
  if (parts.length === 0 && typeof event.action_id === "string") parts.push(`action ${event.action_id}`);
  if (parts.length === 0) return JSON.stringify(event).slice(0, 100);
  return parts.join(" · ");
}

function created(o: KubeObject): number | undefined {
  const m = isObject(o.object.metadata) ? o.object.metadata : {};
  return time(m.creationTimestamp);
}

function ownerLane(
  o: KubeObject,
  all: KubeObject[],
  lane: (k: LaneKind, n: string) => string,
  defaultService: string | undefined,
): string | undefined {
  const m = isObject(o.object.metadata) ? o.object.metadata : {};
  const refs = Array.isArray(m.ownerReferences) ? m.ownerReferences.filter(isObject) : [];
  for (const r of refs) {
    const kind = String(r.kind ?? "").toLowerCase();
    const owner = all.find((x) => x.kind === kind && x.name === r.name);
    if (owner) return lane(owner.kind, owner.name);
  }
  const by = o.labels["created-by"] ?? defaultService;
  return refs.length === 0 && by ? lane("service", by) : undefined;
}

function kindName(k: KubeObject["kind"]): string {
  return k === "cronjob" ? "CronJob" : k === "job" ? "Job" : "Pod";
}

interface Change {
  at: number;
  label: string;
  body: string;
  warn?: boolean;
}

/**
 * Phase changes of an object: its Kubernetes events, and what its status records with a time
 * (a Job's Complete/Failed condition, a container's start and end) that no event already says.
 */
export function changes(o: KubeObject): Change[] {
  const out: Change[] = [];
  for (const e of o.events) {
    if (e.at === undefined) continue;
    out.push({
      at: e.at,
      label: `${e.reason}${e.message ? `: ${e.message}` : ""}`,
      body: `${e.type} ${e.reason}: ${e.message}`,
      ...(e.type === "Warning" ? { warn: true } : {}),
    });
  }
  const status = isObject(o.object.status) ? o.object.status : {};
  const near = (at: number, re: RegExp) =>
    o.events.some((e) => e.at !== undefined && Math.abs(e.at - at) < 1500 && re.test(e.reason));
  if (o.kind === "job") {
    for (const c of Array.isArray(status.conditions) ? status.conditions.filter(isObject) : []) {
      const at = time(c.lastTransitionTime);
      if (at === undefined || c.status !== "True" || !["Complete", "Failed"].includes(String(c.type)))
        continue;
      if (near(at, /complet|fail|deadline|backoff/i)) continue;
      out.push({
        at,
        label: `${c.type}${c.reason ? ` (${c.reason})` : ""}`,
        body: JSON.stringify(c, null, 2),
        ...(c.type === "Failed" ? { warn: true } : {}),
      });
    }
  }
  if (o.kind === "pod") {
    for (const cs of Array.isArray(status.containerStatuses)
      ? status.containerStatuses.filter(isObject)
      : []) {
      const state = isObject(cs.state) ? cs.state : {};
      const term = isObject(state.terminated) ? state.terminated : undefined;
      const at = time(term?.finishedAt);
      if (term && at !== undefined) {
        const code = Number(term.exitCode ?? 0);
        out.push({
          at,
          label: `${String(cs.name)} exited ${code}${term.reason ? ` (${term.reason})` : ""} → ${String(status.phase ?? "")}`,
          body: JSON.stringify(cs, null, 2),
          ...(code !== 0 ? { warn: true } : {}),
        });
      }
    }
  }
  return out;
}

/** Reads a WaitTimeoutError's message (tests/harness/kafka.ts describeTimeout). */
export function parseWaitTimeout(message: string): WaitTimeout | undefined {
  const head = /timed out after (\d+) ms waiting for:/.exec(message);
  if (!head) return undefined;
  const conditions: WaitTimeout["conditions"] = [];
  const re = /^\s*\[(matched|NOT matched)\]\s+(.*) \(([^()\s]+)\)(?: at \+(\d+) ms)?\s*$/gm;
  for (let m = re.exec(message); m; m = re.exec(message)) {
    conditions.push({
      matched: m[1] === "matched",
      description: m[2].trim(),
      topic: m[3],
      ...(m[4] !== undefined ? { matchedAtMs: Number(m[4]) } : {}),
    });
  }
  return conditions.length > 0 ? { timeoutMs: Number(head[1]), conditions } : undefined;
}

/** A log line's time (JSON `ts`/`time`/`timestamp`, or a leading RFC 3339 time) and level. */
export function parseLogLine(line: string): { at: number | undefined; level?: string; msg?: string } {
  if (line.startsWith("{")) {
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      const at = time(o.ts ?? o.time ?? o.timestamp ?? o["@timestamp"]);
      const level = typeof o.level === "string" ? o.level.toLowerCase() : undefined;
      const msg = typeof o.msg === "string" ? o.msg : typeof o.message === "string" ? o.message : undefined;
      return { at, ...(level ? { level } : {}), ...(msg ? { msg } : {}) };
    } catch {
      // not JSON after all
    }
  }
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))\s/.exec(line);
  const at = m ? time(m[1]) : undefined;
  const level = /\b(ERROR|WARN(?:ING)?)\b/i.exec(line)?.[1]?.toLowerCase().replace("warning", "warn");
  return { at, ...(level ? { level } : {}) };
}

function logExcerpts(
  logs: LogFile[],
  folder: TestFolder | undefined,
  kube: KubeObject[],
  t0: number | undefined,
  end: number | undefined,
): LogExcerpt[] {
  const out: LogExcerpt[] = [];
  const ownPods = new Set(kube.filter((o) => o.kind === "pod").map((o) => o.name));
  const take = (f: LogFile, label: string, lines: LogLine[]): void => {
    out.push({
      file: f.file,
      label,
      lines: lines.slice(-MAX_LOG_LINES),
      omitted: Math.max(0, lines.length - MAX_LOG_LINES),
    });
  };
  const all = (f: LogFile): LogLine[] =>
    f.lines.map((text) => {
      const p = parseLogLine(text);
      return { at: p.at, text, ...(p.level ? { level: p.level } : {}) };
    });
  for (const f of logs.filter((l) => l.source === "service")) {
    if (t0 === undefined || end === undefined) continue;
    const inside = all(f).filter((l) => l.at !== undefined && l.at >= t0 && l.at <= end + LOG_GRACE_MS);
    if (inside.length > 0) take(f, `${f.service} · ${f.pod} · ${f.container} (in the test's window)`, inside);
  }
  // The test's own pods: their whole log (a benchmark's output rarely carries times).
  const seen = new Set<string>();
  const own = [
    ...(folder ? logs.filter((l) => l.source === "test" && l.file.startsWith(`${folder.dir}/`)) : []),
    ...logs.filter((l) => l.source === "spawned" && ownPods.has(l.pod)),
  ];
  for (const f of own) {
    const key = `${f.pod}.${f.container}`;
    if (seen.has(key)) continue;
    seen.add(key);
    take(f, `pod ${f.pod} · ${f.container}`, all(f));
  }
  return out;
}

function pretty(line: string): string {
  try {
    return JSON.stringify(JSON.parse(line), null, 2);
  } catch {
    return line;
  }
}

export function fmtMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}
