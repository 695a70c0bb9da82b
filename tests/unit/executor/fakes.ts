/** Fakes for the executor's unit tests: an in-memory batch API and a recording publisher. */
import type { V1CronJob, V1Job } from "@kubernetes/client-node";
import type { Publisher } from "../../../services/executor/src/executor";
import type { BaiEvent } from "../../../services/executor/src/events";
import type { BatchClient, Kind, ObjectRef } from "../../../services/executor/src/kube";

type Obj = { metadata?: { name?: string; labels?: Record<string, string> } };

/** Matches a label selector of `k=v` and `k` terms (all that the executor uses). */
export function matches(selector: string, labels: Record<string, string> = {}): boolean {
  return selector.split(",").every((term) => {
    const [k, v] = term.split("=");
    return v === undefined ? k in labels : labels[k] === v;
  });
}

export class FakeBatch implements BatchClient {
  jobs: V1Job[] = [];
  cronJobs: V1CronJob[] = [];
  /** MPIJobs, ConfigMaps, RoleBindings, Services: what a cancel deletes besides Jobs and CronJobs. */
  others: { kind: Kind; metadata: { name: string; labels: Record<string, string> }; body?: object }[] = [];
  calls: string[] = [];
  /** When set, every call rejects with it. */
  failWith: unknown;

  private check(call: string): void {
    this.calls.push(call);
    if (this.failWith !== undefined) throw this.failWith;
  }

  private static add<T extends Obj>(list: T[], o: T): boolean {
    if (list.some((x) => x.metadata?.name === o.metadata?.name)) return false;
    list.push(o);
    return true;
  }

  async createJob(job: V1Job): Promise<boolean> {
    this.check(`createJob ${job.metadata?.name}`);
    return FakeBatch.add(this.jobs, job);
  }

  async createCronJob(c: V1CronJob): Promise<boolean> {
    this.check(`createCronJob ${c.metadata?.name}`);
    return FakeBatch.add(this.cronJobs, c);
  }

  async createObject(kind: "Service" | "MPIJob", body: object): Promise<boolean> {
    const o = body as { metadata: { name: string; labels: Record<string, string> } };
    this.check(`create ${kind} ${o.metadata.name}`);
    if (this.others.some((x) => x.kind === kind && x.metadata.name === o.metadata.name)) return false;
    this.others.push({ kind, metadata: o.metadata, body } as FakeBatch["others"][number]);
    return true;
  }

  async listJobs(sel: string): Promise<V1Job[]> {
    this.check(`listJobs ${sel}`);
    return this.jobs.filter((j) => matches(sel, j.metadata?.labels));
  }

  async listCronJobs(sel: string): Promise<V1CronJob[]> {
    this.check(`listCronJobs ${sel}`);
    return this.cronJobs.filter((j) => matches(sel, j.metadata?.labels));
  }

  async listNames(kind: Kind, sel: string): Promise<string[]> {
    this.check(`list ${kind} ${sel}`);
    const list: Obj[] =
      kind === "Job"
        ? this.jobs
        : kind === "CronJob"
          ? this.cronJobs
          : this.others.filter((o) => o.kind === kind);
    return list.filter((o) => matches(sel, o.metadata?.labels)).map((o) => o.metadata?.name ?? "");
  }

  async getJob(name: string): Promise<V1Job | undefined> {
    this.check(`getJob ${name}`);
    return this.jobs.find((j) => j.metadata?.name === name);
  }

  async delete(ref: ObjectRef): Promise<boolean> {
    this.check(`delete ${ref.kind} ${ref.name}`);
    const list = (
      ref.kind === "Job" ? this.jobs : ref.kind === "CronJob" ? this.cronJobs : this.others
    ) as (Obj & { kind?: string })[];
    const i = list.findIndex(
      (o) => o.metadata?.name === ref.name && (o.kind === undefined || o.kind === ref.kind),
    );
    if (i < 0) return false;
    list.splice(i, 1);
    return true;
  }
}

export class RecordingPublisher implements Publisher {
  sent: { topic: string; event: BaiEvent }[] = [];
  failWith: unknown;

  async send(topic: string, event: BaiEvent): Promise<void> {
    if (this.failWith !== undefined) throw this.failWith;
    // What goes on the wire is JSON: record it as it would be read back.
    this.sent.push({ topic, event: JSON.parse(JSON.stringify(event)) });
  }

  on(topic: string): BaiEvent[] {
    return this.sent.filter((s) => s.topic === topic).map((s) => s.event);
  }

  /** `topic:STATUS` / `topic` / `topic:rc=N` per event sent, in order. */
  summary(): string[] {
    return this.sent.map(({ topic, event }) => {
      const p = event.payload as Record<string, unknown>;
      if (typeof p.status === "string") return `${topic}:${p.status}`;
      if (typeof p.return_code === "number") return `${topic}:rc=${p.return_code}`;
      return topic;
    });
  }
}
