/**
 * Mocha reporter of the suite runs: one line per test as it finishes (streamed by the post-deploy
 * hook into `pulumi up`'s output), and at the end `results.json` and `junit.xml` in
 * $ARTIFACTS_DIR (default ./artifacts) — the machine-readable results the hook hands back.
 */
import * as fs from "fs";
import * as path from "path";
import Mocha from "mocha";
import { recorded, waitTimeout } from "./record";
import { SuiteResults, TestResult, junitXml } from "./results";

const { EVENT_RUN_END, EVENT_TEST_FAIL, EVENT_TEST_PASS, EVENT_TEST_PENDING, EVENT_SUITE_BEGIN } =
  Mocha.Runner.constants;

class SuiteReporter extends Mocha.reporters.Base {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    const started = Date.now();
    const tests: TestResult[] = [];
    const out = process.env.ARTIFACTS_DIR ?? "artifacts";
    const record = (t: Mocha.Test, state: TestResult["state"], err?: Error) => {
      const r: TestResult = {
        title: t.fullTitle(),
        file: t.file,
        state,
        durationMs: t.duration ?? 0,
        ...recorded(t),
      };
      if (err) {
        r.message = err.message;
        r.stack = err.stack;
        const wait = waitTimeout(err);
        if (wait) r.wait = wait;
      }
      tests.push(r);
      return r;
    };

    runner.on(EVENT_SUITE_BEGIN, (s: Mocha.Suite) => {
      if (s.title) console.log(`${"  ".repeat(Math.max(0, depth(s) - 1))}${s.title}`);
    });
    runner.on(EVENT_TEST_PASS, (t: Mocha.Test) => {
      record(t, "passed");
      console.log(`${indent(t)}✔ ${t.title} (${t.duration ?? 0} ms)`);
    });
    runner.on(EVENT_TEST_PENDING, (t: Mocha.Test) => {
      record(t, "pending");
      console.log(`${indent(t)}- ${t.title} (pending)`);
    });
    runner.on(EVENT_TEST_FAIL, (t: Mocha.Test, err: Error) => {
      record(t, "failed", err);
      console.log(`${indent(t)}✖ ${t.title}: ${err.message.split("\n")[0]}`);
    });
    runner.once(EVENT_RUN_END, () => {
      const results: SuiteResults = {
        passed: tests.filter((t) => t.state === "passed").length,
        failed: tests.filter((t) => t.state === "failed").length,
        pending: tests.filter((t) => t.state === "pending").length,
        durationMs: Date.now() - started,
        failures: tests
          .filter((t) => t.state === "failed")
          .map((t) => ({ title: t.title, message: t.message ?? "" })),
        tests,
      };
      fs.mkdirSync(out, { recursive: true });
      fs.writeFileSync(path.join(out, "results.json"), JSON.stringify(results, null, 2));
      fs.writeFileSync(path.join(out, "junit.xml"), junitXml(results, process.env.SUITE_NAME ?? "suite"));
      console.log(`${results.passed} passed, ${results.failed} failed, ${results.pending} pending`);
    });
  }
}

function depth(s: Mocha.Suite): number {
  let d = 0;
  for (let p: Mocha.Suite | undefined = s; p && !p.root; p = p.parent) d++;
  return d;
}

function indent(t: Mocha.Test): string {
  return "  ".repeat(t.parent ? depth(t.parent) : 0);
}

export = SuiteReporter;
