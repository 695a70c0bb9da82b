/**
 * The post-deploy hook, run by a command resource after the suite Job is applied: watches the Job,
 * streams the suite's lines into `pulumi up`'s output as they happen, then writes the run's
 * artifacts folder — junit.xml, results.json, the suite log, the logs of the services under test
 * and of every pod they spawned, pod/job descriptions with their events, the Kafka timeline — and
 * prints the results as one JSON line on stdout (the stack outputs). Exits 1 when the run is not
 * green and the settings' failOnTestFailure is true; everything is written first in every case.
 *
 * Streamed text goes to stderr; stdout carries only the final JSON line. Settings: one JSON value in
 * INCEPTION_HOOK_SETTINGS (settings.ts). The waits and the reads of logs and events are
 * @inception/kube's, the same the harness uses.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { PassThrough } from "stream";
import { KubeConfig, KubernetesObject, Log, V1Job, V1Pod } from "@kubernetes/client-node";
import { KubeClient, KubeWaitError, Kind } from "@inception/kube";
import { JobOutcome, SUITE_RUN_LABEL, SuiteLog, pruneRuns, verdict } from "./collect";
import { HookSettings, decodeHookSettings } from "./settings";

export type { HookSettings } from "./settings";

export const err = (line: string) => process.stderr.write(line + "\n");

function jobOutcome(job: V1Job | undefined): JobOutcome | undefined {
  for (const c of job?.status?.conditions ?? []) {
    if (c.status !== "True") continue;
    if (c.type === "Complete") return "complete";
    if (c.type === "Failed") return c.reason === "DeadlineExceeded" ? "timeout" : "failed";
  }
  return undefined;
}

/**
 * The first object of a wait, or undefined when it did not happen before the deadline (or could
 * not be watched): then the wait's own account — what it waited for, what it saw — is printed.
 */
async function waitOne<T extends KubernetesObject>(
  k: KubeClient,
  kind: Kind,
  selector: string,
  state: "running" | "ended",
  deadline: number,
): Promise<T | undefined> {
  try {
    const [obj] = await k.waitFor<T>(kind, selector, state, {
      timeoutMs: Math.max(1, deadline - Date.now()),
    });
    return obj;
  } catch (e) {
    if (!(e instanceof KubeWaitError)) throw e;
    err(`inception: ${e.message.replace(/\n/g, "\ninception:   ")}`);
    return undefined;
  }
}

async function streamSuiteLog(kc: KubeConfig, s: HookSettings, pod: string, log: SuiteLog): Promise<void> {
  const stream = new PassThrough();
  let buf = "";
  stream.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (log.push(line)) err(`  │ ${line}`);
    }
  });
  await new Promise<void>((resolve) => {
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      if (buf && log.push(buf)) err(`  │ ${buf}`);
      buf = "";
      resolve();
    };
    // The client's done callback does not always fire when the pod's log ends: the stream's end does.
    stream.on("end", end);
    stream.on("close", end);
    new Log(kc)
      .log(
        s.namespace,
        pod,
        "suite",
        stream,
        (e) => {
          if (e) err(`inception: the suite log stream ended with an error: ${e}`);
          end();
        },
        { follow: true },
      )
      .catch((e) => {
        err(`inception: cannot follow the suite log: ${e}`);
        end();
      });
  });
}

/** Each pod's container logs (a restarted container's previous one too) and its description. */
async function podLogs(k: KubeClient, selector: string, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  for (const p of await k.list<V1Pod>("pod", selector)) {
    const name = p.metadata?.name ?? "pod";
    for (const { container, log } of await k.containerLogs(p, { previous: true })) {
      fs.writeFileSync(path.join(dir, `${name}.${container}.log`), log);
    }
    await describe(k, "Pod", p, dir);
  }
}

/** The object and its events, like `kubectl describe` would show. */
async function describe(k: KubeClient, kind: string, obj: V1Pod | V1Job, dir: string): Promise<void> {
  const name = obj.metadata?.name ?? "object";
  const events = (await k.events(obj.metadata?.uid ?? "")).map(
    (e) =>
      `${e.time instanceof Date ? e.time.toISOString() : (e.time ?? "")} ${e.type} ${e.reason}: ${e.message}`,
  );
  fs.writeFileSync(
    path.join(dir, `${name}.${kind.toLowerCase()}.describe.json`),
    JSON.stringify({ object: obj, events }, null, 2),
  );
}

export function kubeClient(s: HookSettings): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromString(s.kubeconfig);
  kc.setCurrentContext(s.context);
  return new KubeClient(kc, s.namespace);
}

