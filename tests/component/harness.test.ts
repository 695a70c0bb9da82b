// The harness against a real broker (tests/component/kafka-host.fixture.ts starts it): routing,
// combined waits, timeouts, the late-waiter buffer, timelines and failure artifacts, and the cost
// per test (BAI's test helpers paid 10 s per test joining a consumer group; this harness joins once).
// It uses the BAI profile (the replaced system's topics and events) as the executor suites do.
import { expect } from "chai";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as net from "node:net";
import * as path from "node:path";
import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import type { Context } from "mocha";
import {
  beginTest,
  collectArtifacts,
  currentTest,
  KafkaHarness,
  harness,
  settings,
  TestContext,
  WaitTimeoutError,
} from "../harness";
import { mochaHooks } from "../harness/hooks";
import {
  AnyEvent,
  bai,
  baiProfile,
  ExecutorEvent,
  forAction,
  responseTo,
  statusOf,
  StatusEvent,
} from "../harness/profiles/bai";

const h = harness(bai);

/** Resolves once the harness has received an event about `id` on `topic`. */
async function received(id: string, topic: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!h.timeline(id).some((e) => e.direction === "received" && e.topic === topic)) {
    if (Date.now() > deadline) throw new Error(`never received ${id} on ${topic}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("harness (component, real broker)", () => {
  it("round-trips an event: send, then waitFor on the same topic", async () => {
    const ev = bai.events.fetcher({ descriptor: "[info]\ndescription = 'x'\n" });
    await h.send(h.topics.fetcher, ev);
    const got = await h.waitFor(h.topics.fetcher, forAction(ev.action_id), {
      description: "the fetcher event",
    });
    expect(got).to.deep.equal(ev);
  });

  it("routes each message only to the waiters whose predicate accepts it (two waiters, one topic)", async () => {
    const a = bai.events.fetcher();
    const b = bai.events.fetcher();
    const waitA = h.waitFor<StatusEvent>(h.topics.status, statusOf(a.action_id, "SUCCEEDED"), {
      description: "A succeeded",
    });
    const waitB = h.waitFor<StatusEvent>(h.topics.status, statusOf(b.action_id, "SUCCEEDED"), {
      description: "B succeeded",
    });
    // Interleaved, B finishes first; each waiter must get its own event and no other.
    for (const ev of [
      bai.events.status(a, "PENDING"),
      bai.events.status(b, "PENDING"),
      bai.events.status(b, "SUCCEEDED", "b done"),
      bai.events.status(a, "RUNNING"),
      bai.events.status(a, "SUCCEEDED", "a done"),
    ]) {
      await h.send(h.topics.status, ev);
    }
    const [ga, gb] = await Promise.all([waitA, waitB]);
    expect(ga.action_id).to.equal(a.action_id);
    expect(ga.payload.message).to.equal("a done");
    expect(gb.action_id).to.equal(b.action_id);
    expect(gb.payload.message).to.equal("b done");
    expect(h.stats().activeWaiters).to.equal(0);
  });

  describe("an earlier test's events do not leak into a later test", () => {
    let earlier: AnyEvent;
    it("sends a status event", async () => {
      earlier = bai.events.status(bai.events.fetcher(), "SUCCEEDED");
      await h.send(h.topics.status, earlier);
      await received(earlier.action_id, h.topics.status);
    });
    it("a loose predicate in the next test does not see it (look-back = this test's start)", async () => {
      const err = await h
        .waitFor(h.topics.status, () => true, { description: "any status", timeoutMs: 300 })
        .then(
          () => undefined,
          (e: Error) => e,
        );
      expect(err).to.be.instanceOf(WaitTimeoutError);
      // …but an explicit look-back finds it.
      const got = await h.waitFor(h.topics.status, forAction(earlier.action_id), {
        description: "the earlier event",
        since: 0,
        timeoutMs: 1000,
      });
      expect(got.message_id).to.equal(earlier.message_id);
    });
  });

  it("waitForAll passes when every condition matched, in any order, across topics", async () => {
    const fetched = bai.events.fetcher();
    const wait = h.waitForAll<[ExecutorEvent, StatusEvent]>([
      { topic: h.topics.executor, predicate: forAction(fetched.action_id), description: "executor event" },
      {
        topic: h.topics.status,
        predicate: statusOf(fetched.action_id, "SUCCEEDED"),
        description: "status SUCCEEDED",
      },
    ]);
    // The status arrives before the executor event: order does not matter.
    await h.send(h.topics.status, bai.events.status(fetched, "SUCCEEDED"));
    await h.send(h.topics.executor, bai.events.executor(fetched, { id: `b-${fetched.action_id}` }));
    const [executed, status] = await wait;
    expect(executed.type).to.equal(h.topics.executor);
    expect(status.payload.status).to.equal("SUCCEEDED");
  });

  it("waitForAll times out naming what matched, what did not, and what was seen for the test's ids", async () => {
    const fetched = bai.events.fetcher();
    const cmd = bai.events.command("cancel", { target_action_id: fetched.action_id });
    await h.send(h.topics.status, bai.events.status(fetched, "PENDING", "queued"));
    await h.send(h.topics.executor, bai.events.executor(fetched, { id: "job-1" }));
    // Both must have been read back before the wait starts: the test is about what the timeout
    // says of them, not about whether the broker delivers within 400 ms.
    await received(fetched.action_id, h.topics.status);
    await received(fetched.action_id, h.topics.executor);
    const t0 = Date.now();
    const err = await h
      .waitForAll(
        [
          {
            topic: h.topics.executor,
            predicate: forAction(fetched.action_id),
            description: "executor event",
          },
          {
            topic: h.topics.status,
            predicate: statusOf(fetched.action_id, "SUCCEEDED"),
            description: "status SUCCEEDED for the run",
          },
          { topic: h.topics.cmdReturn, predicate: responseTo(cmd), description: "the cancel's answer" },
        ],
        { timeoutMs: 400 },
      )
      .then(
        () => undefined,
        (e: Error) => e,
      );
    // Its own 400 ms, not the default wait timeout (an upper bound in wall-clock time would
    // only measure how busy the machine is).
    expect(Date.now() - t0).to.be.at.least(390);
    expect(err!.message).to.not.contain(`after ${settings().waitTimeoutMs} ms`);
    expect(err).to.be.instanceOf(WaitTimeoutError);
    const msg = err!.message;
    expect(msg).to.contain("timed out after 400 ms");
    expect(msg).to.match(/\[matched\] +executor event \(BAI_APP_EXECUTOR\)/);
    expect(msg).to.contain("[NOT matched] status SUCCEEDED for the run (BAI_APP_STATUS)");
    expect(msg).to.contain("[NOT matched] the cancel's answer (CMD_RETURN)");
    expect(msg).to.contain(fetched.action_id);
    expect(msg).to.match(/BAI_APP_STATUS action_id=\S+ status=PENDING message="queued"/);
    expect(msg).to.contain("job.id=job-1");
  });

  it("a waiter registered after its message arrived still matches (buffer)", async () => {
    const fetched = bai.events.fetcher();
    const cmd = bai.events.command("cancel", { target_action_id: fetched.action_id });
    await h.send(h.topics.cmdReturn, bai.events.commandReturn(cmd, 0, "canceled"));
    await received(cmd.action_id, h.topics.cmdReturn);
    // A 1 ms timeout: only a match found in the buffer, at registration, can beat it.
    const answer = await h.waitFor(h.topics.cmdReturn, responseTo(cmd), {
      description: "cancel answer",
      timeoutMs: 1,
    });
    expect(answer.payload).to.include({ return_code: 0, message: "canceled" });
  });

  it("keeps a timeline per id: sends and receipts, status and command answers included", async () => {
    const fetched = bai.events.fetcher();
    const cmd = bai.events.command("cancel", { target_action_id: fetched.action_id });
    await h.send(h.topics.fetcher, fetched);
    await h.send(h.topics.status, bai.events.status(fetched, "PENDING"));
    await h.send(h.topics.cmdSubmit, cmd);
    await h.send(h.topics.cmdReturn, bai.events.commandReturn(cmd, 0, "ok"));
    for (const topic of [h.topics.fetcher, h.topics.status, h.topics.cmdSubmit, h.topics.cmdReturn]) {
      await received(fetched.action_id, topic);
    }
    const tl = h.timeline(fetched.action_id);
    const seqs = tl.map((e) => e.seq);
    expect(seqs).to.deep.equal([...seqs].sort((x, y) => x - y));
    // Every topic shows up, each once sent and once received (the harness reads what it sends).
    for (const topic of [h.topics.fetcher, h.topics.status, h.topics.cmdSubmit, h.topics.cmdReturn]) {
      expect(
        tl.filter((e) => e.topic === topic).map((e) => e.direction),
        topic,
      ).to.have.members(["sent", "received"]);
    }
    // The test context knows its ids: the client and both actions.
    const ids = currentTest()!.ids;
    expect([...ids]).to.include.members([fetched.client_id, fetched.action_id, cmd.action_id]);
  });

  it("collectArtifacts writes the timeline of a failed test to <artifacts>/<slug>/events.json, and runs added collectors", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "inception-artifacts-"));
    try {
      const test = currentTest()!;
      const ev = bai.events.fetcher();
      await h.send(h.topics.fetcher, ev);
      await h.waitFor(h.topics.fetcher, forAction(ev.action_id), { description: "echo" });
      const out = await collectArtifacts(
        test,
        "Suite / A test: fails!",
        new Error("boom"),
        { ...settings(), artifactsDir: dir },
        h.kafka,
      );
      expect(out).to.equal(path.join(dir, test.slug));
      const doc = JSON.parse(readFileSync(path.join(out, "events.json"), "utf8"));
      expect(doc.error.message).to.equal("boom");
      expect(doc.ids).to.include(ev.action_id);
      expect(doc.events.map((e: { direction: string }) => e.direction)).to.deep.equal(["sent", "received"]);
      expect(doc.events[0].event.action_id).to.equal(ev.action_id);
      const collectors = JSON.parse(readFileSync(path.join(out, "collectors.json"), "utf8"));
      expect(collectors[0]).to.include({ name: "events", ok: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the root afterEach hook writes artifacts only for failed tests", async () => {
    const s = settings();
    const fake = new TestContext("harness self-test: a failing test");
    const dir = path.join(s.artifactsDir, fake.slug);
    rmSync(dir, { recursive: true, force: true });
    const run = async (state: "passed" | "failed"): Promise<void> => {
      // The hook reads the current test context; simulate mocha's `this` for a finished test.
      const ctx = {
        currentTest: { state, err: new Error("x"), fullTitle: () => fake.title },
        timeout: () => undefined,
      };
      const saved = currentTest();
      beginTest(fake.title);
      await mochaHooks.afterEach.call(ctx as unknown as Context);
      if (saved) beginTest(saved.title);
    };
    await run("passed");
    expect(existsSync(dir)).to.equal(false);
    await run("failed");
    expect(existsSync(path.join(dir, "events.json"))).to.equal(true);
    rmSync(dir, { recursive: true, force: true });
  });

  it("misses nothing produced while it starts: what it receives is a gap-free suffix of what was sent", async () => {
    // A second harness on fresh topics (its own group join — only this test pays it).
    const s = settings();
    const suffix = randomUUID().slice(0, 8);
    const topics = {
      fetcher: `start-f-${suffix}`,
      executor: `start-e-${suffix}`,
      status: `start-s-${suffix}`,
      cmdSubmit: `start-c-${suffix}`,
      cmdReturn: `start-r-${suffix}`,
    };
    const kafka = new Kafka({
      clientId: "start-test",
      brokers: s.kafkaBootstrapServers,
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    const producer = kafka.producer();
    await admin.connect();
    await admin.createTopics({
      topics: Object.values(topics).map((topic) => ({ topic })),
      waitForLeaders: true,
    });
    await producer.connect();
    const profile = baiProfile(topics);
    const b = profile.events;
    const sent: string[] = [];
    const produce = async (): Promise<void> => {
      const ev = b.fetcher();
      sent.push(ev.action_id);
      await producer.send({ topic: topics.fetcher, messages: [{ value: JSON.stringify(ev) }] });
    };
    await produce(); // before start: must not be received
    let starting = true;
    const burst = (async () => {
      while (starting) await produce();
    })();
    const h2 = await KafkaHarness.start(s, profile);
    starting = false;
    await burst;
    await produce(); // after start: must be received
    try {
      const last = sent[sent.length - 1];
      await h2.waitFor(topics.fetcher, forAction(last), { description: "the message sent after start" });
      const got = sent.filter((id) => h2.timeline(id).length > 0);
      const first = sent.indexOf(got[0]);
      console.log(`      sent ${sent.length} messages around start(); received the last ${got.length}`);
      expect(got).to.deep.equal(sent.slice(first));
      expect(first).to.be.greaterThan(0);
    } finally {
      await h2.stop();
      await producer.disconnect();
      await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
      await admin.disconnect();
    }
  });

  it("starts once a broker that was not there yet answers, within its start deadline (a restarted cluster)", async () => {
    // The broker's bootstrap address opens after kafkajs's own connection retries (about 10 s)
    // are spent: only the harness's deadline keeps it trying.
    const s = settings();
    const [host, port] = s.kafkaBootstrapServers[0].split(":");
    const proxy = net.createServer((client) => {
      const broker = net.connect(Number(port), host);
      client.pipe(broker).pipe(client);
      client.on("error", () => broker.destroy());
      broker.on("error", () => client.destroy());
    });
    const free = net.createServer();
    await new Promise<void>((resolve) => free.listen(0, "127.0.0.1", resolve));
    const late = (free.address() as net.AddressInfo).port;
    await new Promise((resolve) => free.close(resolve));
    const opensAfterMs = 12_000;
    const opening = setTimeout(() => proxy.listen(late, "127.0.0.1"), opensAfterMs);
    const suffix = randomUUID().slice(0, 8);
    const profile = baiProfile({
      fetcher: `late-f-${suffix}`,
      executor: `late-e-${suffix}`,
      status: `late-s-${suffix}`,
      cmdSubmit: `late-c-${suffix}`,
      cmdReturn: `late-r-${suffix}`,
    });
    const t0 = Date.now();
    try {
      const h2 = await KafkaHarness.start(
        { ...s, kafkaBootstrapServers: [`127.0.0.1:${late}`], startTimeoutMs: 40_000 },
        profile,
      );
      await h2.stop();
      expect(Date.now() - t0).to.be.at.least(opensAfterMs);
    } finally {
      clearTimeout(opening);
      proxy.close();
    }
  }).timeout(60_000);

  describe("cost per test", () => {
    it("joined the consumer group once for the whole run", () => {
      const st = h.stats();
      console.log(
        `      harness start (connect, topics, join): ${st.startMs} ms; group joins: ${st.groupJoins}`,
      );
      expect(st.groupJoins).to.equal(1);
    });

    it("a send -> waitFor round trip takes milliseconds (median of 20)", async () => {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const ev = bai.events.fetcher();
        const t0 = process.hrtime.bigint();
        await h.send(h.topics.fetcher, ev);
        await h.waitFor(h.topics.fetcher, forAction(ev.action_id), { description: `echo ${i}` });
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      times.sort((a, b) => a - b);
      const median = times[10];
      console.log(
        `      round trip: median ${median.toFixed(1)} ms, min ${times[0].toFixed(1)} ms, max ${times[19].toFixed(1)} ms`,
      );
      expect(median).to.be.below(250);
      expect(h.stats().groupJoins).to.equal(1);
    });

    it("a whole test body (build, send, wait) takes milliseconds, not seconds", async () => {
      const t0 = Date.now();
      const ev = bai.events.fetcher();
      await h.send(h.topics.fetcher, ev);
      await h.waitFor(h.topics.fetcher, forAction(ev.action_id), { description: "echo" });
      const ms = Date.now() - t0;
      console.log(`      whole test body: ${ms} ms`);
      expect(ms).to.be.below(1000);
    });
  });
});
