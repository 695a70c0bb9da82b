/**
 * The post-deploy hook, run by a command resource after the suite Job is applied (suspended): waits
 * for the services under test to be Ready, resumes the Job, watches it, streams the suite's lines
 * into `pulumi up`'s output as they happen, then writes the run's artifacts folder — junit.xml,
 * results.json, the suite log, the logs of the services under test and of every pod they spawned,
 * pod/job descriptions with their events, the Kafka timeline, then verdict.json, report.html and
 * the stack's run history (index.html) — and prints the results as one JSON line on stdout (the
 * stack outputs).
 *
 * Whatever happens — a service never Ready, no suite pod, a deadline, a crash, an error of the hook
 * itself — the hook writes what it could collect and the verdict naming the cause, prints the
 * results line and exits 0: a red run is the program's to fail (infra/suite/index.ts
 * failUpdateWhenRed), after the stack outputs are recorded. A command that failed would leave the
 * previous run's outputs in place.
 *
 * Streamed text goes to stderr; stdout carries only the final JSON line. Settings: one JSON value in
 * INCEPTION_HOOK_SETTINGS (settings.ts). The waits and the reads of logs and events are
 * @inception/kube's, the same the harness uses.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { PassThrough } from "stream";
import { KubeConfig, KubernetesObject, Log, V1Deployment, V1Job, V1Pod } from "@kubernetes/client-node";
import { KubeClient, KubeWaitError, Kind, errorText, podDetail } from "@inception/kube";
import { writeHistory, writeRunReport } from "@inception/report";
import {
  JobOutcome,
  SUITE_RUN_LABEL,
  SuiteLog,
  Verdict,
  VerdictCause,
  failedRun,
  pruneRuns,
  verdict,
  writeVerdict,
} from "./collect";
import { HookSettings, decodeHookSettings } from "./settings";
import {
  SHARDS_FILE,
  ShardRun,
  ShardsFile,
  liftShardArtifacts,
  mergeShardResults,
  shardDir,
  shardedVerdict,
} from "./shards";
import { junitXml } from "@inception/runner/results";

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
 * The first object of a wait, or why there is none: it did not happen before the deadline, or
 * could not be watched. The wait's own account — what it waited for, what it saw — is printed.
 */
async function waitOne<T extends KubernetesObject>(
  k: KubeClient,
  kind: Kind,
  selector: string,
  state: "exists" | "running" | "ended",
  deadline: number,
): Promise<{ obj?: T; why?: string }> {
  try {
    const [obj] = await k.waitFor<T>(kind, selector, state, {
      timeoutMs: Math.max(1, deadline - Date.now()),
    });
    return { obj };
  } catch (e) {
    if (!(e instanceof KubeWaitError)) throw e;
    err(`inception: ${e.message.replace(/\n/g, "\ninception:   ")}`);
    return { why: e.message };
  }
}

/** Runs one part of the collection; a part that fails is printed and the others still run. */
export async function attempt(what: string, part: () => Promise<void>): Promise<void> {
  try {
    await part();
  } catch (e) {
    err(`inception: could not collect ${what}: ${errorText(e)}`);
  }
}

