/**
 * The few Kubernetes calls the executor makes, behind an interface so the logic can be tested with
 * a fake (tests/unit/executor). `KubeBatch` is the real one (@kubernetes/client-node).
 */
import * as k8s from "@kubernetes/client-node";

/** What a cancel deletes by label, as BAI does: jobs, cronjobs, mpijobs, configmaps, rolebindings, services. */
export const CANCEL_KINDS = ["Job", "CronJob", "MPIJob", "ConfigMap", "RoleBinding", "Service"] as const;
export type Kind = (typeof CANCEL_KINDS)[number];

export interface ObjectRef {
  kind: Kind;
  name: string;
}

export interface BatchClient {
  /** Creates the Job; `false` when one of that name already exists (a redelivered event). */
  createJob(job: k8s.V1Job): Promise<boolean>;
  /** Creates the CronJob; `false` when one of that name already exists. */
  createCronJob(cronJob: k8s.V1CronJob): Promise<boolean>;
  /** Creates a Service or an MPIJob; `false` when one of that name already exists. */
  createObject(kind: "Service" | "MPIJob", body: object): Promise<boolean>;
  listJobs(labelSelector: string): Promise<k8s.V1Job[]>;
  listCronJobs(labelSelector: string): Promise<k8s.V1CronJob[]>;
  /** Names of the objects of `kind` matching the selector (none when the kind is not installed). */
  listNames(kind: Kind, labelSelector: string): Promise<string[]>;
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

/** BAI's MPIJob (kubeflow.org/v1), as mock-infra/crds/mpijob.yaml serves it. */
const MPIJOB = { group: "kubeflow.org", version: "v1", plural: "mpijobs" };

export class KubeBatch implements BatchClient {
  private readonly batch: k8s.BatchV1Api;
  private readonly core: k8s.CoreV1Api;
  private readonly rbac: k8s.RbacAuthorizationV1Api;
  private readonly custom: k8s.CustomObjectsApi;

  constructor(
    kc: k8s.KubeConfig,
    readonly namespace: string,
  ) {
    this.batch = kc.makeApiClient(k8s.BatchV1Api);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
  }

  async createObject(kind: "Service" | "MPIJob", body: object): Promise<boolean> {
    return this.create(() =>
      kind === "Service"
        ? this.core.createNamespacedService({ namespace: this.namespace, body: body as k8s.V1Service })
        : this.custom.createNamespacedCustomObject({ ...MPIJOB, namespace: this.namespace, body }),
    );
  }

  async listNames(kind: Kind, labelSelector: string): Promise<string[]> {
    const q = { namespace: this.namespace, labelSelector };
    const names = (items: { metadata?: { name?: string } }[]): string[] =>
      items.map((i) => i.metadata?.name ?? "").filter((n) => n !== "");
    try {
      switch (kind) {
        case "Job":
          return names((await this.batch.listNamespacedJob(q)).items);
        case "CronJob":
          return names((await this.batch.listNamespacedCronJob(q)).items);
        case "ConfigMap":
          return names((await this.core.listNamespacedConfigMap(q)).items);
        case "Service":
          return names((await this.core.listNamespacedService(q)).items);
        case "RoleBinding":
          return names((await this.rbac.listNamespacedRoleBinding(q)).items);
        case "MPIJob": {
          const list = (await this.custom.listNamespacedCustomObject({ ...MPIJOB, ...q })) as {
            items?: { metadata?: { name?: string } }[];
          };
          return names(list.items ?? []);
        }
      }
    } catch (e) {
      // A cluster without the MPIJob CRD has none to delete.
      if (kind === "MPIJob" && statusCode(e) === 404) return [];
      throw e;
    }
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
      else if (ref.kind === "CronJob") await this.batch.deleteNamespacedCronJob(req);
      else if (ref.kind === "ConfigMap") await this.core.deleteNamespacedConfigMap(req);
      else if (ref.kind === "Service") await this.core.deleteNamespacedService(req);
      else if (ref.kind === "RoleBinding") await this.rbac.deleteNamespacedRoleBinding(req);
      else await this.custom.deleteNamespacedCustomObject({ ...MPIJOB, ...req });
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
