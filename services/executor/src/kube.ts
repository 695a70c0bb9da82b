/**
 * The few Kubernetes calls the executor makes, behind an interface so the logic can be tested with
 * a fake (tests/unit/executor). `KubeBatch` is the real one (@kubernetes/client-node).
 */
import * as k8s from "@kubernetes/client-node";

export interface ObjectRef {
  kind: "Job" | "CronJob";
  name: string;
}

export interface BatchClient {
  /** Creates the Job; `false` when one of that name already exists (a redelivered event). */
  createJob(job: k8s.V1Job): Promise<boolean>;
  /** Creates the CronJob; `false` when one of that name already exists. */
  createCronJob(cronJob: k8s.V1CronJob): Promise<boolean>;
  listJobs(labelSelector: string): Promise<k8s.V1Job[]>;
  listCronJobs(labelSelector: string): Promise<k8s.V1CronJob[]>;
  /** Reads a Job by name; undefined when absent. */
  getJob(name: string): Promise<k8s.V1Job | undefined>;
  /** Deletes with its pods (background propagation); `false` when it was already gone. */
  delete(ref: ObjectRef): Promise<boolean>;
}

/**
 * A client-node ApiException, recognised by shape rather than `instanceof` (a second copy of the
 * library, as in tests, has its own class).
 */
function apiError(e: unknown): { code: number; body: unknown } | undefined {
  const x = e as { code?: unknown; body?: unknown } | null;
  return x instanceof Error && typeof x.code === "number" && "body" in x
    ? (x as { code: number; body: unknown })
    : undefined;
}

/** The HTTP status of a client-node error, when it has one. */
export function statusCode(e: unknown): number | undefined {
  return apiError(e)?.code;
}

/** A short description of a Kubernetes API error: the Status message when there is one. */
export function describeError(e: unknown): string {
  const api = apiError(e);
  if (api) {
    let msg: unknown = api.body;
    try {
      const body = typeof api.body === "string" ? JSON.parse(api.body) : api.body;
      msg = body?.message ?? api.body;
    } catch {
      // not JSON: keep the body as it is
    }
    return `Kubernetes API ${api.code}: ${String(typeof msg === "object" ? JSON.stringify(msg) : msg).slice(0, 500)}`;
  }
  return e instanceof Error ? e.message : String(e);
}

export class KubeBatch implements BatchClient {
  private readonly batch: k8s.BatchV1Api;

  constructor(
    kc: k8s.KubeConfig,
    readonly namespace: string,
  ) {
    this.batch = kc.makeApiClient(k8s.BatchV1Api);
  }

  async createJob(body: k8s.V1Job): Promise<boolean> {
    return this.create(() => this.batch.createNamespacedJob({ namespace: this.namespace, body }));
  }

  async createCronJob(body: k8s.V1CronJob): Promise<boolean> {
    return this.create(() => this.batch.createNamespacedCronJob({ namespace: this.namespace, body }));
  }

  async listJobs(labelSelector: string): Promise<k8s.V1Job[]> {
    return (await this.batch.listNamespacedJob({ namespace: this.namespace, labelSelector })).items;
  }

  async listCronJobs(labelSelector: string): Promise<k8s.V1CronJob[]> {
    return (await this.batch.listNamespacedCronJob({ namespace: this.namespace, labelSelector })).items;
  }

  async getJob(name: string): Promise<k8s.V1Job | undefined> {
    try {
      return await this.batch.readNamespacedJob({ name, namespace: this.namespace });
    } catch (e) {
      if (statusCode(e) === 404) return undefined;
      throw e;
    }
  }

  async delete(ref: ObjectRef): Promise<boolean> {
    const req = { name: ref.name, namespace: this.namespace, propagationPolicy: "Background" };
    try {
      if (ref.kind === "Job") await this.batch.deleteNamespacedJob(req);
      else await this.batch.deleteNamespacedCronJob(req);
      return true;
    } catch (e) {
      if (statusCode(e) === 404) return false;
      throw e;
    }
  }

  private async create(call: () => Promise<unknown>): Promise<boolean> {
    try {
      await call();
      return true;
    } catch (e) {
      if (statusCode(e) === 409) return false;
      throw e;
    }
  }
}