async function streamSuiteLog(
  kc: KubeConfig,
  s: HookSettings,
  pod: string,
  log: SuiteLog,
  prefix = "",
  also: (line: string) => void = () => undefined,
): Promise<void> {
  const stream = new PassThrough();
  let buf = "";
  stream.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (log.push(line)) {
        err(`  │ ${prefix}${line}`);
        also(prefix + line);
      }
    }
  });
  await new Promise<void>((resolve) => {
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      if (buf && log.push(buf)) {
        err(`  │ ${prefix}${buf}`);
        also(prefix + buf);
      }
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
async function podLogs(k: KubeClient, selector: string, dir: string, redact: string[]): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  for (const p of await k.list<V1Pod>("pod", selector)) {
    const name = p.metadata?.name ?? "pod";
    // Timestamped lines: the report places them in each test's time window.
    for (const { container, log } of await k.containerLogs(p, { previous: true, timestamps: true })) {
      fs.writeFileSync(path.join(dir, `${name}.${container}.log`), log);
    }
    await describe(k, "Pod", p, dir, redact);
  }
}

/** Shown in a describe dump instead of a secret variable's literal value. */
export const REDACTED = "[redacted]";

/**
 * A copy of a pod, Job or Deployment whose containers' env entries named in `names` have their literal value
 * replaced: a secret given as a plain value (not by secretKeyRef) stays out of the artifacts.
 */
export function redactEnv<T extends V1Pod | V1Job | V1Deployment>(obj: T, names: readonly string[]): T {
  if (names.length === 0) return obj;
  const copy = JSON.parse(JSON.stringify(obj)) as T;
  const pod =
    (copy as V1Job).spec && "template" in (copy as V1Job).spec!
      ? (copy as V1Job).spec!.template.spec
      : (copy as V1Pod).spec;
  for (const list of [pod?.containers, pod?.initContainers, pod?.ephemeralContainers]) {
    for (const c of list ?? []) {
      for (const e of c.env ?? []) if (names.includes(e.name) && e.value !== undefined) e.value = REDACTED;
    }
  }
  return copy;
}

/** The object and its events, like `kubectl describe` would show. */
async function describe(
  k: KubeClient,
  kind: string,
  obj: V1Pod | V1Job | V1Deployment,
  dir: string,
  redact: string[],
): Promise<void> {
  const name = obj.metadata?.name ?? "object";
  const events = (await k.events(obj.metadata?.uid ?? "")).map(
    (e) =>
      `${e.time instanceof Date ? e.time.toISOString() : (e.time ?? "")} ${e.type} ${e.reason}: ${e.message}`,
  );
  fs.writeFileSync(
    path.join(dir, `${name}.${kind.toLowerCase()}.describe.json`),
    JSON.stringify({ object: redactEnv(obj, redact), events }, null, 2),
  );
}

export function kubeClient(s: HookSettings): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromString(s.kubeconfig);
  kc.setCurrentContext(s.context);
  return new KubeClient(kc, s.namespace);
}

export async function runHook(s: HookSettings, t0 = Date.now()): Promise<number> {
  if (s.couldNotStart.length > 0) return reportCouldNotStart(s, t0);
  startRunDir(s);
  const k = kubeClient(s);
  const notStarted = await startSuiteJob(k, s);
  if (notStarted) return finishNotStarted(k, s, t0, notStarted);
  // The Job's own deadline counts from its start (resuming a Job restarts activeDeadlineSeconds).
  const deadline = Date.now() + s.timeoutSeconds * 1000;
  if (s.shards !== undefined && s.shards > 1) return runShardedHook(k, s, s.shards, t0, deadline);
  err(`inception: run ${s.runId}: waiting for suite Job ${s.namespace}/${s.jobName}`);

  // The suite pod: wait until its container runs or has ended, then follow its log to the end.
  const suitePods = `job-name=${s.jobName}`;
  const { obj: pod, why: noPod } = await waitOne<V1Pod>(k, "pod", suitePods, "running", deadline);
  const log = new SuiteLog();
  if (pod?.metadata?.name) {
    err(`inception: suite pod ${pod.metadata.name} ${pod.status?.phase}; streaming its output`);
    await streamSuiteLog(k.kc, s, pod.metadata.name, log);
  }

  const { obj: job } = await waitOne<V1Job>(k, "job", `${SUITE_RUN_LABEL}=${s.runId}`, "ended", deadline);
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
  await attempt("the suite Job", async () => {
    for (const j of await k.list<V1Job>("job", `${SUITE_RUN_LABEL}=${s.runId}`))
      await describe(k, "Job", j, cluster, s.redactEnv);
  });
  await attempt("the suite pod's logs", () =>
    podLogs(k, suitePods, path.join(cluster, "suite"), s.redactEnv),
  );
  // No pod ever ran: the suite never started, whatever the Job says since (its deadline, mostly).
  const decided =
    pod === undefined
      ? failedRun(
          "no-pod",
          `no suite pod started: ${firstLine(noPod ?? "the wait for it ended without one")}`,
        )
      : undefined;
  return finishRun(k, s, outcome, t0, decided);
}

