/**
 * `npm run e2e:faults`'s judge and table (scripts/e2e-faults.sh injects each fault and runs the
 * `up`s). What each fault must end in is written here, once, in FAULTS; the script hands over what
 * it saw and this decides.
 *
 *   e2e-faults.ts observe --fault ID --rows FILE --log UP_LOG --exit N --up-seconds S
 *                 [--outputs JSON] [--outputs-before JSON] [--deadline SECONDS] [--lost TEXT]...
 *     reads the run folder the `up` printed (its last "inception: artifacts: DIR" line), judges the
 *     fault, appends one JSON row to FILE, prints one line; exits 1 when the fault's row failed.
 *   e2e-faults.ts not-run --fault ID --rows FILE --why TEXT [--failed]
 *     a row for a fault this run leaves out, and why (printed loudly; neither passed nor failed);
 *     with --failed a fault that could not run although it should have (a failed row, exit 1).
 *   e2e-faults.ts table --rows FILE
 *     the table (fault | expected | observed | seconds to verdict | up s | artifacts | lost |
 *     result), ending with the plain line "N passed, N failed"; exits 1 when one failed.
 *
 * A run's "seconds to verdict" is the hook's (verdict.json `durationMs`: from the hook's start to
 * the verdict), compared with the deadline the fault configured plus 30 s (Step 11's target); a
 * refused config's is the whole `up`'s.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";

/** The files a run folder must hold, by their name in the table. */
export type Artifact = "verdict.json" | "report.html" | "suite.log" | "service logs";
const ALL: Artifact[] = ["verdict.json", "report.html", "suite.log", "service logs"];

/** Text a fault's run must show, and where. */
export interface Mention {
  in: "up log" | "suite.log" | "service logs";
  text: string;
}

export type Expectation =
  /** The config is refused before any resource: `up` fails naming `key`, no run starts. */
  | { kind: "refused"; key: string }
  /** A run ends in one of `causes`; `up` fails exactly when the verdict is red. */
  | {
      kind: "run";
      causes: string[];
      artifacts: Artifact[];
      mentions?: Mention[];
      /** A crashed container's previous log must be among the service logs. */
      previousServiceLog?: boolean;
    };

export interface FaultDef {
  title: string;
  expect: Expectation;
}

/** A refused config must be refused within this (program start and validation only). */
export const REFUSAL_LIMIT_S = 90;
/** A run's verdict must come within its configured deadline plus this (Step 11's target). */
export const VERDICT_SLACK_S = 30;

