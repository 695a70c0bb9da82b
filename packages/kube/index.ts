/**
 * Generic Kubernetes helpers, shared by the test harness (tests/harness/kube.ts) and the post-deploy
 * hook (infra/suite/hook.ts), so that both wait and collect the same way:
 *
 * - `KubeClient.waitFor`: wait — with a Watch, not polling — until objects of a kind selected by
 *   labels exist, run, succeed, fail, end or are gone. Each wait lists the matching objects (their
 *   state and a resourceVersion), then watches from that resourceVersion, so nothing between the
 *   list and the watch is missed; a watch the API server ends is resumed, one that expired (410) is
 *   re-listed. Every wait has a deadline; errors (an API server that is down, restarting, or ends
 *   watches at once) are retried with exponential backoff, never in a tight loop. A wait that does
 *   not succeed says what it waited for, what it last saw of every matching object, and the API
 *   errors it met.
 * - `events`, `containerLogs`: what artifacts are made of (an object's events, each container's log).
 * - Kinds: pods, jobs, cronjobs, services, PVCs, and the custom resources of `CUSTOM_RESOURCES`
 *   (`serves` tells whether the cluster has a custom one's CRD).
 */
import {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CoreV1Event,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObject,
  V1CronJob,
  V1Deployment,
  V1Job,
  V1PersistentVolumeClaim,
  V1Pod,
  Watch,
} from "@kubernetes/client-node";

/** A custom resource, by its API group, version and plural (what CustomObjectsApi addresses). */
export interface CustomResource {
  group: string;
  version: string;
  plural: string;
}

/**
 * The custom resources the waits and reads know. An MPIJob is what BAI's executor creates for a
 * horovod benchmark (kubeflow.org; the mock CRD has no controller, so it only exists).
 */
export const CUSTOM_RESOURCES = {
  mpijob: { group: "kubeflow.org", version: "v1", plural: "mpijobs" },
} as const satisfies Record<string, CustomResource>;

export type Kind =
  "pod" | "job" | "cronjob" | "service" | "pvc" | "deployment" | keyof typeof CUSTOM_RESOURCES;
/** `running` means started: running, or already finished (a short pod can go Pending → Succeeded
 *  without the API ever showing Running). For a service it means it exists, for a PVC Bound, for a
 *  Deployment rolled out (every replica of its current spec updated and available).
 *  `ready` means, for a pod, Running with its Ready condition true (the kubelet's own view, which
 *  a Deployment's status only relays: after a control-plane restart the relayed one can be stale);
 *  for a Deployment, rolled out. Other kinds are never ready.
 *  `ended` means succeeded or failed, whichever comes. */
export type KubeState = "exists" | "running" | "ready" | "succeeded" | "failed" | "ended" | "gone";
/** A label selector: `"action-id=a-1,created-by=executor"` or `{ "action-id": "a-1" }`. */
export type Selector = string | Record<string, string>;

export interface KubeWaitOptions {
  /** Default: the client's default timeout. */
  timeoutMs?: number;
  /** How many matching objects must be in the state (not for "gone"). Default 1. */
  count?: number;
  /** Waiting for "succeeded" fails at once when a matching object failed (and vice versa).
   *  Default true. */
  failFast?: boolean;
}

/** Delays between retries after API errors: doubling from `initialMs` up to `maxMs`. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 250, maxMs: 5_000 };

/** A watch that ends sooner than this after it started counts as a failure (backs off). */
const QUICK_END_MS = 1_000;

export class KubeWaitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KubeWaitError";
  }
}

/** What a wait needs to know about an object of a kind. */
export interface Observed {
  started: boolean;
  /** Serving: a pod Running and Ready, a Deployment rolled out (see KubeState `ready`). */
  ready?: boolean;
  outcome?: "succeeded" | "failed";
  /** One line for people: phase and the reasons that explain it. */
  detail: string;
}

interface ObjectList {
  metadata?: { resourceVersion?: string };
  items: KubernetesObject[];
}

interface KindInfo {
  plural: string;
  apiPath: (ns: string) => string;
  list: (k: KubeClient, ns: string, labelSelector: string) => Promise<ObjectList>;
  observe: (o: KubernetesObject) => Observed;
}

