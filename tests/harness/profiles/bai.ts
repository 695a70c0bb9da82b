/**
 * The BAI profile: the replaced system's (benchmark-ai, BAI) topics, wire format and event
 * builders, for suites of services that speak it (the executor's). The harness core knows none of
 * this; a suite opts in:
 *
 *   import { harness } from "@inception/harness";
 *   import { bai, statusOf } from "@inception/harness/profiles/bai";
 *   const h = harness(bai);                       // reads and creates the five BAI topics
 *   const run = bai.events.fetcher();             // fresh ids, registered with the current test
 *   await h.send(h.topics.fetcher, run);
 *   await h.waitFor(h.topics.status, statusOf(run.action_id, "SUCCEEDED"), { description: "run succeeded" });
 *
 * The wire format: JSON with snake_case keys, one envelope for every topic, the envelope's `type`
 * being the topic name. The types mirror BAI's events (same keys, same optionality), so a test can
 * build what a service would receive and read what it sends.
 */
import { createHash } from "node:crypto";
import { currentTest } from "../context";
import { isObject, newId, Profile } from "../events";

/** The BAI topics by role (a type, not an interface: it must fit the core's `TopicMap`). */
export type BaiTopics = {
  fetcher: string;
  executor: string;
  status: string;
  cmdSubmit: string;
  cmdReturn: string;
};

/** BAI's topic names (a stack that renames them: `baiProfile({ ...baiTopics, status: "MY_STATUS" })`). */
export const baiTopics: Readonly<BaiTopics> = Object.freeze({
  fetcher: "BAI_APP_FETCHER",
  executor: "BAI_APP_EXECUTOR",
  status: "BAI_APP_STATUS",
  cmdSubmit: "CMD_SUBMIT",
  cmdReturn: "CMD_RETURN",
});

/** A service that handled the event, appended by each service on the way. */
export interface VisitedService {
  svc: string;
  /** Epoch milliseconds. */
  tstamp: number;
  version: string;
  node?: string | null;
}

/** The envelope every event shares. */
export interface BaiEvent<P = unknown> {
  action_id: string;
  parent_action_id?: string | null;
  message_id: string;
  client_id: string;
  client_version: string;
  client_username: string;
  authenticated: boolean;
  /** Epoch milliseconds. */
  tstamp: number;
  visited: VisitedService[];
  /** The topic name. */
  type: string;
  payload: P;
}

/** The benchmark descriptor as submitted (TOML source and its parsed form). */
export interface BenchmarkDoc {
  contents: Record<string, unknown>;
  doc: string;
  sha1: string;
  descriptor_filename?: string | null;
  verified?: boolean | null;
}

export type FetchedType = "FILE" | "DIRECTORY";
/** The fetcher's per-item state (not the status-topic `Status`). */
export type FetcherStatus = "PENDING" | "RUNNING" | "DONE" | "FAILED" | "CANCELED";

export interface ContentSizeInfo {
  total_size: number;
  file_count: number;
  max_size: number;
}

/** A data set or model: `src`/`path`/`id`/`md5` set by the user, the rest by the fetcher. */
export interface DownloadableContent {
  src: string;
  path: string;
  id?: string | null;
  md5?: string | null;
  dst?: string | null;
  type?: FetchedType | null;
  status?: FetcherStatus | null;
  message?: string | null;
  size_info?: ContentSizeInfo | null;
}

export interface FileSystemObject {
  dst: string;
}

export interface FetcherPayload {
  toml: BenchmarkDoc;
  datasets: DownloadableContent[];
  models?: DownloadableContent[];
  scripts?: FileSystemObject[];
}

export interface BenchmarkJob {
  id: string;
  output?: string | null;
  extras?: Record<string, unknown>;
}

export interface ExecutorPayload extends FetcherPayload {
  job: BenchmarkJob;
}

export const STATUSES = [
  "PENDING",
  "RUNNING",
  "FAILED",
  "ERROR",
  "INITIALIZING",
  "SUCCEEDED",
  "CANCELED",
  "METRICS AVAILABLE",
] as const;
export type Status = (typeof STATUSES)[number];

export interface StatusPayload {
  message: string;
  status: Status;
  /** The event the status is about. */
  src_event?: BaiEvent | null;
}

