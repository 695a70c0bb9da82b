/**
 * The post-deploy hook, run by a command resource after the suite Job is applied: watches the Job,
 * streams the suite's lines into `pulumi up`'s output as they happen, then writes the run's
 * artifacts folder — junit.xml, results.json, the suite log, the logs of the services under test
 * and of every pod they spawned, pod/job descriptions with their events, the Kafka timeline — and
 * prints the results as one JSON line on stdout (the stack outputs). Exits 1 when the run is not
 * green and HOOK_FAIL_ON_TEST_FAILURE is "true"; everything is written first in every case.
 *
 * Streamed text goes to stderr; stdout carries only the final JSON line.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { PassThrough } from "stream";
import { BatchV1Api, CoreV1Api, KubeConfig, Log, V1Job, V1Pod, Watch } from "@kubernetes/client-node";
import { JobOutcome, SuiteLog, pruneRuns, verdict } from "./collect";

export interface HookSettings {
  kubeconfig: string;
  context: string;
  namespace: string;
  jobName: string;
  runId: string;
  runDir: string;
  /** Services whose pods' logs (and spawned pods' logs) are collected. */
  services: { name: string; podSelector: string; spawnedSelector: string }[];
  timeoutSeconds: number;
  failOnTestFailure: boolean;
  keepRuns: number;
}

export const err = (line: string) => process.stderr.write(line + "\n");

export function settingsFromEnv(env: NodeJS.ProcessEnv): HookSettings {
  const need = (k: string): string => {
    const v = env[k];
    if (v === undefined || v === "") throw new Error(`the hook needs ${k}`);
    return v;
  };
  return {
    kubeconfig: need("HOOK_KUBECONFIG"),
    context: need("HOOK_CONTEXT"),
    namespace: need("HOOK_NAMESPACE"),
    jobName: env.HOOK_JOB ?? "",
    runId: need("HOOK_RUN_ID"),
    runDir: need("HOOK_RUN_DIR"),
    services: JSON.parse(env.HOOK_SERVICES ?? "[]"),
    timeoutSeconds: Number(need("HOOK_TIMEOUT_SECONDS")),
    failOnTestFailure: env.HOOK_FAIL_ON_TEST_FAILURE !== "false",
    keepRuns: Number(env.HOOK_KEEP_RUNS ?? "5"),
  };
}

/** Resolves with the first object of a watch that satisfies `done`, or undefined at the deadline. */
function watchUntil<T>(
  kc: KubeConfig,
  apiPath: string,
  query: Record<string, string>,
  done: (obj: T) => boolean,
  deadline: number,
): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    let abort: AbortController | undefined;
    let settled = false;
    const finish = (v: T | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      abort?.abort();
      resolve(v);
    };
    const timer = setTimeout(() => finish(undefined), Math.max(0, deadline - Date.now()));
    const start = () =>
      new Watch(kc)
        .watch(
          apiPath,
          query,
          (_phase, obj: T) => {
            if (done(obj)) finish(obj);
          },
          // The API server ends watches now and then; resume until the deadline.
          (e) => {
            if (settled) return;
            if (e && Date.now() > deadline) reject(e);
            else start();
          },
        )
        .then((a) => {
          abort = a;
          if (settled) a.abort();
        }, reject);
    start();
  });
}

function jobOutcome(job: V1Job | undefined): JobOutcome | undefined {
  for (const c of job?.status?.conditions ?? []) {
    if (c.status !== "True") continue;
    if (c.type === "Complete") return "complete";
    if (c.type === "Failed") return c.reason === "DeadlineExceeded" ? "timeout" : "failed";
  }
  return undefined;
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

async function podLogs(core: CoreV1Api, ns: string, selector: string, dir: string): Promise<string[]> {
  const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items;
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const p of pods) {
    const name = p.metadata?.name ?? "pod";
    for (const c of [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])]) {
      const file = path.join(dir, `${name}.${c.name}.log`);
      try {
        fs.writeFileSync(file, await core.readNamespacedPodLog({ name, namespace: ns, container: c.name }));
      } catch (e) {
        fs.writeFileSync(file, `inception: no log (${(e as Error).message})\n`);
      }
      written.push(file);
    }
    await describe(core, ns, "Pod", p, dir);
  }
  return written;
}

/** The object as YAML-ish JSON plus its events, like `kubectl describe` would show. */
async function describe(
  core: CoreV1Api,
  ns: string,
  kind: string,
  obj: V1Pod | V1Job,
  dir: string,
): Promise<void> {
  const name = obj.metadata?.name ?? "object";
  const events = await core
    .listNamespacedEvent({
      namespace: ns,
      fieldSelector: `involvedObject.name=${name},involvedObject.kind=${kind}`,
    })
    .then((l) => l.items)
    .catch(() => []);
  const lines = events.map(
    (e) => `${e.lastTimestamp ?? e.eventTime ?? ""} ${e.type} ${e.reason}: ${e.message}`,
  );
  fs.writeFileSync(
    path.join(dir, `${name}.${kind.toLowerCase()}.describe.json`),
    JSON.stringify({ object: obj, events: lines }, null, 2),
  );
}