export function podDetail(p: V1Pod): Observed {
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
  const ready =
    phase === "Running" &&
    (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
  return {
    started: ["Running", "Succeeded", "Failed"].includes(phase),
    ready,
    ...(phase === "Succeeded" ? { outcome: "succeeded" } : phase === "Failed" ? { outcome: "failed" } : {}),
    detail: `${phase}${phase === "Running" ? (ready ? ", Ready" : ", not Ready") : ""}${reasons.length > 0 ? ` [${reasons.join("; ")}]` : ""}`,
  };
}

export function jobDetail(j: V1Job): Observed {
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

/**
 * A Deployment is "started" once its rollout is complete, as `kubectl rollout status` decides it:
 * the controller has seen the current spec, every wanted replica is updated and available, and no
 * old replica is left. A rollout past its progress deadline has failed.
 */
export function deploymentDetail(d: V1Deployment): Observed {
  const s = d.status ?? {};
  const want = d.spec?.replicas ?? 1;
  const seen = (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const updated = s.updatedReplicas ?? 0;
  const available = s.availableReplicas ?? 0;
  const rolledOut = seen && updated >= want && (s.replicas ?? 0) <= updated && available >= want;
  const stuck = s.conditions?.find(
    (c) => c.type === "Progressing" && c.status === "False" && c.reason === "ProgressDeadlineExceeded",
  );
  const unavailable = s.conditions?.find((c) => c.type === "Available" && c.status === "False");
  const why = stuck ?? unavailable;
  return {
    started: rolledOut,
    ready: rolledOut,
    ...(stuck && !rolledOut ? { outcome: "failed" as const } : {}),
    detail:
      `${rolledOut ? "available" : "not available"} ${available}/${want}` +
      ` updated=${updated}${seen ? "" : " (spec not yet observed)"}` +
      (why && !rolledOut ? ` (${why.reason}: ${why.message ?? ""})` : ""),
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

/**
 * A custom object, as a wait sees it: started and ended by the `Running`, `Succeeded` and `Failed`
 * conditions an operator (kubeflow's among them) sets; without one, it only exists.
 */
export function customDetail(o: KubernetesObject): Observed {
  const conditions =
    (o as { status?: { conditions?: { type?: string; status?: string; reason?: string }[] } }).status
      ?.conditions ?? [];
  const on = (type: string) => conditions.find((c) => c.type === type && c.status === "True");
  const outcome = on("Succeeded") ? "succeeded" : on("Failed") ? "failed" : undefined;
  const last = conditions.at(-1);
  return {
    started: outcome !== undefined || on("Running") !== undefined,
    ...(outcome ? { outcome } : {}),
    detail: last ? `${last.type}=${last.status}${last.reason ? ` (${last.reason})` : ""}` : "no status",
  };
}

function customKind(r: CustomResource): KindInfo {
  return {
    plural: r.plural,
    apiPath: (ns) => `/apis/${r.group}/${r.version}/namespaces/${ns}/${r.plural}`,
    list: async (k, namespace, labelSelector) =>
      (await k.custom.listNamespacedCustomObject({ ...r, namespace, labelSelector })) as ObjectList,
    observe: customDetail,
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
  mpijob: customKind(CUSTOM_RESOURCES.mpijob),
  deployment: {
    plural: "deployments",
    apiPath: (ns) => `/apis/apps/v1/namespaces/${ns}/deployments`,
    list: (k, namespace, labelSelector) => k.apps.listNamespacedDeployment({ namespace, labelSelector }),
    observe: (o) => deploymentDetail(o as V1Deployment),
  },
};

/** How an object of `kind` is doing, as a wait sees it. */
export function observe(kind: Kind, o: KubernetesObject): Observed {
  return KINDS[kind].observe(o);
}

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
  ready: "to be Ready",
  succeeded: "to succeed",
  failed: "to fail",
  ended: "to end",
  gone: "to be gone",
};

/**
 * How long one request may take. An API server that accepted the connection and then stopped
 * (a paused control plane) would otherwise hold a read forever: the waits have deadlines, single
 * requests need one too.
 */
export const REQUEST_TIMEOUT_MS = 20_000;

/** The request's answer, or an error naming it once REQUEST_TIMEOUT_MS passed without one. */
export function bounded<T>(what: string, request: Promise<T>, ms = REQUEST_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the API server after ${ms} ms ${what}`)), ms);
    timer.unref();
  });
  return Promise.race([request, timeout]).finally(() => clearTimeout(timer));
}

/** The namespaced API clients of one kubeconfig, and the waits and reads built on them. */
export class KubeClient {
  readonly core: CoreV1Api;
  readonly batch: BatchV1Api;
  readonly custom: CustomObjectsApi;
  readonly apps: AppsV1Api;

  constructor(
    readonly kc: KubeConfig,
    readonly namespace: string,
    readonly defaultTimeoutMs = 30_000,
    readonly backoff: Backoff = DEFAULT_BACKOFF,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.batch = kc.makeApiClient(BatchV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.apps = kc.makeApiClient(AppsV1Api);
  }

  /** The objects of `kind` matching `selector`, now (at most REQUEST_TIMEOUT_MS). */
  async list<T extends KubernetesObject = KubernetesObject>(kind: Kind, selector: Selector): Promise<T[]> {
    const what = `listing ${KINDS[kind].plural} (${selectorString(selector) || "all"}) in namespace ${this.namespace}`;
    return (await bounded(what, KINDS[kind].list(this, this.namespace, selectorString(selector))))
      .items as T[];
  }

  /**
   * Whether the API server serves the kind: always for the built-in kinds; for a custom resource,
   * whether its CRD is installed (API discovery, which every authenticated client may read).
   */
  async serves(kind: Kind): Promise<boolean> {
    if (!(kind in CUSTOM_RESOURCES)) return true;
    const r: CustomResource = CUSTOM_RESOURCES[kind as keyof typeof CUSTOM_RESOURCES];
    try {
      const list = await this.custom.getAPIResources({ group: r.group, version: r.version });
      return list.resources.some((x) => x.name === r.plural);
    } catch (e) {
      if (httpStatus(e) === 404) return false;
      throw e;
    }
  }

  /**
   * Resolves, with the objects in `state`, once at least `count` objects of `kind` matching
   * `selector` are in it (for "gone": once none matches). Rejects with a KubeWaitError on timeout —
   * naming what was awaited, the last state of every matching object and the API errors met — on a
   * forbidden or invalid request, and (failFast) when an object reached the opposite outcome.
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
    if (kind === "service" && (state === "succeeded" || state === "failed" || state === "ended")) {
      return Promise.reject(new Error(`a service cannot be ${state}: wait for "exists" or "gone"`));
    }
    const t0 = Date.now();
    const objects = new Map<string, KubernetesObject>();
    const errors: string[] = [];
    let lastChange = t0;
    let failures = 0;

    return new Promise<T[]>((resolve, reject) => {
      let settled = false;
      let abort: AbortController | undefined;
      let retry: NodeJS.Timeout | undefined;
      const finish = (err: Error | undefined, value?: T[]): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(retry);
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
          (errs.length > 0
            ? `\nAPI errors during the wait (${errors.length}, the last ${errs.length}):${errs.join("")}`
            : "")
        );
      };
      const timer = setTimeout(() => {
        finish(
          new KubeWaitError(
            `timed out after ${timeoutMs} ms waiting for ${what} in namespace ${this.namespace}\n${lastSeen()}`,
          ),
        );
      }, timeoutMs);
      // Each failure in a row doubles the pause before the next try, so a dead API server costs
      // a handful of requests, not a busy loop.
      const later = (fn: () => void): void => {
        if (settled) return;
        const ms = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(failures, 16));
        failures += 1;
        retry = setTimeout(fn, ms);
      };

      const check = (): void => {
        const all = [...objects.values()];
        if (state === "gone") {
          if (all.length === 0) finish(undefined, []);
          return;
        }
        const inState = all.filter((x) => {
          if (state === "exists") return true;
          const ob = info.observe(x);
          if (state === "running") return ob.started;
          if (state === "ready") return ob.ready === true;
          if (state === "ended") return ob.outcome !== undefined;
          return ob.outcome === state;
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
        const code = httpStatus(e);
        if (code === 400 || code === 401 || code === 403 || code === 404) {
          finish(
            new KubeWaitError(`cannot wait for ${what} in namespace ${this.namespace}: ${errorText(e)}`),
          );
          return true;
        }
        errors.push(`+${Date.now() - t0} ms ${errorText(e)}`);
        return false;
      };

      // List (state + resourceVersion), then watch from there; on errors list again, backing off.
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
          if (!fatal(e)) later(relist);
          return;
        }
        check();
        watchFrom(rv);
      };
      const watchFrom = (rv: string | undefined): void => {
        if (settled) return;
        let expired = false;
        let events = 0;
        const started = Date.now();
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
              events += 1;
              failures = 0;
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
              // The server ends watches now and then: resume at once; re-list at once after an
              // expiry (410: routine); after an error, or a watch that ended as soon as it began,
              // pause first.
              if (e) later(relist);
              else if (expired) void relist();
              else if (events === 0 && Date.now() - started < QUICK_END_MS) later(() => watchFrom(rv));
              else watchFrom(rv);
            },
          )
          .then(
            (a) => {
              abort = a;
              if (settled) a.abort();
            },
            (e) => {
              if (!fatal(e)) later(relist);
            },
          );
      };
      void relist();
    });
  }

  /**
   * Suspends or resumes a Job (`spec.suspend`). Suspending ends its active pods and keeps the Job
   * and its record; resuming creates its pods and restarts its activeDeadlineSeconds. A JSON
   * Patch (the client's default for a patch): "add" sets the field whether or not it is there.
   */
  async setJobSuspended(name: string, suspended: boolean): Promise<void> {
    await bounded(
      `${suspended ? "suspending" : "resuming"} Job ${this.namespace}/${name}`,
      this.batch.patchNamespacedJob({
        name,
        namespace: this.namespace,
        body: [{ op: "add", path: "/spec/suspend", value: suspended }],
        fieldManager: "inception",
      }),
    );
  }

  /** The events of the object with this uid, oldest first; none when they cannot be read. */
  async events(uid: string): Promise<KubeEvent[]> {
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

  /**
   * Each container's log (init containers first), at most `limitBytes` each; a log that cannot be
   * read is a line saying why. With `previous`, a container that restarted also gets the log of its
   * previous run (the crash), as `<container>.previous`. With `timestamps`, each line begins with
   * the RFC 3339 time the kubelet received it.
   */
  async containerLogs(
    pod: V1Pod,
    o: { limitBytes?: number; previous?: boolean; timestamps?: boolean } = {},
  ): Promise<{ container: string; log: string }[]> {
    const name = pod.metadata?.name ?? "";
    const out: { container: string; log: string }[] = [];
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
      const read = (previous: boolean): Promise<string> =>
        this.core
          .readNamespacedPodLog({
            name,
            namespace: this.namespace,
            container: c.name,
            ...(o.limitBytes ? { limitBytes: o.limitBytes } : {}),
            ...(previous ? { previous: true } : {}),
            ...(o.timestamps ? { timestamps: true } : {}),
          })
          .catch((e) => `inception: no log (${errorText(e)})\n`);
      out.push({ container: c.name, log: await read(false) });
      const restarts = statuses.find((s) => s.name === c.name)?.restartCount ?? 0;
      if (o.previous && restarts > 0) out.push({ container: `${c.name}.previous`, log: await read(true) });
    }
    return out;
  }
}

export interface KubeEvent {
  time: Date | undefined;
  type: string | undefined;
  reason: string | undefined;
  message: string | undefined;
  count: number | undefined;
  source: string | undefined;
}

function describe(info: KindInfo, x: KubernetesObject): string {
  const d = info.observe(x).detail;
  return x.metadata?.deletionTimestamp ? `${d} (terminating)` : d;
}

/**
 * The HTTP status of an API error, if it has one: the client's ApiException (known by its shape,
 * as a caller may load another copy of the client) or an error carrying a `statusCode`.
 */
export function httpStatus(e: unknown): number | undefined {
  const { code, statusCode } = (e ?? {}) as { code?: unknown; statusCode?: unknown };
  if (typeof code === "number") return code;
  return typeof statusCode === "number" ? statusCode : undefined;
}

/** One line for an API error: the HTTP status and the server's message. */
export function errorText(e: unknown): string {
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
