/**
 * The Kubernetes side of the harness: wait — with a Watch, not polling — for the pods, jobs,
 * cronjobs, services and PVCs a service creates for a test to exist, run, succeed, fail or be gone,
 * selected by the labels the seed's services set (`action-id`, `client-id`, `created-by`); and,
 * for a failed test, write those objects, their events and their pods' logs into its artifacts.
 *
 *   const k = kube();                                   // from the environment, once per run
 *   await k.waitFor("job", byAction(ev.action_id), "exists");
 *   await k.waitFor("pod", byAction(ev.action_id), "succeeded", { timeoutMs: 60_000 });
 *   await k.waitFor("cronjob", byAction(id), "gone");
 *
 * Each wait lists the matching objects (their current state and a resourceVersion), then watches
 * from that resourceVersion, so nothing between the list and the watch is missed; a watch the API
 * server ends is resumed, one that expired (410) is re-listed. A timeout names what was awaited and
 * the last state of every matching object.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import {
  ApiException,
  BatchV1Api,
  CoreV1Api,
  CoreV1Event,
  KubeConfig,
  KubernetesObject,
  V1CronJob,
  V1Job,
  V1PersistentVolumeClaim,
  V1Pod,
  Watch,
} from "@kubernetes/client-node";
import { addArtifactCollector, ArtifactContext } from "./hooks";

export type Kind = "pod" | "job" | "cronjob" | "service" | "pvc";
/** `running` means started: running, or already finished (a short pod can go Pending → Succeeded
 *  without the API ever showing Running). For a service it means it exists, for a PVC Bound. */
export type KubeState = "exists" | "running" | "succeeded" | "failed" | "gone";
/** A label selector: `"action-id=a-1,created-by=executor"` or `{ "action-id": "a-1" }`. */
export type Selector = string | Record<string, string>;

export const byAction = (id: string): Selector => ({ "action-id": id });
export const byParentAction = (id: string): Selector => ({ "parent-action-id": id });
export const byClient = (id: string): Selector => ({ "client-id": id });
export const createdBy = (service: string): Selector => ({ "created-by": service });

export interface KubeWaitOptions {
  /** Default: WAIT_TIMEOUT_MS of the environment, else 30000. */
  timeoutMs?: number;
  /** How many matching objects must be in the state (not for "gone"). Default 1. */
  count?: number;
  /** Waiting for "succeeded" fails at once when a matching object failed (and vice versa).
   *  Default true. */
  failFast?: boolean;
}

export class KubeWaitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KubeWaitError";
  }
}

/** What a wait needs to know about an object of a kind. */
interface Observed {
  started: boolean;
  outcome?: "succeeded" | "failed";
  /** One line for people: phase and the reasons that explain it. */
  detail: string;
}

interface KindInfo {
  plural: string;
  apiPath: (ns: string) => string;
  list: (k: KubeHarness, ns: string, labelSelector: string) => Promise<ObjectList>;
  observe: (o: KubernetesObject) => Observed;
}

interface ObjectList {
  metadata?: { resourceVersion?: string };
  items: KubernetesObject[];
}

function podDetail(p: V1Pod): Observed {
  const phase = p.status?.phase ?? "Pending";
  const reasons = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]
    .map((c) => {
      const s = c.state?.waiting ?? c.state?.terminated;
      const exit = c.state?.terminated ? ` exit ${c.state.terminated.exitCode}` : "";
      return s?.reason ? `${c.name}: ${s.reason}${exit}${s.message ? ` (${s.message})` : ""}` : undefined;
    })
    .filter((r) => r !== undefined);
  const unscheduled = p.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  if (unscheduled)
    reasons.push(`unscheduled: ${unscheduled.reason ?? ""} ${unscheduled.message ?? ""}`.trim());
  return {
    started: ["Running", "Succeeded", "Failed"].includes(phase),
    ...(phase === "Succeeded" ? { outcome: "succeeded" } : phase === "Failed" ? { outcome: "failed" } : {}),
    detail: `${phase}${reasons.length > 0 ? ` [${reasons.join("; ")}]` : ""}`,
  };
}

