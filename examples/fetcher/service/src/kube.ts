/**
 * The Kubernetes side of the service: the worker Jobs (create, read, their pods), this pod's own
 * image (the worker image), and a watch that reports each worker Job once when it finishes.
 */
import * as k8s from "@kubernetes/client-node";
import type { Jobs } from "./fetcher";
import { describeError } from "./fetcher";
import type { Logger } from "./log";
import { jobOutcome, LABEL_REQUEST, SPAWNED_SELECTOR } from "./requests";

const code = (e: unknown): number | undefined => (e as { code?: number } | null)?.code;

export class KubeJobs implements Jobs {
  private readonly batch: k8s.BatchV1Api;
  private readonly core: k8s.CoreV1Api;

  constructor(
    kc: k8s.KubeConfig,
    readonly namespace: string,
  ) {
    this.batch = kc.makeApiClient(k8s.BatchV1Api);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  async create(body: k8s.V1Job): Promise<boolean> {
    try {
      await this.batch.createNamespacedJob({ namespace: this.namespace, body });
      return true;
    } catch (e) {
      if (code(e) === 409) return false;
      throw e;
    }
  }

  async get(name: string): Promise<k8s.V1Job | undefined> {
    try {
      return await this.batch.readNamespacedJob({ name, namespace: this.namespace });
    } catch (e) {
      if (code(e) === 404) return undefined;
      throw e;
    }
  }

  async pods(job: k8s.V1Job): Promise<k8s.V1Pod[]> {
    const id = job.metadata?.labels?.[LABEL_REQUEST];
    if (id === undefined) return [];
    const labelSelector = `${SPAWNED_SELECTOR},${LABEL_REQUEST}=${id}`;
    return (await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector })).items;
  }
}

/** The image of this pod's first container: the service runs the worker from its own image. */
export async function ownImage(kc: k8s.KubeConfig, namespace: string, podName: string): Promise<string> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let pod: k8s.V1Pod;
  try {
    pod = await core.readNamespacedPod({ name: podName, namespace });
  } catch (e) {
    throw new Error(
      `cannot read this pod (${namespace}/${podName}) to learn the worker image; set WORKER_IMAGE or allow "get" on pods: ${describeError(e)}`,
      { cause: e },
    );
  }
  const image = pod.spec?.containers?.[0]?.image;
  if (!image) throw new Error(`pod ${namespace}/${podName} has no container image`);
  return image;
}

/**
 * Watches the worker Jobs (label spawned-by=fetcher) and calls `onFinished` once for each that
 * completes or fails. Jobs already finished when it starts are not reported (an earlier instance
 * did); those still running then are. A watch that ends is resumed from its last resourceVersion;
 * after an error (or 410 Gone) the Jobs are listed again, and any that finished meanwhile reported.
 */
export class JobWatcher {
  private readonly reported = new Set<string>();
  private abort: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly batch: k8s.BatchV1Api;

  constructor(
    private readonly kc: k8s.KubeConfig,
    private readonly namespace: string,
    private readonly onFinished: (job: k8s.V1Job) => Promise<void>,
    private readonly log: Logger,
    private readonly retryMs = 2000,
  ) {
    this.batch = kc.makeApiClient(k8s.BatchV1Api);
  }

  /** Lists the worker Jobs (a failure here, e.g. no RBAC, fails the start), then watches. */
  async start(): Promise<void> {
    const rv = await this.list(true);
    this.watch(rv);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort?.abort();
  }

  private async list(initial: boolean): Promise<string | undefined> {
    const l = await this.batch.listNamespacedJob({
      namespace: this.namespace,
      labelSelector: SPAWNED_SELECTOR,
    });
    for (const job of l.items) {
      if (initial) {
        if (jobOutcome(job) !== undefined && job.metadata?.uid) this.reported.add(job.metadata.uid);
      } else this.seen(job);
    }
    return l.metadata?.resourceVersion;
  }

  private seen(job: k8s.V1Job): void {
    const uid = job.metadata?.uid;
    if (!uid || this.reported.has(uid) || jobOutcome(job) === undefined) return;
    this.reported.add(uid);
    this.onFinished(job).catch((e) =>
      this.log.error("could not report a finished worker job", {
        job: job.metadata?.name,
        error: describeError(e),
      }),
    );
  }

  private watch(resourceVersion: string | undefined): void {
    if (this.stopped) return;
    let rv = resourceVersion;
    let broken = false;
    new k8s.Watch(this.kc)
      .watch(
        `/apis/batch/v1/namespaces/${this.namespace}/jobs`,
        {
          labelSelector: SPAWNED_SELECTOR,
          allowWatchBookmarks: true,
          ...(rv ? { resourceVersion: rv } : {}),
        },
        (phase: string, obj: k8s.V1Job & { code?: number; message?: string }) => {
          if (phase === "ERROR") {
            broken = true; // typically 410 Gone: the resourceVersion is too old
            this.log.warn("job watch error; listing again", { code: obj.code, message: obj.message });
            return;
          }
          rv = obj.metadata?.resourceVersion ?? rv;
          if (phase === "DELETED") {
            if (obj.metadata?.uid) this.reported.delete(obj.metadata.uid);
          } else if (phase !== "BOOKMARK") this.seen(obj);
        },
        (err: unknown) => {
          if (this.stopped) return;
          if (err && (err as { name?: string }).name !== "AbortError") {
            this.log.warn("job watch ended; listing again", { error: describeError(err) });
            broken = true;
          }
          if (broken) this.relist();
          else this.watch(rv);
        },
      )
      .then(
        (a) => {
          this.abort = a;
          if (this.stopped) a.abort();
        },
        (e) => {
          this.log.warn("could not start the job watch; retrying", { error: describeError(e) });
          this.relist();
        },
      );
  }

  private relist(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.list(false).then(
        (rv) => this.watch(rv),
        (e) => {
          this.log.error("could not list the worker jobs; retrying", { error: describeError(e) });
          this.relist();
        },
      );
    }, this.retryMs);
  }
}
