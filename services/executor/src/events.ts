/**
 * BAI's wire format as the executor reads and writes it: JSON with snake_case keys, one
 * envelope for every topic, `type` being the topic name. These types are the service's own copy
 * (its image is built from this directory alone); they are structurally compatible with the suite's
 * model in tests/harness/events.ts, which a unit test checks by feeding harness-built events through
 * the service's parser.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";

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
  tstamp: number;
  visited: VisitedService[];
  type: string;
  payload: P;
}

/** The benchmark descriptor: `doc` is the TOML source, `contents` its parsed form. */
export interface BenchmarkDoc {
  contents: Record<string, unknown> | string;
  doc: string;
  sha1: string;
  descriptor_filename?: string | null;
  verified?: boolean | null;
}

export interface FetcherPayload {
  toml: BenchmarkDoc;
  datasets: unknown[];
  models?: unknown[];
  scripts?: unknown[];
}

export interface BenchmarkJob {
  id: string;
  output?: string | null;
  extras?: Record<string, unknown>;
}

export interface ExecutorPayload extends FetcherPayload {
  job: BenchmarkJob;
}

export type Status =
  | "PENDING"
  | "RUNNING"
  | "FAILED"
  | "ERROR"
  | "INITIALIZING"
  | "SUCCEEDED"
  | "CANCELED"
  | "METRICS AVAILABLE";

export interface StatusPayload {
  message: string;
  status: Status;
  src_event?: BaiEvent | null;
}

export interface CommandRequestPayload {
  command: string;
  args?: Record<string, unknown> | unknown[] | null;
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

/** Thrown for an event the executor cannot act on; `message` is the reason sent with status ERROR. */
export class InvalidEvent extends Error {
  constructor(
    message: string,
    /** The envelope, when the event had one good enough to answer to. */
    readonly envelope?: BaiEvent,
  ) {
    super(message);
    this.name = "InvalidEvent";
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The largest message the executor reads (the UTF-8 bytes of the Kafka value, the descriptor
 * included): Kafka's default `message.max.bytes`. A larger one is dropped unread.
 */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** The deepest nesting of objects and lists an event or a descriptor may have. */
export const MAX_DEPTH = 32;
/** Keys that reach an object's prototype when copied naively: refused wherever they occur. */
export const PROTOTYPE_KEYS: readonly string[] = ["__proto__", "constructor", "prototype"];

/**
 * The first structural problem of decoded input: a prototype key at any depth, or nesting deeper
 * than MAX_DEPTH. Iterative, so no input can exhaust the stack. `where` names the input.
 */
export function shapeProblem(value: unknown, where: string): string | undefined {
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: "", depth: 0 }];
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (depth >= MAX_DEPTH) return `${where} is nested deeper than ${MAX_DEPTH} levels (at ${path})`;
    const entries: [string, unknown][] = Array.isArray(v)
      ? v.map((x, i) => [String(i), x])
      : Object.keys(v).map((k) => [k, (v as Record<string, unknown>)[k]]);
    for (const [k, x] of entries) {
      const at = Array.isArray(v) ? `${path}[${k}]` : path === "" ? k : `${path}.${k}`;
      if (!Array.isArray(v) && PROTOTYPE_KEYS.includes(k)) return `${where} has the forbidden key ${at}`;
      stack.push({ v: x, path: at, depth: depth + 1 });
    }
  }
  return undefined;
}

// zod: one declaration gives the check, the message naming the field, and the type. Objects are
// strict: a field the executor does not know is an error, not silently carried along.
const NON_EMPTY = "must be a non-empty string";
const id = z.string({ error: NON_EMPTY }).min(1, { error: NON_EMPTY }).max(253);
const text = z.string().max(4096);
const Visited = z.strictObject({
  svc: text,
  tstamp: z.number().finite(),
  version: text,
  node: text.nullish(),
});
export const EnvelopeSchema = z.strictObject({
  action_id: id,
  // No parent: null, absent, or (as some senders write it) "".
  parent_action_id: z.union([id, z.literal("")]).nullish(),
  message_id: id,
  client_id: id,
  client_version: text.optional(),
  client_username: text.optional(),
  authenticated: z.boolean().optional(),
  tstamp: z.number().finite().optional(),
  visited: z.array(Visited).max(100).optional(),
  type: text.optional(),
  payload: z.record(z.string(), z.unknown(), { error: "must be an object" }),
});

