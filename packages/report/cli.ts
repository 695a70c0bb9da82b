/**
 * Regenerates a run's report and its stack's history page:
 *
 *   node -r ts-node/register/transpile-only packages/report/cli.ts artifacts/<stack>/<run id>
 *
 * The run's meta comes from its run.json (written with the first report); a folder without one
 * (an older run) gets what its path and results.json say: stack and run id from the path, the
 * verdict from the results, stage and commit "unknown".
 */
import * as fs from "fs";
import * as path from "path";
import { writeHistory } from "./history";
import { RunMeta } from "./read";
import { RUN_FILE, writeRunReport } from "./run";

export function metaOf(runDir: string): RunMeta {
  const dir = path.resolve(runDir);
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, RUN_FILE), "utf8")) as RunMeta & { counts?: unknown };
    delete m.counts;
    return m;
  } catch {
    // no run.json: derived below
  }
  let verdict = { ok: false, reason: "the run left no results" };
  try {
    const r = JSON.parse(fs.readFileSync(path.join(dir, "results.json"), "utf8"));
    if (typeof r.failed === "number" && typeof r.passed === "number")
      verdict =
        r.failed > 0
          ? { ok: false, reason: `${r.failed} test(s) failed` }
          : r.passed === 0
            ? { ok: false, reason: "the suite ran no test" }
            : { ok: true, reason: `${r.passed} passed` };
  } catch {
    // no readable results: not green
  }
  return {
    stack: path.basename(path.dirname(dir)),
    stage: "unknown",
    runId: path.basename(dir),
    gitCommit: "unknown",
    verdict,
  };
}

function main(argv: string[]): number {
  const runDir = argv[0];
  if (!runDir || argv.length > 1 || !fs.existsSync(runDir) || !fs.statSync(runDir).isDirectory()) {
    process.stderr.write(
      "usage: node -r ts-node/register/transpile-only packages/report/cli.ts <run folder>\n",
    );
    return 2;
  }
  const report = writeRunReport(runDir, metaOf(runDir));
  const history = writeHistory(path.dirname(path.resolve(runDir)));
  process.stdout.write(`report: ${report}\nhistory: ${history}\n`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
