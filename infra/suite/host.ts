/**
 * The hook with runner "host": runs the same suite with mocha on this machine — against the
 * external Kafka listener, the S3 NodePort and the API server — streaming its lines, then collects
 * and reports exactly as the Job runner does. For quick local iteration: no suite image to build.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { err, finishRun, kubeConfig, runAsMain, settingsFromEnv } from "./hook";

async function main(): Promise<number> {
  const s = settingsFromEnv(process.env);
  const t0 = Date.now();
  fs.mkdirSync(s.runDir, { recursive: true });
  // The harness's Kubernetes client reads KUBECONFIG; hand it the stack's, not the user's.
  const kubeconfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "inception-hook-")), "config");
  fs.writeFileSync(kubeconfig, s.kubeconfig, { mode: 0o600 });
  const hostEnv = JSON.parse(process.env.HOOK_HOST_ENV ?? "{}") as Record<string, string>;
  err(`inception: run ${s.runId}: running the suite on this host`);
  const log = fs.createWriteStream(path.join(s.runDir, "suite.log"));
  const code = await new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", "packages/runner/run.ts"],
      {
        env: {
          ...process.env,
          ...hostEnv,
          KUBECONFIG: kubeconfig,
          KUBE_CONTEXT: s.context,
          ARTIFACTS_DIR: s.runDir,
          EMIT_ARTIFACTS: "false",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const forward = (d: Buffer) => {
      log.write(d);
      for (const line of d.toString("utf8").split("\n")) if (line) err(`  │ ${line}`);
    };
    child.stdout.on("data", forward);
    child.stderr.on("data", forward);
    const timer = setTimeout(() => child.kill("SIGTERM"), s.timeoutSeconds * 1000);
    child.on("close", (c) => {
      clearTimeout(timer);
      resolve(c ?? 1);
    });
  });
  log.end();
  const outcome = code === null ? "timeout" : code === 0 || code === 1 ? "complete" : "failed";
  return finishRun(kubeConfig(s), s, outcome, t0);
}

runAsMain(main);
