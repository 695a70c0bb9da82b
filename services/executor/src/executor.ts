/**
 * The executor's logic, independent of Kafka and of the real Kubernetes client (both injected):
 *
 * - a fetcher event → status PENDING → a Job `b-<lower(action_id)>` (horovod: an MPIJob; inference:
 *   server Job, Service, client Job; a scheduled descriptor: a CronJob running the cron-job
 *   component) → status SUCCEEDED about the executor event → the executor event (single runs
 *   only); anything wrong with the event or the API call → status ERROR with the reason; an event
 *   for another execution engine → nothing;
 * - a run of a CronJob (a Job labelled `parent-action-id`) → an executor event and status SUCCEEDED
 *   for the run, whose action id is the Job's name without `b-` and whose parent is the schedule;
 * - `cancel` on CMD_SUBMIT → deletes the client's objects of the action (six kinds, by label; with
 *   `cascade`, also those labelled `parent-action-id` = the action) → status SUCCEEDED for the
 *   action, then CMD_RETURN 0; or CMD_RETURN 1/2 with BAI's messages. Other commands: no answer.
 *
 * Bad input never throws out of a handler: it is answered (status ERROR, CMD_RETURN non-zero) or,
 * when it cannot be attributed to an action, logged and dropped. Only a failure to publish to
 * Kafka propagates, so the consumer does not commit the message and it is handled again.
 */
import type { V1Job } from "@kubernetes/client-node";
import type { Config, Topics } from "./config";
import { DescriptorError, descriptorTable, engineOf, parseDescriptor } from "./descriptor";
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
  LABEL_CLIENT,
  LABEL_CREATED_BY,
  LABEL_PARENT_ACTION,
  idProblems,
  inferenceServerName,
  jobName,
  renderCronJob,
  renderInference,
  renderJob,
  renderMpiJob,
} from "./jobs";
import { BatchClient, CANCEL_KINDS, Kind, ObjectRef, describeError } from "./kube";
import type { Logger } from "./log";

export interface Publisher {
  /** Sends one event (key: its client id, as BAI keys them); rejects when Kafka did not take it. */
  send(topic: string, event: BaiEvent): Promise<void>;
}

export type ExecutorSettings = Pick<
  Config,
  "namespace" | "nodeSelector" | "ttlSecondsAfterFinished" | "fault"
