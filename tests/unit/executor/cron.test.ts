/** Scheduled runs as BAI starts them: a CronJob running the cron-job entry, which re-publishes the event. */
import { expect } from "chai";
import { EventBuilder, descriptor } from "../../harness/profiles/bai";
import { DEFAULT_TOPICS } from "../../../services/executor/src/config";
import { spawnRun } from "../../../services/executor/src/cron";
import { parseDescriptor } from "../../../services/executor/src/descriptor";
import { BaiEvent } from "../../../services/executor/src/events";
import { Executor } from "../../../services/executor/src/executor";
import { memoryLogger } from "../../../services/executor/src/log";
import { FakeBatch, RecordingPublisher } from "./fakes";

const SENDER = { svc: "executor-cron-job", version: "test" };
const scheduled = () =>
  new EventBuilder().fetcher({
    ...descriptor({ image: "busybox:1.36", command: "echo run", schedule: "*/1 * * * *" }),
    actionId: "sched-1",
    clientId: "c-1",
  }) as unknown as BaiEvent;

describe("executor: the cron-job component", () => {
  it("re-publishes the schedule as a single run: new action id, the schedule as parent", () => {
    const s = scheduled();
    const before = JSON.stringify(s);
    const run = spawnRun(s, SENDER, "run-1");
    expect(run).to.deep.include({
      action_id: "run-1",
      parent_action_id: "sched-1",
      client_id: "c-1",
      type: s.type,
    });
    expect(run.message_id).to.not.equal(s.message_id);
    expect(run.visited.map((v) => v.svc)).to.deep.equal([
      ...s.visited.map((v) => v.svc),
      "executor-cron-job",
    ]);
    const d = parseDescriptor(run.payload);
    expect(d.schedule).to.equal(undefined);
    expect(JSON.stringify(s)).to.equal(before);
  });

  it("reads a schedule sent with its TOML only, and refuses one without [info]", () => {
    const s = scheduled();
    const p = s.payload as { toml: { contents: unknown } };
    p.toml.contents = {};
    expect(parseDescriptor(spawnRun(s, SENDER, "run-2").payload).schedule).to.equal(undefined);
    const bare = scheduled();
    (bare.payload as { toml: { contents: unknown } }).toml.contents = { spec_version: "0.1.0" };
    expect(() => spawnRun(bare, SENDER)).to.throw(/no \[info\]/);
  });

  it("the executor's CronJob runs `node dist/cronjob.js` in its own image with the event and Kafka", async () => {
    const batch = new FakeBatch();
    const executor = new Executor(
      batch,
      new RecordingPublisher(),
      {
        namespace: "ns",
        nodeSelector: {},
        topics: { ...DEFAULT_TOPICS },
        cronJob: { image: "inception/executor:abc", brokers: ["kafka:9092"] },
      },
      { svc: "executor", version: "test" },
      memoryLogger(),
    );
    const s = scheduled();
    await executor.onFetcherMessage(JSON.stringify(s));
    const [cron] = batch.cronJobs;
    expect(cron.metadata?.name).to.equal("b-sched-1");
    const tpl = cron.spec!.jobTemplate;
    // The starter carries the schedule's labels (a cancel of it finds them), not parent-action-id.
    expect(tpl.metadata!.labels).to.include({
      "action-id": "sched-1",
      "client-id": "c-1",
      app: "benchmark-ai",
    });
    expect(tpl.metadata!.labels).to.not.have.property("parent-action-id");
    const c = tpl.spec!.template.spec!.containers[0];
    expect(c).to.deep.include({ image: "inception/executor:abc", command: ["node", "dist/cronjob.js"] });
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
    expect(env).to.deep.include({
      KAFKA_BOOTSTRAP_SERVERS: "kafka:9092",
      PRODUCER_TOPIC: DEFAULT_TOPICS.fetcher,
      STATUS_TOPIC: DEFAULT_TOPICS.status,
    });
    expect(JSON.parse(env.BENCHMARK_EVENT!)).to.deep.equal(JSON.parse(JSON.stringify(s)));
  });
});
