// The topics a harness is given (`harness({ topics })`, HARNESS_TOPICS) and plain JSON events of
// any service: created when missing, read, sent to, waited on, and kept in the timelines by
// `request_id`.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { Kafka, logLevel, Producer } from "kafkajs";
import {
  currentTest,
  fieldEquals,
  harness,
  KafkaHarness,
  loadSettings,
  newId,
  relatedIds,
  settings,
  SettingsError,
  summarize,
  WaitTimeoutError,
} from "../harness";

// Declared as the file loads, so the root hook's harness reads it (created when missing).
const root = harness({ topics: { echo: "inception.topics-test" } });

interface FetchResult {
  request_id: string;
  status: "DONE" | "FAILED";
  reason?: string;
}

describe("harness: the topics it is given, and plain JSON events", () => {
  it("harness({ topics }) declared as the file loads: the suite's harness reads it; the handle is typed by it", async () => {
    expect(root.topics.echo).to.equal("inception.topics-test");
    expect(root.kafka.topics).to.include("inception.topics-test");
    const id = newId("r");
    await root.send(root.topics.echo, { request_id: id });
    const got = await root.waitFor<{ request_id: string }>(root.topics.echo, fieldEquals("request_id", id), {
      description: "the event back",
    });
    expect(got.request_id).to.equal(id);
  });

  it("harness({ topics }) inside a test, naming a topic the started harness does not read, fails at once", () => {
    expect(() => harness({ topics: { late: "inception.declared-late" } })).to.throw(
      /declared inception\.declared-late after the harness started reading .*inception\.topics-test.*: declare topics where the test file loads/,
    );
    // Topics it already reads are fine anywhere.
    expect(harness({ topics: { again: "inception.topics-test" } }).topics.again).to.equal(
      "inception.topics-test",
    );
  });

  it("settings: HARNESS_TOPICS is a comma-separated list, repeats dropped, bad names listed", () => {
    const s = loadSettings({
      KAFKA_BOOTSTRAP_SERVERS: "k:1",
      HARNESS_TOPICS: " fetch.requests, fetch.results,,fetch.requests",
    });
    expect(s.extraTopics).to.deep.equal(["fetch.requests", "fetch.results"]);
    expect(loadSettings({ KAFKA_BOOTSTRAP_SERVERS: "k:1" }).extraTopics).to.deep.equal([]);
    expect(() => loadSettings({ KAFKA_BOOTSTRAP_SERVERS: "k:1", HARNESS_TOPICS: "ok,not ok" })).to.throw(
      SettingsError,
      /HARNESS_TOPICS: "not ok" is not a valid Kafka topic name/,
    );
  });

  it("relatedIds and summarize: a plain JSON event is known by its request_id, and shown as JSON", () => {
    const result = { request_id: "r-1", status: "FAILED", reason: "HTTP 404" };
    expect(relatedIds(result)).to.deep.equal(["r-1"]);
    expect(relatedIds({ correlation_id: "x-9", n: 1 })).to.deep.equal(["x-9"]);
    expect(relatedIds({ no: "ids" })).to.deep.equal([]);
    expect(summarize(result)).to.equal(JSON.stringify(result));
    expect(fieldEquals("request_id", "r-1")(result)).to.equal(true);
    expect(fieldEquals("request_id", "r-2")(result)).to.equal(false);
    expect(fieldEquals("request_id", "r-1")("not an object")).to.equal(false);
  });

  describe("a harness of its own, against the broker", () => {
    // A second harness (its own group join) given one fresh topic as an argument and one through
    // HARNESS_TOPICS.
    const suffix = randomUUID().slice(0, 8);
    const requests = `fetch.requests-${suffix}`;
    const results = `fetch.results-${suffix}`;
    let h: KafkaHarness;
    let kafka: Kafka;
    let service: Producer; // stands in for the service under test

    before(async function () {
      this.timeout(60_000);
      const s = settings();
      h = await KafkaHarness.start({ ...s, extraTopics: [results] }, { topics: { requests } });
      kafka = new Kafka({
        clientId: "topics-test",
        brokers: s.kafkaBootstrapServers,
        logLevel: logLevel.NOTHING,
      });
      service = kafka.producer({ allowAutoTopicCreation: false });
      await service.connect();
    });

    after(async () => {
      await h?.stop();
      await service?.disconnect();
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [requests, results] }).catch(() => undefined);
      await admin.disconnect();
    });

    it("reads exactly the topics it is given, and creates them when missing", async () => {
      expect(h.topics).to.deep.equal([requests, results]);
      const admin = kafka.admin();
      await admin.connect();
      try {
        expect(await admin.listTopics()).to.include.members([requests, results]);
      } finally {
        await admin.disconnect();
      }
    });

    it("sends a plain JSON request and waits for a plain JSON result; both are in the test's timeline", async () => {
      const id = `r-${randomUUID()}`;
      const request = { request_id: id, url: "http://data/x.txt", bucket: "b", key: "k" };
      await h.send(requests, request);
      expect([...currentTest()!.ids]).to.include(id);
      const echoed = await h.waitFor(requests, fieldEquals("request_id", id), { description: "the request" });
      expect(echoed).to.deep.equal(request);

      const waiting = h.waitFor<FetchResult>(results, (r) => r.request_id === id && r.status === "FAILED", {
        description: "result FAILED",
      });
      const result: FetchResult = { request_id: id, status: "FAILED", reason: "HTTP 404" };
      await service.send({ topic: results, messages: [{ key: id, value: JSON.stringify(result) }] });
      expect(await waiting).to.deep.equal(result);

      const tl = h.timelineFor(currentTest()!.ids);
      expect(tl.map((e) => [e.topic, e.direction])).to.deep.equal([
        [requests, "sent"],
        [requests, "received"],
        [results, "received"],
      ]);
      expect(tl[0].key).to.equal(id);
      expect(
        h
          .fullTimeline()
          .filter(
            (e) => e.topic === results && (e.event as { request_id?: string } | undefined)?.request_id === id,
          ),
      ).to.have.length(1);
    });

    it("files an event without ids under the test (sent) or the run's timeline (received)", async () => {
      const marker = randomUUID();
      await h.send(requests, { marker, sent: true });
      expect(h.timeline(currentTest()!.id).map((e) => (e.event as { marker?: string }).marker)).to.include(
        marker,
      );
      await service.send({ topic: results, messages: [{ value: JSON.stringify({ marker }) }] });
      await h.waitFor(results, fieldEquals("marker", marker), { description: "the id-less event" });
      // Our own send comes back on its topic too, but on its own fetch: wait for it, do not assume it.
      await h.waitFor(requests, fieldEquals("marker", marker), {
        description: "our id-less send, read back",
      });
      const inRun = h
        .fullTimeline()
        .filter((e) => (e.event as { marker?: string } | undefined)?.marker === marker);
      expect(inRun.map((e) => `${e.topic} ${e.direction}`)).to.have.members([
        `${requests} sent`,
        `${requests} received`,
        `${results} received`,
      ]);
    });

    it("a timeout on such a topic says what it waited for, what arrived for the test's ids and what else arrived", async () => {
      const id = `r-${randomUUID()}`;
      await h.send(requests, { request_id: id, url: "ftp://nope" });
      const failed = { request_id: id, status: "FAILED", reason: "invalid request: url must be http(s)" };
      await service.send({ topic: results, messages: [{ key: id, value: JSON.stringify(failed) }] });
      // Read back first: the timeout below must list it, whatever the broker's delivery time.
      await h.waitFor<FetchResult>(results, (r) => r.request_id === id && r.status === "FAILED", {
        description: "result FAILED",
      });
      // Long enough that the other message, sent after the waiter registered, is delivered
      // inside the wait on any machine: the check is about what the timeout lists, not a race.
      const waiting = h
        .waitFor<FetchResult>(results, (r) => r.request_id === id && r.status === "DONE", {
          description: "result DONE",
          timeoutMs: 5_000,
        })
        .then(
          () => undefined,
          (e: Error) => e,
        );
      const other = { request_id: `r-other-${randomUUID()}`, status: "DONE" };
      await service.send({ topic: results, messages: [{ value: JSON.stringify(other) }] });
      const err = await waiting;
      expect(err).to.be.instanceOf(WaitTimeoutError);
      expect(err!.message).to.contain(`[NOT matched] result DONE (${results})`);
      expect(err!.message).to.contain(`${results} ${JSON.stringify(failed)}`);
      expect(err!.message).to.match(
        /1 other message\(s\) arrived on these topics during the wait, the last:\n.*/,
      );
      expect(err!.message).to.contain(`${results} ${JSON.stringify(other)}`);
    });

    it("refuses to wait on a topic it does not read, saying how to declare it", async () => {
      const err = await h
        .waitFor("not.read", () => true, { description: "x", timeoutMs: 100 })
        .then(
          () => undefined,
          (e: Error) => e,
        );
      expect(err?.message).to.contain(
        `topic not.read is not one the harness reads (${requests}, ${results}; declare it with harness({ topics })`,
      );
    });
  });
});