function jobDetail(j: V1Job): Observed {
  const s = j.status ?? {};
  const done = s.conditions?.find(
    (c) => c.status === "True" && (c.type === "Complete" || c.type === "Failed"),
  );
  const counts = `active=${s.active ?? 0} succeeded=${s.succeeded ?? 0} failed=${s.failed ?? 0}`;
  if (done?.type === "Complete") return { started: true, outcome: "succeeded", detail: `Complete ${counts}` };
  if (done?.type === "Failed") {
    return {
      started: true,
      outcome: "failed",
      detail: `Failed ${counts} (${done.reason}: ${done.message ?? ""})`,
    };
  }
  const started = (s.active ?? 0) > 0 || s.startTime !== undefined;
  return { started, detail: `${started ? "Running" : "Pending"} ${counts}` };
}

function cronJobDetail(c: V1CronJob): Observed {
  const active = c.status?.active?.length ?? 0;
  const last = c.status?.lastSuccessfulTime;
  return {
    started: active > 0 || c.status?.lastScheduleTime !== undefined,
    ...(last ? { outcome: "succeeded" as const } : {}),
    detail:
      `schedule "${c.spec?.schedule}" active=${active}` +
      ` lastSchedule=${c.status?.lastScheduleTime?.toISOString() ?? "never"}` +
      ` lastSuccess=${last?.toISOString() ?? "never"}${c.spec?.suspend ? " suspended" : ""}`,
  };
}

function pvcDetail(p: V1PersistentVolumeClaim): Observed {
  const phase = p.status?.phase ?? "Pending";
  return {
    started: phase === "Bound",
    ...(phase === "Lost" ? { outcome: "failed" as const } : {}),
    detail: phase,
  };
}

const KINDS: Record<Kind, KindInfo> = {
  pod: {
    plural: "pods",
    apiPath: (ns) => `/api/v1/namespaces/${ns}/pods`,
    list: (k, namespace, labelSelector) => k.core.listNamespacedPod({ namespace, labelSelector }),
    observe: (o) => podDetail(o as V1Pod),
  },
  job: {
    plural: "jobs",
    apiPath: (ns) => `/apis/batch/v1/namespaces/${ns}/jobs`,
    list: (k, namespace, labelSelector) => k.batch.listNamespacedJob({ namespace, labelSelector }),
    observe: (o) => jobDetail(o as V1Job),
  },
  cronjob: {
    plural: "cronjobs",
    apiPath: (ns) => `/apis/batch/v1/namespaces/${ns}/cronjobs`,
    list: (k, namespace, labelSelector) => k.batch.listNamespacedCronJob({ namespace, labelSelector }),
    observe: (o) => cronJobDetail(o as V1CronJob),
  },
  service: {
    plural: "services",
    apiPath: (ns) => `/api/v1/namespaces/${ns}/services`,
    list: (k, namespace, labelSelector) => k.core.listNamespacedService({ namespace, labelSelector }),
    observe: () => ({ started: true, detail: "exists" }),
  },
  pvc: {
    plural: "persistentvolumeclaims",
    apiPath: (ns) => `/api/v1/namespaces/${ns}/persistentvolumeclaims`,
    list: (k, namespace, labelSelector) =>
      k.core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector }),
    observe: (o) => pvcDetail(o as V1PersistentVolumeClaim),
  },
};

export function selectorString(s: Selector): string {
  return typeof s === "string"
    ? s
    : Object.entries(s)
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
}