export interface CommandRequestPayload {
  command: string;
  args?: Record<string, string> | string[] | null;
}

export interface CommandResponsePayload {
  return_code: number;
  message: string;
  cmd_submit: CommandRequestEvent;
  return_value?: unknown;
}

export type FetcherEvent = BaiEvent<FetcherPayload>;
export type ExecutorEvent = BaiEvent<ExecutorPayload>;
export type StatusEvent = BaiEvent<StatusPayload>;
export type CommandRequestEvent = BaiEvent<CommandRequestPayload>;
export type CommandResponseEvent = BaiEvent<CommandResponsePayload>;

/** Any BAI event, as read off the wire. */
export type AnyEvent = BaiEvent<unknown>;

/**
 * Every id a BAI event concerns: its own action and parent action, the client, the source event
 * of a status, the command (and its string arguments, e.g. a cancel's target) of a command
 * response — so `timeline(actionId)` shows the status events and command answers about that
 * action too.
 */
export function baiIds(event: unknown): string[] {
  const ids = new Set<string>();
  const envelope = (e: unknown): void => {
    if (!isObject(e)) return;
    for (const key of ["action_id", "parent_action_id", "client_id"]) {
      const v = e[key];
      if (typeof v === "string" && v !== "") ids.add(v);
    }
  };
  envelope(event);
  if (isObject(event) && isObject(event.payload)) {
    const p = event.payload;
    envelope(p.src_event);
    envelope(p.cmd_submit);
    const cmd = isObject(p.cmd_submit) ? p.cmd_submit.payload : p;
    if (isObject(cmd) && cmd.args != null && typeof cmd.command === "string") {
      const args = Array.isArray(cmd.args) ? cmd.args : isObject(cmd.args) ? Object.values(cmd.args) : [];
      for (const a of args) if (typeof a === "string" && a !== "") ids.add(a);
    }
  }
  return [...ids];
}

/** One line about a BAI event (`action_id=… status=… message="…"`); undefined for other JSON. */
export function baiSummary(e: unknown): string | undefined {
  if (!isObject(e) || e.action_id === undefined) return undefined;
  const parts = [`action_id=${String(e.action_id)}`];
  if (e.parent_action_id) parts.push(`parent_action_id=${String(e.parent_action_id)}`);
  const p = isObject(e.payload) ? e.payload : {};
  if (typeof p.status === "string") parts.push(`status=${p.status}`);
  if (typeof p.command === "string") parts.push(`command=${p.command}`);
  if (typeof p.return_code === "number") parts.push(`return_code=${p.return_code}`);
  if (typeof p.message === "string" && p.message !== "") parts.push(`message=${JSON.stringify(p.message)}`);
  if (isObject(p.job)) parts.push(`job.id=${String(p.job.id)}`);
  return parts.join(" ");
}

/** BAI's services key a message by its client id. */
function baiKey(e: unknown): string | undefined {
  return isObject(e) && typeof e.client_id === "string" ? e.client_id : undefined;
}

export interface EnvelopeOptions {
  actionId?: string;
  parentActionId?: string | null;
  clientId?: string;
  clientUsername?: string;
  visited?: VisitedService[];
}

/**
 * Builds BAI events for a set of topics. Every event gets a fresh `action_id` (unless given) and
 * `message_id`; `client_id` is the current test's id (one client per test, like one user), so all
 * of a test's events and the objects services create for them share it.
 */
export class EventBuilder {
  constructor(
    readonly topics: Readonly<BaiTopics> = baiTopics,
    private readonly client = { version: "inception-harness", username: "inception" },
  ) {}

  /** The envelope around `payload` for topic `type`. */
  envelope<P>(type: string, payload: P, o: EnvelopeOptions = {}): BaiEvent<P> {
    const test = currentTest();
    const event: BaiEvent<P> = {
      action_id: o.actionId ?? newId("a"),
      parent_action_id: o.parentActionId ?? null,
      message_id: newId("m"),
      client_id: o.clientId ?? test?.id ?? newId("c"),
      client_version: this.client.version,
      client_username: o.clientUsername ?? this.client.username,
      authenticated: false,
      tstamp: Date.now(),
      visited: o.visited ?? [{ svc: "inception-harness", tstamp: Date.now(), version: this.client.version }],
      type,
      payload,
    };
    test?.track(...baiIds(event));
    return event;
  }

