/**
 * The suite's one Kafka connection: ONE consumer (one group join per suite run, not per test)
 * reading the topics it is given and routing each message to the waiters tests register.
 * Suites get it through `harness({ topics })` (handle.ts); the root hook starts it.
 *
 *   const h = await KafkaHarness.start(settings, { topics: { requests: "fetch.requests", results: "fetch.results" } });
 *   await h.send("fetch.requests", { request_id: id, url, bucket, key });
 *   await h.waitFor<Result>("fetch.results", fieldEquals("request_id", id), { description: "the result" });
 *   const [a, b] = await h.waitForAll([{ topic, predicate, description }, ...]);
 *   h.timeline(id);                                    // every event about the id, in order
 *
 * No message produced after `start()` begins is missed: the consumer (fresh group) is pointed at
 * each partition's end as read before it joined — not at "latest" when the join happens to
 * finish — and those offsets are committed. A waiter registered after its message arrived still matches: recent
 * messages stay in a bounded buffer that each new waiter scans first (by default only messages
 * that arrived since the current test began, so a loose predicate cannot match an older test's
 * event).
 */
import { appendFileSync, mkdirSync } from "node:fs";
import * as path from "node:path";
import { randomUUID } from "node:crypto";
import { Admin, Consumer, Kafka, logLevel, LogEntry, Producer } from "kafkajs";
import { currentTest } from "./context";
import { ID_FIELDS, Profile, relatedIds, summarize } from "./events";
import { Settings } from "./settings";

/** A message as the harness saw it (sent by the harness, or received from the broker). */
export interface TimelineEntry {
  /** Order of observation within this harness (sends and receipts share one sequence). */
  seq: number;
  direction: "sent" | "received";
  topic: string;
  partition?: number;
  offset?: string;
  key: string | null;
  /** Epoch milliseconds when the harness sent or received it. */
  at: number;
  /** The parsed JSON; undefined when the value was not JSON (see `raw`). */
  event: unknown;
  /** The value as text when it was not JSON. */
  raw?: string;
  /** Set on a send the broker refused: why. */
  error?: string;
}

/**
 * Decides whether an event is the one awaited. Throwing fails the wait (a bug in the test). `E` is
 * what the test expects on the topic: the JSON shape the service sends.
 */
export type Predicate<E = unknown> = (event: E, entry: TimelineEntry) => boolean;

/** One thing to wait for. `description` is what the timeout message calls it. */
export interface Condition<E = unknown> {
  topic: string;
  predicate: Predicate<E>;
  description: string;
}

export interface WaitOptions {
  /** Default: the settings' WAIT_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Also match buffered messages received at or after this epoch-ms time. Default: the
   *  current test's start (outside a test: the harness start). */
  since?: number;
  /** Ids whose events the timeout message lists. Default: the current test's ids. */
  ids?: Iterable<string>;
}

export interface HarnessStats {
  /** Consumer-group joins since start (1 unless the broker forced a rebalance). */
  groupJoins: number;
  /** Milliseconds from `start()` to the consumer's first join. */
  startMs: number;
  sent: number;
  received: number;
  activeWaiters: number;
}

/** What a timed-out wait waited for and what of it came: the run report draws it. */
export interface WaitTimeoutDetails {
  timeoutMs: number;
  /** Epoch ms the wait began. */
  startedAt: number;
  /** In the wait's order; `matchedAtMs` since the test began (as in the message). */
  conditions: { topic: string; description: string; matched: boolean; matchedAtMs?: number }[];
}

export class WaitTimeoutError extends Error {
  constructor(
    message: string,
    /** Structured: the suite runner's reporter writes it into results.json as the test's `wait`. */
    readonly details?: WaitTimeoutDetails,
  ) {
    super(message);
    this.name = "WaitTimeoutError";
  }
}

interface Waiter {
  conditions: Condition[];
  matched: (TimelineEntry | undefined)[];
  registeredAt: number;
  resolve: (entries: TimelineEntry[]) => void;
  reject: (e: Error) => void;
}