/** The file of a run that could not start: what each failed image's publishing printed last. */
export const COULD_NOT_START_FILE = "could-not-start.log";

/**
 * The run folder, for a run that starts. With rerun "onChange" it may be the folder of an earlier
 * attempt of the same run that could not start: its could-not-start.log is no longer true.
 */
export function startRunDir(s: HookSettings): void {
  fs.mkdirSync(s.runDir, { recursive: true });
  fs.rmSync(path.join(s.runDir, COULD_NOT_START_FILE), { force: true });
}

/**
 * A run that could not start: an image it needs could not be built or published, reported as data
 * (infra/publish.ts explains why not as a failed resource). There is nothing to wait for — the
 * suite Job, if any, stays suspended and could never run — so the run folder gets at once what
 * each failure printed last (could-not-start.log), verdict.json and report.html with it, and the
 * history its entry. The update then fails once the outputs are recorded (failUpdateWhenRed).
 */
export function reportCouldNotStart(s: HookSettings, t0: number): number {
  const failed = s.couldNotStart;
  const detail = failed.map((f) => `${f.what} (${f.image}):\n${f.log}`).join("\n\n");
  // Its last line: a failed docker build ends with what failed ("ERROR: failed to solve: …").
  const last =
    failed[0].log
      .split("\n")
      .filter((l) => l.trim() !== "")
      .pop() ?? "no output";
  const reason =
    `could not start: ${failed.map((f) => `${f.what} (${f.image}) could not be built or published`).join("; ")}` +
    ` — ${firstLine(last)}`;
  try {
    fs.mkdirSync(s.runDir, { recursive: true });
    fs.writeFileSync(path.join(s.runDir, COULD_NOT_START_FILE), detail + "\n");
  } catch (e) {
    err(`inception: could not write ${COULD_NOT_START_FILE}: ${(e as Error).message}`);
  }
  return reportRun(s, failedRun("could-not-start", reason, undefined, detail), t0);
}

/** How long the hook looks for its own suite Job (Pulumi created it just before the hook ran). */
const FIND_JOB_MS = 30_000;

/**
 * Starts this run's suite Job, which Pulumi created suspended: once every service under test is
 * Ready, the Job is resumed. A Job not suspended (rerun "onChange": the same Job an earlier `up`
 * already started) or already ended is followed as it is. Returns the red verdict when a service
 * did not become Ready in time: the Job is then left suspended, and never runs.
 */
async function startSuiteJob(k: KubeClient, s: HookSettings): Promise<Verdict | undefined> {
  const { obj: job } = await waitOne<V1Job>(
    k,
    "job",
    `${SUITE_RUN_LABEL}=${s.runId}`,
    "exists",
    Date.now() + FIND_JOB_MS,
  );
  await attempt("stale suite Jobs (stopping them)", () => stopStaleJobs(k, s));
  // Pulumi created it before the hook started: missing now, it was deleted behind the run's back,
  // and nothing would resume one made again later. Said at once rather than at the deadline.
  if (job === undefined) {
    return failedRun(
      "hook-error",
      `suite Job ${s.namespace}/${s.jobName} (label ${SUITE_RUN_LABEL}=${s.runId}) not found within ${FIND_JOB_MS / 1000} s although this up created it`,
    );
  }
  if (job.spec?.suspend !== true || jobOutcome(job) !== undefined) {
    err(`inception: suite Job ${s.jobName} was started by an earlier up of this run: following it`);
    return undefined;
  }
  const unready = await awaitServices(k, s);
  if (unready) {
    err(`inception: suite Job ${s.jobName} left suspended: it never runs`);
    return unready;
  }
  await k.setJobSuspended(s.jobName, false);
  err(`inception: suite Job ${s.namespace}/${s.jobName} resumed`);
  return undefined;
}

