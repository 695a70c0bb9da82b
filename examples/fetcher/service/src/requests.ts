/**
 * The fetcher's wire format and what it makes of it: the request it reads, the result it
 * publishes, the worker Job it creates for a request, and the result it reads off a finished Job.
 *
 *   request  {"request_id": "r-1", "url": "http://…/file.txt", "bucket": "fetched", "key": "a/file.txt"}
 *   result   {"request_id": "r-1", "status": "DONE", "bucket": "fetched", "key": "a/file.txt",
 *             "bytes": 42, "sha256": "…", "job": "fetch-r-1-1a2b3c4d"}
 *            {"request_id": "r-1", "status": "FAILED", …, "reason": "download failed: HTTP 404 …", "job": "…"}
 *
 * `job` is empty when no Job was created (an invalid request).
 */
import { createHash } from "node:crypto";
import type { V1Job, V1Pod } from "@kubernetes/client-node";

export interface FetchRequest {
  request_id: string;
  url: string;
  bucket: string;
  key: string;
}

export interface FetchResult {
  request_id: string;
  status: "DONE" | "FAILED";
  bucket: string;
  key: string;
  bytes?: number;
  sha256?: string;
  reason?: string;
  job: string;
}

/** What the worker writes as its termination message (one JSON object). */
export interface WorkerOutcome {
  status: "DONE" | "FAILED";
  bytes?: number;
  sha256?: string;
  reason?: string;
}

export const LABEL_SPAWNED_BY = "spawned-by";
export const SPAWNED_BY = "fetcher";
export const LABEL_REQUEST = "request-id";
/** The request, as JSON, on its Job: a finished Job can be reported without any other state. */
export const ANNOTATION_REQUEST = "fetcher.inception.dev/request";
export const WORKER_CONTAINER = "worker";
export const SPAWNED_SELECTOR = `${LABEL_SPAWNED_BY}=${SPAWNED_BY}`;

const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export type Parsed =
  | { kind: "ok"; request: FetchRequest }
  /** Answerable (it has a request id) but not valid: answered FAILED, no Job. */
  | { kind: "invalid"; partial: FetchResult; problems: string[] }
  /** Not answerable: not JSON, not an object, or no request id. */
  | { kind: "unreadable"; why: string };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function parseRequest(value: Buffer | string | null): Parsed {
  let v: unknown;
  try {
    v = JSON.parse(value === null ? "" : value.toString());
  } catch {
    return { kind: "unreadable", why: "not JSON" };
  }
  if (!isObject(v)) return { kind: "unreadable", why: "not a JSON object" };
  if (typeof v.request_id !== "string" || v.request_id === "") {
    return { kind: "unreadable", why: "no request_id" };
  }
  const str = (k: string): string => (typeof v[k] === "string" ? (v[k] as string) : "");
  const r: FetchRequest = {
    request_id: v.request_id,
    url: str("url"),
    bucket: str("bucket"),
    key: str("key"),
  };
  const problems: string[] = [];
  if (r.request_id.length > 63 || !LABEL_VALUE.test(r.request_id)) {
    problems.push("request_id must be at most 63 letters, digits, '-', '_' or '.' (it labels the Job)");
  }
  if (v.url === undefined) problems.push("url is required");
  else if (!isHttpUrl(r.url)) problems.push(`url must be an http(s) URL, got ${JSON.stringify(v.url)}`);
  if (v.bucket === undefined) problems.push("bucket is required");
  else if (!BUCKET.test(r.bucket))
    problems.push(`bucket ${JSON.stringify(v.bucket)} is not an S3 bucket name`);
  if (v.key === undefined) problems.push("key is required");
  else if (r.key === "" || r.key.length > 1024) {
    problems.push(`key must be a string of 1 to 1024 characters, got ${JSON.stringify(v.key)}`);
  }
  if (problems.length > 0) {
    return {
      kind: "invalid",
      partial: { request_id: r.request_id, status: "FAILED", bucket: r.bucket, key: r.key, job: "" },
      problems,
    };
  }
  return { kind: "ok", request: r };
}

function isHttpUrl(s: string): boolean {
  try {
    return ["http:", "https:"].includes(new URL(s).protocol);
  } catch {
    return false;
  }
}

/**
 * The Job's name: `fetch-<readable part of the id>-<8 hex of its sha256>`, a DNS label (at most 55
 * characters, so its pods' names stay within 63). The same request id always names the same Job,
 * so a redelivered request finds its Job instead of making a second one.
 */
export function jobName(requestId: string): string {
  const readable = requestId
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, 40)
    .replace(/-+$/, "");
  const hash = createHash("sha256").update(requestId).digest("hex").slice(0, 8);
  return readable ? `fetch-${readable}-${hash}` : `fetch-${hash}`;
}

