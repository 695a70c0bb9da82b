// The BAI profile's wire format: envelope and payload keys, fresh ids, ids registered with the
// test, the ids and summaries it teaches the harness.
import { expect } from "chai";
import { currentTest } from "../harness";
import {
  bai,
  baiIds,
  baiProfile,
  baiSummary,
  baiTopics,
  EventBuilder,
  STATUSES,
  statusOf,
} from "../harness/profiles/bai";

describe("the BAI profile's events (the replaced system's wire format)", () => {
  const b = new EventBuilder();

  it("builds the envelope with snake_case keys, type = topic, fresh ids per event", () => {
    const one = b.fetcher({ descriptor: "[info]\n" });
    const two = b.fetcher();
    expect(Object.keys(one).sort()).to.deep.equal(
      [
        "action_id",
        "authenticated",
        "client_id",
        "client_username",
        "client_version",
        "message_id",
        "parent_action_id",
        "payload",
        "tstamp",
        "type",
        "visited",
      ].sort(),
    );
    expect(one.type).to.equal(baiTopics.fetcher);
    expect(one.action_id).to.not.equal(two.action_id);
    expect(one.message_id).to.not.equal(two.message_id);
    // One client per test, like one user: the test's id.
    expect(one.client_id).to.equal(two.client_id).and.equal(currentTest()!.id);
    expect(one.payload.toml.sha1).to.match(/^[0-9a-f]{40}$/);
    expect(Object.keys(one.payload).sort()).to.deep.equal(["datasets", "models", "scripts", "toml"]);
    expect(Object.keys(one.visited[0]).sort()).to.deep.equal(["svc", "tstamp", "version"]);
    expect(currentTest()!.ids).to.include(one.action_id).and.include(two.action_id);
  });

  it("executor, status and command events carry BAI's payloads", () => {
    const f = b.fetcher({
      datasets: [
        {
          src: "s3://data-pull/x",
          path: "/data/x",
          type: "FILE",
          status: "DONE",
          size_info: { total_size: 1, file_count: 1, max_size: 1 },
        },
      ],
    });
    const ex = b.executor(f, { id: "b-1", output: "out", extras: {} });
    expect(ex.type).to.equal("BAI_APP_EXECUTOR");
    expect(ex.action_id).to.equal(f.action_id);
    expect(ex.payload.job.id).to.equal("b-1");
    expect(ex.payload.datasets[0].src).to.equal("s3://data-pull/x");

    const st = b.status(f, "METRICS AVAILABLE", "metrics");
    expect(st.type).to.equal("BAI_APP_STATUS");
    expect(st.payload).to.deep.equal({ message: "metrics", status: "METRICS AVAILABLE", src_event: f });
    expect(STATUSES).to.include("METRICS AVAILABLE");
    expect(statusOf(f.action_id, "METRICS AVAILABLE")(st)).to.equal(true);
    expect(statusOf(f.action_id, "SUCCEEDED")(st)).to.equal(false);

    const cmd = b.command("cancel", { target_action_id: f.action_id, cascade: "true" });
    const ret = b.commandReturn(cmd, 0, "done", { canceled: 1 });
    expect(cmd.type).to.equal("CMD_SUBMIT");
    expect(ret.type).to.equal("CMD_RETURN");
    expect(ret.payload).to.deep.equal({
      return_code: 0,
      message: "done",
      cmd_submit: cmd,
      return_value: { canceled: 1 },
    });
    expect(baiSummary(ret)).to.contain("return_code=0");
    expect(baiSummary({ request_id: "r-1" })).to.equal(undefined);
  });

  it("baiIds: own, parent, client, status source, command and its target", () => {
    const f = b.fetcher({ parentActionId: "p-1" });
    const cmd = b.command("cancel", ["t-9"]);
    const ret = b.commandReturn(cmd, 1);
    expect(baiIds(f)).to.have.members([f.action_id, "p-1", f.client_id]);
    expect(baiIds(b.status(f, "ERROR"))).to.include.members([f.action_id, "p-1"]);
    expect(baiIds(cmd)).to.include("t-9");
    expect(baiIds(ret)).to.include.members([cmd.action_id, "t-9"]);
    expect(baiIds("not json")).to.deep.equal([]);
  });

  it("builds for configured topic names; the default profile has BAI's five", () => {
    const custom = baiProfile({ ...baiTopics, status: "MY_STATUS" });
    expect(custom.topics.status).to.equal("MY_STATUS");
    expect(custom.events.status(custom.events.fetcher(), "PENDING").type).to.equal("MY_STATUS");
    expect(Object.values(bai.topics)).to.deep.equal([
      "BAI_APP_FETCHER",
      "BAI_APP_EXECUTOR",
      "BAI_APP_STATUS",
      "CMD_SUBMIT",
      "CMD_RETURN",
    ]);
  });
});
