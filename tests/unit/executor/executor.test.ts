/** The executor's logic with a fake Kubernetes API and a recording publisher. */
import { expect } from "chai";
import type { V1Job } from "@kubernetes/client-node";
import { ApiException } from "@kubernetes/client-node";
import { CommandResponseEvent, EventBuilder, ExecutorEvent, StatusEvent } from "../../harness/profiles/bai";
import { DEFAULT_TOPICS } from "../../../services/executor/src/config";
import {
  Executor,
  ExecutorSettings,
  PublishError,
  RC,
  parseCancelArgs,
} from "../../../services/executor/src/executor";
import {
  ANNOTATION_SOURCE_EVENT,
  MpiJob,
  idProblems,
  renderCronJob,
  renderJob,
} from "../../../services/executor/src/jobs";
import { memoryLogger } from "../../../services/executor/src/log";
import { FakeBatch, RecordingPublisher } from "./fakes";

const T = DEFAULT_TOPICS;
// BAI's minimal descriptor: every field its parser requires.
const BAI_MIN = `spec_version = "0.1.0"\n[hardware]\ninstance_type = "local"\n[env]\ndocker_image = "busybox:1.36"\n[ml]\nbenchmark_code = "echo hi"\n`;
const RUN = `${BAI_MIN}[info]\ndescription = "a run"\n`;
const SCHEDULED = `${BAI_MIN}[info]\ndescription = "a schedule"\nscheduling = "*/1 * * * *"\n`;
const D = { strategy: "single_node", labels: {}, instances: 2 } as const;

function setup(settings: Partial<ExecutorSettings> = {}) {
  const batch = new FakeBatch();
  const pub = new RecordingPublisher();
  const log = memoryLogger();
  const executor = new Executor(
    batch,
    pub,
    { namespace: "ns", nodeSelector: {}, topics: { ...T }, ...settings },
    { svc: "executor", version: "test" },
    log,
  );
  return { batch, pub, log, executor, events: new EventBuilder() };
}

const bytes = (e: unknown): Buffer => Buffer.from(JSON.stringify(e));
const statuses = (pub: RecordingPublisher) => pub.on(T.status).map((e) => (e as StatusEvent).payload);