export const FAULTS: Record<string, FaultDef> = {
  "config-artifacts-root": {
    title: "suite.artifactsDir is /",
    expect: { kind: "refused", key: "suite.artifactsDir" },
  },
  "config-artifacts-parent": {
    title: "suite.artifactsDir is ..",
    expect: { kind: "refused", key: "suite.artifactsDir" },
  },
  "config-spawned-selector": {
    title: "services[0].spawnedSelector is not a label selector",
    expect: { kind: "refused", key: "services[0].spawnedSelector" },
  },
  "config-no-topics": {
    title: "mockInfra.kafka.topics is []",
    expect: { kind: "refused", key: "mockInfra.kafka.topics" },
  },
  "config-test-timeout": {
    title: "suite.testTimeoutMs longer than the Job's deadline",
    expect: { kind: "refused", key: "suite.testTimeoutMs" },
  },
  "config-long-stack-name": {
    title: "a stack name too long for the default kind cluster name",
    expect: { kind: "refused", key: "cluster.name" },
  },
  "open-handle": {
    title: "a test leaves a handle open (an interval, a listening socket)",
    expect: {
      kind: "run",
      causes: ["passed"],
      artifacts: ALL,
      mentions: [{ in: "suite.log", text: "left an interval and a socket open" }],
    },
  },
  "test-hangs": {
    title: "a test hangs (never settles) under mocha's timeout",
    expect: {
      kind: "run",
      causes: ["tests-failed"],
      artifacts: ALL,
      mentions: [
        { in: "up log", text: "Timeout of 5000ms exceeded" },
        { in: "suite.log", text: "the test after the hung one ran" },
      ],
    },
  },
  "broken-suite-image": {
    title: "the suite image crashes at start",
    expect: {
      kind: "run",
      causes: ["crashed"],
      artifacts: ALL,
      mentions: [{ in: "suite.log", text: "this suite image is broken on purpose" }],
    },
  },
  "suite-image-build-fails": {
    title: "the suite image does not build",
    expect: {
      kind: "run",
      causes: ["could-not-start"],
      artifacts: ["verdict.json", "report.html"],
      mentions: [{ in: "up log", text: "this suite image does not build, on purpose" }],
    },
  },
  "suite-deadline": {
    title: "the suite Job runs past its deadline (30 s)",
    expect: {
      kind: "run",
      causes: ["deadline"],
      artifacts: ALL,
      mentions: [{ in: "suite.log", text: "holding until the suite Job's deadline" }],
    },
  },
  "kafka-broker-killed": {
    title: "the Kafka broker pod killed mid-suite",
    // True either way: the suite ran to its end and says what it saw (a test the broker's
    // restart made fail names it); never a deadline, a lost run or a hook error.
    expect: { kind: "run", causes: ["passed", "tests-failed"], artifacts: ALL },
  },
  "api-server-paused": {
    title: "the API server paused 20 s mid-suite (control-plane container)",
    expect: { kind: "run", causes: ["passed", "tests-failed"], artifacts: ALL },
  },
  "service-crash-loop": {
    title: "the service crash-loops (an env value it refuses)",
    expect: {
      kind: "run",
      causes: ["service-not-ready"],
      artifacts: ["verdict.json", "report.html", "service logs"],
      mentions: [{ in: "service logs", text: "EXECUTOR_JOB_TTL_SECONDS" }],
      previousServiceLog: true,
    },
  },
  "service-never-ready": {
    title: "the service never becomes Ready (its readiness path always 503)",
    expect: {
      kind: "run",
      causes: ["service-not-ready"],
      artifacts: ["verdict.json", "report.html", "service logs"],
    },
  },
  "sigint-then-up": {
    title: "SIGINT during up, then up",
    expect: { kind: "run", causes: ["passed"], artifacts: ALL },
  },
  "nodes-stopped": {
    title: "the kind node containers stopped (what a Docker engine restart leaves), then up",
    expect: {
      kind: "run",
      causes: ["passed"],
      artifacts: ALL,
      mentions: [{ in: "up log", text: "a new one is made" }],
    },
  },
  "cluster-deleted": {
    title: "the kind cluster deleted out of band, then up",
    expect: {
      kind: "run",
      causes: ["passed"],
      artifacts: ALL,
      mentions: [{ in: "up log", text: "a new one is made" }],
    },
  },
  "docker-restart": {
    title: "the Docker engine restarted between two ups",
    expect: { kind: "run", causes: ["passed"], artifacts: ALL },
  },
};

/** What the script saw of one fault. */
export interface Observation {
  upExit: number;
  upSeconds: number;
  /** The up's output. */
  log: string;
  /** The run folder the up printed, if any. */
  runDir?: string;
  /** verdict.json of that folder. */
  verdict?: {
    ok: boolean;
    cause: string;
    reason: string;
    durationMs: number;
    runId: string;
    /** The failed tests the run's results.json lists (title, message). */
    failures?: { title: string; message: string }[];
  };
  artifacts: Record<Artifact, boolean>;
  suiteLog: string;
  serviceLogs: string;
  /** Whether a `*.previous.log` is among the service logs. */
  previousServiceLog: boolean;
  /** Stack outputs after the up, and before it (refusals). */
  outputs?: Record<string, unknown>;
  outputsBefore?: Record<string, unknown>;
  /** The deadline the fault configured (suite.timeoutSeconds, or the service's ready timeout). */
  deadlineSeconds?: number;
  /** What the script's own checks found lost (the broker not back, a stale Job still running…). */
  lost: string[];
}

export type RowStatus = "passed" | "failed" | "not run";

export interface FaultRow {
  fault: string;
  title: string;
  expected: string;
  observed: string;
  verdictSeconds: number | null;
  upSeconds: number | null;
  artifacts: string;
  lost: string;
  status: RowStatus;
  problems: string[];
}

