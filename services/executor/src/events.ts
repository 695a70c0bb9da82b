/**
 * The seed system's wire format as the executor reads and writes it: JSON with snake_case keys, one
 * envelope for every topic, `type` being the topic name. These types are the service's own copy
 * (its image is built from this directory alone); they are structurally compatible with the suite's
 * model in tests/harness/events.ts, which a unit test checks by feeding harness-built events through
 * the service's parser.
 */
import { randomUUID } from "node:crypto";

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
 * Checks the envelope of a decoded message. Returns the event, or throws InvalidEvent (with the
 * envelope attached when it is sound enough to answer with a status).
 */
export function parseEnvelope(raw: unknown): BaiEvent {
  if (!isObject(raw)) throw new InvalidEvent("event is not a JSON object");
  const problems: string[] = [];
  const str = (k: string, required = true): void => {
    const v = raw[k];
    if (v === undefined || v === null) {
      if (required) problems.push(`${k} is missing`);
    } else if (typeof v !== "string" || (required && v === ""))
      problems.push(`${k} must be a non-empty string`);
  };
  str("action_id");
  str("message_id");
  str("client_id");
  str("parent_action_id", false);
  if (!isObject(raw.payload)) problems.push("payload must be an object");
  if (raw.visited !== undefined && !Array.isArray(raw.visited)) problems.push("visited must be a list");
  const answerable = typeof raw.action_id === "string" && raw.action_id !== "";
  const event: BaiEvent = {
    action_id: String(raw.action_id ?? ""),
    parent_action_id: typeof raw.parent_action_id === "string" ? raw.parent_action_id : null,
    message_id: typeof raw.message_id === "string" ? raw.message_id : "",
    client_id: typeof raw.client_id === "string" ? raw.client_id : "",
    client_version: typeof raw.client_version === "string" ? raw.client_version : "",
    client_username: typeof raw.client_username === "string" ? raw.client_username : "",
    authenticated: raw.authenticated === true,
    tstamp: typeof raw.tstamp === "number" ? raw.tstamp : 0,
    visited: Array.isArray(raw.visited) ? (raw.visited as VisitedService[]) : [],
    type: typeof raw.type === "string" ? raw.type : "",
    payload: raw.payload,
  };
  if (problems.length > 0) {
    throw new InvalidEvent(`invalid event: ${problems.join("; ")}`, answerable ? event : undefined);
  }
  return event;
}

/** Decodes a Kafka message value (UTF-8 JSON) into an envelope; throws InvalidEvent. */
export function decode(value: Buffer | string | null): BaiEvent {
  if (value === null || value.length === 0) throw new InvalidEvent("empty message");
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
 * A new event derived from `src` (same action, parent action and client), like the seed's services
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
