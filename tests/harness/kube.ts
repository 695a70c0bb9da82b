/**
 * The Kubernetes side of the harness: wait — with a Watch, not polling — for the pods, jobs,
 * cronjobs, services, PVCs and custom objects (MPIJobs: `k.serves("mpijob")` tells whether the
 * cluster has their CRD) a service creates for a test to exist, run, succeed, fail or be gone,
 * selected by the labels BAI's services set (`action-id`, `client-id`, `created-by`); and,
 * for a failed test, write those objects, their events and their pods' logs into its artifacts.
 *
 *   const k = kube();                                   // from the environment, once per run
 *   await k.waitFor("job", byAction(ev.action_id), "exists");
 *   await k.waitFor("pod", byAction(ev.action_id), "succeeded", { timeoutMs: 60_000 });
 *   await k.waitFor("cronjob", byAction(id), "gone");
 *   const run = await k.startCronJob(byAction(id));     // a CronJob's run now, not at its next minute
 *
 * The waits and reads are @inception/kube's (packages/kube), shared with the post-deploy hook:
 * each wait lists, then watches from the list's resourceVersion, resumes watches the server ends,
 * backs off on errors, and a timeout names what was awaited and the last state of every matching
 * object. This module adds the harness's side: configuration from the environment, the label
 * helpers, and the per-test artifact collector.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { KubeConfig, V1CronJob, V1Job, V1Pod } from "@kubernetes/client-node";
import { bounded, httpStatus, KubeClient, selectorString, type Kind, type Selector } from "@inception/kube";
import { addArtifactCollector, ArtifactContext } from "./hooks";

export {
  CUSTOM_RESOURCES,
  KubeWaitError,
  selectorString,
  type CustomResource,
  type Kind,
  type KubeState,
  type KubeWaitOptions,
  type Selector,
} from "@inception/kube";

export const byAction = (id: string): Selector => ({ "action-id": id });
export const byParentAction = (id: string): Selector => ({ "parent-action-id": id });
export const byClient = (id: string): Selector => ({ "client-id": id });
export const createdBy = (service: string): Selector => ({ "created-by": service });

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export class KubeHarness extends KubeClient {
  constructor(kc: KubeConfig, namespace: string, defaultTimeoutMs = 30_000) {
    super(kc, namespace, defaultTimeoutMs);
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

  /**
   * Starts a run of the one CronJob matching `selector` now, as `kubectl create job --from=cronjob/…`
   * does: a Job made from its jobTemplate (labels, annotations, spec), owned by it, annotated
   * `cronjob.kubernetes.io/instantiate: manual`. What the CronJob controller would start at the
   * schedule's next time, without waiting for the wall clock (a cron schedule has minutes, not
   * seconds). Returns the Job. Needs `create` on batch jobs, which the suite's Role grants only when
   * `inception:suite.rules` asks for it (the project's own suite does).
   */
  async startCronJob(selector: Selector): Promise<V1Job> {
    const found = await this.list<V1CronJob>("cronjob", selector);
    if (found.length !== 1) {
      const names = found.map((c) => c.metadata?.name).join(", ");
      throw new Error(
        `startCronJob: ${found.length === 0 ? "no CronJob" : `${found.length} CronJobs (${names})`} ` +
          `match ${selectorString(selector)} in namespace ${this.namespace}; it starts exactly one`,
      );
    }
    const job = jobFromCronJob(found[0], randomBytes(3).toString("hex").slice(0, 5));
    try {
      return await bounded(
        `creating Job ${this.namespace}/${job.metadata!.name}`,
        this.batch.createNamespacedJob({ namespace: this.namespace, body: job }),
      );
    } catch (e) {
      if (httpStatus(e) === 403) {
        throw new Error(
          `startCronJob: the API server refused to create Job ${job.metadata!.name} in namespace ` +
            `${this.namespace} (403): the suite's Role needs create on batch jobs; add ` +
            `{apiGroups: [batch], resources: [jobs], verbs: [create]} to inception:suite.rules`,
          { cause: e },
        );
      }
      throw e;
    }
  }

  /**
   * Writes what Kubernetes knows about a test into `dir`: every pod, job, cronjob and (where the
   * cluster serves them) MPIJob labelled
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
    // A cluster without the MPIJob CRD, or a discovery error, only leaves MPIJobs out.
    const mpijobs = await this.serves("mpijob").catch(() => false);
    const kinds: Kind[] = ["cronjob", "job", "pod", ...(mpijobs ? (["mpijob"] as const) : [])];
    for (const kind of kinds) {
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

  private async podLogs(pod: V1Pod, write: (name: string, text: string) => Promise<void>): Promise<void> {
    for (const { container, log } of await this.containerLogs(pod, { limitBytes: 1 << 20 })) {
      await write(`pod.${pod.metadata?.name ?? ""}.${container}.log`, log);
    }
  }
}

/**
 * A Job for a run of `cron` started by hand, as kubectl makes one: `<cronjob>-manual-<suffix>`
 * (cut to a Job name's 63 characters), the jobTemplate's labels, annotations and spec, owned by
 * the CronJob (so deleting the CronJob deletes it, and the CronJob counts it as a run).
 */
export function jobFromCronJob(cron: V1CronJob, suffix: string): V1Job {
  const name = cron.metadata?.name ?? "";
  const tpl = cron.spec?.jobTemplate;
  if (!tpl?.spec || !cron.metadata?.uid) {
    throw new Error(`CronJob ${name} has no jobTemplate.spec or no uid: not one the API server returned`);
  }
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: `${name.slice(0, 63 - "-manual-".length - suffix.length)}-manual-${suffix}`,
      labels: { ...tpl.metadata?.labels },
      annotations: { ...tpl.metadata?.annotations, "cronjob.kubernetes.io/instantiate": "manual" },
      ownerReferences: [
        { apiVersion: "batch/v1", kind: "CronJob", name, uid: cron.metadata.uid, controller: true },
      ],
    },
    spec: tpl.spec,
  };
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
