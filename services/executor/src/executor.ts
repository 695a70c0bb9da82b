/**
 * The executor's logic, independent of Kafka and of the real Kubernetes client (both injected):
 *
 * - a fetcher event → status PENDING → a Job `b-<action_id>` (or, for a scheduled descriptor, a
 *   CronJob of that name) → the executor event (single runs only) → status SUCCEEDED; anything
 *   wrong with the event or the API call → status ERROR with the reason;
 * - a run of a CronJob (a Job labelled `parent-action-id`) → an executor event and status SUCCEEDED
 *   for the run, whose action id is the Job's name without `b-` and whose parent is the schedule;
 * - `cancel` on CMD_SUBMIT → deletes the action's Jobs and CronJobs (with `cascade`, also every
 *   object labelled `parent-action-id` = the action) → CMD_RETURN (0, or non-zero with a message)
 *   and, when something was deleted, status CANCELED for the action.
 *
 * Bad input never throws out of a handler: it is answered (status ERROR, CMD_RETURN non-zero) or,
 * when it cannot be attributed to an action, logged and dropped. Only a failure to publish to
 * Kafka propagates, so the consumer does not commit the message and it is handled again.
 */
import type { V1Job } from "@kubernetes/client-node";
import type { Config, Topics } from "./config";
import { DescriptorError, parseDescriptor } from "./descriptor";
import {
  BaiEvent,
  CommandPayloadSchema,
  CommandRequestEvent,
  CommandRequestPayload,
  CommandResponsePayload,
  ExecutorPayload,
  FetcherPayload,
  FetcherPayloadSchema,
  InvalidEvent,
  Sender,
  Status,
  StatusPayload,
  decode,
  derive,
  describeIssues,
  isObject,
} from "./events";
import {
  ANNOTATION_SOURCE_EVENT,
  CREATED_BY,
  LABEL_ACTION,
  LABEL_CREATED_BY,
  LABEL_PARENT_ACTION,
  idProblems,
  jobName,
  renderCronJob,
  renderJob,
} from "./jobs";
import { BatchClient, ObjectRef, describeError } from "./kube";
import type { Logger } from "./log";

export interface Publisher {
  /** Sends one event (key: its action id); rejects when Kafka did not take it. */
  send(topic: string, event: BaiEvent): Promise<void>;
}

export type ExecutorSettings = Pick<
  Config,
  "namespace" | "nodeSelector" | "ttlSecondsAfterFinished" | "fault"
> & {
  topics: Topics;
};

export interface CancelRequest {
  target: string;
  cascade: boolean;
}

