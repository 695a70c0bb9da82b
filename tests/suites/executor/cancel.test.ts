// A running Job is canceled by a command on CMD_SUBMIT: the answer on CMD_RETURN is 0, the action
// is CANCELED, and the Job and its pod are gone (BAI's cancel test).
import { expect } from "chai";
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
  it("cancels a running job: CMD_RETURN 0, status CANCELED, Job and pod gone", async () => {
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
        predicate: statusOf(run.action_id, "CANCELED"),
        description: "status CANCELED",
      },
    ]);
    expect(answer.payload.return_code, answer.payload.message).to.equal(0);
    expect(canceled.action_id).to.equal(run.action_id);

    await k.waitFor("job", byAction(run.action_id), "gone");
    await k.waitFor("pod", byAction(run.action_id), "gone", { timeoutMs: 45_000 });
  });
});
