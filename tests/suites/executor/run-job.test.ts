// A fetcher event becomes a Job `b-<lower(action_id)>` whose pod succeeds; the executor reports it
// with status SUCCEEDED about the executor event and the executor event itself (BAI's test_exec:
// the executor event and SUCCEEDED arrive, the pod succeeds).
import { expect } from "chai";
import type { V1Job } from "@kubernetes/client-node";
import { byAction, harness, kube } from "@inception/harness";
import { bai, ExecutorEvent, forAction, statusOf, StatusEvent } from "@inception/harness/profiles/bai";
import { benchmark, POD_TIMEOUT_MS } from "./support";

const h = harness(bai);

describe("executor: run a job", () => {
  it("creates the Job, reports it (SUCCEEDED about the executor event) and its pod succeeds", async () => {
    const k = kube();
    const run = bai.events.fetcher(
      benchmark({ command: "echo hello from the inception suite", labels: { team: "inception" } }),
    );
    await h.send(h.topics.fetcher, run);

    const [job] = await k.waitFor<V1Job>("job", byAction(run.action_id), "exists");
    expect(job.metadata?.name).to.equal(`b-${run.action_id.toLowerCase()}`);
    // BAI's labels, and the descriptor's [info.labels].
    expect(job.metadata?.labels).to.include({
      app: "benchmark-ai",
      "client-id": run.client_id,
      "created-by": "executor",
      team: "inception",
    });

    const [executed, succeeded] = await h.waitForAll<[ExecutorEvent, StatusEvent]>([
      { topic: h.topics.executor, predicate: forAction(run.action_id), description: "executor event" },
      {
        topic: h.topics.status,
        predicate: statusOf(run.action_id, "SUCCEEDED"),
        description: "status SUCCEEDED",
      },
    ]);
    expect(executed.payload.job.id).to.equal(`b-${run.action_id.toLowerCase()}`);
    expect(executed.client_id).to.equal(run.client_id);
    // As BAI: SUCCEEDED is about the executor event (it carries the job), and starts its own visited.
    const src = succeeded.payload.src_event as ExecutorEvent;
    expect(src.action_id).to.equal(run.action_id);
    expect(src.payload.job.id).to.equal(executed.payload.job.id);
    expect(succeeded.visited.map((v) => v.svc)).to.have.length(1);
    // As BAI: the executor keys what it sends by the client id.
    const keys = h
      .timeline(run.action_id)
      .filter((t) => t.direction === "received")
      .map((t) => t.key);
    expect(keys.length).to.be.greaterThan(0);
    expect(new Set(keys)).to.deep.equal(new Set([run.client_id]));
    // PENDING came first (it is in the harness' buffer by now).
    await h.waitFor(h.topics.status, statusOf(run.action_id, "PENDING"), {
      description: "status PENDING",
      timeoutMs: 1_000,
    });

    await k.waitFor("pod", byAction(run.action_id), "succeeded", { timeoutMs: POD_TIMEOUT_MS });
  });

  it("accepts an action id of any case: the Job is b- + the id in lower case", async () => {
    const k = kube();
    const base = bai.events.fetcher(benchmark({ command: "echo upper" }));
    const run = bai.events.fetcher({
      ...benchmark({ command: "echo upper" }),
      actionId: `Up${base.action_id}`,
    });
    await h.send(h.topics.fetcher, run);
    await h.waitFor(h.topics.status, statusOf(run.action_id, "SUCCEEDED"), {
      description: "status SUCCEEDED",
    });
    const [job] = await k.waitFor<V1Job>("job", byAction(run.action_id), "exists");
    expect(job.metadata?.name).to.equal(`b-up${base.action_id.toLowerCase()}`);
  });
});