/**
 * Suspends every other suite Job of the namespace that is still going (neither ended nor
 * suspended): what an interrupted `up` leaves behind, its pods still running tests against the
 * services this run is about to test. Suspending ends their pods and keeps the Jobs for inspection
 * (pruned later with the old runs). One line names them.
 */
export async function stopStaleJobs(k: KubeClient, s: HookSettings): Promise<void> {
  const stale = (await k.list<V1Job>("job", SUITE_RUN_LABEL)).filter(
    (j) => j.metadata?.name !== s.jobName && j.spec?.suspend !== true && jobOutcome(j) === undefined,
  );
  if (stale.length === 0) return;
  for (const j of stale) await k.setJobSuspended(j.metadata?.name ?? "", true);
  err(
    `inception: stopped ${stale.length} stale suite Job${stale.length === 1 ? "" : "s"} of an earlier, interrupted up ` +
      `(suspended, kept for inspection): ${stale.map((j) => `${j.metadata?.name} (${j.status?.active ?? 0} active)`).join(", ")}`,
  );
}

/**
 * Waits, all at once, for the test world to serve before the suite starts: each mock of the mock
 * infra to have a Ready pod (at most its readyTimeoutSeconds), and each service's Deployment to
 * be rolled out with a Ready pod (at most its readyTimeoutSeconds). Pulumi awaits neither on an
 * `up` that does not change them, and after an engine restart a Deployment's status, relayed by
 * the restarted controller manager, still says available while its pod restarts: a pod's own Ready
 * condition is the kubelet's. Returns the red verdict naming each that did not become Ready and
 * its pods' states (could-not-start for a mock, service-not-ready for a service), or undefined.
 */
export async function awaitServices(k: KubeClient, s: HookSettings): Promise<Verdict | undefined> {
  if (s.services.length === 0 && s.mockInfra.length === 0) return undefined;
  const waiting = [
    ...s.mockInfra.map((m) => `mock ${m.name} (at most ${m.readyTimeoutSeconds}s)`),
    ...s.services.map((v) => `${v.name} (at most ${v.readyTimeoutSeconds}s)`),
  ];
  err(`inception: waiting for ${waiting.join(", ")} to be Ready`);
  type Unready = { what: string; podSelector: string; seconds: number; why: string; mock: boolean };
  const ready = async (
    what: string,
    podSelector: string,
    seconds: number,
    mock: boolean,
    waits: ((timeoutMs: number) => Promise<unknown>)[],
  ): Promise<Unready | undefined> => {
    const t = Date.now();
    try {
      for (const wait of waits) await wait(Math.max(1, seconds * 1000 - (Date.now() - t)));
      err(`inception: ${what} is Ready (${Math.round((Date.now() - t) / 1000)}s)`);
      return undefined;
    } catch (e) {
      if (!(e instanceof KubeWaitError)) throw e;
      err(`inception: ${e.message.replace(/\n/g, "\ninception:   ")}`);
      return { what, podSelector, seconds, why: e.message, mock };
    }
  };
  const podReady = (selector: string) => (timeoutMs: number) =>
    k.waitFor<V1Pod>("pod", selector, "ready", { timeoutMs });
  const unready = (
    await Promise.all([
      ...s.mockInfra.map((m) =>
        ready(`mock ${m.name}`, m.podSelector, m.readyTimeoutSeconds, true, [podReady(m.podSelector)]),
      ),
      ...s.services.map((svc) =>
        ready(`service ${svc.name}`, svc.podSelector, svc.readyTimeoutSeconds, false, [
          (timeoutMs) => k.waitFor<V1Deployment>("deployment", svc.podSelector, "running", { timeoutMs }),
          podReady(svc.podSelector),
        ]),
      ),
    ])
  ).filter((u) => u !== undefined);
  if (unready.length === 0) return undefined;
  const named: string[] = [];
  for (const u of unready) {
    let pods: V1Pod[];
    try {
      pods = await k.list<V1Pod>("pod", u.podSelector);
    } catch (e) {
      // Neither the wait nor a read succeeded: the API, not the workload, is what failed.
      return failedRun(
        "hook-error",
        `could not tell whether ${u.what} is Ready: ${firstLine(u.why)}; ${errorText(e)}`,
      );
    }
    named.push(`${u.what} is not Ready after ${u.seconds}s: ${podStates(pods)}`);
  }
  // A mock that is not there is the test world missing, before any service is to blame.
  const cause = unready.some((u) => u.mock) ? "could-not-start" : "service-not-ready";
  return failedRun(cause, `${named.join("; ")} (the suite did not start)`);
}