  /** What the fetcher publishes: a descriptor plus the data sets, models and scripts it fetched. */
  fetcher(
    o: EnvelopeOptions & {
      descriptor?: string;
      contents?: Record<string, unknown>;
      datasets?: DownloadableContent[];
      models?: DownloadableContent[];
      scripts?: FileSystemObject[];
    } = {},
  ): FetcherEvent {
    const source = o.descriptor ?? "";
    return this.envelope<FetcherPayload>(
      this.topics.fetcher,
      {
        toml: {
          contents: o.contents ?? {},
          // As BAI's front end sends it: the TOML file base64-encoded, and the SHA-1 of the file.
          doc: Buffer.from(source, "utf8").toString("base64"),
          sha1: sha1(source),
          descriptor_filename: "descriptor.toml",
          verified: true,
        },
        datasets: o.datasets ?? [],
        models: o.models ?? [],
        scripts: o.scripts ?? [],
      },
      o,
    );
  }

  /** What the executor publishes once it created the job: the fetcher payload plus `job`. */
  executor(from: FetcherEvent, job: BenchmarkJob, o: EnvelopeOptions = {}): ExecutorEvent {
    return this.envelope<ExecutorPayload>(
      this.topics.executor,
      { ...from.payload, job },
      { actionId: from.action_id, parentActionId: from.parent_action_id, clientId: from.client_id, ...o },
    );
  }

  /** A status about `src` (same action id, as BAI's services send it). */
  status(src: AnyEvent, status: Status, message: string = status, o: EnvelopeOptions = {}): StatusEvent {
    return this.envelope<StatusPayload>(
      this.topics.status,
      { message, status, src_event: src },
      { actionId: src.action_id, parentActionId: src.parent_action_id, clientId: src.client_id, ...o },
    );
  }

  /** A command on the command topic, e.g. `command("cancel", { target_action_id: id })`. */
  command(
    command: string,
    args?: CommandRequestPayload["args"],
    o: EnvelopeOptions = {},
  ): CommandRequestEvent {
    return this.envelope<CommandRequestPayload>(this.topics.cmdSubmit, { command, args: args ?? null }, o);
  }

  /** A service's answer to `cmd` on the command-return topic. */
  commandReturn(
    cmd: CommandRequestEvent,
    returnCode: number,
    message = "",
    returnValue?: unknown,
    o: EnvelopeOptions = {},
  ): CommandResponseEvent {
    return this.envelope<CommandResponsePayload>(
      this.topics.cmdReturn,
      { return_code: returnCode, message, cmd_submit: cmd, return_value: returnValue ?? null },
      { actionId: cmd.action_id, clientId: cmd.client_id, ...o },
    );
  }
}

/** The BAI profile for a set of topic names: what `harness(...)` takes, plus the event builders. */
export interface BaiProfile extends Profile<Readonly<BaiTopics>> {
  readonly events: EventBuilder;
}

export function baiProfile(topics: Readonly<BaiTopics> = baiTopics): BaiProfile {
  return { topics, events: new EventBuilder(topics), ids: baiIds, key: baiKey, summarize: baiSummary };
}

/** The BAI profile with BAI's topic names. */
export const bai: BaiProfile = baiProfile();

// --- predicates for waits: small, named, composable ------------------------------------------

/** The event's own action is `actionId`. */
export const forAction =
  (actionId: string) =>
  (e: AnyEvent): boolean =>
    e.action_id === actionId;

/** The event's parent action is `parentActionId` (e.g. a scheduled job's runs). */
export const forParentAction =
  (parentActionId: string) =>
  (e: AnyEvent): boolean =>
    e.parent_action_id === parentActionId;

/** A status event about `actionId`, with status `status` when given. */
export const statusOf =
  (actionId: string, status?: Status) =>
  (e: AnyEvent): boolean => {
    const p = (e as StatusEvent).payload;
    const about = e.action_id === actionId || p?.src_event?.action_id === actionId;
    return about && (status === undefined || p?.status === status);
  };

