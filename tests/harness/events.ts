/**
 * What the harness knows about events without knowing the system under test: they are JSON
 * objects, some top-level fields (ID_FIELDS) correlate them, and a profile (see `Profile`) can
 * teach it a system's own ids, message keys and one-line summaries. The replaced system's
 * (benchmark-ai, BAI) envelope is such a profile: `./profiles/bai`.
 */
import { randomUUID } from "node:crypto";

/** Topic names by role, e.g. `{ requests: "fetch.requests", results: "fetch.results" }`. */
export type TopicMap = Readonly<Record<string, string>>;

/**
 * What a suite tells the harness about the system it tests. Only `topics` is required; the rest
 * makes timelines, message keys and timeout messages speak the system's language.
 */
export interface Profile<T extends TopicMap = TopicMap> {
  /** The topics the harness reads (and creates when missing). */
  readonly topics: T;
  /** Every id an event concerns besides its top-level ID_FIELDS (indexes the timelines). */
  readonly ids?: (event: unknown) => string[];
  /** The Kafka key `send` gives an event; default: its first ID_FIELDS value. */
  readonly key?: (event: unknown) => string | undefined;
  /** One line about an event for timeout messages; undefined: the event's JSON. */
  readonly summarize?: (event: unknown) => string | undefined;
}

/** Top-level fields whose string values are ids (any service's plain JSON, e.g. `{"request_id": "r-1", …}`). */
export const ID_FIELDS: readonly string[] = ["request_id", "correlation_id"];

/** The event's top-level ID_FIELDS values. */
export function relatedIds(event: unknown): string[] {
  if (!isObject(event)) return [];
  const ids = ID_FIELDS.map((f) => event[f]).filter((v): v is string => typeof v === "string" && v !== "");
  return [...new Set(ids)];
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A fresh id; `prefix` makes ids readable in logs and Kubernetes labels (lower case, <= 63 chars). */
export function newId(prefix = "it"): string {
  return `${prefix}-${randomUUID()}`;
}

/** Any JSON object whose top-level `field` is `value`, e.g. `fieldEquals("request_id", id)`. */
export const fieldEquals =
  (field: string, value: unknown) =>
  (e: unknown): boolean =>
    isObject(e) && e[field] === value;

/** One line describing an event: its JSON, cut at 200 characters. */
export function summarize(e: unknown): string {
  return JSON.stringify(e)?.slice(0, 200) ?? String(e);
}
