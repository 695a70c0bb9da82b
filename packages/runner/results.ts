/** The machine-readable results of a suite run (results.json) and their JUnit rendering. */
import { create } from "xmlbuilder2";

export interface TestResult {
  title: string;
  file: string | undefined;
  state: "passed" | "failed" | "pending";
  durationMs: number;
  message?: string;
  stack?: string;
  /** Attempts before the final one (mocha's retries). */
  retries?: number;
  /** Epoch ms the (final attempt of the) test began, when the harness recorded it. */
  startedAt?: number;
  /** The ids the test used (its events, its Kubernetes objects), when the harness recorded them. */
  ids?: string[];
  /** A wait that timed out: what it waited for and what came (the harness's WaitTimeoutError). */
  wait?: WaitTimeout;
}

export interface WaitTimeout {
  timeoutMs: number;
  startedAt?: number;
  conditions: { topic: string; description: string; matched: boolean; matchedAtMs?: number }[];
}

export interface SuiteResults {
  passed: number;
  failed: number;
  pending: number;
  durationMs: number;
  failures: { title: string; message: string }[];
  tests: TestResult[];
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/**
 * JUnit XML of a run. xmlbuilder2 escapes markup characters and replaces what XML 1.0 cannot hold
 * at all (control characters such as a colour code in an assertion diff, lone surrogates) with
 * U+FFFD, so a test's title or message can never make the file unreadable for CI.
 */
export function junitXml(r: SuiteResults, name: string): string {
  const doc = create({ version: "1.0", encoding: "UTF-8", invalidCharReplacement: "\uFFFD" });
  const counts = {
    tests: String(r.tests.length),
    failures: String(r.failed),
    skipped: String(r.pending),
    time: seconds(r.durationMs),
  };
  const suite = doc.ele("testsuites", counts).ele("testsuite", { name, ...counts });
  for (const t of r.tests) {
    const c = suite.ele("testcase", {
      classname: t.file ?? name,
      name: t.title,
      time: seconds(t.durationMs),
    });
    if (t.state === "pending") c.ele("skipped");
    if (t.state === "failed") c.ele("failure", { message: t.message ?? "" }).txt(t.stack ?? t.message ?? "");
  }
  return doc.end({ prettyPrint: true }) + "\n";
}
