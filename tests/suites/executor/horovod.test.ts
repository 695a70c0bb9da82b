// BAI's horovod strategy: a descriptor with `strategy = "horovod"` and `[hardware.distributed]`
// becomes an MPIJob (kubeflow.org/v1) `b-<lower(action_id)>` with BAI's labels, one launcher and
// `num_instances` workers, reported as any run (SUCCEEDED about the executor event, and the executor
// event). The BAI profile installs the MPIJob CRD without its operator on stage local: the object
// only exists, so the test checks it and its labels, and cancels it in a finally (a cancel deletes
// MPIJobs by label, as BAI's does). Where the cluster serves no MPIJob (a shared cluster whose
// config names no CRD), the executor cannot create one and says so: status ERROR naming it.
import { expect } from "chai";
import type { KubernetesObject } from "@kubernetes/client-node";
import { byAction, harness, kube } from "@inception/harness";
import {
  bai,
  CommandResponseEvent,
  ExecutorEvent,
  forAction,
  responseTo,
  statusOf,
  StatusEvent,
} from "@inception/harness/profiles/bai";
import { benchmark } from "./support";

const h = harness(bai);

type MpiJob = KubernetesObject & {
  spec: { mpiReplicaSpecs: Record<"Launcher" | "Worker", { replicas: number }> };
};

describe("executor: horovod benchmark", () => {
  it("creates an MPIJob with BAI's labels, one launcher and a worker per instance, and reports it", async () => {
    const k = kube();
    const run = bai.events.fetcher(
      benchmark({
        command: "echo horovod",
        strategy: "horovod",
        labels: { team: "inception" },
        extra: { hardware: { distributed: { num_instances: 2 } } },
      }),
    );
    const name = `b-${run.action_id.toLowerCase()}`;

    if (!(await k.serves("mpijob"))) {
      await h.send(h.topics.fetcher, run);
      const error = await h.waitFor<StatusEvent>(h.topics.status, statusOf(run.action_id, "ERROR"), {
        description: "status ERROR (this cluster serves no MPIJob)",
      });
      expect(error.payload.message).to.contain(`could not create MPIJob ${name}`);
      return;
    }

    await h.send(h.topics.fetcher, run);
    try {
      const [executed, succeeded] = await h.waitForAll<[ExecutorEvent, StatusEvent]>([
        { topic: h.topics.executor, predicate: forAction(run.action_id), description: "executor event" },
        {
          topic: h.topics.status,
          predicate: statusOf(run.action_id, "SUCCEEDED"),
          description: "status SUCCEEDED",
        },
      ]);
      expect(executed.payload.job.id).to.equal(name);
      expect((succeeded.payload.src_event as ExecutorEvent).payload.job.id).to.equal(name);

      // The executor reports only after creating it: it exists by now.
      const [mpijob] = await k.waitFor<MpiJob>("mpijob", byAction(run.action_id), "exists", {
        timeoutMs: 1_000,
      });
      expect(mpijob.metadata?.name).to.equal(name);
      expect(mpijob.metadata?.labels).to.include({
        app: "benchmark-ai",
        "action-id": run.action_id,
        "client-id": run.client_id,
        "created-by": "executor",
        team: "inception",
      });
      expect(mpijob.spec.mpiReplicaSpecs.Launcher.replicas).to.equal(1);
      expect(mpijob.spec.mpiReplicaSpecs.Worker.replicas).to.equal(2);
      // An MPIJob, not a Job: the operator (absent here) would make the pods.
      expect(await k.list("job", byAction(run.action_id))).to.deep.equal([]);
    } finally {
      const cancel = bai.events.command("cancel", { target_action_id: run.action_id });
      await h.send(h.topics.cmdSubmit, cancel);
      // Not asserted: when the test failed before anything was created, 1 ("nothing found") is right.
      await h.waitFor<CommandResponseEvent>(h.topics.cmdReturn, responseTo(cancel), {
        description: "the clean-up cancel's answer",
      });
      await k.waitFor("mpijob", byAction(run.action_id), "gone");
    }
  });
});