const VERB: Record<KubeState, string> = {
  exists: "to exist",
  running: "to run",
  succeeded: "to succeed",
  failed: "to fail",
  gone: "to be gone",
};

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export class KubeHarness {
  readonly core: CoreV1Api;
  readonly batch: BatchV1Api;

  constructor(
    readonly kc: KubeConfig,
    readonly namespace: string,
    readonly defaultTimeoutMs = 30_000,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.batch = kc.makeApiClient(BatchV1Api);
  }

  /**
   * In a pod (KUBERNETES_SERVICE_HOST set, a service-account token mounted, no KUBECONFIG): the
   * in-cluster config. Elsewhere: the file KUBECONFIG (default ~/.kube/config), context
   * KUBE_CONTEXT (default its current one). Namespace: NAMESPACE, else the service account's or the
   * context's, else "default". Default timeout: WAIT_TIMEOUT_MS, else 30000.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): KubeHarness {
    const kc = new KubeConfig();
    let namespace = env.NAMESPACE?.trim() || undefined;
    if (env.KUBERNETES_SERVICE_HOST && existsSync(`${SA_DIR}/token`) && !env.KUBECONFIG) {
      kc.loadFromCluster();
      if (!namespace && existsSync(`${SA_DIR}/namespace`)) {
        namespace = readFileSync(`${SA_DIR}/namespace`, "utf8").trim();
      }
    } else {
      const file = env.KUBECONFIG?.split(path.delimiter)[0] || path.join(os.homedir(), ".kube", "config");
      if (!existsSync(file)) {
        throw new Error(`no Kubernetes config: not in a pod, and KUBECONFIG (${file}) does not exist`);
      }
      kc.loadFromFile(file);
      const context = env.KUBE_CONTEXT?.trim();
      if (context) {
        if (!kc.getContextObject(context)) {
          const known = kc.getContexts().map((c) => c.name);
          throw new Error(`KUBE_CONTEXT "${context}" is not in ${file} (contexts: ${known.join(", ")})`);
        }
        kc.setCurrentContext(context);
      }
      namespace ??= kc.getContextObject(kc.getCurrentContext())?.namespace;
    }
    const t = Number(env.WAIT_TIMEOUT_MS);
    return new KubeHarness(kc, namespace || "default", Number.isInteger(t) && t > 0 ? t : 30_000);
  }

  /** The objects of `kind` matching `selector`, now. */
  async list<T extends KubernetesObject = KubernetesObject>(kind: Kind, selector: Selector): Promise<T[]> {
    return (await KINDS[kind].list(this, this.namespace, selectorString(selector))).items as T[];
  }

  /**
   * Resolves, with the objects in `state`, once at least `count` objects of `kind` matching
   * `selector` are in it (for "gone": once none matches). Rejects on timeout — naming what was
   * awaited and the last state of every matching object — on a forbidden or invalid request, and
   * (failFast) when an object reached the opposite outcome.
   */
  waitFor<T extends KubernetesObject = KubernetesObject>(
    kind: Kind,
    selector: Selector,
    state: KubeState,
    o: KubeWaitOptions = {},
  ): Promise<T[]> {
    const info = KINDS[kind];
    const labelSelector = selectorString(selector);
    const timeoutMs = o.timeoutMs ?? this.defaultTimeoutMs;
    const count = o.count ?? 1;
    const what = `${kind} ${labelSelector} ${VERB[state]}${count > 1 && state !== "gone" ? ` (${count} of them)` : ""}`;
    if (kind === "service" && (state === "succeeded" || state === "failed")) {
      return Promise.reject(new Error(`a service cannot be ${state}: wait for "exists" or "gone"`));
    }
    const t0 = Date.now();
    const objects = new Map<string, KubernetesObject>();
    const errors: string[] = [];
    let lastChange = t0;

    return new Promise<T[]>((resolve, reject) => {
      let settled = false;
      let abort: AbortController | undefined;
      const finish = (err: Error | undefined, value?: T[]): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        abort?.abort();
        if (err) reject(err);
        else resolve(value ?? []);
      };
      const lastSeen = (): string => {
        const lines = [...objects.values()].map(
          (x) => `\n  ${kind} ${x.metadata?.name}: ${describe(info, x)}`,
        );
        const errs = errors.slice(-5).map((e) => `\n  ${e}`);
        return (
          `last seen (+${lastChange - t0} ms):${lines.length > 0 ? lines.join("") : ` no ${info.plural} matched`}` +
          (errs.length > 0 ? `\nAPI errors during the wait:${errs.join("")}` : "")
        );
      };
      const timer = setTimeout(() => {
        finish(
          new KubeWaitError(
            `timed out after ${timeoutMs} ms waiting for ${what} in namespace ${this.namespace}\n${lastSeen()}`,
          ),
        );
      }, timeoutMs);

      const check = (): void => {
        const all = [...objects.values()];
        if (state === "gone") {
          if (all.length === 0) finish(undefined, []);
          return;
        }
        const inState = all.filter((x) => {
          if (state === "exists") return true;
          const ob = info.observe(x);
          return state === "running" ? ob.started : ob.outcome === state;
        });
        if (inState.length >= count) return finish(undefined, inState as T[]);
        if ((o.failFast ?? true) && (state === "succeeded" || state === "failed")) {
          const opposite = all.filter((x) => {
            const out = info.observe(x).outcome;
            return out !== undefined && out !== state;
          });
          if (opposite.length > 0) {
            finish(
              new KubeWaitError(
                `waiting for ${what} in namespace ${this.namespace}: ${opposite.map((x) => `${kind} ${x.metadata?.name}`).join(", ")} ended ${state === "succeeded" ? "failed" : "succeeded"} instead\n${lastSeen()}`,
              ),
            );
          }
        }
      };

      const fatal = (e: unknown): boolean => {
        const code = e instanceof ApiException ? e.code : (e as { statusCode?: number })?.statusCode;
        if (code === 400 || code === 401 || code === 403 || code === 404) {
          finish(
            new KubeWaitError(`cannot wait for ${what} in namespace ${this.namespace}: ${errorText(e)}`),
          );
          return true;
        }
        errors.push(`+${Date.now() - t0} ms ${errorText(e)}`);
        return false;
      };

      // List (state + resourceVersion), then watch from there; on errors list again.
      const relist = async (): Promise<void> => {
        if (settled) return;
        let rv: string | undefined;
        try {
          const l = await info.list(this, this.namespace, labelSelector);
          objects.clear();
          for (const x of l.items) objects.set(x.metadata?.uid ?? x.metadata?.name ?? "", x);
          lastChange = Date.now();
          rv = l.metadata?.resourceVersion;
        } catch (e) {
          if (!fatal(e)) setTimeout(relist, 500);
          return;
        }
        check();
        watchFrom(rv);
      };
      const watchFrom = (rv: string | undefined): void => {
        if (settled) return;
        let expired = false;
        new Watch(this.kc)
          .watch(
            info.apiPath(this.namespace),
            { labelSelector, allowWatchBookmarks: true, ...(rv ? { resourceVersion: rv } : {}) },
            (type: string, obj: KubernetesObject & { code?: number; message?: string }) => {
              if (type === "ERROR") {
                // 410: the resourceVersion is too old; anything else: start over too.
                expired = true;
                errors.push(`+${Date.now() - t0} ms watch error ${obj.code ?? ""}: ${obj.message ?? ""}`);
                return;
              }
              rv = obj.metadata?.resourceVersion ?? rv;
              if (type === "BOOKMARK") return;
              const key = obj.metadata?.uid ?? obj.metadata?.name ?? "";
              if (type === "DELETED") objects.delete(key);
              else objects.set(key, obj);
              lastChange = Date.now();
              check();
            },
            (e: unknown) => {
              if (settled) return;
              if (e && fatal(e)) return;
              // The server ends watches now and then: resume, or re-list after an error.
              if (e || expired) setTimeout(relist, e ? 500 : 0);
              else watchFrom(rv);
            },
          )
          .then(
            (a) => {
              abort = a;
              if (settled) a.abort();
            },
            (e) => {
              if (!fatal(e)) setTimeout(relist, 500);
            },
          );
      };
      void relist();
    });
  }

  /**
   * Writes what Kubernetes knows about a test into `dir`: every pod, job and cronjob labelled
   * with one of the test's action ids (`action-id` or `parent-action-id`) or its client id — each
   * as `<kind>.<name>.json` (the object and its events) — and `<pod>.<container>.log` for each
   * container. Returns the files written.
   */
  async collect(ids: Iterable<string>, dir: string): Promise<string[]> {
    // Only ids that can be label values can be selected by.
    const values = [...new Set(ids)].filter(
      (v) => v.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(v),
    );
    if (values.length === 0) return [];
    const set = `(${values.join(",")})`;
    const selectors = [`action-id in ${set}`, `parent-action-id in ${set}`, `client-id in ${set}`];
    await mkdir(dir, { recursive: true });
    const written: string[] = [];
    const write = async (name: string, text: string): Promise<void> => {
      const file = path.join(dir, name.replace(/[^A-Za-z0-9._-]/g, "_"));
      await writeFile(file, text);
      written.push(file);
    };
    const seen = new Set<string>();
    for (const kind of ["cronjob", "job", "pod"] as const) {
      for (const sel of selectors) {
        for (const obj of await this.list(kind, sel)) {
          const uid = obj.metadata?.uid ?? "";
          if (seen.has(uid)) continue;
          seen.add(uid);
          const events = await this.events(uid);
          await write(
            `${kind}.${obj.metadata?.name}.json`,
            JSON.stringify({ object: obj, events }, null, 2) + "\n",
          );
          if (kind === "pod") await this.podLogs(obj as V1Pod, write);
        }
      }
    }
    await write(
      "selectors.json",
      JSON.stringify({ namespace: this.namespace, selectors, found: seen.size }, null, 2) + "\n",
    );
    return written;
  }

  private async events(uid: string): Promise<object[]> {
    const list = await this.core
      .listNamespacedEvent({ namespace: this.namespace, fieldSelector: `involvedObject.uid=${uid}` })
      .catch((): { items: CoreV1Event[] } => ({ items: [] }));
    return list.items.map((e) => ({
      time: e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp,
      type: e.type,
      reason: e.reason,
      message: e.message,
      count: e.count,
      source: e.source?.component ?? e.reportingComponent,
    }));
  }

  private async podLogs(pod: V1Pod, write: (name: string, text: string) => Promise<void>): Promise<void> {
    const name = pod.metadata?.name ?? "";
    for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
      const log = await this.core
        .readNamespacedPodLog({ name, namespace: this.namespace, container: c.name, limitBytes: 1 << 20 })
        .catch((e) => `inception: no log (${errorText(e)})\n`);
      await write(`pod.${name}.${c.name}.log`, log);
    }
  }
}