/**
 * A run that ended before its suite started: the suite Job as it was left (suspended, no pod),
 * each service's Deployment, then what finishRun collects (the services' pods: logs, a crashed
 * container's previous log, descriptions and events).
 */
export async function finishNotStarted(
  k: KubeClient,
  s: HookSettings,
  t0: number,
  v: Verdict,
): Promise<number> {
  const cluster = path.join(s.runDir, "cluster");
  fs.mkdirSync(cluster, { recursive: true });
  if (s.runner === "job") {
    await attempt("the suite Job", async () => {
      for (const j of await k.list<V1Job>("job", `${SUITE_RUN_LABEL}=${s.runId}`))
        await describe(k, "Job", j, cluster, s.redactEnv);
    });
  }
  for (const svc of s.services) {
    await attempt(`the Deployment of ${svc.name}`, async () => {
      const dir = path.join(cluster, "services", svc.name);
      fs.mkdirSync(dir, { recursive: true });
      for (const d of await k.list<V1Deployment>("deployment", svc.podSelector))
        await describe(k, "Deployment", d, dir, s.redactEnv);
    });
  }
  return finishRun(k, s, "failed", t0, v);
}

/** One pod for people: phase, readiness, why its containers wait or ended, restarts. */
export function podStateLine(p: V1Pod): string {
  const phase = p.status?.phase ?? "Pending";
  const { ready } = podDetail(p);
  const statuses = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])];
  const reasons: string[] = [];
  for (const c of statuses) {
    const now = c.state?.waiting?.reason ?? c.state?.terminated?.reason;
    const last = c.lastState?.terminated;
    const lastExit = last ? `last exit ${last.exitCode}${last.reason ? ` ${last.reason}` : ""}` : undefined;
    const parts = [now, lastExit].filter((x) => x !== undefined);
    if (parts.length > 0) reasons.push(`${c.name}: ${parts.join(", ")}`);
  }
  const unscheduled = p.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  if (unscheduled) reasons.push(`unscheduled: ${unscheduled.reason ?? ""}`.trim());
  const restarts = statuses.reduce((n, c) => n + (c.restartCount ?? 0), 0);
  return (
    `${p.metadata?.name ?? "pod"} ${phase}${ready ? ", Ready" : ", not Ready"}` +
    (reasons.length > 0 ? ` (${reasons.join("; ")})` : "") +
    (restarts > 0 ? `, ${restarts} restart${restarts === 1 ? "" : "s"}` : "")
  );
}

/** The pods of a service, one state each; "no pod" when it has none. */
export function podStates(pods: V1Pod[]): string {
  return pods.length === 0 ? "no pod" : pods.map(podStateLine).join(", ");
}

/** The label Kubernetes gives each pod of an Indexed Job: its completion index. */
const COMPLETION_INDEX_LABEL = "batch.kubernetes.io/job-completion-index";

/** Unpacks a suite's artifacts tarball into `dir`; false (printed) when there is none or it is bad. */
function unpackArtifacts(tarball: Buffer | undefined, dir: string, who: string): boolean {
  if (!tarball) {
    err(`inception: ${who} handed back no artifacts (it crashed or ran out of time)`);
    return false;
  }
  const untar = spawnSync("tar", ["-xzf", "-", "-C", dir], { input: tarball });
  if (untar.status !== 0) err(`inception: could not unpack the artifacts of ${who}: ${untar.stderr}`);
  return untar.status === 0;
}