> & {
  topics: Topics;
  /** The cron-job component's image and brokers (see RenderOptions.cronJob); absent: CronJobs run the benchmark. */
  cronJob?: { image: string; brokers: string[] };
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
/** Return codes on CMD_RETURN, BAI's: 0 done, 1 the command failed (nothing found, or an error), 2 bad args. */
export const RC = { OK: 0, NOT_FOUND: 1, FAILED: 1, INVALID: 2 } as const;

/** The execution engines this executor is (BAI's executor registers "default" and "kubernetes"). */
export const ENGINES: readonly string[] = ["default", "kubernetes"];

/** No object of the action (for this client) to delete. */
export class NothingToCancel extends Error {}

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
    // As BAI: an event for another execution engine is that engine's; this executor stays silent.
    let engine: unknown = "default";
    try {
      engine = engineOf(descriptorTable(event.payload));
    } catch {
      // an unreadable descriptor is answered below, with the reason
    }
    if (!ENGINES.includes(engine as string)) {
      this.log.info("event for another execution engine: ignored", { ...log, execution_engine: engine });
      return;
    }
    await this.status(event, "PENDING", "Processing benchmark submission request...");

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
    if (!scheduled && descriptor.strategy === "inference" && inferenceServerName(event.action_id).length > 63)
      problems.push(`action_id ${JSON.stringify(event.action_id)} is too long to name the inference server`);
    if (problems.length > 0) return this.fail(event, `invalid event: ${problems.join("; ")}`);

    const opts = {
      namespace: this.settings.namespace,
      nodeSelector: this.settings.nodeSelector,
      ...(this.settings.ttlSecondsAfterFinished !== undefined
        ? { ttlSecondsAfterFinished: this.settings.ttlSecondsAfterFinished }
        : {}),
      ...(this.settings.cronJob
        ? {
            cronJob: {
              ...this.settings.cronJob,
              fetcherTopic: this.settings.topics.fetcher,
              statusTopic: this.settings.topics.status,
            },
          }
        : {}),
    };
    const name = jobName(event.action_id);
    const kind = scheduled ? "CronJob" : "Job";
    let created: boolean;
    let what = kind;
    try {
      if (scheduled) {
        created = await this.batch.createCronJob(
          renderCronJob(event, descriptor, opts, JSON.stringify(event)),
        );
      } else if (descriptor.strategy === "horovod") {
        what = "MPIJob";
        created = await this.batch.createObject("MPIJob", renderMpiJob(event, descriptor, opts));
      } else if (descriptor.strategy === "inference") {
        // Server and Service first, so the client finds them; each creation is idempotent.
        const { server, service, client } = renderInference(event, descriptor, opts);
        what = "Job";
        await this.batch.createJob(server);
        await this.batch.createObject("Service", service);
        created = await this.batch.createJob(client);
      } else {
        created = await this.batch.createJob(renderJob(event, descriptor, opts));
      }
    } catch (e) {
      return this.fail(
        event,
        `Error executing benchmark: could not create ${what} ${name}: ${describeError(e)}`,
      );
    }
    this.log.info(created ? `${kind} created` : `${kind} already existed (event handled before)`, {
      ...log,
      [kind === "Job" ? "job" : "cronjob"]: name,
      namespace: this.settings.namespace,
      ...(scheduled ? { schedule: descriptor.schedule } : {}),
    });

    if (scheduled) {
      await this.status(event, "SUCCEEDED", `Scheduled benchmark successfully submitted with job id ${name}`);
      return;
    }
    // BAI's order: SUCCEEDED about the executor event (its src_event), then the executor event.
    const executed = this.executorEvent(event, event.payload as FetcherPayload, name, {});
    await this.status(executed, "SUCCEEDED", `Benchmark successfully created... (Job ${name})`);
    await this.sendExecutorEvent(executed);
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
    const executed = this.executorEvent(run, source.payload as FetcherPayload, name, {
      parent_action_id: parent,
    });
    await this.status(executed, "SUCCEEDED", `Job ${name} created by CronJob ${jobName(parent)}`);
    await this.sendExecutorEvent(executed);
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
    if (command !== "cancel") {
      // As BAI: a command this service does not have is another service's; no answer.
      this.log.info("command not known here: dropped unanswered", { command, action_id: cmd.action_id });
      return;
    }
    this.log.info("command received", { command, action_id: cmd.action_id, message_id: cmd.message_id });
    let req: CancelRequest;
    try {
      req = parseCancelArgs(cmd.payload);
    } catch (e) {
      return this.answer(cmd, RC.INVALID, `Cancel command failed: Invalid args ${(e as Error).message}`);
    }
    let deleted: ObjectRef[];
    try {
      deleted = await cancel(this.batch, cmd.client_id, req);
    } catch (e) {
      if (e instanceof NothingToCancel) {
        return this.answer(
          cmd,
          RC.NOT_FOUND,
          `Cancel command failed: No resources found for '${req.target}'`,
        );
      }
      await this.status(
        cmd,
        "FAILED",
        `An error occurred when attempting to delete resources related to ${req.target}: ${describeError(e)}`,
        req.target,
      );
      return this.answer(cmd, RC.FAILED, `Cancel command failed: ${describeError(e)}`);
    }
    const what = deleted.map((d) => `${d.kind} ${d.name}`).join(", ");
    this.log.info("action canceled", { target_action_id: req.target, cascade: req.cascade, deleted: what });
    await this.status(cmd, "SUCCEEDED", `Execution successfully cancelled... (deleted ${what})`, req.target);
    await this.answer(cmd, RC.OK, "Cancel command processed successfully", { deleted });
  }

  // --- sending -------------------------------------------------------------------------------

  private executorEvent(
    src: BaiEvent,
    payload: FetcherPayload,
    job: string,
    extras: Record<string, unknown>,
  ): BaiEvent<ExecutorPayload> {
    return derive<ExecutorPayload>(
      src,
      this.settings.topics.executor,
      {
        ...payload,
        job: { id: job, output: null, extras: { namespace: this.settings.namespace, ...extras } },
      },
      this.sender,
    );
  }

  private async sendExecutorEvent(out: BaiEvent<ExecutorPayload>): Promise<void> {
    if (this.settings.fault === "drop-executor-event") {
      const job = out.payload.job.id;
      this.log.warn("FAULT drop-executor-event: executor event not sent", { action_id: out.action_id, job });
      return;
    }
    await this.send(this.settings.topics.executor, out);
  }

  private async status(src: BaiEvent, status: Status, message: string, actionId?: string): Promise<void> {
    // As BAI: a status starts its own `visited` (the event it is about is in src_event).
    const out = derive<StatusPayload>(
      { ...src, visited: [] },
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
 * The target and cascade flag of a cancel: args `{ target_action_id, cascade }` (BAI's; also
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
 * Deletes what was made for `req.target` by label, as BAI does: every kind of CANCEL_KINDS labelled
 * `created-by=executor`, `client-id=<client>` and `action-id=<target>`; with `cascade` then also
 * those labelled `parent-action-id=<target>`. Another client's objects are not matched. Throws
 * NothingToCancel when nothing matched: without cascade, for the action; with cascade, for its
 * runs (BAI's semantics: a cascade answers "not found" while a schedule has no runs).
 */
export async function cancel(batch: BatchClient, clientId: string, req: CancelRequest): Promise<ObjectRef[]> {
  const mine = `${LABEL_CREATED_BY}=${CREATED_BY},${LABEL_CLIENT}=${clientId}`;
  const deleteAll = async (selector: string): Promise<ObjectRef[]> => {
    const refs: ObjectRef[] = [];
    // CronJobs first, so a schedule does not start a new run while its runs are deleted.
    for (const kind of ["CronJob", ...CANCEL_KINDS.filter((k) => k !== "CronJob")] as Kind[]) {
      for (const name of await batch.listNames(kind, selector)) refs.push({ kind, name });
    }
    const deleted: ObjectRef[] = [];
    for (const ref of refs) if (await batch.delete(ref)) deleted.push(ref);
    return deleted;
  };
  const own = await deleteAll(`${mine},${LABEL_ACTION}=${req.target}`);
  if (!req.cascade) {
    if (own.length === 0) throw new NothingToCancel(req.target);
    return own;
  }
  const runs = await deleteAll(`${mine},${LABEL_PARENT_ACTION}=${req.target}`);
  if (runs.length === 0) throw new NothingToCancel(req.target);
  return [...own, ...runs];
}