/** The response to command `cmd` (matched by the command's message id, then action id). */
export const responseTo =
  (cmd: CommandRequestEvent) =>
  (e: AnyEvent): boolean => {
    const sub = (e as CommandResponseEvent).payload?.cmd_submit;
    return (
      sub?.message_id === cmd.message_id || (sub?.message_id === undefined && e.action_id === cmd.action_id)
    );
  };

// --- descriptors, as BAI's users write them ---------------------------------------------------

/** What a benchmark needs besides BAI's required fields (see `descriptor`). */
export interface DescriptorOptions {
  /** `[ml] benchmark_code`: a shell command; absent keeps the image's entrypoint. */
  command?: string;
  /** `[env] docker_image`. */
  image: string;
  /** `[info] scheduling`: "single_run" (default) or a cron schedule. */
  schedule?: string;
  /** `[hardware] strategy` (default single_node). */
  strategy?: "single_node" | "horovod" | "inference";
  /** `[hardware] instance_type` (default "local": no node selector). */
  instanceType?: string;
  /** `[info] execution_engine` (default: absent, i.e. "default"). */
  engine?: string;
  /** `[info.labels]`. */
  labels?: Record<string, string>;
  description?: string;
  /** More sections or keys, merged over the rest (e.g. `{ server: {...} }` for inference). */
  extra?: Record<string, unknown>;
}

/**
 * A descriptor BAI's executor accepts (`spec_version`, `[info] description`, `[hardware]
 * instance_type`, `[env] docker_image` are what its parser requires): `{ descriptor, contents }`
 * for `bai.events.fetcher(...)`, the TOML text and the same as a table.
 */
export function descriptor(o: DescriptorOptions): { descriptor: string; contents: Record<string, unknown> } {
  const contents: Record<string, unknown> = {
    spec_version: "0.1.0",
    info: {
      description: o.description ?? "inception suite benchmark",
      scheduling: o.schedule ?? "single_run",
      ...(o.engine !== undefined ? { execution_engine: o.engine } : {}),
      ...(o.labels ? { labels: o.labels } : {}),
    },
    hardware: { instance_type: o.instanceType ?? "local", strategy: o.strategy ?? "single_node" },
    env: { docker_image: o.image },
    ...(o.command !== undefined ? { ml: { benchmark_code: o.command } } : {}),
  };
  for (const [k, v] of Object.entries(o.extra ?? {})) {
    contents[k] = isObject(v) && isObject(contents[k]) ? { ...contents[k], ...v } : v;
  }
  return { descriptor: toToml(contents), contents };
}

/**
 * TOML as BAI's tools write it: top-level keys first, then a `[section]` per table (dotted for
 * nested ones) and `[[section]]` per table of an array of tables; strings as basic strings.
 */
export function toToml(table: Record<string, unknown>): string {
  const out: string[] = [];
  const value = (v: unknown): string => {
    if (typeof v === "string") return JSON.stringify(v); // JSON's escapes are TOML's basic-string escapes
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    if (Array.isArray(v)) return `[${v.map(value).join(", ")}]`;
    if (isObject(v))
      return `{ ${Object.entries(v)
        .map(([k, x]) => `${key(k)} = ${value(x)}`)
        .join(", ")} }`;
    throw new Error(`toToml: cannot write ${String(v)}`);
  };
  const key = (k: string): string => (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k));
  const isTableArray = (v: unknown): v is Record<string, unknown>[] =>
    Array.isArray(v) && v.length > 0 && v.every(isObject);
  const section = (path: string[], t: Record<string, unknown>, header: string | undefined): void => {
    const entries = Object.entries(t);
    const plain = entries.filter(([, v]) => !isObject(v) && !isTableArray(v));
    if (header !== undefined) out.push(header);
    for (const [k, v] of plain) out.push(`${key(k)} = ${value(v)}`);
    if (header !== undefined || plain.length > 0) out.push("");
    for (const [k, v] of entries) {
      const p = [...path, key(k)];
      if (isObject(v)) section(p, v, `[${p.join(".")}]`);
      else if (isTableArray(v)) for (const item of v) section(p, item, `[[${p.join(".")}]]`);
    }
  };
  section([], table, undefined);
  return out.join("\n");
}

function sha1(s: string): string {
  return createHash("sha1").update(s).digest("hex");
}