/** `timeout` exits 124 when it stopped the up. */
const TIMED_OUT = 124;

export function expectedText(def: FaultDef): string {
  return def.expect.kind === "refused" ? `refused (${def.expect.key})` : def.expect.causes.join(" or ");
}

function observedText(o: Observation): string {
  if (o.upExit === TIMED_OUT) return "up did not end (stopped by its time limit)";
  if (o.verdict) return o.verdict.cause;
  if (o.upExit !== 0 && /invalid stack config|failed its preflight checks/.test(o.log)) return "refused";
  return `no run folder (up exit ${o.upExit})`;
}

/** Characters of a failed test's message a row keeps: its first line, cut. */
const FAILURE_MESSAGE_CHARS = 300;

/**
 * The failed tests of an unexpected verdict, by title and first line of message: a CI log may keep
 * only the end of the table, and the run folder goes with CI's clone.
 */
function failuresText(failures: { title: string; message: string }[] | undefined): string {
  if (!failures || failures.length === 0) return "";
  const one = (f: { title: string; message: string }) => {
    const first = f.message.split("\n")[0] ?? "";
    const cut = first.length > FAILURE_MESSAGE_CHARS ? `${first.slice(0, FAILURE_MESSAGE_CHARS)}…` : first;
    return `${f.title}: ${cut}`;
  };
  return ` (failed: ${failures.map(one).join("; ")})`;
}