export class KafkaHarness {
  /** Every topic the harness reads: its profiles' and HARNESS_TOPICS (`settings.extraTopics`). */
  readonly topics: readonly string[];
  private readonly buffer: TimelineEntry[] = [];
  private readonly byId = new Map<string, TimelineEntry[]>();
  /** Entries concerning no id (e.g. plain JSON without ID_FIELDS, or not JSON): still in the run's timeline. */
  private readonly unindexed: TimelineEntry[] = [];
  private readonly waiters = new Set<Waiter>();
  private seq = 0;
  private stats_ = { groupJoins: 0, startMs: 0, sent: 0, received: 0 };
  private stopped = false;
  /** Sends not yet handed to the producer; see `send`. */
  private outbox: { topic: string; key: string | null; value: string; done: (e?: unknown) => void }[] = [];
  private flushScheduled = false;
  private flushing = false;
  private readonly startedAt = Date.now();

  private constructor(
    private readonly settings: Settings,
    private readonly profiles: readonly Profile[],
    private readonly admin: Admin,
    private readonly producer: Producer,
    private readonly consumer: Consumer,
  ) {
    this.topics = readTopics(settings, profiles);
  }

  /**
   * Connects, creates its topics when missing (1 partition, replication 1), pins a fresh
   * consumer group at the topics' current ends, joins it once and starts routing. Resolves when the consumer has joined; kafkajs' own log goes to
   * <ARTIFACTS_DIR>/kafka-client.log. Its topics are exactly its profiles' and HARNESS_TOPICS;
   * with none it only sends.
   */
  static async start(
    settings: Settings,
    profiles: Profile | readonly Profile[],
    o: { createTopics?: boolean } = {},
  ): Promise<KafkaHarness> {
    const t0 = Date.now();
    const list = "topics" in profiles ? [profiles] : profiles;
    const logFile = path.join(settings.artifactsDir, "kafka-client.log");
    mkdirSync(settings.artifactsDir, { recursive: true });
    const kafka = new Kafka({
      clientId: "inception-harness",
      brokers: settings.kafkaBootstrapServers,
      logLevel: logLevel.INFO,
      logCreator: () => (e: LogEntry) => {
        const { message, timestamp, ...rest } = e.log;
        const line = `${timestamp} ${e.label} ${message} ${JSON.stringify(rest)}\n`;
        try {
          appendFileSync(logFile, line);
        } catch {
          // the artifacts dir vanished: the log is best effort
        }
      },
    });
    const admin = kafka.admin();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    const groupId = `inception-harness-${randomUUID()}`;
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500, allowAutoTopicCreation: false });
    const h = new KafkaHarness(settings, list, admin, producer, consumer);
    const topics = [...h.topics];

    let lastError: string | undefined;
    const deadline = withTimeout(settings.startTimeoutMs, () => {
      const last = lastError ? `; last error: ${lastError}` : "";
      return `the Kafka harness did not start within ${settings.startTimeoutMs} ms (brokers ${settings.kafkaBootstrapServers.join(",")}${last}; see ${logFile})`;
    });
    try {
      await deadline.race(
        (async () => {
          // Until the start deadline, not only kafkajs's few retries (about 10 s): a broker coming
          // back (a restarted cluster) is unresolvable until its pod is Ready again.
          for (;;) {
            try {
              await admin.connect();
              break;
            } catch (e) {
              lastError = (e as Error).message;
              if (Date.now() - t0 + CONNECT_PAUSE_MS >= settings.startTimeoutMs) throw e;
              await new Promise((r) => setTimeout(r, CONNECT_PAUSE_MS));
            }
          }
          if (o.createTopics ?? true) {
            const existing = new Set(await admin.listTopics());
            const missing = topics.filter((t) => !existing.has(t));
            if (missing.length > 0) {
              await admin.createTopics({
                topics: missing.map((topic) => ({ topic, numPartitions: 1, replicationFactor: 1 })),
                waitForLeaders: true,
              });
            }
          }
          // The topics' current ends: the consumer starts exactly there (below).
          const ends: { topic: string; partition: number; offset: string }[] = [];
          for (const topic of topics) {
            // Retried: right after creation the leader may not serve ListOffsets yet.
            for (const p of await retrying(() => admin.fetchTopicOffsets(topic))) {
              ends.push({ topic, partition: p.partition, offset: p.high });
            }
          }
          await producer.connect();
          if (topics.length === 0) return;
          consumer.on(consumer.events.GROUP_JOIN, () => {
            h.stats_.groupJoins += 1;
          });
          consumer.on(consumer.events.CRASH, (e) => {
            if (!e.payload.restart) h.failAll(new Error(`the harness consumer crashed: ${e.payload.error}`));
          });
          await consumer.connect();
          await consumer.subscribe({ topics, fromBeginning: false });
          // run() creates the consumer group synchronously and resolves once it joined; the seeks
          // registered in between are applied before the first fetch, whatever the join's timing.
          const running = consumer.run({
            eachMessage: async ({ topic, partition, message }) => {
              const raw = message.value?.toString("utf8") ?? "";
              let event: unknown;
              try {
                event = JSON.parse(raw);
              } catch {
                event = undefined;
              }
              h.observe({
                seq: 0,
                direction: "received",
                topic,
                partition,
                offset: message.offset,
                key: message.key?.toString("utf8") ?? null,
                at: Date.now(),
                event,
                ...(event === undefined ? { raw } : {}),
              });
            },
          });
          for (const e of ends) consumer.seek(e);
          await running;
          // Committed too, so a rebalance or a consumer restart resumes there (at worst it
          // re-reads a few messages; it never skips one).
          await consumer.commitOffsets(ends);
        })(),
      );
    } catch (e) {
      await h.stop().catch(() => undefined);
      throw e;
    } finally {
      deadline.clear();
    }
    h.stats_.startMs = Date.now() - t0;
    return h;
  }

  /**
   * Publishes `event` (any JSON object) to `topic` (key: what its profile says, else its first
   * ID_FIELDS value) and records it; resolves once the broker acknowledged it. Its ids join the
   * current test's; an event with no id at all is filed under the test's own id. Sends made at
   * the same time (parallel tests, a test sending several events) share one produce request: the
   * broker handles one request per connection at a time, so 20 separate requests cost ~10 times
   * one request of 20 messages.
   */
  async send(topic: string, event: object): Promise<void> {
    const test = currentTest();
    const ids = this.idsOf(event);
    test?.track(...ids);
    const fields = event as Record<string, unknown>;
    const key = [...this.profiles.map((p) => p.key?.(event)), ...ID_FIELDS.map((f) => fields[f])].find(
      (v) => typeof v === "string",
    ) as string | undefined;
    // Recorded before the broker's answer: the service (or our own consumer) can see the event
    // before the producer's acknowledgement arrives, and the timeline must keep cause before effect.
    const entry: TimelineEntry = {
      seq: 0,
      direction: "sent",
      topic,
      key: key ?? null,
      at: Date.now(),
      event,
    };
    this.record(entry, ids.length === 0 && test ? [test.id] : []);
    try {
      await new Promise<void>((resolve, reject) => {
        this.outbox.push({
          topic,
          key: key ?? null,
          value: JSON.stringify(event),
          done: (e) => (e ? reject(e) : resolve()),
        });
        this.scheduleFlush();
      });
    } catch (e) {
      entry.error = String((e as Error)?.message ?? e);
      throw e;
    }
    this.stats_.sent += 1;
  }

  /** Resolves with the first event on `topic` the predicate accepts; rejects on timeout. */
  async waitFor<E = unknown>(
    topic: string,
    predicate: Predicate<E>,
    o: WaitOptions & { description: string },
  ): Promise<E> {
    const [e] = await this.waitForAll<[E]>([{ topic, predicate, description: o.description }], o);
    return e;
  }

  /**
   * Resolves when every condition has matched (in any order),
   * with the matched events in the order of `conditions`. On timeout the error names what
   * matched, what did not, and lists what was seen on those topics for the test's ids.
   */
  async waitForAll<R extends unknown[] = unknown[]>(
    conditions: { [K in keyof R]: Condition<R[K]> },
    o: WaitOptions = {},
  ): Promise<R> {
    if (this.stopped) throw new Error("the Kafka harness is stopped");
    const conds = conditions as unknown as Condition[];
    if (conds.length === 0) return [] as unknown as R;
    for (const c of conds) {
      if (!this.topics.includes(c.topic)) {
        throw new Error(
          `cannot wait for "${c.description}": topic ${c.topic} is not one the harness reads (${this.topics.join(", ") || "none"}; declare it with harness({ topics }) where the test file loads)`,
        );
      }
    }
    const timeoutMs = o.timeoutMs ?? this.settings.waitTimeoutMs;
    const since = o.since ?? currentTest()?.startedAt ?? this.startedAt;
    const ids = [...(o.ids ?? currentTest()?.ids ?? [])];

    const entries = await new Promise<TimelineEntry[]>((resolve, reject) => {
      const w: Waiter = {
        conditions: conds,
        matched: conds.map(() => undefined),
        registeredAt: Date.now(),
        resolve,
        reject,
      };
      // Messages that arrived before the waiter did (within the look-back) count too.
      for (const entry of this.buffer) {
        if (entry.at >= since && this.offer(w, entry)) return;
      }
      this.waiters.add(w);
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(
          new WaitTimeoutError(this.describeTimeout(w, timeoutMs, ids), this.timeoutDetails(w, timeoutMs)),
        );
      }, timeoutMs);
      w.resolve = (v) => {
        clearTimeout(timer);
        resolve(v);
      };
      w.reject = (e) => {
        clearTimeout(timer);
        reject(e);
      };
    });
    return entries.map((e) => e.event) as unknown as R;
  }

  /** Every event sent or received that concerns `id` (its ID_FIELDS and its profile's ids), in order. */
  timeline(id: string): TimelineEntry[] {
    return [...(this.byId.get(id) ?? [])];
  }

  /** The union of the timelines of several ids, in order, without duplicates. */
  timelineFor(ids: Iterable<string>): TimelineEntry[] {
    const all = new Map<number, TimelineEntry>();
    for (const id of ids) for (const e of this.byId.get(id) ?? []) all.set(e.seq, e);
    return [...all.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Every event of the run, in order: the run's Kafka timeline. */
  fullTimeline(): TimelineEntry[] {
    const all = new Map<number, TimelineEntry>(this.timelineFor(this.byId.keys()).map((e) => [e.seq, e]));
    for (const e of this.unindexed) all.set(e.seq, e);
    return [...all.values()].sort((a, b) => a.seq - b.seq);
  }

  stats(): HarnessStats {
    return { ...this.stats_, activeWaiters: this.waiters.size };
  }

  /** Disconnects; pending waits fail with "the Kafka harness stopped". */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.failAll(new Error("the Kafka harness stopped"));
    await Promise.allSettled([
      this.consumer.disconnect(),
      this.producer.disconnect(),
      this.admin.disconnect(),
    ]);
  }

  // --- internals -------------------------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => void this.flush());
  }

  /** One produce request in flight at a time, with every send queued until then (in order). */
  private async flush(): Promise<void> {
    this.flushScheduled = false;
    if (this.flushing || this.outbox.length === 0) return;
    this.flushing = true;
    const batch = this.outbox.splice(0);
    try {
      const byTopic = new Map<string, { key: string | null; value: string }[]>();
      for (const m of batch) {
        let list = byTopic.get(m.topic);
        if (!list) byTopic.set(m.topic, (list = []));
        list.push({ key: m.key, value: m.value });
      }
      await this.producer.sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      for (const m of batch) m.done();
    } catch (e) {
      for (const m of batch) m.done(e);
    } finally {
      this.flushing = false;
      if (this.outbox.length > 0) this.scheduleFlush();
    }
  }

  private observe(entry: TimelineEntry): void {
    this.stats_.received += 1;
    this.record(entry);
    if (this.settings.bufferSize > 0) {
      this.buffer.push(entry);
      if (this.buffer.length > this.settings.bufferSize) this.buffer.shift();
    }
    for (const w of [...this.waiters]) this.offer(w, entry);
  }

  /** Every id an event concerns: its top-level ID_FIELDS and what the profiles find. */
  private idsOf(event: unknown): string[] {
    return [...new Set([...relatedIds(event), ...this.profiles.flatMap((p) => p.ids?.(event) ?? [])])];
  }

  private summarize(event: unknown): string {
    for (const p of this.profiles) {
      const s = p.summarize?.(event);
      if (s !== undefined) return s;
    }
    return summarize(event);
  }

  private record(entry: TimelineEntry, fallbackIds: string[] = []): void {
    entry.seq = ++this.seq;
    const ids = this.idsOf(entry.event);
    if (ids.length === 0) ids.push(...fallbackIds);
    if (ids.length === 0) {
      this.unindexed.push(entry);
      if (this.unindexed.length > 10_000) this.unindexed.shift();
    }
    for (const id of ids) {
      let list = this.byId.get(id);
      if (!list) this.byId.set(id, (list = []));
      list.push(entry);
      if (list.length > 10_000) list.shift();
    }
  }

  /** Tries `entry` against the waiter's open conditions; true when the waiter completed. */
  private offer(w: Waiter, entry: TimelineEntry): boolean {
    if (entry.event === undefined) return false;
    for (let i = 0; i < w.conditions.length; i++) {
      const c = w.conditions[i];
      if (w.matched[i] !== undefined || c.topic !== entry.topic) continue;
      let ok: boolean;
      try {
        ok = c.predicate(entry.event, entry);
      } catch (e) {
        this.waiters.delete(w);
        w.reject(new Error(`the predicate of "${c.description}" threw: ${(e as Error).message}`));
        return true;
      }
      if (ok) w.matched[i] = entry;
    }
    if (w.matched.every((m) => m !== undefined)) {
      this.waiters.delete(w);
      w.resolve(w.matched as TimelineEntry[]);
      return true;
    }
    return false;
  }

  private failAll(e: Error): void {
    for (const w of [...this.waiters]) {
      this.waiters.delete(w);
      w.reject(e);
    }
  }

  private timeoutDetails(w: Waiter, timeoutMs: number): WaitTimeoutDetails {
    const t0 = currentTest()?.startedAt ?? w.registeredAt;
    return {
      timeoutMs,
      startedAt: w.registeredAt,
      conditions: w.conditions.map((c, i) => {
        const m = w.matched[i];
        return {
          topic: c.topic,
          description: c.description,
          matched: m !== undefined,
          ...(m ? { matchedAtMs: m.at - t0 } : {}),
        };
      }),
    };
  }

  private describeTimeout(w: Waiter, timeoutMs: number, ids: string[]): string {
    const t0 = currentTest()?.startedAt ?? w.registeredAt;
    const rel = (at: number): string => `+${at - t0} ms`;
    const lines = [`timed out after ${timeoutMs} ms waiting for:`];
    w.conditions.forEach((c, i) => {
      const m = w.matched[i];
      lines.push(
        m
          ? `  [matched]     ${c.description} (${c.topic}) at ${rel(m.at)}`
          : `  [NOT matched] ${c.description} (${c.topic})`,
      );
    });
    const topics = [...new Set(w.conditions.map((c) => c.topic))];
    const idSet = new Set(ids);
    const mine = this.timelineFor(idSet).filter(
      (e) => e.direction === "received" && topics.includes(e.topic),
    );
    lines.push(
      `seen on ${topics.join(", ")} for this test's ids (${ids.length > 0 ? ids.join(", ") : "none registered"}):`,
    );
    if (mine.length === 0) lines.push("  (nothing)");
    const line = (e: TimelineEntry): string =>
      `  ${rel(e.at)} ${e.topic} ${e.event === undefined ? `(not JSON) ${e.raw?.slice(0, 200)}` : this.summarize(e.event)}`;
    for (const e of mine.slice(-30)) lines.push(line(e));
    if (mine.length > 30) lines.push(`  (${mine.length - 30} earlier not shown)`);
    const others = this.buffer.filter(
      (e) =>
        topics.includes(e.topic) &&
        e.at >= w.registeredAt &&
        !this.idsOf(e.event).some((id) => idSet.has(id)),
    );
    lines.push(
      `${others.length} other message(s) arrived on these topics during the wait${others.length > 0 ? ", the last:" : ""}`,
    );
    for (const e of others.slice(-5)) lines.push(line(e));
    return lines.join("\n");
  }
}

/** The topics a harness reads: its profiles' and HARNESS_TOPICS, without repeats. */
function readTopics(settings: Settings, profiles: readonly Profile[]): string[] {
  return [...new Set([...profiles.flatMap((p) => Object.values(p.topics)), ...settings.extraTopics])];
}

/** Pause between two attempts to connect while the harness starts. */
const CONNECT_PAUSE_MS = 500;

/** Runs `fn` again (every 100 ms, up to 10 s) while it fails with an error Kafka calls retriable. */
async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!(e as { retriable?: boolean }).retriable || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function withTimeout(ms: number, message: () => string) {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  return {
    race: <T>(p: Promise<T>): Promise<T> => Promise.race([p, expired]),
    clear: () => clearTimeout(timer),
  };
}
