/**
 * `harness({ topics })`: a test file's handle on the suite's one Kafka harness.
 *
 * A test file declares its topics when it loads (at its top level or in a `describe`), before the
 * root hook (hooks.ts) starts the harness; the harness then reads, and creates when missing,
 * exactly the topics every loaded file declared, plus HARNESS_TOPICS:
 *
 *   const h = harness({ topics: { requests: "fetch.requests", results: "fetch.results" } });
 *   it("fetches", async () => {
 *     await h.send(h.topics.requests, { request_id: id, url });
 *     await h.waitFor(h.topics.results, fieldEquals("request_id", id), { description: "the result" });
 *   });
 *
 * A profile (events.ts `Profile`) is declared the same way: `harness(bai)` with the BAI profile.
 * The handle is typed by its topics (`h.topics.requests`), like a started container's handle; its
 * methods use the started harness and say so when it is not started.
 */
import { Profile, TopicMap } from "./events";
import { Condition, HarnessStats, KafkaHarness, Predicate, TimelineEntry, WaitOptions } from "./kafka";

/** Every profile declared so far, in order; the root hook starts the harness with them. */
const declared: Profile[] = [];
let started: KafkaHarness | undefined;
const NO_TOPICS: Profile = { topics: {} };

/** Declares `profile`'s topics (none: `harness()`) and returns a handle typed by them. */
export function harness<T extends TopicMap = Record<never, string>>(profile?: Profile<T>): SuiteHarness<T> {
  const p = profile ?? (NO_TOPICS as Profile<T>);
  if (!declared.includes(p)) {
    const unread = started ? Object.values(p.topics).filter((t) => !started!.topics.includes(t)) : [];
    if (unread.length > 0) {
      throw new Error(
        `harness({ topics }) declared ${unread.join(", ")} after the harness started reading ` +
          `${started!.topics.join(", ") || "no topics"}: declare topics where the test file loads (top level or describe), not inside a test or hook`,
      );
    }
    declared.push(p);
  }
  return new SuiteHarness(p.topics);
}

/** The profiles declared so far (the root hook starts the harness with them). */
export function declaredProfiles(): Profile[] {
  return declared;
}

/** The root hook hands over the started harness, and takes it back (undefined) when it stops it. */
export function useHarness(h: KafkaHarness | undefined): void {
  started = h;
}

/** What a test uses: the declared topics by role, and the started harness' sends, waits and timelines. */
export class SuiteHarness<T extends TopicMap> {
  constructor(readonly topics: T) {}

  /** The started harness. Throws outside a suite run (hooks.ts is the mocha root hook that starts it). */
  get kafka(): KafkaHarness {
    if (!started) {
      throw new Error(
        "the Kafka harness is not started: load tests/harness/hooks.ts as a mocha root hook (the suite runner does) and use the harness inside tests and hooks",
      );
    }
    return started;
  }

  send(topic: string, event: object): Promise<void> {
    return this.kafka.send(topic, event);
  }

  waitFor<E = unknown>(
    topic: string,
    predicate: Predicate<E>,
    o: WaitOptions & { description: string },
  ): Promise<E> {
    return this.kafka.waitFor(topic, predicate, o);
  }

  waitForAll<R extends unknown[] = unknown[]>(
    conditions: { [K in keyof R]: Condition<R[K]> },
    o?: WaitOptions,
  ): Promise<R> {
    return this.kafka.waitForAll<R>(conditions, o);
  }

  timeline(id: string): TimelineEntry[] {
    return this.kafka.timeline(id);
  }

  timelineFor(ids: Iterable<string>): TimelineEntry[] {
    return this.kafka.timelineFor(ids);
  }

  fullTimeline(): TimelineEntry[] {
    return this.kafka.fullTimeline();
  }

  stats(): HarnessStats {
    return this.kafka.stats();
  }
}
