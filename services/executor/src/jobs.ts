/**
 * What the executor creates for a fetcher event: a Job `b-<action_id>` for a single run, or a
 * CronJob of that name for a schedule. Labels make every object findable by the suite and by
 * cancel: `action-id`, `client-id`, `created-by=executor`; a CronJob's runs carry
 * `parent-action-id` (the scheduled action) instead of `action-id`.
 */
import type { V1CronJob, V1Job, V1JobSpec, V1PodTemplateSpec, V1Service } from "@kubernetes/client-node";
import type { Descriptor } from "./descriptor";
import type { BaiEvent } from "./events";

export const LABEL_ACTION = "action-id";
export const LABEL_PARENT_ACTION = "parent-action-id";
export const LABEL_CLIENT = "client-id";
export const LABEL_CREATED_BY = "created-by";
export const CREATED_BY = "executor";
/** Annotation on a CronJob's job template: the fetcher event, so each run can be reported. */
export const ANNOTATION_SOURCE_EVENT = "inception.dev/source-event";
export const CONTAINER = "benchmark";
/** The label BAI puts on everything it creates. */
export const LABEL_APP = "app";
export const APP = "benchmark-ai";

// A label value: at most 63 characters, alphanumerics with '-', '_', '.' inside.
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
// Object names must be DNS-1123 subdomains; `b-` + the action id is kept a DNS label. A CronJob's
// name may be at most 52 characters (its controller appends an 11-character suffix for each run).
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** What a descriptor may ask for (`[resources]`); each overrides one default of JOB_LIMITS. */
export interface ResourceRequest {
  /** CPU limit (a Kubernetes quantity: "500m", "2"). */
  cpu?: string;
  /** Memory limit (a Kubernetes quantity: "256Mi"). */
  memory?: string;
  /** The Job's activeDeadlineSeconds. */
  deadlineSeconds?: number;
}

/**
 * Every benchmark container gets requests and limits and every Job a deadline, so one event cannot
 * take a node or run for ever. A descriptor may ask for other limits up to `max`; the request is
 * the default request, or the limit when that is lower.
 */
export const JOB_LIMITS = Object.freeze({
  requests: Object.freeze({ cpu: "100m", memory: "128Mi" }),
  limits: Object.freeze({ cpu: "1", memory: "512Mi" }),
  deadlineSeconds: 3600,
  max: Object.freeze({ cpu: "4", memory: "8Gi", deadlineSeconds: 86400 }),
});

/** The uid and gid benchmark containers run as (the image's own user may be root). */
export const RUN_AS = 1000;

/** Millicores of a CPU quantity ("250m", "0.5", "2", 2), or undefined when it is none. */
export function cpuMillis(q: string | number): number | undefined {
  const s = String(q).trim();
  const m = /^(\d{1,6})m$/.exec(s);
  if (m) return Number(m[1]);
  return /^\d{1,4}(\.\d{1,3})?$/.test(s) ? Math.round(Number(s) * 1000) : undefined;
}

const MEMORY_UNITS: Record<string, number> = {
  "": 1,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  K: 1e3,
  M: 1e6,
  G: 1e9,
};

/** Bytes of a memory quantity ("256Mi", "1G", "1048576"), or undefined when it is none. */
export function memoryBytes(q: string): number | undefined {
  const m = /^(\d{1,12})(Ki|Mi|Gi|K|M|G)?$/.exec(q.trim());
  return m ? Number(m[1]) * MEMORY_UNITS[m[2] ?? ""] : undefined;
}

function lower(a: string, b: string, measure: (q: string) => number | undefined): string {
  return measure(a)! <= measure(b)! ? a : b;
}

export interface RenderOptions {
  namespace: string;
  /** Extra node selector for benchmark pods (EXECUTOR_JOB_NODE_SELECTOR). */
  nodeSelector?: Record<string, string>;
  /** Seconds a finished Job is kept (EXECUTOR_JOB_TTL_SECONDS); undefined keeps it. */
  ttlSecondsAfterFinished?: number;
  /**
   * How a schedule's runs start, as BAI's: the CronJob runs this image's cron-job entry, which
   * re-publishes the fetcher event as a single run. Undefined: the CronJob runs the benchmark.
   */
  cronJob?: { image: string; brokers: string[]; fetcherTopic: string; statusTopic: string };
}

/** `b-` + the action id in lower case, as BAI names it: an action id of any case can name a Job. */
export function jobName(actionId: string): string {
  return `b-${actionId.toLowerCase()}`;
}