/** The fault's row: what was expected, what happened, and every reason it failed. */
export function judge(fault: string, def: FaultDef, o: Observation): FaultRow {
  const problems: string[] = [];
  const lost = [...o.lost];
  const observed = observedText(o);
  const e = def.expect;
  let verdictSeconds: number | null = null;
  let artifacts = "n/a";

  if (o.upExit === TIMED_OUT) problems.push("the up hung until its time limit");
  if (e.kind === "refused") {
    verdictSeconds = o.upSeconds;
    if (observed !== "refused") problems.push(`expected the config refused, got ${observed}`);
    else if (!new RegExp(`inception:${escape(e.key)}\\b`).test(o.log))
      problems.push(`the refusal does not name inception:${e.key}`);
    if (o.upSeconds > REFUSAL_LIMIT_S)
      problems.push(`refused after ${o.upSeconds} s (limit ${REFUSAL_LIMIT_S} s)`);
    if (o.runDir !== undefined) problems.push(`a run started (${o.runDir})`);
    if (JSON.stringify(o.outputs ?? {}) !== JSON.stringify(o.outputsBefore ?? {}))
      lost.push("the stack outputs changed although nothing was deployed");
  } else {
    if (o.verdict === undefined) {
      problems.push(
        o.runDir === undefined ? "the up printed no run folder" : `no verdict.json in ${o.runDir}`,
      );
    } else {
      verdictSeconds = Math.round(o.verdict.durationMs / 1000);
      if (!e.causes.includes(o.verdict.cause))
        problems.push(
          `expected ${e.causes.join(" or ")}, got ${o.verdict.cause}${failuresText(o.verdict.failures)}`,
        );
      if (o.verdict.ok !== (o.upExit === 0))
        problems.push(`the up exited ${o.upExit} on a ${o.verdict.ok ? "green" : "red"} verdict`);
      if (o.deadlineSeconds !== undefined && verdictSeconds > o.deadlineSeconds + VERDICT_SLACK_S)
        problems.push(
          `verdict after ${verdictSeconds} s (deadline ${o.deadlineSeconds} s + ${VERDICT_SLACK_S} s)`,
        );
      const out = o.outputs ?? {};
      const shown = (out.verdict as { cause?: unknown } | undefined)?.cause;
      if (out.runId !== o.verdict.runId || shown !== o.verdict.cause)
        lost.push(`the stack outputs show run ${String(out.runId)} (${String(shown)}), not this one`);
    }
    const missing = e.artifacts.filter((a) => !o.artifacts[a]);
    artifacts = e.artifacts.map((a) => `${a} ${o.artifacts[a] ? "✓" : "✗"}`).join(", ");
    if (missing.length > 0) problems.push(`missing: ${missing.join(", ")}`);
    for (const m of e.mentions ?? []) {
      const text = m.in === "up log" ? o.log : m.in === "suite.log" ? o.suiteLog : o.serviceLogs;
      if (!text.includes(m.text)) problems.push(`the ${m.in} does not say "${m.text}"`);
    }
    if (e.previousServiceLog && !o.previousServiceLog) problems.push("no crashed container's previous log");
  }
  problems.push(...lost.map((l) => `lost: ${l}`));
  return {
    fault,
    title: def.title,
    expected: expectedText(def),
    observed,
    verdictSeconds,
    upSeconds: o.upSeconds,
    artifacts,
    lost: lost.length > 0 ? lost.join("; ") : "nothing",
    status: problems.length === 0 ? "passed" : "failed",
    problems,
  };
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The last "inception: artifacts: DIR" line of an up's output (the hook prints it). */
export function runDirOf(log: string): string | undefined {
  const dirs = [...log.matchAll(/inception: artifacts: (\/\S+)/g)].map((m) => m[1]);
  return dirs.at(-1);
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

function readJson(file: string | undefined): Record<string, unknown> | undefined {
  if (!file) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Every `*.log` under DIR/cluster/services, by name, with its text. */
function serviceLogFiles(runDir: string): { name: string; text: string }[] {
  const dir = path.join(runDir, "cluster", "services");
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".log"))
    .map((f) => ({ name: f, text: readText(path.join(dir, f)) }));
}

/** The failed tests results.json of a run folder lists, as far as they have a title and a message. */
function failuresOf(results: unknown): { title: string; message: string }[] {
  const list = (results as { failures?: unknown } | undefined)?.failures;
  if (!Array.isArray(list)) return [];
  return list.map((f: { title?: unknown; message?: unknown }) => ({
    title: String(f?.title ?? "?"),
    message: String(f?.message ?? ""),
  }));
}

/** What the files say: the up's log, its run folder, the stack outputs. */
export function observe(a: {
  log: string;
  exit: number;
  upSeconds: number;
  outputs?: string;
  outputsBefore?: string;
  deadline?: number;
  lost?: string[];
}): Observation {
  const log = readText(a.log);
  const runDir = runDirOf(log);
  const v = runDir ? readJson(path.join(runDir, "verdict.json")) : undefined;
  const services = runDir ? serviceLogFiles(runDir) : [];
  const suiteLog = runDir ? readText(path.join(runDir, "suite.log")) : "";
  const has = (f: string) => runDir !== undefined && fs.existsSync(path.join(runDir, f));
  return {
    upExit: a.exit,
    upSeconds: a.upSeconds,
    log,
    ...(runDir ? { runDir } : {}),
    ...(v
      ? {
          verdict: {
            ok: v.ok === true,
            cause: String(v.cause),
            reason: String(v.reason),
            durationMs: Number(v.durationMs),
            runId: String(v.runId),
            failures: failuresOf(runDir ? readJson(path.join(runDir, "results.json")) : undefined),
          },
        }
      : {}),
    artifacts: {
      "verdict.json": v !== undefined,
      "report.html": has("report.html"),
      "suite.log": suiteLog.trim().length > 0,
      "service logs": services.some((s) => s.text.trim().length > 0),
    },
    suiteLog,
    serviceLogs: services.map((s) => s.text).join("\n"),
    previousServiceLog: services.some((s) => s.name.endsWith(".previous.log")),
    ...(a.outputs ? { outputs: readJson(a.outputs) ?? {} } : {}),
    ...(a.outputsBefore ? { outputsBefore: readJson(a.outputsBefore) ?? {} } : {}),
    ...(a.deadline !== undefined ? { deadlineSeconds: a.deadline } : {}),
    lost: a.lost ?? [],
  };
}

/** A fault left out: on purpose (not run), or because what it stands on failed (failed). */
export function notRunRow(fault: string, def: FaultDef, why: string, failed = false): FaultRow {
  return {
    fault,
    title: def.title,
    expected: expectedText(def),
    observed: `NOT RUN: ${why}`,
    verdictSeconds: null,
    upSeconds: null,
    artifacts: "n/a",
    lost: "n/a",
    status: failed ? "failed" : "not run",
    problems: failed ? [`could not run: ${why}`] : [],
  };
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The table, the lines of the faults left out, and the last line "N passed, N failed". */
export function table(rows: FaultRow[]): string {
  const lines = [
    "| fault | expected verdict (cause) | observed | seconds to verdict | up s | artifacts present | anything lost | result |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${cell(r.title)} | ${cell(r.expected)} | ${cell(r.observed)} | ${r.verdictSeconds ?? "–"} | ` +
        `${r.upSeconds ?? "–"} | ${cell(r.artifacts)} | ${cell(r.lost)} | ` +
        `${r.status === "failed" ? `FAILED: ${cell(r.problems.join("; "))}` : r.status} |`,
    ),
  ];
  for (const r of rows.filter((x) => x.status === "not run"))
    lines.push(`!!!!! NOT RUN: ${r.title}: ${r.observed.replace(/^NOT RUN: /, "")} !!!!!`);
  const passed = rows.filter((r) => r.status === "passed").length;
  const failed = rows.filter((r) => r.status === "failed").length;
  lines.push(`${passed} passed, ${failed} failed`);
  return lines.join("\n");
}

export function readRows(file: string): FaultRow[] {
  return readText(file)
    .split("\n")
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as FaultRow);
}