function describe(info: KindInfo, x: KubernetesObject): string {
  const d = info.observe(x).detail;
  return x.metadata?.deletionTimestamp ? `${d} (terminating)` : d;
}

function errorText(e: unknown): string {
  if (e instanceof ApiException) {
    let msg: unknown = e.body;
    try {
      msg = (typeof e.body === "string" ? JSON.parse(e.body) : e.body)?.message ?? e.body;
    } catch {
      // not JSON
    }
    return `HTTP ${e.code}: ${String(msg).slice(0, 300)}`;
  }
  const code = (e as { statusCode?: number })?.statusCode;
  return `${code ? `HTTP ${code}: ` : ""}${e instanceof Error ? e.message : String(e)}`;
}

let instance: KubeHarness | undefined;

/**
 * The run's KubeHarness (KubeHarness.fromEnv, created on first use). The first call also adds the
 * "kubernetes" artifact collector, so failed tests of a suite that uses Kubernetes get
 * `kubernetes/` in their artifacts.
 */
export function kube(): KubeHarness {
  if (!instance) {
    instance = KubeHarness.fromEnv();
    addArtifactCollector("kubernetes", kubeArtifactCollector(instance));
  }
  return instance;
}

/** The collector `kube()` registers: `<test dir>/kubernetes/`, see KubeHarness.collect. */
export function kubeArtifactCollector(k: KubeHarness): (a: ArtifactContext) => Promise<void> {
  return async (a) => {
    await k.collect(a.test.ids, path.join(a.dir, "kubernetes"));
  };
}
