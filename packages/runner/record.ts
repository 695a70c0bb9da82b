/**
 * What the suite reporter records of a test beyond mocha's own: its retries, the start and ids the
 * harness left on it, and a timed-out wait's details — the data the run report draws its sequence
 * diagrams from. Read as plain data: the runner runs suites with or without the harness.
 */
import type Mocha from "mocha";
import { TestResult, WaitTimeout } from "./results";

/** The mocha test's property where the harness (tests/harness/hooks.ts) leaves the test's context. */
export const TEST_CONTEXT_PROPERTY = "inceptionTest";

/** Retries, and the start and ids the harness left on the test (none without the harness). */
export function recorded(t: Mocha.Test): Pick<TestResult, "retries" | "startedAt" | "ids"> {
  const ctx = (t as unknown as Record<string, unknown>)[TEST_CONTEXT_PROPERTY] as
    { startedAt?: unknown; ids?: unknown } | undefined;
  const ids =
    ctx?.ids !== null && typeof ctx?.ids === "object" && Symbol.iterator in ctx.ids
      ? [...(ctx.ids as Iterable<unknown>)].filter((i): i is string => typeof i === "string")
      : undefined;
  return {
    retries: retriesOf(t),
    ...(typeof ctx?.startedAt === "number" ? { startedAt: ctx.startedAt } : {}),
    ...(ids ? { ids } : {}),
  };
}

/** mocha's attempt number of the test (0: passed or failed at the first attempt). */
function retriesOf(t: Mocha.Test): number {
  // currentRetry() is public at run time; the type declarations mark it protected.
  const r = (t as unknown as { currentRetry?: () => unknown }).currentRetry?.call(t);
  return typeof r === "number" ? r : 0;
}

/** A WaitTimeoutError's structured details (`details`), when they have the expected shape. */
export function waitTimeout(err: unknown): WaitTimeout | undefined {
  const d = (err as { details?: unknown } | undefined)?.details as Partial<WaitTimeout> | undefined;
  if (!d || typeof d.timeoutMs !== "number" || !Array.isArray(d.conditions)) return undefined;
  const conditions = d.conditions.filter(
    (c) =>
      c && typeof c.topic === "string" && typeof c.description === "string" && typeof c.matched === "boolean",
  );
  return {
    timeoutMs: d.timeoutMs,
    ...(typeof d.startedAt === "number" ? { startedAt: d.startedAt } : {}),
    conditions: conditions.map((c) => ({
      topic: c.topic,
      description: c.description,
      matched: c.matched,
      ...(typeof c.matchedAtMs === "number" ? { matchedAtMs: c.matchedAtMs } : {}),
    })),
  };
}