/**
 * A sharded suite (an Indexed Job, one pod per completion index): streams every shard's pod at
 * once, each line prefixed `[shard i]`; keeps each shard's artifacts in `shard-<i>/`; writes the
 * merged results.json and junit.xml in the run folder; one verdict, naming the shards that failed,
 * never started or were cut off.
 */
async function runShardedHook(
  k: KubeClient,
  s: HookSettings,
  n: number,
  t0: number,
  deadline: number,
): Promise<number> {
  err(`inception: run ${s.runId}: waiting for suite Job ${s.namespace}/${s.jobName} (${n} shards)`);
  const jobEnded = waitOne<V1Job>(k, "job", `${SUITE_RUN_LABEL}=${s.runId}`, "ended", deadline);
  const combined: string[] = [];
  const shard = async (i: number): Promise<ShardRun> => {
    const name = `shard ${i}`;
    const selector = `job-name=${s.jobName},${COMPLETION_INDEX_LABEL}=${i}`;
    // A shard's pod may never run (quota, image): the Job's end stops waiting for it.
    const first = await Promise.race([
      waitOne<V1Pod>(k, "pod", selector, "running", deadline),
      jobEnded.then(() => undefined),
    ]);
    let pod = first?.obj;
    let why = first?.why;
    if (first === undefined) {
      const ran = (await k.list<V1Pod>("pod", selector).catch(() => [])).find((p) =>
        ["Running", "Succeeded", "Failed"].includes(p.status?.phase ?? ""),
      );
      pod = ran;
      why = ran ? undefined : "the suite Job ended before a pod of it ran";
    }
    const log = new SuiteLog();
    if (pod?.metadata?.name) {
      err(`inception: [${name}] pod ${pod.metadata.name} ${pod.status?.phase}; streaming its output`);
      await streamSuiteLog(k.kc, s, pod.metadata.name, log, `[${name}] `, (l) => combined.push(l));
    } else err(`inception: [${name}] no pod ran: ${firstLine(why ?? "unknown")}`);
    const dir = path.join(s.runDir, shardDir(i));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "suite.log"), log.lines.join("\n") + "\n");
    if (!pod) return { index: i, outcome: "no-pod", results: undefined, why };
    if (!unpackArtifacts(log.artifacts(), dir, name))
      return { index: i, outcome: "cut-off", results: undefined };
    return { index: i, outcome: "ended", results: readResults(dir) };
  };
  const shards = await Promise.all(Array.from({ length: n }, (_, i) => shard(i)));
  const { obj: job } = await jobEnded;
  const outcome = jobOutcome(job) ?? "timeout";

  fs.writeFileSync(path.join(s.runDir, "suite.log"), combined.join("\n") + "\n");
  const plan: ShardsFile = { shards: n, fileDurations: s.fileDurations ?? {} };
  fs.writeFileSync(path.join(s.runDir, SHARDS_FILE), JSON.stringify(plan, null, 2) + "\n");
  await attempt("the shards' timelines and failed tests", async () => {
    liftShardArtifacts(s.runDir, n);
  });
  const merged = mergeShardResults(shards);
  if (merged.shards.length > 0) {
    fs.writeFileSync(path.join(s.runDir, "results.json"), JSON.stringify(merged, null, 2));
    fs.writeFileSync(path.join(s.runDir, "junit.xml"), junitXml(merged, `${s.stack}-${s.runId}`));
  }
  const cluster = path.join(s.runDir, "cluster");
  fs.mkdirSync(cluster, { recursive: true });
  await attempt("the suite Job", async () => {
    for (const j of await k.list<V1Job>("job", `${SUITE_RUN_LABEL}=${s.runId}`))
      await describe(k, "Job", j, cluster, s.redactEnv);
  });
  await attempt("the suite pods' logs", () =>
    podLogs(k, `job-name=${s.jobName}`, path.join(cluster, "suite"), s.redactEnv),
  );
  return finishRun(k, s, outcome, t0, shardedVerdict(shards, merged, outcome === "timeout"));
}