describe("executor: job rendering", () => {
  const events = new EventBuilder();

  it("renders Job b-<action_id> with the labels the suite and cancel select by", () => {
    const e = events.fetcher({ actionId: "a-1", clientId: "c-1" });
    const job = renderJob(
      e,
      { ...D, image: "img:1", command: ["sh", "-c", "x"], env: { A: "1" }, instanceType: "local" },
      { namespace: "ns", nodeSelector: { "node.type": "bai-worker" }, ttlSecondsAfterFinished: 600 },
    );
    const labels = { app: "benchmark-ai", "action-id": "a-1", "client-id": "c-1", "created-by": "executor" };
    expect(job.metadata).to.deep.equal({ name: "b-a-1", namespace: "ns", labels });
    expect(job.spec).to.deep.include({ backoffLimit: 0, ttlSecondsAfterFinished: 600 });
    const pod = job.spec!.template;
    expect(pod.metadata!.labels).to.deep.equal(labels);
    expect(pod.spec).to.deep.include({
      restartPolicy: "Never",
      nodeSelector: { "node.type": "bai-worker", "node.kubernetes.io/instance-type": "local" },
    });
    expect(pod.spec!.containers[0]).to.deep.include({
      name: "benchmark",
      image: "img:1",
      imagePullPolicy: "IfNotPresent",
      command: ["sh", "-c", "x"],
      env: [{ name: "A", value: "1" }],
    });
  });

  it("runs every benchmark restricted: non-root, no escalation, no capabilities, limits and a deadline", () => {
    const e = events.fetcher({ actionId: "a-r" });
    for (const spec of [
      renderJob(e, { ...D, image: "i", env: {} }, { namespace: "ns" }).spec!,
      renderCronJob(e, { ...D, image: "i", schedule: "@hourly", env: {} }, { namespace: "ns" }, "{}").spec!
        .jobTemplate.spec!,
    ]) {
      expect(spec.activeDeadlineSeconds).to.equal(3600);
      const pod = spec.template.spec!;
      expect(pod.securityContext).to.deep.equal({
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 1000,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(pod.automountServiceAccountToken).to.equal(false);
      expect(pod.containers[0].securityContext).to.deep.equal({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        runAsNonRoot: true,
      });
      expect(pod.containers[0].resources).to.deep.equal({
        requests: { cpu: "100m", memory: "128Mi" },
        limits: { cpu: "1", memory: "512Mi" },
      });
    }
  });

  it("labels a run with a parent action with parent-action-id too", () => {
    const job = renderJob(
      events.fetcher({ actionId: "a-2", parentActionId: "a-p" }),
      { ...D, image: "i", env: {} },
      { namespace: "n" },
    );
    expect(job.metadata!.labels).to.include({ "action-id": "a-2", "parent-action-id": "a-p" });
    expect(job.spec!.template.spec!.containers[0]).to.not.have.property("command");
  });

  it("renders a CronJob whose runs carry parent-action-id and the source event", () => {
    const e = events.fetcher({ actionId: "a-3", clientId: "c-3" });
    const cj = renderCronJob(
      e,
      { ...D, image: "i", schedule: "*/1 * * * *", env: {} },
      { namespace: "ns" },
      "{src}",
    );
    expect(cj.metadata).to.deep.equal({
      name: "b-a-3",
      namespace: "ns",
      labels: { app: "benchmark-ai", "action-id": "a-3", "client-id": "c-3", "created-by": "executor" },
    });
    expect(cj.spec).to.deep.include({ schedule: "*/1 * * * *", concurrencyPolicy: "Forbid" });
    const runLabels = {
      app: "benchmark-ai",
      "parent-action-id": "a-3",
      "client-id": "c-3",
      "created-by": "executor",
    };
    expect(cj.spec!.jobTemplate.metadata).to.deep.equal({
      labels: runLabels,
      annotations: { [ANNOTATION_SOURCE_EVENT]: "{src}" },
    });
    expect(cj.spec!.jobTemplate.spec!.template.metadata!.labels).to.deep.equal(runLabels);
  });

  it("refuses ids that cannot name objects or be labels", () => {
    expect(idProblems(events.fetcher({ actionId: "a-ok", clientId: "c-ok" }), false)).to.deep.equal([]);
    expect(idProblems(events.fetcher({ actionId: "A_Upper" }), false)[0]).to.match(/cannot name a Job/);
    const long = "a".repeat(55);
    expect(idProblems(events.fetcher({ actionId: long }), false)).to.deep.equal([]);
    expect(idProblems(events.fetcher({ actionId: long }), true)[0]).to.match(
      /cannot name a CronJob .* at most 52/,
    );
    expect(idProblems(events.fetcher({ actionId: "a", clientId: "bad client" }), false)[0]).to.match(
      /client_id/,
    );
    // b--a names a Job, but -a is no label value (the API would refuse the Job).
    expect(idProblems(events.fetcher({ actionId: "-a" }), false)[0]).to.match(
      /-a" is not a valid label value/,
    );
  });
});

describe("executor: fetcher events", () => {
  it("PENDING → Job b-<action_id> → executor event with the job id → SUCCEEDED", async () => {
    const { batch, pub, executor, events } = setup();
    const e = events.fetcher({ descriptor: RUN });
    await executor.onFetcherMessage(bytes(e));
    expect(pub.summary()).to.deep.equal([`${T.status}:PENDING`, `${T.status}:SUCCEEDED`, T.executor]);
    expect(batch.jobs.map((j) => j.metadata!.name)).to.deep.equal([`b-${e.action_id}`]);
    const out = pub.on(T.executor)[0] as ExecutorEvent;
    expect(out).to.include({ action_id: e.action_id, client_id: e.client_id, type: T.executor });
    expect(out.payload.job).to.deep.equal({
      id: `b-${e.action_id}`,
      output: null,
      extras: { namespace: "ns" },
    });
    expect(out.payload.toml).to.deep.equal(e.payload.toml);
    const done = pub.on(T.status)[1] as StatusEvent;
    expect(done.action_id).to.equal(e.action_id);
    // As BAI: SUCCEEDED is about the executor event, and a status starts its own visited.
    expect(done.payload.src_event).to.deep.equal(out);
    expect(done.visited.map((v) => v.svc)).to.deep.equal(["executor"]);
    expect(out.visited.map((v) => v.svc)).to.deep.equal([...e.visited.map((v) => v.svc), "executor"]);
  });

  it("horovod: an MPIJob b-<id> with a launcher and num_instances workers, labelled like a Job", async () => {
    const { batch, pub, executor, events } = setup();
    const doc = RUN.replace(
      'instance_type = "local"',
      'instance_type = "local"\nstrategy = "horovod"\n[hardware.distributed]\nnum_instances = 3',
    );
    const e = events.fetcher({ descriptor: doc, actionId: "Hv-1" });
    await executor.onFetcherMessage(bytes(e));
    expect(pub.summary()).to.deep.equal([`${T.status}:PENDING`, `${T.status}:SUCCEEDED`, T.executor]);
    expect(batch.jobs).to.have.length(0);
    const [mpi] = batch.others;
    expect(mpi).to.deep.include({ kind: "MPIJob" });
    const body = mpi.body as {
      metadata: { name: string; labels: Record<string, string> };
      spec: MpiJob["spec"];
    };
    expect(body.metadata.name).to.equal("b-hv-1");
    expect(body.metadata.labels).to.include({
      app: "benchmark-ai",
      "action-id": "Hv-1",
      "created-by": "executor",
    });
    expect(body.spec.mpiReplicaSpecs.Launcher.replicas).to.equal(1);
    expect(body.spec.mpiReplicaSpecs.Worker.replicas).to.equal(3);
  });

  it("inference: server Job is-b-<id>, its Service, then the client Job b-<id> told where the server is", async () => {
    const { batch, pub, executor, events } = setup();
    const doc =
      RUN.replace('instance_type = "local"', 'instance_type = "local"\nstrategy = "inference"') +
      '[server.hardware]\ninstance_type = "local"\n[server.env]\ndocker_image = "srv:1"\nports = [8080]\nstart_command = "serve"\n';
    const e = events.fetcher({ descriptor: doc, actionId: "inf-1" });
    await executor.onFetcherMessage(bytes(e));
    expect(pub.summary()).to.deep.equal([`${T.status}:PENDING`, `${T.status}:SUCCEEDED`, T.executor]);
    expect(batch.calls.filter((c) => c.startsWith("create"))).to.deep.equal([
      "createJob is-b-inf-1",
      "create Service is-b-inf-1",
      "createJob b-inf-1",
    ]);
    const [server, client] = batch.jobs;
    expect(server.spec!.template.spec!.containers[0]).to.deep.include({
      image: "srv:1",
      command: ["/bin/sh", "-c", "serve"],
    });
    expect(server.spec!.template.metadata!.labels).to.include({ "inference-server-name": "is-b-inf-1" });
    expect(client.spec!.template.spec!.containers[0].env).to.deep.include.members([
      { name: "INFERENCE_SERVER_HOST", value: "is-b-inf-1.ns" },
      { name: "INFERENCE_SERVER_PORT", value: "8080" },
    ]);
    const service = batch.others[0].body as { spec: { selector: object; ports: { port: number }[] } };
    expect(service.spec.selector).to.deep.equal({ "inference-server-name": "is-b-inf-1" });
    expect(service.spec.ports.map((p) => p.port)).to.deep.equal([8080]);
    expect((pub.on(T.executor)[0] as ExecutorEvent).payload.job.id).to.equal("b-inf-1");
  });

  it("an action id in upper case: the Job is b- + the id in lower case, labels keep the id", async () => {
    const { batch, executor, events } = setup();
    await executor.onFetcherMessage(bytes(events.fetcher({ descriptor: RUN, actionId: "AbC-1" })));
    expect(batch.jobs[0].metadata).to.deep.include({ name: "b-abc-1" });
    expect(batch.jobs[0].metadata!.labels).to.include({ "action-id": "AbC-1" });
  });

  it("another execution engine's event: nothing sent, nothing created", async () => {
    const { batch, pub, executor, events } = setup();
    const doc = RUN.replace("[info]\n", '[info]\nexecution_engine = "aws.sagemaker"\n');
    await executor.onFetcherMessage(bytes(events.fetcher({ descriptor: doc })));
    expect(pub.sent).to.deep.equal([]);
    expect(batch.calls).to.deep.equal([]);
    // "kubernetes" is this executor's other name (as BAI registers it), but not a value BAI's schema allows.
    await executor.onFetcherMessage(
      bytes(events.fetcher({ descriptor: doc.replace("aws.sagemaker", "kubernetes") })),
    );
    expect(pub.summary()).to.deep.equal([`${T.status}:PENDING`, `${T.status}:ERROR`]);
  });

  it("[info.labels] label every object made for the action", async () => {
    const { batch, executor, events } = setup();
    await executor.onFetcherMessage(
      bytes(events.fetcher({ descriptor: `${RUN}[info.labels]\nteam = "perf"\n` })),
    );
    expect(batch.jobs[0].metadata!.labels).to.include({ team: "perf", app: "benchmark-ai" });
    expect(batch.jobs[0].spec!.template.metadata!.labels).to.include({ team: "perf" });
  });

  it("with EXECUTOR_FAULT=drop-executor-event: the job and SUCCEEDED, but no executor event", async () => {
    const { batch, pub, log, executor, events } = setup({ fault: "drop-executor-event" });
    await executor.onFetcherMessage(bytes(events.fetcher({ descriptor: RUN })));
    expect(pub.summary()).to.deep.equal([`${T.status}:PENDING`, `${T.status}:SUCCEEDED`]);
    expect(batch.jobs).to.have.length(1);
    expect(log.lines.some((l) => String(l.msg).includes("FAULT drop-executor-event"))).to.equal(true);
  });

  it("a schedule: a CronJob, SUCCEEDED, and no executor event for the schedule itself", async () => {
    const { batch, pub, executor, events } = setup();
    const e = events.fetcher({ descriptor: SCHEDULED });
    await executor.onFetcherMessage(bytes(e));
    expect(pub.summary()).to.deep.equal([`${T.status}:PENDING`, `${T.status}:SUCCEEDED`]);
    expect(batch.jobs).to.have.length(0);
    expect(batch.cronJobs.map((c) => c.metadata!.name)).to.deep.equal([`b-${e.action_id}`]);
    expect(statuses(pub)[1].message).to.equal(
      `Scheduled benchmark successfully submitted with job id b-${e.action_id}`,
    );
  });

  it("reports each run of a schedule: executor event and SUCCEEDED with parent_action_id", async () => {
    const { batch, pub, executor, events } = setup();
    const e = events.fetcher({ descriptor: SCHEDULED });
    await executor.onFetcherMessage(bytes(e));
    pub.sent = [];
    const tpl = batch.cronJobs[0].spec!.jobTemplate;
    const run: V1Job = {
      metadata: { ...tpl.metadata, name: `b-${e.action_id}-29412345`, uid: "u1" },
      spec: tpl.spec,
    };
    expect(await executor.onScheduledRun(run)).to.equal(true);
    expect(pub.summary()).to.deep.equal([`${T.status}:SUCCEEDED`, T.executor]);
    for (const out of pub.sent.map((s) => s.event)) {
      expect(out).to.include({
        action_id: `${e.action_id}-29412345`,
        parent_action_id: e.action_id,
        client_id: e.client_id,
      });
    }
    expect((pub.on(T.executor)[0] as ExecutorEvent).payload.job.id).to.equal(`b-${e.action_id}-29412345`);
    // Not a run: a plain job, or one made by someone else.
    expect(
      await executor.onScheduledRun({ metadata: { name: "b-x", labels: { "created-by": "executor" } } }),
    ).to.equal(false);
    expect(
      await executor.onScheduledRun({ metadata: { ...run.metadata, labels: { "parent-action-id": "p" } } }),
    ).to.equal(false);
  });

  it("a redelivered event (the Job exists): answers again, creates nothing new", async () => {
    const { batch, pub, executor, events } = setup();
    const e = events.fetcher({ descriptor: RUN });
    await executor.onFetcherMessage(bytes(e));
    await executor.onFetcherMessage(bytes(e));
    expect(batch.jobs).to.have.length(1);
    expect(pub.summary().filter((s) => s.endsWith("SUCCEEDED"))).to.have.length(2);
  });

  for (const [what, build, reason] of [
    ["no descriptor", (b: EventBuilder) => b.fetcher(), /neither contents nor doc/],
    [
      "a descriptor without image",
      (b: EventBuilder) => b.fetcher({ descriptor: "[ml]\nbenchmark_code='x'" }),
      /spec_version: missing value for a required field/,
    ],
    ["TOML it cannot read", (b: EventBuilder) => b.fetcher({ descriptor: "[ml\n" }), /TOML line 1/],
    [
      "an action id that cannot name a Job",
      (b: EventBuilder) => b.fetcher({ descriptor: RUN, actionId: "Not_A_Name" }),
      /cannot name a Job/,
    ],
  ] as const) {
    it(`${what}: PENDING then ERROR with the reason, nothing created`, async () => {
      const { batch, pub, executor, events } = setup();
      await executor.onFetcherMessage(bytes(build(events)));
      expect(pub.summary()).to.deep.equal([`${T.status}:PENDING`, `${T.status}:ERROR`]);
      expect(statuses(pub)[1].message).to.match(reason);
      expect(batch.jobs).to.have.length(0);
    });
  }

  it("an envelope with an action id but no payload: ERROR", async () => {
    const { pub, executor } = setup();
    await executor.onFetcherMessage(JSON.stringify({ action_id: "a-1", message_id: "m", client_id: "c" }));
    expect(pub.summary()).to.deep.equal([`${T.status}:ERROR`]);
    expect(statuses(pub)[0].message).to.match(/payload: must be an object/);
  });

  it("garbage it cannot attribute: logged and dropped, nothing sent, no throw", async () => {
    const { pub, log, executor } = setup();
    for (const v of [null, "", "not json", "42", JSON.stringify({ payload: {} })])
      await executor.onFetcherMessage(v);
    expect(pub.sent).to.deep.equal([]);
    expect(log.lines.filter((l) => String(l.msg).includes("dropped"))).to.have.length(5);
  });

  it("the API refusing the Job: ERROR with the API's message", async () => {
    const { batch, pub, executor, events } = setup();
    batch.failWith = new ApiException(
      403,
      "Forbidden",
      JSON.stringify({ message: "jobs.batch is forbidden" }),
      {},
    );
    await executor.onFetcherMessage(bytes(events.fetcher({ descriptor: RUN })));
    expect(pub.summary()).to.deep.equal([`${T.status}:PENDING`, `${T.status}:ERROR`]);
    expect(statuses(pub)[1].message).to.match(
      /could not create Job b-.*: Kubernetes API 403: jobs.batch is forbidden/,
    );
  });

  it("Kafka refusing an answer: PublishError (the message is handled again)", async () => {
    const { pub, executor, events } = setup();
    pub.failWith = new Error("broker down");
    let err: unknown;
    await executor.onFetcherMessage(bytes(events.fetcher({ descriptor: RUN }))).catch((e) => (err = e));
    expect(err).to.be.instanceOf(PublishError);
    expect((err as Error).message).to.equal(`could not send to ${T.status}: broker down`);
  });
});

describe("executor: cancel", () => {
  async function withRuns() {
    const s = setup();
    const single = s.events.fetcher({ descriptor: RUN });
    const sched = s.events.fetcher({ descriptor: SCHEDULED });
    await s.executor.onFetcherMessage(bytes(single));
    await s.executor.onFetcherMessage(bytes(sched));
    // Two runs the CronJob made.
    const tpl = s.batch.cronJobs[0].spec!.jobTemplate;
    for (const n of ["1", "2"])
      s.batch.jobs.push({ metadata: { ...tpl.metadata, name: `b-${sched.action_id}-${n}` } });
    s.pub.sent = [];
    return { ...s, single, sched };
  }

  const answer = (pub: RecordingPublisher) => (pub.on(T.cmdReturn)[0] as CommandResponseEvent).payload;

  it("deletes the action's Job: SUCCEEDED for the action, then CMD_RETURN 0 (BAI's words)", async () => {
    const { batch, pub, executor, events, single } = await withRuns();
    const cmd = events.command(
      "cancel",
      { target_action_id: single.action_id },
      { clientId: single.client_id },
    );
    await executor.onCommandMessage(bytes(cmd));
    expect(pub.summary()).to.deep.equal([`${T.status}:SUCCEEDED`, `${T.cmdReturn}:rc=0`]);
    expect(answer(pub)).to.deep.include({
      return_code: 0,
      message: "Cancel command processed successfully",
      cmd_submit: cmd,
    });
    expect(answer(pub).return_value).to.deep.equal({
      deleted: [{ kind: "Job", name: `b-${single.action_id}` }],
    });
    const done = pub.on(T.status)[0] as StatusEvent;
    expect(done.action_id).to.equal(single.action_id);
    expect(done.payload.message).to.match(/^Execution successfully cancelled\.\.\./);
    expect(batch.jobs.map((j) => j.metadata!.name)).to.not.include(`b-${single.action_id}`);
    expect(batch.jobs).to.have.length(2);
  });

  it("deletes every kind BAI deletes by label: MPIJobs, ConfigMaps, RoleBindings, Services too", async () => {
    const { batch, pub, executor, events, single } = await withRuns();
    const labels = { "action-id": single.action_id, "client-id": single.client_id, "created-by": "executor" };
    for (const kind of ["MPIJob", "ConfigMap", "RoleBinding", "Service"] as const)
      batch.others.push({ kind, metadata: { name: `b-${single.action_id}`, labels } });
    batch.others.push({
      kind: "Service",
      metadata: { name: "other", labels: { ...labels, "action-id": "x" } },
    });
    await executor.onCommandMessage(
      bytes(events.command("cancel", [single.action_id], { clientId: single.client_id })),
    );
    expect(answer(pub).return_code).to.equal(0);
    expect(batch.others.map((o) => o.metadata.name)).to.deep.equal(["other"]);
  });

  it("scoped to the command's client: another client's cancel finds nothing (1) and deletes nothing", async () => {
    const { batch, pub, executor, events, single } = await withRuns();
    await executor.onCommandMessage(
      bytes(events.command("cancel", { target_action_id: single.action_id }, { clientId: "someone-else" })),
    );
    expect(pub.summary()).to.deep.equal([`${T.cmdReturn}:rc=1`]);
    expect(answer(pub).message).to.equal(
      `Cancel command failed: No resources found for '${single.action_id}'`,
    );
    expect(batch.jobs).to.have.length(3);
  });

  it("without cascade, a schedule's CronJob goes and its runs stay", async () => {
    const { batch, pub, executor, events, sched } = await withRuns();
    await executor.onCommandMessage(
      bytes(events.command("cancel", { target_action_id: sched.action_id }, { clientId: sched.client_id })),
    );
    expect(answer(pub).return_code).to.equal(0);
    expect(batch.cronJobs).to.have.length(0);
    expect(batch.jobs).to.have.length(3);
  });

  it("with cascade, the runs (parent-action-id) go too", async () => {
    const { batch, pub, executor, events, sched, single } = await withRuns();
    await executor.onCommandMessage(
      bytes(
        events.command(
          "cancel",
          { target_action_id: sched.action_id, cascade: "true" },
          { clientId: sched.client_id },
        ),
      ),
    );
    expect(answer(pub).return_code).to.equal(0);
    expect(pub.on(T.status)[0].payload).to.deep.include({ status: "SUCCEEDED" });
    expect(batch.cronJobs).to.have.length(0);
    expect(batch.jobs.map((j) => j.metadata!.name)).to.deep.equal([`b-${single.action_id}`]);
  });

  it("with cascade and no runs yet: BAI's answer 1 (its runs are what a cascade must find)", async () => {
    const { batch, pub, executor, events, sched } = await withRuns();
    batch.jobs = batch.jobs.filter((j) => !j.metadata?.labels?.["parent-action-id"]);
    await executor.onCommandMessage(
      bytes(events.command("cancel", [sched.action_id, "--cascade"], { clientId: sched.client_id })),
    );
    expect(pub.summary()).to.deep.equal([`${T.cmdReturn}:rc=1`]);
    expect(batch.cronJobs).to.have.length(0);
  });

  it("nothing to cancel: return code 1 with BAI's message, no status", async () => {
    const { pub, executor, events } = await withRuns();
    await executor.onCommandMessage(bytes(events.command("cancel", { target_action_id: "a-unknown" })));
    expect(pub.summary()).to.deep.equal([`${T.cmdReturn}:rc=${RC.NOT_FOUND}`]);
    expect(answer(pub).message).to.equal("Cancel command failed: No resources found for 'a-unknown'");
  });

  it("an unknown command is not answered (BAI leaves it to another service)", async () => {
    const { pub, log, executor, events } = await withRuns();
    await executor.onCommandMessage(bytes(events.command("reboot")));
    expect(pub.sent).to.deep.equal([]);
    expect(log.lines.some((l) => String(l.msg).includes("dropped unanswered"))).to.equal(true);
  });

  it("bad arguments: 2; API failures: FAILED for the target and 1", async () => {
    const { batch, pub, executor, events } = await withRuns();
    await executor.onCommandMessage(bytes(events.command("cancel")));
    await executor.onCommandMessage(bytes(events.command("cancel", { target_action_id: "x y" })));
    batch.failWith = new ApiException(500, "boom", "{}", {});
    await executor.onCommandMessage(bytes(events.command("cancel", ["a-1"])));
    await executor.onCommandMessage(
      JSON.stringify({ action_id: "a-9", message_id: "m", client_id: "c", payload: {} }),
    );
    expect(pub.summary()).to.deep.equal([
      `${T.cmdReturn}:rc=2`,
      `${T.cmdReturn}:rc=2`,
      `${T.status}:FAILED`,
      `${T.cmdReturn}:rc=1`,
      `${T.cmdReturn}:rc=2`,
    ]);
    const messages = pub.on(T.cmdReturn).map((e) => (e as CommandResponseEvent).payload.message);
    expect(messages[0]).to.match(/Cancel command failed: Invalid args cancel needs the action id/);
    expect(messages[2]).to.match(/Cancel command failed: Kubernetes API 500/);
    expect(messages[3]).to.match(/payload.command: must be a non-empty string/);
    expect(pub.on(T.status)[0].action_id).to.equal("a-1");
  });

  it("reads BAI's args and a list form", () => {
    expect(
      parseCancelArgs({ command: "cancel", args: { target_action_id: "a", cascade: true } }),
    ).to.deep.equal({ target: "a", cascade: true });
    expect(parseCancelArgs({ command: "cancel", args: { action_id: "a" } })).to.deep.equal({
      target: "a",
      cascade: false,
    });
    expect(parseCancelArgs({ command: "cancel", args: ["a", "--cascade"] })).to.deep.equal({
      target: "a",
      cascade: true,
    });
    expect(parseCancelArgs({ command: "cancel", args: ["a"] })).to.deep.equal({
      target: "a",
      cascade: false,
    });
  });
});
