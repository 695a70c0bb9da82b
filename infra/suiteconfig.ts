/** The `inception:suite` section: which black-box suite runs after each deploy, and how. */
import * as fs from "fs";
import * as path from "path";
import { DEFAULT_SPEC, suiteFiles } from "@inception/runner/files";
import { envMap } from "./servicesconfig";
import { Problems, array, bool, int, objectAt, oneOf, optStr, show, str } from "./validate";

/** The project's own suites (the executor's and the mock infra's), packed into the default image. */
export const DEFAULT_SUITE_DIR = "tests/suites";

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
  /** Directory of the Mocha test files, relative to the project. */
  dir: string;
  /** Glob of the test files under `dir` (default: mocha's `*.test.*`/`*.spec.*`, .ts/.js/.mjs/.cjs, any depth). */
  spec: string;
  /** More files or directories the tests need (fixtures, helpers), relative to the project. */
  extraFiles: string[];
  /** A Dockerfile (relative to the project) building the suite image FROM the default one (ARG SUITE_BASE). */
  dockerfile: string | undefined;
  /** Mocha's parallel mode (each worker runs its own harness). */
  parallel: boolean;
  /** More environment for the suite (e.g. HARNESS_TOPICS); the stack's own variables cannot be overridden. */
  env: Record<string, string>;
}

/** Variables the stack sets for the suite itself (infra/suite.ts): not for `suite.env`. */
export const SUITE_RESERVED_ENV = [
  "RUN_ID",
  "SUITE_NAME",
  "SUITE_DIR",
  "SUITE_SPEC",
  "MOCHA_TIMEOUT_MS",
  "MOCHA_RETRIES",
  "MOCHA_PARALLEL",
  "MOCHA_GREP",
  "NAMESPACE",
  "ARTIFACTS_DIR",
  "JOB_IMAGE",
  "KAFKA_BOOTSTRAP_SERVERS",
  "S3_ENDPOINT",
  "S3_BUCKETS",
  "S3_ACCESS_KEY",
  "S3_SECRET_KEY",
  "DATA_SERVER_URL",
  "DATA_SERVER_FILES",
  "CRDS",
  "ZOOKEEPER_CONNECT",
];

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
  "dir",
  "spec",
  "extraFiles",
  "dockerfile",
  "parallel",
  "env",
] as const;

export function suiteConfig(p: Problems, v: unknown, projectRoot: string): SuiteConfig {
  const s = objectAt(p, "suite", v, SUITE_KEYS) ?? {};
  const dir = projectPath(p, "suite.dir", s.dir, projectRoot, "directory") ?? DEFAULT_SUITE_DIR;
  const spec = str(p, "suite.spec", s.spec, DEFAULT_SPEC, /\S/, "a glob of test files under suite.dir");
  if (
    fs.existsSync(path.join(projectRoot, dir)) &&
    suiteFiles(path.join(projectRoot, dir), spec).length === 0
  ) {
    p.other("suite.dir", `is ${show(dir)}, which holds no test file matching suite.spec ${show(spec)}`);
  }
  const extraFiles = (array(p, "suite.extraFiles", s.extraFiles ?? []) ?? []).flatMap((f, i) => {
    const r = projectPath(p, `suite.extraFiles[${i}]`, f, projectRoot, "any");
    return r === undefined ? [] : [r];
  });
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
    dir,
    spec,
    extraFiles,
    dockerfile: projectPath(p, "suite.dockerfile", s.dockerfile, projectRoot, "file"),
    parallel: bool(p, "suite.parallel", s.parallel, false),
    env: suiteEnv(p, s.env),
  };
}

/**
 * A path inside the project that must exist (as a directory, a file, or either), normalised to
 * forward slashes relative to the project root; undefined when absent or bad (a problem is recorded).
 */
function projectPath(
  p: Problems,
  key: string,
  v: unknown,
  projectRoot: string,
  kind: "directory" | "file" | "any",
): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.trim() === "") return p.expected(key, "a path relative to the project", v);
  const abs = path.resolve(projectRoot, v);
  const rel = path.relative(projectRoot, abs);
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) {
    return p.other(key, `is ${show(v)}, which is not inside the project ${projectRoot}`);
  }
  const st = fs.statSync(abs, { throwIfNoEntry: false });
  if (st === undefined) return p.other(key, `is ${show(v)}, which does not exist under ${projectRoot}`);
  if (kind === "directory" && !st.isDirectory())
    return p.other(key, `is ${show(v)}, which is not a directory`);
  if (kind === "file" && !st.isFile()) return p.other(key, `is ${show(v)}, which is not a file`);
  return rel.split(path.sep).join("/");
}

function suiteEnv(p: Problems, v: unknown): Record<string, string> {
  const env = envMap(p, "suite.env", v);
  for (const k of Object.keys(env)) {
    if (SUITE_RESERVED_ENV.includes(k)) {
      p.other(
        `suite.env.${k}`,
        "is set by the stack itself (endpoints, run and mocha settings): use the matching config key",
      );
    }
  }
  return env;
}