const Content = z.strictObject({
  src: z.string(),
  path: z.string(),
  id: z.string().nullish(),
  md5: z.string().nullish(),
  dst: z.string().nullish(),
  type: z.enum(["FILE", "DIRECTORY"]).nullish(),
  status: z.enum(["PENDING", "RUNNING", "DONE", "FAILED", "CANCELED"]).nullish(),
  message: z.string().nullish(),
  size_info: z
    .strictObject({ total_size: z.number(), file_count: z.number(), max_size: z.number() })
    .nullish(),
});
export const FetcherPayloadSchema = z.strictObject({
  toml: z.strictObject({
    // The parsed descriptor or its TOML source; its own keys are the descriptor's (descriptor.ts).
    contents: z.union([z.record(z.string(), z.unknown()), z.string()]),
    doc: z.string(),
    sha1: z.string(),
    descriptor_filename: z.string().nullish(),
    verified: z.boolean().nullish(),
  }),
  datasets: z.array(Content),
  models: z.array(Content).nullish(),
  scripts: z.array(z.strictObject({ dst: z.string() })).nullish(),
});
export const CommandPayloadSchema = z.strictObject({
  command: z.string({ error: NON_EMPTY }).min(1, { error: NON_EMPTY }).max(253),
  args: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown()), z.null()]).optional(),
});

/** zod's issues as one line: `field: problem; …` (at most five, then how many more). */
export function describeIssues(error: z.ZodError, prefix = ""): string {
  const lines = error.issues.map((i) => {
    const at = [prefix, ...i.path.map(String)].filter((p) => p !== "").join(".");
    return at === "" ? i.message : `${at}: ${i.message}`;
  });
  const more = lines.length > 5 ? `; and ${lines.length - 5} more` : "";
  return lines.slice(0, 5).join("; ") + more;
}

const str = (v: unknown): string => (typeof v === "string" ? v.slice(0, 253) : "");

/**
 * The envelope to answer an invalid event with: its ids when `action_id` is a usable string, and
 * nothing else of what it sent (the payload of a hostile event is not echoed back).
 */
function answerable(raw: Record<string, unknown>): BaiEvent | undefined {
  const a = raw.action_id;
  if (typeof a !== "string" || a === "" || a.length > 253) return undefined;
  return {
    action_id: a,
    parent_action_id: typeof raw.parent_action_id === "string" ? str(raw.parent_action_id) : null,
    message_id: str(raw.message_id),
    client_id: str(raw.client_id),
    client_version: str(raw.client_version),
    client_username: str(raw.client_username),
    authenticated: false,
    tstamp: 0,
    visited: [],
    type: str(raw.type),
    payload: null,
  };
}

/**
 * Checks the envelope of a decoded message. Returns the event, or throws InvalidEvent (with the
 * envelope attached when it is sound enough to answer with a status).
 */
export function parseEnvelope(raw: unknown): BaiEvent {
  if (!isObject(raw)) throw new InvalidEvent("event is not a JSON object");
  const shape = shapeProblem(raw, "the event");
  if (shape !== undefined) {
    // A prototype key may be the action id's own sibling: answer only from own string fields.
    throw new InvalidEvent(`invalid event: ${shape}`, answerable(raw));
  }
  const r = EnvelopeSchema.safeParse(raw);
  if (!r.success) throw new InvalidEvent(`invalid event: ${describeIssues(r.error)}`, answerable(raw));
  const e = r.data;
  return {
    action_id: e.action_id,
    parent_action_id: e.parent_action_id || null,
    message_id: e.message_id,
    client_id: e.client_id,
    client_version: e.client_version ?? "",
    client_username: e.client_username ?? "",
    authenticated: e.authenticated ?? false,
    tstamp: e.tstamp ?? 0,
    visited: e.visited ?? [],
    type: e.type ?? "",
    payload: e.payload,
  };
}

/** Decodes a Kafka message value (UTF-8 JSON) into an envelope; throws InvalidEvent. */
export function decode(value: Buffer | string | null): BaiEvent {
  if (value === null || value.length === 0) throw new InvalidEvent("empty message");
  const size = typeof value === "string" ? Buffer.byteLength(value) : value.length;
  if (size > MAX_MESSAGE_BYTES) {
    throw new InvalidEvent(`message of ${size} bytes is over the limit of ${MAX_MESSAGE_BYTES} bytes`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(value.toString());
  } catch (e) {
    throw new InvalidEvent(`message is not JSON: ${(e as Error).message}`);
  }
  return parseEnvelope(raw);
}

/** Who is sending: appended to `visited` of every event the executor emits. */
export interface Sender {
  svc: string;
  version: string;
  node?: string | null;
}

/**
 * A new event derived from `src` (same action, parent action and client), like BAI's services
 * send: a fresh message id, `visited` extended by the sender.
 */
export function derive<P>(
  src: BaiEvent,
  type: string,
  payload: P,
  sender: Sender,
  o: { actionId?: string; parentActionId?: string | null; now?: number } = {},
): BaiEvent<P> {
  const now = o.now ?? Date.now();
  return {
    action_id: o.actionId ?? src.action_id,
    parent_action_id: o.parentActionId !== undefined ? o.parentActionId : (src.parent_action_id ?? null),
    message_id: randomUUID(),
    client_id: src.client_id,
    client_version: src.client_version,
    client_username: src.client_username,
    authenticated: src.authenticated,
    tstamp: now,
    visited: [
      ...src.visited,
      { svc: sender.svc, tstamp: now, version: sender.version, node: sender.node ?? null },
    ],
    type,
    payload,
  };
}
