/**
 * The fetcher's logic, independent of Kafka and of the real Kubernetes client (both injected):
 *
 * - a request → a worker Job (see requests.ts); an invalid request → result FAILED, no Job;
 * - a finished worker Job (reported by the JobWatcher) → result DONE or FAILED.
 *
 * Bad input never throws out of a handler; only a failure to publish does (PublishError), so the
 * consumer does not commit the message and it is handled again (creating the Job is idempotent).
 */
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import type { Logger } from "./log";
import { FetchResult, JobOptions, jobOutcome, parseRequest, renderJob, resultOf } from "./requests";

/** The few Kubernetes calls the fetcher makes (kube.ts has the real ones). */
export interface Jobs {
  /** Creates the Job; false when one of that name exists already (a redelivered request). */
  create(job: V1Job): Promise<boolean>;
  get(name: string): Promise<V1Job | undefined>;
  /** The pods of a Job (selected by the labels it gave its pod template). */
  pods(job: V1Job): Promise<V1Pod[]>;
}

export interface Publisher {
  /** Sends one result (key: its request id); rejects when Kafka did not take it. */
  send(topic: string, result: FetchResult): Promise<void>;
}

export class PublishError extends Error {
  constructor(
    readonly topic: string,
    readonly cause: unknown,
  ) {
    super(`could not send to ${topic}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "PublishError";
  }
}

export type FetcherSettings = Omit<JobOptions, "image"> & { resultsTopic: string };

export class Fetcher {
  constructor(
    private readonly jobs: Jobs,
    private readonly publisher: Publisher,
    private readonly settings: FetcherSettings,
    /** The worker image (this service's own image, resolved at start). */
    private readonly image: string,
    private readonly log: Logger,
  ) {}

  async onRequest(value: Buffer | string | null): Promise<void> {
    const parsed = parseRequest(value);
    if (parsed.kind === "unreadable") {
      this.log.warn("dropped a message that cannot be answered", { why: parsed.why });
      return;
    }
    if (parsed.kind === "invalid") {
      const reason = `invalid request: ${parsed.problems.join("; ")}`;
      this.log.info("request refused", { request_id: parsed.partial.request_id, reason });
      return this.publish({ ...parsed.partial, reason });
    }
    const r = parsed.request;
    const job = renderJob(r, { ...this.settings, image: this.image });
    const name = job.metadata!.name!;
    let created: boolean;
    try {
      created = await this.jobs.create(job);
    } catch (e) {
      const reason = `could not create the worker Job ${name}: ${describeError(e)}`;
      this.log.error("job creation failed", { request_id: r.request_id, job: name, reason });
      return this.publish({
        request_id: r.request_id,
        status: "FAILED",
        bucket: r.bucket,
        key: r.key,
        reason,
        job: name,
      });
    }
    if (created) {
      this.log.info("worker job created", { request_id: r.request_id, job: name, url: r.url });
      return;
    }
    // A redelivered request: its Job exists. Answer again if it finished; else the watch will.
    const existing = await this.jobs.get(name).catch(() => undefined);
    this.log.info("worker job exists already", { request_id: r.request_id, job: name });
    if (existing && jobOutcome(existing) !== undefined) await this.onJobFinished(existing);
  }

  /** Publishes the result of a finished Job; a Job that is not a finished worker Job is ignored. */
  async onJobFinished(job: V1Job): Promise<void> {
    const pods = await this.jobs.pods(job).catch((e) => {
      this.log.warn("could not read the worker pods", { job: job.metadata?.name, error: describeError(e) });
      return [];
    });
    const result = resultOf(job, pods);
    if (result === undefined) return;
    this.log.info("request finished", {
      request_id: result.request_id,
      job: result.job,
      status: result.status,
      ...(result.reason ? { reason: result.reason } : { bytes: result.bytes, sha256: result.sha256 }),
    });
    await this.publish(result);
  }

  private async publish(result: FetchResult): Promise<void> {
    try {
      await this.publisher.send(this.settings.resultsTopic, result);
    } catch (e) {
      throw new PublishError(this.settings.resultsTopic, e);
    }
  }
}

/** A short description of an error; for a client-node ApiException, the API's message. */
export function describeError(e: unknown): string {
  const x = e as { code?: unknown; body?: unknown } | null;
  if (x instanceof Error && typeof x.code === "number" && "body" in x) {
    let msg: unknown = x.body;
    try {
      msg = (typeof x.body === "string" ? JSON.parse(x.body) : x.body)?.message ?? x.body;
    } catch {
      // not JSON
    }
    return `Kubernetes API ${x.code}: ${String(typeof msg === "object" ? JSON.stringify(msg) : msg).slice(0, 300)}`;
  }
  return e instanceof Error ? e.message : String(e);
}
