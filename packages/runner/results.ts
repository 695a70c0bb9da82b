/** The machine-readable results of a suite run (results.json) and their JUnit rendering. */

export interface TestResult {
  title: string;
  file: string | undefined;
  state: "passed" | "failed" | "pending";
  durationMs: number;
  message?: string;
  stack?: string;
}

export interface SuiteResults {
  passed: number;
  failed: number;
  pending: number;
  durationMs: number;
  failures: { title: string; message: string }[];
  tests: TestResult[];
}

export function junitXml(r: SuiteResults, name: string): string {
  const esc = (s: string) =>
    s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  const cases = r.tests.map((t) => {
    const open = `    <testcase classname="${esc(t.file ?? name)}" name="${esc(t.title)}" time="${(t.durationMs / 1000).toFixed(3)}"`;
    if (t.state === "passed") return `${open}/>`;
    if (t.state === "pending") return `${open}><skipped/></testcase>`;
    return `${open}>\n      <failure message="${esc(t.message ?? "")}">${esc(t.stack ?? t.message ?? "")}</failure>\n    </testcase>`;
  });
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites tests="${r.tests.length}" failures="${r.failed}" skipped="${r.pending}" time="${(r.durationMs / 1000).toFixed(3)}">\n` +
    `  <testsuite name="${esc(name)}" tests="${r.tests.length}" failures="${r.failed}" skipped="${r.pending}" time="${(r.durationMs / 1000).toFixed(3)}">\n` +
    cases.join("\n") +
    (cases.length ? "\n" : "") +
    `  </testsuite>\n</testsuites>\n`
  );
}
