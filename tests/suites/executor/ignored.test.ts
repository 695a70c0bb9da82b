// What BAI's executor leaves to others, without a word: a command it does not have, and a
// benchmark for another execution engine. "Not answered" is checked without a clock: each is
// followed by an event of the same client (same Kafka key, so the same partition, handled in
// order); once the follow-up is answered, the first was handled too.
import { expect } from "chai";
import { byAction, harness, kube } from "@inception/harness";
import { bai, CommandResponseEvent, responseTo, statusOf } from "@inception/harness/profiles/bai";
import { benchmark } from "./support";

const h = harness(bai);

describe("executor: what it leaves to other services", () => {
  it("an unknown command is not answered", async () => {
    const unknown = bai.events.command("reboot", null);
    const after = bai.events.command("cancel", { target_action_id: `${unknown.action_id}-none` });
    await h.send(h.topics.cmdSubmit, unknown);
    await h.send(h.topics.cmdSubmit, after);
    await h.waitFor<CommandResponseEvent>(h.topics.cmdReturn, responseTo(after), {
      description: "the follow-up cancel's answer",
    });
    const answers = h
      .timeline(unknown.action_id)
      .filter((t) => t.direction === "received" && t.topic === h.topics.cmdReturn);
    expect(answers, "answers to the unknown command").to.deep.equal([]);
  });

  it("a benchmark for another execution engine: no status, nothing created", async () => {
    const k = kube();
    const other = bai.events.fetcher(benchmark({ command: "echo elsewhere", engine: "aws.sagemaker" }));
    const after = bai.events.fetcher(benchmark({ command: "echo here" }));
    await h.send(h.topics.fetcher, other);
    await h.send(h.topics.fetcher, after);
    await h.waitFor(h.topics.status, statusOf(after.action_id, "SUCCEEDED"), {
      description: "the follow-up run's SUCCEEDED",
    });
    // The harness reads the fetcher topic too: its own request coming back is not an answer.
    const answers = h
      .timeline(other.action_id)
      .filter((t) => t.direction === "received" && t.topic !== h.topics.fetcher);
    expect(answers, "events about the other engine's benchmark").to.deep.equal([]);
    expect(await k.list("job", byAction(other.action_id))).to.deep.equal([]);
  });
});
