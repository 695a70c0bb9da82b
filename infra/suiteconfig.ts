/** The `inception:suite` section: how the black-box suite runs after each deploy. */
import { Problems, bool, int, objectAt, oneOf, optStr, str } from "./validate";

export interface SuiteConfig {
  enabled: boolean;
  /** `job`: a Kubernetes Job in the cluster; `host`: mocha on this machine against the host endpoints. */
  runner: "job" | "host";
  /** `always`: every `pulumi up` runs the suite; `onChange`: only when its inputs change. */
  rerun: "always" | "onChange";
  /** The suite Job's activeDeadlineSeconds (and the hook's wait). */
  timeoutSeconds: number;
  /** Mocha's per-test timeout. */
  testTimeoutMs: number;
  /** Mocha --grep. */
  grep: string | undefined;
  /** Mocha --retries. */
  retries: number;
  /** Suite runs (Jobs and artifact folders) kept. */
  keepRuns: number;
  /** `pulumi up` fails when a test fails, the Job times out or crashes. */
  failOnTestFailure: boolean;
  /** Where run folders go: `<artifactsDir>/<stack>/<run id>/`. */
  artifactsDir: string;
}

const SUITE_KEYS = [
  "enabled",
  "runner",
  "rerun",
  "timeoutSeconds",
  "testTimeoutMs",
  "grep",
  "retries",
  "keepRuns",
  "failOnTestFailure",
  "artifactsDir",
] as const;

export function suiteConfig(p: Problems, v: unknown): SuiteConfig {
  const s = objectAt(p, "suite", v, SUITE_KEYS) ?? {};
  return {
    enabled: bool(p, "suite.enabled", s.enabled, true),
    runner: oneOf(p, "suite.runner", s.runner, ["job", "host"] as const, "job"),
    rerun: oneOf(p, "suite.rerun", s.rerun, ["always", "onChange"] as const, "always"),
    timeoutSeconds: int(p, "suite.timeoutSeconds", s.timeoutSeconds, 900, 30, 86400),
    testTimeoutMs: int(p, "suite.testTimeoutMs", s.testTimeoutMs, 120000, 1000, 3600000),
    grep: optStr(p, "suite.grep", s.grep),
    retries: int(p, "suite.retries", s.retries, 0, 0, 10),
    keepRuns: int(p, "suite.keepRuns", s.keepRuns, 5, 1, 100),
    failOnTestFailure: bool(p, "suite.failOnTestFailure", s.failOnTestFailure, true),
    artifactsDir: str(p, "suite.artifactsDir", s.artifactsDir, "artifacts", /^[^\0]+$/, "a directory path"),
  };
}
