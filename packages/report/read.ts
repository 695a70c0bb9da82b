/**
 * Reads a run folder (artifacts/<stack>/<run id>/) as the post-deploy hook and the harness write
 * it. Every file is optional: a run that could not start has none, a timed-out run has no
 * results.json, and a file that does not parse is reported, not fatal — the report is written in
 * every case.
 */
import * as fs from "fs";
import * as path from "path";
import type {
  SuiteResults as RunnerSuiteResults,
  TestResult as RunnerTestResult,
  WaitTimeout,
} from "../runner/results";

export interface RunMeta {
  stack: string;
  stage: string;
  runId: string;
  gitCommit: string;
  /**
   * `cause`: the hook's word for how the run ended (verdict.json's), when known; `detail`: more than
   * the reason's line (a failed build's last lines).
   */
  verdict: { ok: boolean; reason: string; cause?: string; detail?: string };
  /** ISO time or epoch ms; default: the time in the run id. */
  startedAt?: string | number;
  durationMs?: number;
}

// results.json's shape is the runner's (one source for the contract); a folder written by an older
// runner may lack a test's `file`, so the report reads it as optional.
export type { WaitTimeout };
/** One test of results.json; the optional fields are read when the recording provides them. */
export type TestResult = Omit<RunnerTestResult, "file"> & { file?: string };
export interface SuiteResults extends Omit<RunnerSuiteResults, "tests" | "failures"> {
  tests: TestResult[];
}

/** A Kafka message as the harness saw it (timeline.json, events.json), `at` in epoch ms. */
export interface KafkaEntry {
  seq: number;
  direction: "sent" | "received";
  topic: string;
  key: string | null;
  at: number;
  event: unknown;
  raw?: string;
  error?: string;
}

export interface KubeEvent {
  /** Epoch ms (Kubernetes events have second precision). */
  at: number | undefined;
  type: string;
  reason: string;
  message: string;
}

/** A Job, Pod or CronJob as described by the harness (per test) or the hook (spawned objects). */
export interface KubeObject {
  kind: "job" | "pod" | "cronjob";
  name: string;
  labels: Record<string, string>;
  object: Record<string, unknown>;
  events: KubeEvent[];
  /** Run-folder-relative paths of its description and its containers' logs. */
  files: string[];
}

export interface LogFile {
  /** Run-folder-relative path. */
  file: string;
  /** "service" (cluster/services/<svc>/), "spawned" (cluster/spawned/<svc>/), "test" (<test>/kubernetes/). */
  source: "service" | "spawned" | "test";
  service?: string;
  /** The pod the log belongs to (file name `<pod>.<container>.log`). */
  pod: string;
  container: string;
  lines: string[];
}

/** A failed test's artifact folder: `<slug>/` with events.json and kubernetes/. */
export interface TestFolder {
  dir: string;
  title?: string;
  startedAt?: number;
  ids: string[];
  events?: KafkaEntry[];
  kube: KubeObject[];
  logs: LogFile[];
}

export interface RunData {
  dir: string;
  results?: SuiteResults;
  timeline?: KafkaEntry[];
  testFolders: TestFolder[];
  services: string[];
  spawned: KubeObject[];
  logs: LogFile[];
  /** Every file of the run folder, relative, sorted. */
  files: string[];
  /** Files that exist but could not be read as expected. */
  problems: string[];
}

const MAX_LOG_BYTES = 4 << 20;

