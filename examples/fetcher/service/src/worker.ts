/**
 * The worker: the container of each Job the fetcher creates (same image, `node dist/worker.js`).
 * Downloads FETCH_URL into s3://S3_BUCKET/S3_KEY, logs each step, writes its outcome as JSON to the
 * termination message file (the service reads it from the pod's status) and exits 0 when the file
 * is in S3, 1 when the fetch failed, 2 when its environment is incomplete.
 */
import { writeFileSync } from "node:fs";
import { ConfigError, loadWorkerConfig } from "./config";
import { jsonLogger } from "./log";
import type { WorkerOutcome } from "./requests";
import { s3Upload, transfer } from "./transfer";

const SVC = "fetcher-worker";

function terminate(path: string, outcome: WorkerOutcome, code: number): never {
  try {
    writeFileSync(path, JSON.stringify(outcome));
  } catch {
    // Outside a pod there is no /dev/termination-log: the log line says it all.
  }
  process.exit(code);
}

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = loadWorkerConfig();
  } catch (e) {
    const reason = e instanceof ConfigError ? e.message : String(e);
    jsonLogger(SVC).error(reason, e instanceof ConfigError ? { problems: e.problems } : {});
    terminate(
      process.env.TERMINATION_MESSAGE_PATH ?? "/dev/termination-log",
      { status: "FAILED", reason },
      2,
    );
  }
  const log = jsonLogger(SVC);
  log.info("fetching", { request_id: cfg.requestId, url: cfg.url, target: `s3://${cfg.bucket}/${cfg.key}` });
  const outcome = await transfer(cfg, s3Upload(cfg.s3), log);
  log.info("done", { request_id: cfg.requestId, ...outcome });
  terminate(cfg.terminationMessagePath, outcome, outcome.status === "DONE" ? 0 : 1);
}

main().catch((e) => {
  jsonLogger(SVC).error("worker failed", { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  process.exit(1);
});