/** Problems that make an event's ids unusable as object names and labels (empty when fine). */
export function idProblems(event: BaiEvent, scheduled: boolean): string[] {
  const problems: string[] = [];
  const name = jobName(event.action_id);
  const max = scheduled ? 52 : 63;
  if (!DNS_LABEL.test(name) || name.length > max) {
    problems.push(
      `action_id ${JSON.stringify(event.action_id)} cannot name a ${scheduled ? "CronJob" : "Job"} ` +
        `(b-<action_id> must be lower-case alphanumerics and '-', at most ${max} characters)`,
    );
  }
  // The action id is also the value of the label action-id (or parent-action-id of the runs).
  if (problems.length === 0 && (event.action_id.length > 63 || !LABEL_VALUE.test(event.action_id))) {
    problems.push(`action_id ${JSON.stringify(event.action_id)} is not a valid label value`);
  }
  if (event.client_id.length > 63 || !LABEL_VALUE.test(event.client_id)) {
    problems.push(`client_id ${JSON.stringify(event.client_id)} is not a valid label value`);
  }
  if (
    event.parent_action_id &&
    (event.parent_action_id.length > 63 || !LABEL_VALUE.test(event.parent_action_id))
  ) {
    problems.push(`parent_action_id ${JSON.stringify(event.parent_action_id)} is not a valid label value`);
  }
  return problems;
}

function podTemplate(labels: Record<string, string>, d: Descriptor, o: RenderOptions): V1PodTemplateSpec {
  const nodeSelector: Record<string, string> = {
    ...(o.nodeSelector ?? {}),
    ...(d.instanceType ? { "node.kubernetes.io/instance-type": d.instanceType } : {}),
  };
  const cpu = d.resources?.cpu ?? JOB_LIMITS.limits.cpu;
  const memory = d.resources?.memory ?? JOB_LIMITS.limits.memory;
  return {
    metadata: { labels },
    spec: {
      restartPolicy: "Never",
      ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
      // The Pod Security Standard "restricted": whatever image a descriptor names runs unprivileged.
      securityContext: {
        runAsNonRoot: true,
        runAsUser: RUN_AS,
        runAsGroup: RUN_AS,
        seccompProfile: { type: "RuntimeDefault" },
      },
      automountServiceAccountToken: false,
      containers: [
        {
          name: CONTAINER,
          image: d.image,
          imagePullPolicy: "IfNotPresent",
          ...(d.command ? { command: d.command } : {}),
          ...(d.args ? { args: d.args } : {}),
          env: Object.entries(d.env).map(([name, value]) => ({ name, value })),
          resources: {
            requests: {
              cpu: lower(JOB_LIMITS.requests.cpu, cpu, cpuMillis),
              memory: lower(JOB_LIMITS.requests.memory, memory, memoryBytes),
            },
            limits: { cpu, memory },
          },
          securityContext: {
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
            runAsNonRoot: true,
          },
        },
      ],
    },
  };
}

function jobSpec(labels: Record<string, string>, d: Descriptor, o: RenderOptions): V1JobSpec {
  return {
    backoffLimit: 0,
    activeDeadlineSeconds: d.resources?.deadlineSeconds ?? JOB_LIMITS.deadlineSeconds,
    ...(o.ttlSecondsAfterFinished !== undefined
      ? { ttlSecondsAfterFinished: o.ttlSecondsAfterFinished }
      : {}),
    template: podTemplate(labels, d, o),
  };
}

/** Labels of the objects made for `event` (its own action): the descriptor's `[info.labels]`, then ours. */
export function actionLabels(event: BaiEvent, d?: Descriptor): Record<string, string> {
  return {
    ...(d?.labels ?? {}),
    [LABEL_APP]: APP,
    [LABEL_ACTION]: event.action_id,
    [LABEL_CLIENT]: event.client_id,
    [LABEL_CREATED_BY]: CREATED_BY,
    ...(event.parent_action_id ? { [LABEL_PARENT_ACTION]: event.parent_action_id } : {}),
  };
}

/** The Job of a single run. */
export function renderJob(event: BaiEvent, d: Descriptor, o: RenderOptions): V1Job {
  const labels = actionLabels(event, d);
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: jobName(event.action_id), namespace: o.namespace, labels },
    spec: jobSpec(labels, d, o),
  };
}

/**
 * The CronJob of a scheduled action. Its runs (Jobs and pods) are labelled `parent-action-id` =
 * the scheduled action and carry the source event as an annotation, from which the executor reports
 * each run (see watch.ts).
 */