export async function runHook(s: HookSettings): Promise<number> {
  const k = kubeClient(s);
  const deadline = Date.now() + s.timeoutSeconds * 1000;
  fs.mkdirSync(s.runDir, { recursive: true });
  const t0 = Date.now();
  err(`inception: run ${s.runId}: waiting for suite Job ${s.namespace}/${s.jobName}`);

  // The suite pod: wait until its container runs or has ended, then follow its log to the end.
  const suitePods = `job-name=${s.jobName}`;
  const pod = await waitOne<V1Pod>(k, "pod", suitePods, "running", deadline);
  const log = new SuiteLog();
  if (pod?.metadata?.name) {
    err(`inception: suite pod ${pod.metadata.name} ${pod.status?.phase}; streaming its output`);
    await streamSuiteLog(k.kc, s, pod.metadata.name, log);
  }

  const job = await waitOne<V1Job>(k, "job", `${SUITE_RUN_LABEL}=${s.runId}`, "ended", deadline);
  const outcome = jobOutcome(job) ?? "timeout";

  // Artifacts: what the suite handed back, then what only the cluster knows.
  fs.writeFileSync(path.join(s.runDir, "suite.log"), log.lines.join("\n") + "\n");
  const tarball = log.artifacts();
  if (tarball) {
    const untar = spawnSync("tar", ["-xzf", "-", "-C", s.runDir], { input: tarball });
    if (untar.status !== 0) err(`inception: could not unpack the suite's artifacts: ${untar.stderr}`);
  } else err("inception: the suite handed back no artifacts (it crashed or ran out of time)");
  const cluster = path.join(s.runDir, "cluster");
  fs.mkdirSync(cluster, { recursive: true });
  // The Job as it is now (the wait may have ended before the Job did).
  for (const j of await k.list<V1Job>("job", `${SUITE_RUN_LABEL}=${s.runId}`))
    await describe(k, "Job", j, cluster);
  await podLogs(k, suitePods, path.join(cluster, "suite"));
  return finishRun(k, s, outcome, t0);
}

/**
 * Shared by both runners once the suite has ended: collects the services' and their spawned
 * pods' logs and descriptions, decides the verdict, prunes old runs, prints the outputs line.
 */
export async function finishRun(
  k: KubeClient,
  s: HookSettings,
  outcome: JobOutcome,
  t0: number,
): Promise<number> {
  const cluster = path.join(s.runDir, "cluster");
  for (const svc of s.services) {
    await podLogs(k, svc.podSelector, path.join(cluster, "services", svc.name));
    await podLogs(k, svc.spawnedSelector, path.join(cluster, "spawned", svc.name));
    for (const j of await k.list<V1Job>("job", svc.spawnedSelector))
      await describe(k, "Job", j, path.join(cluster, "spawned", svc.name));
  }

  const resultsFile = path.join(s.runDir, "results.json");
  const results = fs.existsSync(resultsFile) ? JSON.parse(fs.readFileSync(resultsFile, "utf8")) : undefined;
  const v = verdict(outcome, results, s.runner === "host" ? "the suite on this host" : "the suite Job");
  pruneRuns(path.dirname(s.runDir), s.keepRuns, path.basename(s.runDir));
  if (s.runner === "job") await pruneJobs(k, s);

  err(
    `inception: run ${s.runId} ${v.ok ? "PASSED" : "FAILED"}: ${v.reason} (${Math.round((Date.now() - t0) / 1000)}s)`,
  );
  for (const f of v.tests.failures) err(`inception:   ✖ ${f.title}: ${f.message.split("\n")[0]}`);
  err(`inception: artifacts: ${s.runDir}`);
  process.stdout.write(
    JSON.stringify({ runId: s.runId, artifactsDir: s.runDir, ok: v.ok, reason: v.reason, tests: v.tests }) +
      "\n",
  );
  return v.ok || !s.failOnTestFailure ? 0 : 1;
}

/** Keeps the newest `keepRuns` suite Jobs (Pulumi leaves old runs' Jobs in place on purpose). */
async function pruneJobs(k: KubeClient, s: HookSettings): Promise<void> {
  const jobs = await k.list<V1Job>("job", SUITE_RUN_LABEL);
  const old = jobs
    .map((j) => j.metadata?.name ?? "")
    .filter((n) => n !== s.jobName)
    .sort()
    .slice(0, Math.max(0, jobs.length - s.keepRuns));
  for (const name of old) {
    await k.batch
      .deleteNamespacedJob({ name, namespace: s.namespace, propagationPolicy: "Background" })
      .catch((e) => err(`inception: could not delete old suite Job ${name}: ${e}`));
  }
}

/**
 * Node exits quietly with code 0 when nothing keeps its event loop alive, even with a promise
 * still pending: a hook that stops early must fail loudly instead of passing for green.
 */
export function exitLoudlyIfUnfinished(): { done: () => void } {
  let finished = false;
  process.on("beforeExit", () => {
    if (!finished) {
      err(
        "inception: the hook stopped before it finished (nothing left to wait on): treating the run as failed",
      );
      process.exit(1);
    }
  });
  return { done: () => (finished = true) };
}

/** Runs a hook as the process's main job: its exit code, or 1 on an error or an early stop. */
export function runAsMain(hook: () => Promise<number>): void {
  const guard = exitLoudlyIfUnfinished();
  hook().then(
    (code) => {
      guard.done();
      process.exit(code);
    },
    (e) => {
      guard.done();
      err(`inception: the hook failed: ${(e as Error).stack ?? e}`);
      process.exit(1);
    },
  );
}

if (require.main === module) runAsMain(() => runHook(decodeHookSettings(process.env)));
