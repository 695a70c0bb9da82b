/**
 * Watches the Jobs that CronJobs create for scheduled actions (label `parent-action-id`, made by
 * the executor) and reports each new one once (Executor.onScheduledRun). Jobs that existed when the
 * watch first started are not reported (they were reported by an earlier executor, or never will be).
 * A watch that ends (API server timeout, network) is started again after a short back-off.
 */
import * as k8s from "@kubernetes/client-node";
import { CREATED_BY, LABEL_CREATED_BY, LABEL_PARENT_ACTION } from "./jobs";
import type { Logger } from "./log";

export const RUN_SELECTOR = `${LABEL_CREATED_BY}=${CREATED_BY},${LABEL_PARENT_ACTION}`;

export class RunWatcher {
  private readonly seen = new Set<string>();
  private abort: AbortController | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly kc: k8s.KubeConfig,
    private readonly namespace: string,
    private readonly onRun: (job: k8s.V1Job) => Promise<unknown>,
    private readonly log: Logger,
    private readonly retryMs = 2000,
  ) {}

  /**
   * Lists the runs that exist now (not reported; a failure here, such as no API access or RBAC,
   * fails the start), then watches for new ones in the background.
   */
  async start(): Promise<void> {
    const batch = this.kc.makeApiClient(k8s.BatchV1Api);
    const existing = await batch.listNamespacedJob({
      namespace: this.namespace,
      labelSelector: RUN_SELECTOR,
    });
    for (const j of existing.items) if (j.metadata?.uid) this.seen.add(j.metadata.uid);
    this.watch(existing.metadata?.resourceVersion).catch((e) => {
      this.log.error("could not start the job watch; retrying", { error: String(e) });
      this.restart();
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort?.abort();
  }

  private async watch(resourceVersion?: string): Promise<void> {
    const path = `/apis/batch/v1/namespaces/${this.namespace}/jobs`;
    const query: Record<string, string | boolean> = {
      labelSelector: RUN_SELECTOR,
      allowWatchBookmarks: true,
    };
    if (resourceVersion) query.resourceVersion = resourceVersion;
    this.abort = await new k8s.Watch(this.kc).watch(
      path,
      query,
      (phase, obj: k8s.V1Job) => {
        const uid = obj?.metadata?.uid;
        if (!uid) return;
        if (phase === "DELETED") {
          this.seen.delete(uid);
          return;
        }
        if (phase !== "ADDED" || this.seen.has(uid)) return;
        this.seen.add(uid);
        this.onRun(obj).catch((e) =>
          this.log.error("could not report a scheduled run", { job: obj.metadata?.name, error: String(e) }),
        );
      },
      (err) => {
        if (this.stopped) return;
        if (err && (err as { name?: string }).name !== "AbortError") {
          this.log.warn("job watch ended; starting it again", { error: String(err) });
        }
        this.restart();
      },
    );
  }

  // Restarts without a resource version (already-seen runs are skipped by uid); retries until it
  // starts or the watcher is stopped.
  private restart(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.watch().catch((e) => {
        this.log.error("could not restart the job watch; retrying", { error: String(e) });
        this.restart();
      });
    }, this.retryMs);
  }
}