function definition(fault: string | undefined): FaultDef {
  const def = fault ? FAULTS[fault] : undefined;
  if (!fault || !def)
    throw new Error(`unknown fault ${JSON.stringify(fault)} (known: ${Object.keys(FAULTS).join(", ")})`);
  return def;
}

function main(argv: string[]): number {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      fault: { type: "string" },
      rows: { type: "string" },
      log: { type: "string" },
      exit: { type: "string" },
      "up-seconds": { type: "string" },
      outputs: { type: "string" },
      "outputs-before": { type: "string" },
      deadline: { type: "string" },
      lost: { type: "string", multiple: true },
      why: { type: "string" },
      failed: { type: "boolean" },
    },
  });
  if (!values.rows) throw new Error("--rows is required");
  if (command === "table") {
    const rows = readRows(values.rows);
    console.log(table(rows));
    return rows.some((r) => r.status === "failed") ? 1 : 0;
  }
  const fault = values.fault;
  const def = definition(fault);
  let row: FaultRow;
  if (command === "not-run") {
    row = notRunRow(fault!, def, values.why ?? "no reason given", values.failed === true);
    console.log(`!!!!! fault ${values.failed ? "FAILED, " : ""}NOT RUN: ${def.title}: ${values.why} !!!!!`);
  } else if (command === "observe") {
    if (!values.log || values.exit === undefined || values["up-seconds"] === undefined)
      throw new Error("observe needs --log, --exit and --up-seconds");
    const o = observe({
      log: values.log,
      exit: Number(values.exit),
      upSeconds: Number(values["up-seconds"]),
      ...(values.outputs ? { outputs: values.outputs } : {}),
      ...(values["outputs-before"] ? { outputsBefore: values["outputs-before"] } : {}),
      ...(values.deadline ? { deadline: Number(values.deadline) } : {}),
      lost: values.lost ?? [],
    });
    row = judge(fault!, def, o);
    console.log(
      `fault ${row.status.toUpperCase()}: ${def.title}: expected ${row.expected}, observed ${row.observed}` +
        `${row.verdictSeconds !== null ? ` in ${row.verdictSeconds} s` : ""}` +
        `${row.problems.length > 0 ? ` — ${row.problems.join("; ")}` : ""}`,
    );
  } else throw new Error(`unknown command ${JSON.stringify(command)} (observe, not-run or table)`);
  fs.appendFileSync(values.rows, JSON.stringify(row) + "\n");
  return row.status === "failed" ? 1 : 0;
}

if (require.main === module) {
  try {
    process.exit(main(process.argv.slice(2)));
  } catch (e) {
    console.error(`e2e-faults: ${(e as Error).message}`);
    process.exit(2);
  }
}