export function readRun(dir: string): RunData {
  const problems: string[] = [];
  const files = listFiles(dir);
  const json = (rel: string): unknown => {
    const f = path.join(dir, rel);
    if (!fs.existsSync(f)) return undefined;
    try {
      return JSON.parse(fs.readFileSync(f, "utf8"));
    } catch (e) {
      problems.push(`${rel}: ${(e as Error).message}`);
      return undefined;
    }
  };
  const results = parseResults(json("results.json"), problems);
  const timelineRaw = json("timeline.json");
  const timeline = Array.isArray(timelineRaw) ? timelineRaw.map(toEntry).filter(isDefined) : undefined;

  const testFolders: TestFolder[] = [];
  for (const d of subdirs(dir)) {
    if (d === "cluster") continue;
    const own = files.filter((f) => f.startsWith(`${d}/`));
    if (!own.some((f) => f === `${d}/events.json` || f === `${d}/collectors.json`)) continue;
    const ev = json(`${d}/events.json`) as Record<string, unknown> | undefined;
    const kube = readKubeObjects(dir, own, problems, "test");
    testFolders.push({
      dir: d,
      ...(typeof ev?.test === "string" ? { title: ev.test } : {}),
      ...(typeof ev?.startedAt === "string" ? { startedAt: Date.parse(ev.startedAt) } : {}),
      ids: Array.isArray(ev?.ids) ? (ev.ids as unknown[]).filter(isString) : [],
      ...(Array.isArray(ev?.events) ? { events: ev.events.map(toEntry).filter(isDefined) } : {}),
      kube,
      logs: readLogs(dir, own, "test"),
    });
  }

  const services = subdirs(path.join(dir, "cluster", "services"));
  const spawnedFiles = files.filter((f) => f.startsWith("cluster/spawned/"));
  return {
    dir,
    ...(results ? { results } : {}),
    ...(timeline ? { timeline } : {}),
    testFolders,
    services,
    spawned: readKubeObjects(dir, spawnedFiles, problems, "spawned"),
    logs: [
      ...readLogs(
        dir,
        files.filter((f) => f.startsWith("cluster/services/")),
        "service",
      ),
      ...readLogs(dir, spawnedFiles, "spawned"),
    ],
    files,
    problems,
  };
}

function parseResults(raw: unknown, problems: string[]): SuiteResults | undefined {
  if (raw === undefined) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.passed !== "number" || typeof r.failed !== "number" || !Array.isArray(r.tests)) {
    problems.push("results.json: not the runner's results (passed, failed, tests)");
    return undefined;
  }
  const tests: TestResult[] = [];
  for (const t of r.tests as Record<string, unknown>[]) {
    if (!t || typeof t.title !== "string") continue;
    const state = t.state === "passed" || t.state === "failed" ? t.state : "pending";
    tests.push({
      title: t.title,
      state,
      durationMs: typeof t.durationMs === "number" ? t.durationMs : 0,
      ...(typeof t.file === "string" ? { file: t.file } : {}),
      ...(typeof t.message === "string" ? { message: t.message } : {}),
      ...(typeof t.stack === "string" ? { stack: t.stack } : {}),
      ...(typeof t.retries === "number" ? { retries: t.retries } : {}),
      ...(typeof t.startedAt === "number" ? { startedAt: t.startedAt } : {}),
      ...(Array.isArray(t.ids) ? { ids: t.ids.filter(isString) } : {}),
      ...(isObject(t.wait) ? { wait: t.wait as unknown as WaitTimeout } : {}),
    });
  }
  return {
    passed: r.passed,
    failed: r.failed,
    pending: typeof r.pending === "number" ? r.pending : 0,
    durationMs: typeof r.durationMs === "number" ? r.durationMs : 0,
    tests,
  };
}

function toEntry(x: unknown): KafkaEntry | undefined {
  if (!isObject(x) || typeof x.topic !== "string") return undefined;
  const at = typeof x.at === "number" ? x.at : typeof x.at === "string" ? Date.parse(x.at) : NaN;
  if (!Number.isFinite(at)) return undefined;
  return {
    seq: typeof x.seq === "number" ? x.seq : 0,
    direction: x.direction === "sent" ? "sent" : "received",
    topic: x.topic,
    key: typeof x.key === "string" ? x.key : null,
    at,
    event: x.event,
    ...(typeof x.raw === "string" ? { raw: x.raw } : {}),
    ...(typeof x.error === "string" ? { error: x.error } : {}),
  };
}

