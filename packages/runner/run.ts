/**
 * Entry point of the suite Job's container (and of the host runner): runs the suite with mocha and
 * the suite reporter, then hands the artifacts folder back through the log — as base64 lines
 * between markers — so the post-deploy hook gets them even though the pod's filesystem dies with it.
 * Once that is written the process exits by itself: a test that leaves a handle open (a timer, a
 * socket) must not keep the pod running past its deadline.
 *
 * Environment: SUITE_DIR (test files), SUITE_SPEC (glob of test files under it, default
 * DEFAULT_SPEC), ARTIFACTS_DIR, MOCHA_GREP, MOCHA_TIMEOUT_MS, MOCHA_RETRIES, MOCHA_PARALLEL
 * ("true": files run in worker processes, each with its own harness), EMIT_ARTIFACTS ("false" on
 * the host, where the folder is already local); SUITE_SHARDS, JOB_COMPLETION_INDEX and
 * SUITE_FILE_DURATIONS for one pod of a sharded suite (shards.ts).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import Mocha from "mocha";

import { parseSpec, suiteFiles } from "./files";
import { ARTIFACTS_BEGIN, ARTIFACTS_END, ARTIFACTS_LINE } from "./protocol";
import { durationsFor, parseFileDurations, shardOf, splitFiles } from "./shards";

/** Prints the artifacts folder as a base64 tar.gz between markers, 4000 characters a line. */
export function emitArtifacts(dir: string, write: (line: string) => void = (l) => console.log(l)): void {
  const tar = spawnSync("tar", ["-czf", "-", "-C", dir, "."], { maxBuffer: 512 * 1024 * 1024 });
  if (tar.status !== 0) {
    write(`inception: could not pack ${dir}: ${tar.stderr.toString()}`);
    return;
  }
  const b64 = tar.stdout.toString("base64");
  write(ARTIFACTS_BEGIN);
  for (let i = 0; i < b64.length; i += 4000) write(ARTIFACTS_LINE + b64.slice(i, i + 4000));
  write(ARTIFACTS_END);
}

/**
 * The harness's root hooks, resolved from the suite directory: the suite's `@inception/harness`
 * and the hooks must be one module instance (the hooks start the harness the suite's tests use).
 * Undefined for a suite that cannot see the harness: a plain mocha suite of its own needs no
 * Kafka harness started for it.
 */
function harnessHooks(suiteDir: string): string | undefined {
  try {
    return require.resolve("@inception/harness/hooks", { paths: [path.resolve(suiteDir)] });
  } catch {
    return undefined;
  }
}

/** Ends the process once stdout has taken everything written to it. */
function exitWhenFlushed(code: number): void {
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}

export async function run(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const suiteDir = env.SUITE_DIR;
  if (!suiteDir) {
    console.error(
      "inception: SUITE_DIR is not set: the runner needs the directory of the suite's test files",
    );
    return exitWhenFlushed(2);
  }
  const spec = parseSpec(env.SUITE_SPEC);
  const artifacts = path.resolve(env.ARTIFACTS_DIR ?? "artifacts");
  process.env.ARTIFACTS_DIR = artifacts;
  fs.mkdirSync(artifacts, { recursive: true });
  const all = suiteFiles(suiteDir, spec);
  if (all.length === 0) {
    console.error(`inception: no test file under ${suiteDir} matches ${spec.join(" or ")}`);
    return exitWhenFlushed(2);
  }
  const { index, shards } = shardOf(env);
  let files = all;
  if (shards > 1) {
    const durations = durationsFor(all, suiteDir, parseFileDurations(env.SUITE_FILE_DURATIONS));
    files = splitFiles(all, shards, durations)[index];
    const by = Object.keys(durations).length > 0 ? "the last run's durations" : "name (no earlier run)";
    console.log(
      `inception: shard ${index} of ${shards}: ${files.length} of ${all.length} file(s), balanced by ${by}: ` +
        (files.map((f) => path.relative(suiteDir, f)).join(", ") || "none"),
    );
  }
  const hooks = harnessHooks(suiteDir);
  const parallel = env.MOCHA_PARALLEL === "true";
  const mocha = new Mocha({
    reporter: require.resolve("./reporter"),
    timeout: Number(env.MOCHA_TIMEOUT_MS ?? 120000),
    retries: Number(env.MOCHA_RETRIES ?? 0),
    // In parallel mode every worker loads the root hooks itself (and starts its own harness).
    ...(parallel
      ? { parallel: true, require: ["ts-node/register/transpile-only", ...(hooks ? [hooks] : [])] }
      : hooks
        ? // eslint-disable-next-line @typescript-eslint/no-require-imports
          { rootHooks: (require(hooks) as { mochaHooks: Mocha.RootHookObject }).mochaHooks }
        : {}),
    ...(env.MOCHA_GREP ? { grep: env.MOCHA_GREP } : {}),
  });
  // The Job's deadline (or its deletion) stops the pod with SIGTERM. Node as the container's PID 1
  // has no default action for it, so the pod would live out its grace period (30 s) before the
  // SIGKILL, and the verdict wait with it: stop at once, handing back what the tests wrote so far.
  let handedBack = false;
  const handBack = (code: number) => {
    if (!handedBack && env.EMIT_ARTIFACTS !== "false") emitArtifacts(artifacts);
    handedBack = true;
    exitWhenFlushed(code);
  };
  process.once("SIGTERM", () => {
    console.log("inception: the suite was stopped (SIGTERM: its Job's deadline, or the Job deleted)");
    handBack(143);
  });
  files.forEach((f) => mocha.addFile(f));
  // ESM test files (.mjs, or .js in a "type": "module" package) can only be imported, not required.
  if (!parallel) await mocha.loadFilesAsync();
  mocha.run((failures) => handBack(failures > 0 ? 1 : 0));
}

if (require.main === module) {
  run().catch((e) => {
    console.error(`inception: the runner failed: ${(e as Error)?.stack ?? e}`);
    exitWhenFlushed(3);
  });
}