/** Kafka did not take an event: the message being handled should be handled again. */
export class PublishError extends Error {
  constructor(
    readonly topic: string,
    readonly cause: unknown,
  ) {
    super(`could not send to ${topic}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "PublishError";
  }
}

/** Return codes on CMD_RETURN. */
export const RC = { OK: 0, NOT_FOUND: 1, INVALID: 2, UNKNOWN_COMMAND: 3, FAILED: 4 } as const;

export class Executor {
  constructor(
    private readonly batch: BatchClient,
    private readonly publisher: Publisher,
    private readonly settings: ExecutorSettings,
    private readonly sender: Sender,
    private readonly log: Logger,
  ) {}

  // --- fetcher events ------------------------------------------------------------------------

  async onFetcherMessage(value: Buffer | string | null): Promise<void> {
    let event: BaiEvent;
    try {
      event = decode(value);
    } catch (e) {
      return this.rejectUndecodable("fetcher", e);
    }
    await this.onFetcherEvent(event);
  }

  async onFetcherEvent(event: BaiEvent): Promise<void> {
    const log = { action_id: event.action_id, client_id: event.client_id, message_id: event.message_id };
    this.log.info("fetcher event received", log);
    await this.status(event, "PENDING", "executor: creating the benchmark job");

    const payload = FetcherPayloadSchema.safeParse(event.payload);
    if (!payload.success)
      return this.fail(event, `invalid event: ${describeIssues(payload.error, "payload")}`);
    let descriptor;
    try {
      descriptor = parseDescriptor(event.payload);
    } catch (e) {
      if (e instanceof DescriptorError) return this.fail(event, e.message);
      return this.fail(event, `internal error reading the descriptor: ${String(e)}`);
    }
    const scheduled = descriptor.schedule !== undefined;
    const problems = idProblems(event, scheduled);
    if (problems.length > 0) return this.fail(event, `invalid event: ${problems.join("; ")}`);

    const opts = {
      namespace: this.settings.namespace,
      nodeSelector: this.settings.nodeSelector,
      ...(this.settings.ttlSecondsAfterFinished !== undefined
        ? { ttlSecondsAfterFinished: this.settings.ttlSecondsAfterFinished }
        : {}),
    };
    const name = jobName(event.action_id);
    const kind = scheduled ? "CronJob" : "Job";
    let created: boolean;
    try {
      created = scheduled
        ? await this.batch.createCronJob(renderCronJob(event, descriptor, opts, JSON.stringify(event)))
        : await this.batch.createJob(renderJob(event, descriptor, opts));
    } catch (e) {
      return this.fail(event, `could not create ${kind} ${name}: ${describeError(e)}`);
    }
    this.log.info(created ? `${kind} created` : `${kind} already existed (event handled before)`, {
      ...log,
      [kind === "Job" ? "job" : "cronjob"]: name,
      namespace: this.settings.namespace,
      ...(scheduled ? { schedule: descriptor.schedule } : {}),
    });

    if (scheduled) {
      await this.status(event, "SUCCEEDED", `CronJob ${name} created (schedule "${descriptor.schedule}")`);
      return;
    }
    await this.executorEvent(event, event.payload as FetcherPayload, name, {});
    await this.status(event, "SUCCEEDED", `Job ${name} created`);
  }

  // --- runs of scheduled actions ---------------------------------------------------------------

  /**
   * Reports a Job a CronJob created: an executor event and status SUCCEEDED for the run. Returns
   * false (and logs) for a Job that is not such a run.
   */
  async onScheduledRun(job: V1Job): Promise<boolean> {
    const labels = job.metadata?.labels ?? {};
    const name = job.metadata?.name ?? "";
    const parent = labels[LABEL_PARENT_ACTION];
    const raw = job.metadata?.annotations?.[ANNOTATION_SOURCE_EVENT];
    if (labels[LABEL_CREATED_BY] !== CREATED_BY || !parent || !raw || !name.startsWith("b-")) return false;
    let source: BaiEvent;
    try {
      source = decode(raw);
    } catch (e) {
      this.log.warn("scheduled run with an unreadable source event: not reported", {
        job: name,
        error: String(e),
      });
      return false;
    }
    const runId = name.slice(2);
    const run = derive(source, source.type, source.payload, this.sender, {
      actionId: runId,
      parentActionId: parent,
    });
    this.log.info("scheduled run started", { action_id: runId, parent_action_id: parent, job: name });
    await this.executorEvent(run, source.payload as FetcherPayload, name, { parent_action_id: parent });
    await this.status(run, "SUCCEEDED", `Job ${name} created by CronJob ${jobName(parent)}`);
    return true;
  }

  // --- commands ------------------------------------------------------------------------------

  async onCommandMessage(value: Buffer | string | null): Promise<void> {
    let cmd: CommandRequestEvent;
    try {
      const event = decode(value);
      const p = CommandPayloadSchema.safeParse(event.payload);
      if (!p.success) {
        throw new InvalidEvent(`invalid command: ${describeIssues(p.error, "payload")}`, {
          ...event,
          payload: null,
        });
      }
      cmd = event as CommandRequestEvent;
    } catch (e) {
      if (e instanceof InvalidEvent && e.envelope) {
        return this.answer(e.envelope as CommandRequestEvent, RC.INVALID, e.message);
      }
      return this.rejectUndecodable("command", e);
    }
    await this.onCommand(cmd);
  }

  async onCommand(cmd: CommandRequestEvent): Promise<void> {
    const command = cmd.payload.command;
    this.log.info("command received", { command, action_id: cmd.action_id, message_id: cmd.message_id });
    if (command !== "cancel") {
      return this.answer(
        cmd,
        RC.UNKNOWN_COMMAND,
        `unknown command "${command}" (the executor knows: cancel)`,
      );
    }
    let req: CancelRequest;
    try {
      req = parseCancelArgs(cmd.payload);
    } catch (e) {
      return this.answer(cmd, RC.INVALID, (e as Error).message);
    }
    let deleted: ObjectRef[];
    try {
      deleted = await cancel(this.batch, req);
    } catch (e) {
      return this.answer(cmd, RC.FAILED, `cancel ${req.target} failed: ${describeError(e)}`);
    }
    if (deleted.length === 0) {
      return this.answer(cmd, RC.NOT_FOUND, `nothing to cancel: no Job or CronJob of action ${req.target}`, {
        deleted: [],
      });
    }
    const what = deleted.map((d) => `${d.kind} ${d.name}`).join(", ");
    this.log.info("action canceled", { target_action_id: req.target, cascade: req.cascade, deleted: what });
    await this.status(cmd, "CANCELED", `canceled by command ${cmd.message_id}: deleted ${what}`, req.target);
    await this.answer(cmd, RC.OK, `canceled action ${req.target}: deleted ${what}`, { deleted });
  }

  // --- sending -------------------------------------------------------------------------------

  private async executorEvent(
    src: BaiEvent,
    payload: FetcherPayload,
    job: string,
    extras: Record<string, unknown>,
  ): Promise<void> {
    if (this.settings.fault === "drop-executor-event") {
      this.log.warn("FAULT drop-executor-event: executor event not sent", { action_id: src.action_id, job });
      return;
    }
    const out = derive<ExecutorPayload>(
      src,
      this.settings.topics.executor,
      {
        ...payload,
        job: { id: job, output: null, extras: { namespace: this.settings.namespace, ...extras } },
      },
      this.sender,
    );
    await this.send(this.settings.topics.executor, out);
  }

  private async status(src: BaiEvent, status: Status, message: string, actionId?: string): Promise<void> {
    const out = derive<StatusPayload>(
      src,
      this.settings.topics.status,
      { message, status, src_event: src },
      this.sender,
      actionId !== undefined ? { actionId } : {},
    );
    await this.send(this.settings.topics.status, out);
  }

  private async fail(event: BaiEvent, reason: string): Promise<void> {
    this.log.warn("event rejected", { action_id: event.action_id, reason });
    await this.status(event, "ERROR", reason);
  }

  private async answer(
    cmd: CommandRequestEvent,
    code: number,
    message: string,
    value?: unknown,
  ): Promise<void> {
    if (code !== RC.OK)
      this.log.warn("command failed", { action_id: cmd.action_id, return_code: code, message });
    const out = derive<CommandResponsePayload>(
      cmd,
      this.settings.topics.cmdReturn,
      { return_code: code, message, cmd_submit: cmd, return_value: value ?? null },
      this.sender,
    );
    await this.send(this.settings.topics.cmdReturn, out);
  }

  private async rejectUndecodable(what: string, e: unknown): Promise<void> {
    if (e instanceof InvalidEvent && e.envelope) {
      return this.fail(e.envelope, e.message);
    }
    this.log.warn(`${what} message dropped: it names no action to answer to`, { reason: String(e) });
  }

  private async send(topic: string, event: BaiEvent): Promise<void> {
    try {
      await this.publisher.send(topic, event);
    } catch (e) {
      throw new PublishError(topic, e);
    }
    const p = event.payload as Record<string, unknown>;
    this.log.debug("event sent", {
      topic,
      action_id: event.action_id,
      status: p.status,
      return_code: p.return_code,
    });
  }
}

const TRUE = new Set([true, "true", "1", "yes", "--cascade", "cascade"]);
const CANCEL_ARGS = ["target_action_id", "action_id", "cascade"];

/**
 * The target and cascade flag of a cancel: args `{ target_action_id, cascade }` (the seed's; also
 * `action_id`), or a list `[target, "--cascade"]`. Throws with a message for the answer.
 */
export function parseCancelArgs(payload: CommandRequestPayload): CancelRequest {
  const a = payload.args;
  let target: unknown;
  let cascade: unknown = false;
  if (Array.isArray(a)) {
    target = a[0];
    cascade = a.slice(1).some((x) => TRUE.has(x as string | boolean));
  } else if (isObject(a)) {
    const unknown = Object.keys(a).filter((k) => !CANCEL_ARGS.includes(k));
    if (unknown.length > 0) {
      throw new Error(
        `cancel: unknown argument(s) ${unknown.map((k) => JSON.stringify(k)).join(", ")} (known: ${CANCEL_ARGS.join(", ")})`,
      );
    }
    target = a.target_action_id ?? a.action_id;
    cascade = a.cascade;
  }
  if (typeof target !== "string" || target.trim() === "") {
    throw new Error('cancel needs the action id: args {"target_action_id": "<id>", "cascade": false}');
  }
  if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(target)) {
    throw new Error(`cancel: ${JSON.stringify(target)} is not an action id`);
  }
  return { target, cascade: TRUE.has(cascade as string | boolean) || cascade === true };
}

/**
 * Deletes the Jobs and CronJobs of `req.target` (by label `action-id`, and the Job `b-<target>`
 * when it is a scheduled run), with `cascade` also everything labelled `parent-action-id=<target>`.
 * Only objects labelled `created-by=executor` are touched. Returns what was deleted.
 */
export async function cancel(batch: BatchClient, req: CancelRequest): Promise<ObjectRef[]> {
  const mine = `${LABEL_CREATED_BY}=${CREATED_BY}`;
  const selectors = [`${LABEL_ACTION}=${req.target},${mine}`];
  if (req.cascade) selectors.push(`${LABEL_PARENT_ACTION}=${req.target},${mine}`);
  const refs = new Map<string, ObjectRef>();
  const add = (kind: ObjectRef["kind"], name: string | undefined): void => {
    if (name) refs.set(`${kind}/${name}`, { kind, name });
  };
  for (const sel of selectors) {
    // CronJobs first, so a schedule does not start a new run while its runs are deleted.
    for (const c of await batch.listCronJobs(sel)) add("CronJob", c.metadata?.name);
    for (const j of await batch.listJobs(sel)) add("Job", j.metadata?.name);
  }
  const run = await batch.getJob(jobName(req.target));
  if (run?.metadata?.labels?.[LABEL_CREATED_BY] === CREATED_BY) add("Job", run.metadata.name);

  const deleted: ObjectRef[] = [];
  for (const ref of refs.values()) {
    if (await batch.delete(ref)) deleted.push(ref);
  }
  return deleted;
}