export function kubeConfig(s: HookSettings): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(s.kubeconfig);
  kc.setCurrentContext(s.context);
  return kc;
}

export async function runHook(s: HookSettings): Promise<number> {
  const kc = kubeConfig(s);
  const core = kc.makeApiClient(CoreV1Api);
  const deadline = Date.now() + s.timeoutSeconds * 1000;
  fs.mkdirSync(s.runDir, { recursive: true });
  const t0 = Date.now();
  err(`inception: run ${s.runId}: waiting for suite Job ${s.namespace}/${s.jobName}`);

  // The suite pod: wait until its container runs or has ended, then follow its log to the end.
  const podPath = `/api/v1/namespaces/${s.namespace}/pods`;
  const pod = await watchUntil<V1Pod>(
    kc,
    podPath,
    { labelSelector: `job-name=${s.jobName}` },
    (p) => ["Running", "Succeeded", "Failed"].includes(p.status?.phase ?? ""),
    deadline,
  );
  const log = new SuiteLog();
  if (pod?.metadata?.name) {
    err(`inception: suite pod ${pod.metadata.name} ${pod.status?.phase}; streaming its output`);
    await streamSuiteLog(kc, s, pod.metadata.name, log);
  } else err(`inception: no suite pod started within ${s.timeoutSeconds}s`);

  const job = await watchUntil<V1Job>(
    kc,
    `/apis/batch/v1/namespaces/${s.namespace}/jobs`,
    { fieldSelector: `metadata.name=${s.jobName}` },
    (j) => jobOutcome(j) !== undefined,
    deadline,
  );
  const outcome = jobOutcome(job) ?? "timeout";

  // Artifacts: what the suite handed back, then what only the cluster knows.
  fs.writeFileSync(path.join(s.runDir, "suite.log"), log.lines.join("\n") + "\n");
  const tarball = log.artifacts();
  if (tarball) {
    const untar = spawnSync("tar", ["-xzf", "-", "-C", s.runDir], { input: tarball });
    if (untar.status !== 0) err(`inception: could not unpack the suite's artifacts: ${untar.stderr}`);
  } else err("inception: the suite handed back no artifacts (it crashed or ran out of time)");
  if (job) {
    fs.mkdirSync(path.join(s.runDir, "cluster"), { recursive: true });
    await describe(core, s.namespace, "Job", job, path.join(s.runDir, "cluster"));
  }
  await podLogs(core, s.namespace, `job-name=${s.jobName}`, path.join(s.runDir, "cluster", "suite"));
  return finishRun(kc, s, outcome, t0);
}

/**
 * Shared by both runners once the suite has ended: collects the services' and their spawned
 * pods' logs and descriptions, decides the verdict, prunes old runs, prints the outputs line.
 */
export async function finishRun(
  kc: KubeConfig,
  s: HookSettings,
  outcome: JobOutcome,
  t0: number,
): Promise<number> {
  const core = kc.makeApiClient(CoreV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const cluster = path.join(s.runDir, "cluster");
  for (const svc of s.services) {
    await podLogs(core, s.namespace, svc.podSelector, path.join(cluster, "services", svc.name));
    await podLogs(core, s.namespace, svc.spawnedSelector, path.join(cluster, "spawned", svc.name));
    const spawnedJobs = await batch.listNamespacedJob({
      namespace: s.namespace,
      labelSelector: svc.spawnedSelector,
    });
    for (const j of spawnedJobs.items)
      await describe(core, s.namespace, "Job", j, path.join(cluster, "spawned", svc.name));
  }

  const resultsFile = path.join(s.runDir, "results.json");
  const results = fs.existsSync(resultsFile) ? JSON.parse(fs.readFileSync(resultsFile, "utf8")) : undefined;
  const v = verdict(outcome, results);
  pruneRuns(path.dirname(s.runDir), s.keepRuns);
  if (s.jobName) await pruneJobs(batch, s);

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
async function pruneJobs(batch: BatchV1Api, s: HookSettings): Promise<void> {
  const jobs = (
    await batch.listNamespacedJob({ namespace: s.namespace, labelSelector: "inception.dev/suite-run" })
  ).items;
  const old = jobs
    .map((j) => j.metadata?.name ?? "")
    .filter((n) => n !== s.jobName)
    .sort()
    .slice(0, Math.max(0, jobs.length - s.keepRuns));
  for (const name of old) {
    await batch
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

if (require.main === module) runAsMain(() => runHook(settingsFromEnv(process.env)));
