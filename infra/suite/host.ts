/**
 * The hook with runner "host": once the services under test are Ready (as with the Job runner),
 * runs the same suite with mocha on this machine — against the external Kafka listener, the S3
 * NodePort and the API server — streaming its lines, then collects and reports exactly as the Job
 * runner does. For quick local iteration: no suite image to build.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { JobOutcome } from "./collect";
import {
  attempt,
  awaitServices,
  err,
  finishNotStarted,
  finishRun,
  kubeClient,
  reportCouldNotStart,
  runAsMain,
  startRunDir,
  stopStaleJobs,
} from "./hook";
import { HOOK_SETTINGS_ENV, HookSettings } from "./settings";

/** After SIGTERM at the deadline, the runner gets this long to write its results before SIGKILL. */
const KILL_GRACE_MS = 10_000;

/** Runs the suite runner as a child process; its outcome as the hook reports it. */
export function runOnHost(
  s: HookSettings,
  env: NodeJS.ProcessEnv,
  log: fs.WriteStream,
  runner: string[] = ["-r", "ts-node/register/transpile-only", require.resolve("@inception/runner/run")],
): Promise<JobOutcome> {
  return new Promise<JobOutcome>((resolve) => {
    const child = spawn(process.execPath, runner, { env, stdio: ["ignore", "pipe", "pipe"] });
    const forward = (d: Buffer) => {
      log.write(d);
      for (const line of d.toString("utf8").split("\n")) if (line) err(`  │ ${line}`);
    };
    child.stdout.on("data", forward);
    child.stderr.on("data", forward);
    let timedOut = false;
    let kill: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      err(`inception: the suite ran past its deadline (${s.timeoutSeconds}s): stopping it`);
      child.kill("SIGTERM");
      kill = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
    }, s.timeoutSeconds * 1000);
    child.on("close", (code) => {
      clearTimeout(timer);
      clearTimeout(kill);
      // The runner exits 0 (all passed) or 1 (a test failed) once its results are written.
      resolve(timedOut ? "timeout" : code === 0 || code === 1 ? "complete" : "failed");
    });
  });
}

/** The host runner's hook: once the services are Ready, the suite on this host, then the report. */
export async function runHostHook(s: HookSettings, t0: number): Promise<number> {
  if (s.couldNotStart.length > 0) return reportCouldNotStart(s, t0);
  startRunDir(s);
  // As with the Job runner: no stale suite Job left running beside this run, and the suite starts
  // once every service is Ready, or not at all.
  const k = kubeClient(s);
  await attempt("stale suite Jobs (stopping them)", () => stopStaleJobs(k, s));
  const unready = await awaitServices(k, s);
  if (unready) return finishNotStarted(k, s, t0, unready);
  // The harness's Kubernetes client reads KUBECONFIG; hand it the stack's, not the user's.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "inception-hook-"));
  const removeKubeconfig = () => fs.rmSync(tmp, { recursive: true, force: true });
  // Also when the hook is ended early (process.exit by its guard, a signal from `pulumi up`).
  process.once("exit", removeKubeconfig);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      removeKubeconfig();
      process.kill(process.pid, signal);
    });
  }
  try {
    const kubeconfig = path.join(tmp, "config");
    fs.writeFileSync(kubeconfig, s.kubeconfig, { mode: 0o600 });
    err(`inception: run ${s.runId}: running the suite on this host`);
    const log = fs.createWriteStream(path.join(s.runDir, "suite.log"));
    const inherited = { ...process.env };
    delete inherited[HOOK_SETTINGS_ENV];
    const outcome = await runOnHost(
      s,
      {
        ...inherited,
        ...s.hostEnv,
        KUBECONFIG: kubeconfig,
        KUBE_CONTEXT: s.context,
        ARTIFACTS_DIR: s.runDir,
        EMIT_ARTIFACTS: "false",
      },
      log,
    );
    await new Promise((r) => log.end(r));
    return await finishRun(k, s, outcome, t0);
  } finally {
    // The stack's kubeconfig is a secret: it does not outlive the run.
    removeKubeconfig();
  }
}

if (require.main === module) runAsMain(runHostHook);
