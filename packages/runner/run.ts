/**
 * Entry point of the suite Job's container (and of the host runner): runs the suite with mocha and
 * the suite reporter, then hands the artifacts folder back through the log — as base64 lines
 * between markers — so the post-deploy hook gets them even though the pod's filesystem dies with it.
 *
 * Environment: SUITE_DIR (test files), ARTIFACTS_DIR, MOCHA_GREP, MOCHA_TIMEOUT_MS, MOCHA_RETRIES,
 * MOCHA_PARALLEL ("true": files run in worker processes, each with its own harness),
 * EMIT_ARTIFACTS ("false" on the host, where the folder is already local).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import Mocha from "mocha";

import { ARTIFACTS_BEGIN, ARTIFACTS_END, ARTIFACTS_LINE } from "./protocol";

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...testFiles(p));
    else if (/\.test\.(js|ts)$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

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

export function run(): void {
  const suiteDir = process.env.SUITE_DIR ?? path.join(__dirname, "..", "..", "tests", "suites");
  const artifacts = path.resolve(process.env.ARTIFACTS_DIR ?? "artifacts");
  process.env.ARTIFACTS_DIR = artifacts;
  fs.mkdirSync(artifacts, { recursive: true });
  const files = testFiles(suiteDir);
  if (files.length === 0) {
    console.error(`inception: no *.test.js or *.test.ts under ${suiteDir}`);
    process.exit(2);
  }
  const hooks = require.resolve("../../tests/harness/hooks");
  const parallel = process.env.MOCHA_PARALLEL === "true";
  const mocha = new Mocha({
    reporter: require.resolve("./reporter"),
    timeout: Number(process.env.MOCHA_TIMEOUT_MS ?? 120000),
    retries: Number(process.env.MOCHA_RETRIES ?? 0),
    // In parallel mode every worker loads the root hooks itself (and starts its own harness).
    ...(parallel
      ? { parallel: true, require: ["ts-node/register/transpile-only", hooks] }
      : // eslint-disable-next-line @typescript-eslint/no-require-imports
        { rootHooks: (require(hooks) as { mochaHooks: Mocha.RootHookObject }).mochaHooks }),
    ...(process.env.MOCHA_GREP ? { grep: process.env.MOCHA_GREP } : {}),
  });
  files.forEach((f) => mocha.addFile(f));
  mocha.run((failures) => {
    if (process.env.EMIT_ARTIFACTS !== "false") emitArtifacts(artifacts);
    process.exitCode = failures > 0 ? 1 : 0;
  });
}

if (require.main === module) run();
