// A fetcher event becomes a Job `b-<action_id>` whose pod succeeds; the executor reports it with
// an executor event and status SUCCEEDED (BAI's run-job test: a fetcher event produced, a job run).
import { expect } from "chai";
import type { V1Job } from "@kubernetes/client-node";
import { byAction, harness, kube } from "@inception/harness";
import { bai, ExecutorEvent, forAction, statusOf, StatusEvent } from "@inception/harness/profiles/bai";
import { benchmark, POD_TIMEOUT_MS } from "./support";

const h = harness(bai);

describe("executor: run a job", () => {
  it("creates the Job, reports it (executor event + SUCCEEDED) and its pod succeeds", async () => {
    const k = kube();
    const run = bai.events.fetcher(benchmark({ command: "echo hello from the inception suite" }));
    await h.send(h.topics.fetcher, run);

    const [job] = await k.waitFor<V1Job>("job", byAction(run.action_id), "exists");
    expect(job.metadata?.name).to.equal(`b-${run.action_id}`);
    expect(job.metadata?.labels).to.include({ "client-id": run.client_id, "created-by": "executor" });

    const [executed, succeeded] = await h.waitForAll<[ExecutorEvent, StatusEvent]>([
      { topic: h.topics.executor, predicate: forAction(run.action_id), description: "executor event" },
      {
        topic: h.topics.status,
        predicate: statusOf(run.action_id, "SUCCEEDED"),
        description: "status SUCCEEDED",
      },
    ]);
    expect(executed.payload.job.id).to.equal(`b-${run.action_id}`);
    expect(executed.client_id).to.equal(run.client_id);
    expect(succeeded.payload.src_event?.action_id).to.equal(run.action_id);
    // PENDING came first (it is in the harness' buffer by now).
    await h.waitFor(h.topics.status, statusOf(run.action_id, "PENDING"), {
      description: "status PENDING",
      timeoutMs: 1_000,
    });

    await k.waitFor("pod", byAction(run.action_id), "succeeded", { timeoutMs: POD_TIMEOUT_MS });
  });
});