/**
 * Two description formats: the harness's `<kind>.<name>.json` (events as objects) and the hook's
 * `<name>.<kind>.describe.json` (events as "<time> <type> <reason>: <message>" lines).
 */
function readKubeObjects(
  dir: string,
  rels: string[],
  problems: string[],
  source: "test" | "spawned",
): KubeObject[] {
  const out: KubeObject[] = [];
  for (const rel of rels) {
    const base = path.basename(rel);
    let kind: string | undefined;
    let name: string | undefined;
    let m = /^(job|pod|cronjob)\.(.+)\.json$/.exec(base);
    if (m && source === "test") [, kind, name] = m;
    m = /^(.+)\.(job|pod|cronjob)\.describe\.json$/.exec(base);
    if (m) [, name, kind] = m;
    if (!kind || !name) continue;
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(fs.readFileSync(path.join(dir, rel), "utf8"));
    } catch (e) {
      problems.push(`${rel}: ${(e as Error).message}`);
      continue;
    }
    const object = isObject(doc.object) ? doc.object : {};
    const meta = isObject(object.metadata) ? object.metadata : {};
    const labels = isObject(meta.labels) ? (meta.labels as Record<string, string>) : {};
    const events = (Array.isArray(doc.events) ? doc.events : []).map(toKubeEvent).filter(isDefined);
    const folder = path.posix.dirname(rel);
    const logs = rels.filter(
      (f) =>
        path.posix.dirname(f) === folder &&
        f.endsWith(".log") &&
        kind === "pod" &&
        (path.basename(f).startsWith(`pod.${name}.`) || path.basename(f).startsWith(`${name}.`)),
    );
    out.push({ kind: kind as KubeObject["kind"], name, labels, object, events, files: [rel, ...logs] });
  }
  return out;
}

function toKubeEvent(x: unknown): KubeEvent | undefined {
  if (typeof x === "string") {
    const m = /^(\S*) (\S+) ([^:]+): ([\s\S]*)$/.exec(x);
    if (!m) return { at: undefined, type: "", reason: "", message: x };
    return { at: time(m[1]), type: m[2], reason: m[3], message: m[4] };
  }
  if (!isObject(x)) return undefined;
  return {
    at: time(x.time),
    type: String(x.type ?? ""),
    reason: String(x.reason ?? ""),
    message: String(x.message ?? ""),
  };
}

function readLogs(dir: string, rels: string[], source: LogFile["source"]): LogFile[] {
  const out: LogFile[] = [];
  for (const rel of rels.filter((f) => f.endsWith(".log"))) {
    const base = path.basename(rel, ".log").replace(/^pod\./, "");
    const dot = base.lastIndexOf(".");
    const parts = rel.split("/");
    const file = path.join(dir, rel);
    const size = fs.statSync(file).size;
    // The tail matters most in a long log (the failure is at the end of the run).
    const text =
      size > MAX_LOG_BYTES ? readTail(file, MAX_LOG_BYTES) : fs.readFileSync(file, "utf8").replace(/\n$/, "");
    out.push({
      file: rel,
      source,
      ...(source !== "test" ? { service: parts[2] } : {}),
      pod: dot > 0 ? base.slice(0, dot) : base,
      container: dot > 0 ? base.slice(dot + 1) : "",
      lines: text === "" ? [] : text.split("\n"),
    });
  }
  return out;
}

function readTail(file: string, bytes: number): string {
  const fd = fs.openSync(file, "r");
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(bytes);
    fs.readSync(fd, buf, 0, bytes, size - bytes);
    const text = buf.toString("utf8");
    return text.slice(text.indexOf("\n") + 1).replace(/\n$/, "");
  } finally {
    fs.closeSync(fd);
  }
}

export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk("");
  return out.sort();
}

export function subdirs(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** Epoch ms of an ISO time or epoch-ms number; undefined when absent or unreadable. */
export function time(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v !== "string" || v === "") return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isString(v: unknown): v is string {
  return typeof v === "string";
}

function isDefined<T>(v: T | undefined): v is T {
  return v !== undefined;
}