function firstLine(text: string, max = 300): string {
  const l = text.split("\n")[0].trim();
  return l.length > max ? `${l.slice(0, max - 1)}…` : l;
}

/**
 * Shared by both runners once the suite has ended: collects the services' and their spawned
 * pods' logs and descriptions, decides the verdict (unless the caller already did: no suite pod),
 * prunes old runs and Jobs, writes the verdict and the report, prints the outputs line.
 */
export async function finishRun(
  k: KubeClient,
  s: HookSettings,
  outcome: JobOutcome,
  t0: number,
  decided?: Verdict,
): Promise<number> {
  const cluster = path.join(s.runDir, "cluster");
  for (const svc of s.services) {
    await attempt(`the logs of ${svc.name}`, () =>
      podLogs(k, svc.podSelector, path.join(cluster, "services", svc.name), s.redactEnv),
    );
    await attempt(`the pods ${svc.name} spawned`, async () => {
      await podLogs(k, svc.spawnedSelector, path.join(cluster, "spawned", svc.name), s.redactEnv);
      for (const j of await k.list<V1Job>("job", svc.spawnedSelector))
        await describe(k, "Job", j, path.join(cluster, "spawned", svc.name), s.redactEnv);
    });
  }

  let v =
    decided ??
    verdict(outcome, readResults(s.runDir), s.runner === "host" ? "the suite on this host" : "the suite Job");
  if (!v.ok && v.cause !== "service-not-ready") v = await blameUnreadyService(k, s, v);
  if (s.runner === "job") await attempt("old suite Jobs (pruning)", () => pruneJobs(k, s));
  return reportRun(s, v, t0);
}

/** results.json, or undefined when it is missing or unreadable (a run cut off mid-write). */
function readResults(runDir: string): unknown {
  const file = path.join(runDir, "results.json");
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    err(`inception: results.json is unreadable: ${(e as Error).message}`);
    return undefined;
  }
}

/** A red run whose service has no Ready pod left is the service's failure first. */
async function blameUnreadyService(k: KubeClient, s: HookSettings, v: Verdict): Promise<Verdict> {
  for (const svc of s.services) {
    let pods: V1Pod[];
    try {
      pods = await k.list<V1Pod>("pod", svc.podSelector);
    } catch {
      continue; // the collection above already said the API cannot be read
    }
    const ready = pods.some((p) =>
      (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
    );
    if (ready) continue;
    return failedRun(
      "service-not-ready",
      `${v.reason}; service ${svc.name} is not Ready (${podStates(pods)})`,
      v.tests,
    );
  }
  return v;
}

/**
 * Writes verdict.json, report.html and the stack's history, prunes old run folders, prints the
 * summary and the outputs line. Synchronous (the report is): it also serves a hook that stopped
 * early. A failure to write the report is printed and never changes the verdict.
 */
export function reportRun(s: HookSettings, v: Verdict, t0: number): number {
  const durationMs = Date.now() - t0;
  const stackDir = path.dirname(s.runDir);
  const tryTo = <T>(what: string, f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      err(`inception: could not ${what}: ${(e as Error).stack ?? e}`);
      return undefined;
    }
  };
  tryTo("write verdict.json", () => writeVerdict(s.runDir, v, s.runId, t0, durationMs));
  const report = tryTo("write the run's report", () =>
    writeRunReport(s.runDir, {
      stack: s.stack,
      stage: s.stage,
      runId: s.runId,
      gitCommit: s.gitCommit,
      verdict: {
        ok: v.ok,
        reason: v.reason,
        cause: v.cause,
        ...(v.detail !== undefined ? { detail: v.detail } : {}),
      },
      startedAt: t0,
      durationMs,
    }),
  );
  tryTo("prune old runs", () => pruneRuns(stackDir, s.keepRuns, path.basename(s.runDir)));
  const history = tryTo("write the run history", () => writeHistory(stackDir));

  err(
    `inception: run ${s.runId} ${v.ok ? "PASSED" : "FAILED"}: ${v.reason} (${Math.round(durationMs / 1000)}s)`,
  );
  for (const f of v.tests.failures) err(`inception:   ✖ ${f.title}: ${f.message.split("\n")[0]}`);
  err(`inception: artifacts: ${s.runDir}`);
  if (report) err(`inception: report: ${report}`);
  if (history) err(`inception: history: ${history}`);
  printResults({ runId: s.runId, artifactsDir: s.runDir, ...(report ? { report } : {}), v });
  return 0;
}

