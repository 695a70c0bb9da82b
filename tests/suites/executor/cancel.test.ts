// A running Job is canceled by a command on CMD_SUBMIT (BAI's cancel test): status SUCCEEDED
// "Execution successfully cancelled..." for the action, CMD_RETURN 0, the Job and its pod gone.
// And what BAI answers where there is nothing of the client's to cancel: return code 1.
import { expect } from "chai";
import type { V1Job } from "@kubernetes/client-node";
import { byAction, harness, kube } from "@inception/harness";
import {
  bai,
  CommandResponseEvent,
  responseTo,
  statusOf,
  StatusEvent,
} from "@inception/harness/profiles/bai";
import { benchmark, POD_TIMEOUT_MS, SLEEP_60 } from "./support";

const h = harness(bai);

describe("executor: cancel", () => {
  it("cancels a running job: SUCCEEDED for the action, CMD_RETURN 0, Job and pod gone", async () => {
    const k = kube();
    const run = bai.events.fetcher(benchmark({ command: SLEEP_60 }));
    await h.send(h.topics.fetcher, run);
    await k.waitFor("pod", byAction(run.action_id), "running", { timeoutMs: POD_TIMEOUT_MS });

    const cancel = bai.events.command("cancel", { target_action_id: run.action_id });
    await h.send(h.topics.cmdSubmit, cancel);
    const [answer, canceled] = await h.waitForAll<[CommandResponseEvent, StatusEvent]>([
      { topic: h.topics.cmdReturn, predicate: responseTo(cancel), description: "the cancel's answer" },
      {
        topic: h.topics.status,
        predicate: (e) =>
          statusOf(run.action_id, "SUCCEEDED")(e) &&
          /^Execution successfully cancelled/.test((e as StatusEvent).payload.message),
        description: "status SUCCEEDED: Execution successfully cancelled...",
      },
    ]);
    expect(answer.payload.return_code, answer.payload.message).to.equal(0);
    expect(canceled.action_id).to.equal(run.action_id);

    await k.waitFor("job", byAction(run.action_id), "gone");
    await k.waitFor("pod", byAction(run.action_id), "gone", { timeoutMs: 45_000 });
  });

  it("cancel of an action that does not exist: CMD_RETURN 1", async () => {
    const cancel = bai.events.command("cancel", {
      target_action_id: `${bai.events.fetcher().action_id}-none`,
    });
    await h.send(h.topics.cmdSubmit, cancel);
    const answer = await h.waitFor<CommandResponseEvent>(h.topics.cmdReturn, responseTo(cancel), {
      description: "the cancel's answer",
    });
    expect(answer.payload.return_code, answer.payload.message).to.equal(1);
    expect(answer.payload.message).to.match(/No resources found/);
  });

  it("cancel by another client: CMD_RETURN 1 and the Job stays", async () => {
    const k = kube();
    const run = bai.events.fetcher(benchmark({ command: SLEEP_60 }));
    await h.send(h.topics.fetcher, run);
    await k.waitFor<V1Job>("job", byAction(run.action_id), "exists");

    const foreign = bai.events.command(
      "cancel",
      { target_action_id: run.action_id },
      { clientId: `other-${run.client_id}`.slice(0, 63) },
    );
    await h.send(h.topics.cmdSubmit, foreign);
    const answer = await h.waitFor<CommandResponseEvent>(h.topics.cmdReturn, responseTo(foreign), {
      description: "the other client's cancel answer",
    });
    expect(answer.payload.return_code, answer.payload.message).to.equal(1);
    expect(await k.list("job", byAction(run.action_id))).to.have.length(1);

    // The owner's cancel still works (and leaves nothing running after the test).
    const own = bai.events.command("cancel", { target_action_id: run.action_id });
    await h.send(h.topics.cmdSubmit, own);
    const ok = await h.waitFor<CommandResponseEvent>(h.topics.cmdReturn, responseTo(own), {
      description: "the owner's cancel answer",
    });
    expect(ok.payload.return_code, ok.payload.message).to.equal(0);
    await k.waitFor("job", byAction(run.action_id), "gone");
  });
});