export function renderCronJob(
  event: BaiEvent,
  d: Descriptor,
  o: RenderOptions,
  sourceEvent: string,
): V1CronJob {
  if (!d.schedule) throw new Error("renderCronJob needs a descriptor with a schedule");
  const labels = actionLabels(event, d);
  if (o.cronJob) {
    // The starter's Jobs carry the schedule's own labels (so a cancel of it finds them); the runs
    // they spawn are the executor's Jobs labelled parent-action-id.
    const c = o.cronJob;
    const starter: Descriptor = {
      ...d,
      image: c.image,
      command: ["node", "dist/cronjob.js"],
      env: {
        BENCHMARK_EVENT: sourceEvent,
        KAFKA_BOOTSTRAP_SERVERS: c.brokers.join(","),
        PRODUCER_TOPIC: c.fetcherTopic,
        STATUS_TOPIC: c.statusTopic,
      },
    };
    delete starter.args;
    delete starter.instanceType;
    delete starter.resources;
    return {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: jobName(event.action_id), namespace: o.namespace, labels },
      spec: {
        schedule: d.schedule,
        concurrencyPolicy: "Forbid",
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: { metadata: { labels }, spec: jobSpec(labels, starter, { ...o, nodeSelector: {} }) },
      },
    };
  }
  const runLabels = {
    ...d.labels,
    [LABEL_APP]: APP,
    [LABEL_PARENT_ACTION]: event.action_id,
    [LABEL_CLIENT]: event.client_id,
    [LABEL_CREATED_BY]: CREATED_BY,
  };
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name: jobName(event.action_id), namespace: o.namespace, labels },
    spec: {
      schedule: d.schedule,
      concurrencyPolicy: "Forbid",
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels: runLabels, annotations: { [ANNOTATION_SOURCE_EVENT]: sourceEvent } },
        spec: jobSpec(runLabels, d, o),
      },
    },
  };
}

/** The label that ties an inference server's pod to its Service (BAI's name for it). */
export const LABEL_INFERENCE_SERVER = "inference-server-name";

/** The name of an inference benchmark's server Job and Service: `is-` + the Job name, as BAI names them. */
export function inferenceServerName(actionId: string): string {
  return `is-${jobName(actionId)}`;
}

/**
 * An inference benchmark, as BAI builds it: the server Job `is-b-<id>` and a Service of that name
 * over its ports, and the client Job `b-<id>` (the descriptor's benchmark) told where the server is
 * by INFERENCE_SERVER_HOST and INFERENCE_SERVER_PORT.
 */
export function renderInference(
  event: BaiEvent,
  d: Descriptor,
  o: RenderOptions,
): { server: V1Job; service: V1Service; client: V1Job } {
  if (!d.server) throw new Error("renderInference needs a descriptor with [server]");
  const name = inferenceServerName(event.action_id);
  const labels = actionLabels(event, d);
  const serverLabels = { ...labels, [LABEL_INFERENCE_SERVER]: name };
  const serverD: Descriptor = { ...d, image: d.server.image, command: d.server.command, env: d.server.env };
  delete serverD.args;
  const server: V1Job = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: o.namespace, labels: serverLabels },
    spec: jobSpec(serverLabels, serverD, o),
  };
  const service: V1Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: o.namespace, labels },
    spec: {
      selector: { [LABEL_INFERENCE_SERVER]: name },
      ports: d.server.ports.map((port) => ({ name: `tcp-${port}`, port, targetPort: port, protocol: "TCP" })),
    },
  };
  const clientD: Descriptor = {
    ...d,
    env: {
      ...d.env,
      INFERENCE_SERVER_HOST: `${name}.${o.namespace}`,
      INFERENCE_SERVER_PORT: String(d.server.ports[0] ?? ""),
    },
  };
  return { server, service, client: renderJob(event, clientD, o) };
}

/** BAI's MPIJob (kubeflow.org/v1) for a horovod benchmark: one launcher, `instances` workers. */
export interface MpiJob {
  apiVersion: "kubeflow.org/v1";
  kind: "MPIJob";
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: {
    slotsPerWorker: number;
    runPolicy: { backoffLimit: number; activeDeadlineSeconds: number };
    mpiReplicaSpecs: Record<"Launcher" | "Worker", { replicas: number; template: V1PodTemplateSpec }>;
  };
}

export function renderMpiJob(event: BaiEvent, d: Descriptor, o: RenderOptions): MpiJob {
  const labels = actionLabels(event, d);
  const template = podTemplate(labels, d, o);
  return {
    apiVersion: "kubeflow.org/v1",
    kind: "MPIJob",
    metadata: { name: jobName(event.action_id), namespace: o.namespace, labels },
    spec: {
      slotsPerWorker: 1,
      runPolicy: {
        backoffLimit: 0,
        activeDeadlineSeconds: d.resources?.deadlineSeconds ?? JOB_LIMITS.deadlineSeconds,
      },
      mpiReplicaSpecs: {
        Launcher: { replicas: 1, template },
        Worker: { replicas: d.instances, template },
      },
    },
  };
}