/** The one line on stdout the SuiteRun component reads its outputs from. */
export interface ResultsLine {
  runId?: string;
  artifactsDir?: string;
  report?: string;
  ok: boolean;
  reason: string;
  cause: VerdictCause;
  tests: Verdict["tests"];
}

function printResults(o: { runId?: string; artifactsDir?: string; report?: string; v: Verdict }): void {
  const line: ResultsLine = {
    ...(o.runId ? { runId: o.runId } : {}),
    ...(o.artifactsDir ? { artifactsDir: o.artifactsDir } : {}),
    ...(o.report ? { report: o.report } : {}),
    ok: o.v.ok,
    reason: o.v.reason,
    cause: o.v.cause,
    tests: o.v.tests,
  };
  process.stdout.write(JSON.stringify(line) + "\n");
}

/**
 * The hook itself failed (or stopped early): the run is red with cause "hook-error", and what the
 * run folder holds still gets its verdict and report — or, without settings, the outputs line.
 */
export function reportHookError(s: HookSettings | undefined, reason: string, t0: number): number {
  const v = failedRun("hook-error", reason);
  if (s) return reportRun(s, v, t0);
  err(`inception: run FAILED: ${reason}`);
  printResults({ v });
  return 0;
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
 * still pending: a hook that stops early must fail loudly instead of passing for green. `onEarlyStop`
 * reports the run (red) and returns the exit code; without it the process exits 1.
 */
export function exitLoudlyIfUnfinished(onEarlyStop?: () => number): { done: () => void } {
  let finished = false;
  process.on("beforeExit", () => {
    if (!finished) {
      finished = true;
      err(
        "inception: the hook stopped before it finished (nothing left to wait on): treating the run as failed",
      );
      process.exit(onEarlyStop ? onEarlyStop() : 1);
    }
  });
  return { done: () => (finished = true) };
}

/**
 * Runs a hook as the process's main job with the settings from the environment. An error of the
 * hook, or an early stop, is reported as a red run (cause "hook-error") with exit 0: the results
 * line carries the verdict, so the stack outputs show it.
 */
export function runAsMain(
  hook: (s: HookSettings, t0: number) => Promise<number>,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const t0 = Date.now();
  let s: HookSettings | undefined;
  const guard = exitLoudlyIfUnfinished(() =>
    reportHookError(s, "the hook stopped before it finished (nothing left to wait on)", t0),
  );
  // An interrupted `pulumi up` (Ctrl-C) reaches the hook as SIGTERM from the command provider,
  // which kills it only 10 s later (toolchain/go/cmd/pulumi-resource-command, run.go); a SIGINT
  // when it runs on its own. The run folder still gets its verdict (reportRun is synchronous),
  // and the next up stops the Job this run leaves behind.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      guard.done();
      const reason = `interrupted (${signal}) before the run ended; its suite Job, if it started, is stopped by the next up`;
      if (!s) process.exit(reportHookError(s, reason, t0));
      process.exit(reportRun(s, failedRun("interrupted", reason), t0));
    });
  }
  const run = async (): Promise<number> => {
    s = decodeHookSettings(env);
    return hook(s, t0);
  };
  run().then(
    (code) => {
      guard.done();
      process.exit(code);
    },
    (e) => {
      guard.done();
      err(`inception: the hook failed: ${(e as Error).stack ?? e}`);
      process.exit(reportHookError(s, `the hook failed: ${(e as Error).message ?? e}`, t0));
    },
  );
}

if (require.main === module) runAsMain(runHook);