export interface JobOptions {
  namespace: string;
  image: string;
  deadlineSeconds: number;
  s3: { endpoint: string; accessKey: string; secretRef: { name: string; key: string } };
}

/** The worker Job of a request: one pod, no retries, the request in its env and annotation. */
export function renderJob(r: FetchRequest, o: JobOptions): V1Job {
  const labels = { [LABEL_SPAWNED_BY]: SPAWNED_BY, [LABEL_REQUEST]: r.request_id };
  const env: Record<string, string> = {
    REQUEST_ID: r.request_id,
    FETCH_URL: r.url,
    S3_BUCKET: r.bucket,
    S3_KEY: r.key,
    S3_ENDPOINT: o.s3.endpoint,
    S3_ACCESS_KEY: o.s3.accessKey,
  };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: jobName(r.request_id),
      namespace: o.namespace,
      labels,
      annotations: { [ANNOTATION_REQUEST]: JSON.stringify(r) },
    },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: o.deadlineSeconds,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          // The stack's namespace enforces Pod Security "restricted": without these the Job's pod is refused.
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: WORKER_CONTAINER,
              image: o.image,
              imagePullPolicy: "IfNotPresent",
              command: ["node", "/app/dist/worker.js"],
              env: [
                ...Object.entries(env).map(([name, value]) => ({ name, value })),
                // By reference: the secret never appears in the Job (nor in artifacts describing it).
                { name: "S3_SECRET_KEY", valueFrom: { secretKeyRef: o.s3.secretRef } },
              ],
              // The worker writes its outcome there; if it dies before, the log's tail is used.
              terminationMessagePolicy: "FallbackToLogsOnError",
              securityContext: {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ["ALL"] },
                runAsNonRoot: true,
              },
              resources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { memory: "256Mi" } },
            },
          ],
        },
      },
    },
  };
}

/** The request a Job was made for (from its annotation); undefined when it is not one of ours. */
export function requestOf(job: V1Job): FetchRequest | undefined {
  const raw = job.metadata?.annotations?.[ANNOTATION_REQUEST];
  if (raw === undefined) return undefined;
  try {
    const r = JSON.parse(raw) as FetchRequest;
    return typeof r.request_id === "string" ? r : undefined;
  } catch {
    return undefined;
  }
}

/** "succeeded" / "failed" once the Job finished, else undefined. */
export function jobOutcome(job: V1Job): "succeeded" | "failed" | undefined {
  const done = job.status?.conditions?.find(
    (c) => c.status === "True" && (c.type === "Complete" || c.type === "Failed"),
  );
  return done === undefined ? undefined : done.type === "Complete" ? "succeeded" : "failed";
}

/**
 * The result of a finished Job, from its worker pod's termination message (the worker's outcome
 * JSON, or on a crash the tail of its log), else from the Job's Failed condition and the pod's state.
 */
export function resultOf(job: V1Job, pods: V1Pod[]): FetchResult | undefined {
  const r = requestOf(job);
  const outcome = jobOutcome(job);
  if (r === undefined || outcome === undefined) return undefined;
  const base = { request_id: r.request_id, bucket: r.bucket, key: r.key, job: job.metadata?.name ?? "" };
  const terminated = pods
    .flatMap((p) => p.status?.containerStatuses ?? [])
    .filter((c) => c.name === WORKER_CONTAINER)
    .map((c) => c.state?.terminated)
    .find((t) => t !== undefined);
  const message = terminated?.message?.trim();
  let worker: WorkerOutcome | undefined;
  try {
    worker = message ? (JSON.parse(message) as WorkerOutcome) : undefined;
  } catch {
    worker = undefined;
  }
  if (outcome === "succeeded") {
    return {
      ...base,
      status: "DONE",
      ...(typeof worker?.bytes === "number" ? { bytes: worker.bytes } : {}),
      ...(typeof worker?.sha256 === "string" ? { sha256: worker.sha256 } : {}),
    };
  }
  let reason: string;
  if (typeof worker?.reason === "string" && worker.reason !== "") reason = worker.reason;
  else if (message) reason = `the worker failed: ${message.split("\n").slice(-5).join(" | ")}`;
  else {
    const failed = job.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True");
    const waiting = pods
      .flatMap((p) => p.status?.containerStatuses ?? [])
      .map((c) => c.state?.waiting)
      .find((w) => w?.reason);
    reason =
      `the Job failed: ${failed?.reason ?? "unknown"}${failed?.message ? ` (${failed.message})` : ""}` +
      (terminated ? `; worker exit ${terminated.exitCode} ${terminated.reason ?? ""}`.trimEnd() : "") +
      (waiting ? `; worker ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}` : "");
  }
  return { ...base, status: "FAILED", reason };
}
