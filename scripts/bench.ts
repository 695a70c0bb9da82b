/**
 * `npm run bench`: what the harness costs a test, against a real broker.
 *
 * Starts the host Kafka broker (scripts/kafka-host.sh, its own run directory; or uses
 * KAFKA_BOOTSTRAP_SERVERS when set), the suite's KafkaHarness, and a trivial in-process echo
 * service (a kafkajs consumer that republishes every event of the fetcher topic on the executor
 * topic). Then:
 *
 * - BENCH_N (200) tests one after another, each: begin the test context, build an event, `send`
 *   it, `waitFor` its echo, end the context — per-test time, median and p95. It includes the
 *   broker's and the echo service's round trip, so it bounds the harness' own overhead from above;
 * - BENCH_ROUNDS (15) rounds of one test alone vs 20 tests at once (explicit `since`/`ids`, as
 *   the current-test context is one per process): the ratio of the medians' wall times;
 * - side by side on the same broker, BENCH_SLOW_N (10) tests each of two patterns that pay for a
 *   consumer group per test (the same send and echo as the harness's test):
 *   - the replaced system's: its test helpers make a new consumer per test that subscribes and
 *     polls until it has its assignment. Here: a new kafkajs consumer in a new group, connect,
 *     subscribe from the latest offset, wait for its GROUP_JOIN and its first fetch, then the test;
 *   - the common per-test consumer: a new group per test reading the topic from the beginning
 *     (no wait for the join: the echo cannot be missed), filtered by the test's id.
 *   Both disconnect at the end of the test, as an afterEach would.
 *
 * The broker's group.initial.rebalance.delay.ms is BENCH_GROUP_INITIAL_REBALANCE_DELAY_MS (default
 * 3000, Kafka's own default: the broker the replaced system's tests and a per-test-consumer suite
 * meet in production-like setups, where every new group waits that long before its first
 * assignment; the mock brokers here set 0, and BENCH_GROUP_INITIAL_REBALANCE_DELAY_MS=0 measures
 * that case). The harness joins its one group once, at start, so the delay counts in
 * harnessStartMs, not per test.
 *
 * Prints a line for people, then one JSON line (`overheadMedianMs`, `overheadP95Ms`,
 * `parallel20OverOne`, `vsReplacedSystem`, `vsPerTestConsumer`, …). Exits 1 when an acceptance
 * limit is missed: median ≤ 200 ms, p95 ≤ 500 ms, 20 parallel ≤ 3 × one, the replaced system's
 * pattern ≥ 100 × and the per-test consumer ≥ 10 × the harness's median.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import { beginTest, endTest, KafkaHarness, loadSettings } from "../tests/harness";
import { bai, baiProfile, baiTopics, forAction } from "../tests/harness/profiles/bai";

const root = path.resolve(__dirname, "..");
const script = path.join(root, "scripts/kafka-host.sh");
const runsDir = path.join(root, ".inception/kafka-bench");
const runDir = path.join(runsDir, String(process.pid));
const LIMITS = { medianMs: 200, p95Ms: 500, parallelRatio: 3, vsReplacedSystem: 100, vsPerTestConsumer: 10 };
const N = Number(process.env.BENCH_N ?? 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const SLOW_N = Number(process.env.BENCH_SLOW_N ?? 10);
const REBALANCE_DELAY_MS = Number(process.env.BENCH_GROUP_INITIAL_REBALANCE_DELAY_MS ?? 3000);
const PARALLEL = 20;

async function hostScript(cmd: "start" | "stop", dir = runDir): Promise<string> {
  const { stdout } = await promisify(execFile)(script, [cmd], {
    env: {
      ...process.env,
      KAFKA_HOST_DIR: dir,
      KAFKA_HOST_GROUP_INITIAL_REBALANCE_DELAY_MS: String(REBALANCE_DELAY_MS),
    },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/** The echo service: every event on `from` is republished on `to` (same ids, `type` = `to`). */
async function startEcho(brokers: string[], from: string, to: string): Promise<() => Promise<void>> {
  const kafka = new Kafka({ clientId: "bench-echo", brokers, logLevel: logLevel.ERROR });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const consumer = kafka.consumer({ groupId: `bench-echo-${randomUUID()}`, maxWaitTimeInMs: 500 });
  await producer.connect();
  await consumer.connect();
  // From the beginning: the topic is new, so nothing sent before the join is lost.
  await consumer.subscribe({ topics: [from], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const messages = batch.messages.map((m) => {
        const ev = JSON.parse(m.value?.toString("utf8") ?? "{}");
        return { key: m.key, value: JSON.stringify({ ...ev, type: to }) };
      });
      if (messages.length > 0) await producer.send({ topic: to, messages });
    },
  });
  return async () => {
    await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
  };
}

type Pattern = "replaced-system" | "per-test-consumer";

/**
 * One test as a suite with a consumer group per test runs it: a new consumer (and group) before
 * the test, the send and the wait for the echo through that consumer, the disconnect after it.
 */
async function perTestGroupTest(
  kafka: Kafka,
  pattern: Pattern,
  topics: { fetcher: string; executor: string },
  event: () => { action_id: string },
): Promise<number> {
  const start = performance.now();
  const consumer = kafka.consumer({ groupId: `bench-${pattern}-${randomUUID()}`, maxWaitTimeInMs: 100 });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const ev = event();
  let echoed!: () => void;
  const echo = new Promise<void>((resolve) => (echoed = resolve));
  try {
    await Promise.all([consumer.connect(), producer.connect()]);
    const preparedEvents =
      pattern === "replaced-system"
        ? [consumer.events.GROUP_JOIN, consumer.events.FETCH].map(
            (e) => new Promise<void>((resolve) => consumer.on(e, () => resolve())),
          )
        : [];
    await consumer.subscribe({ topics: [topics.executor], fromBeginning: pattern === "per-test-consumer" });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const got = JSON.parse(message.value?.toString("utf8") ?? "{}") as { action_id?: string };
        if (got.action_id === ev.action_id) echoed();
      },
    });
    // The replaced system's helpers poll until the consumer has its partitions (and a position).
    await Promise.all(preparedEvents);
    await producer.send({ topic: topics.fetcher, messages: [{ value: JSON.stringify(ev) }] });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      echo,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${pattern}: no echo within 30 s`)), 30_000);
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
  }
  return performance.now() - start;
}

async function main(): Promise<number> {
  const external = process.env.KAFKA_BOOTSTRAP_SERVERS;
  let brokers = external;
  const t0 = Date.now();
  if (!brokers) {
    // Brokers of benches that were killed (their pid is gone) are stopped first.
    for (const name of existsSync(runsDir) ? readdirSync(runsDir) : []) {
      if (/^\d+$/.test(name) && !alive(Number(name))) {
        await hostScript("stop", path.join(runsDir, name)).catch(() => undefined);
        rmSync(path.join(runsDir, name), { recursive: true, force: true });
      }
    }
    const out = await hostScript("start");
    brokers = /^KAFKA_BOOTSTRAP_SERVERS=(\S+)$/m.exec(out)?.[1];
    if (!brokers)
      throw new Error(`scripts/kafka-host.sh start printed no KAFKA_BOOTSTRAP_SERVERS line:\n${out}`);
  }
  const brokerMs = Date.now() - t0;
  let h: KafkaHarness | undefined;
  let stopEcho: (() => Promise<void>) | undefined;
  try {
    const settings = loadSettings({
      ...process.env,
      KAFKA_BOOTSTRAP_SERVERS: brokers,
      ARTIFACTS_DIR: path.join(root, "artifacts/bench"),
    });
    // Unique topics on an external broker, so its old messages do not count.
    const profile = external
      ? baiProfile(
          Object.fromEntries(
            Object.entries(baiTopics).map(([role, t]) => [role, `bench-${t.toLowerCase()}-${process.pid}`]),
          ) as typeof baiTopics,
        )
      : bai;
    const topics = profile.topics;
    h = await KafkaHarness.start(settings, profile);
    const harnessStartMs = h.stats().startMs;
    stopEcho = await startEcho(settings.kafkaBootstrapServers, topics.fetcher, topics.executor);
    const hh = h;
    const events = profile.events;

    /** One test as mocha would run it with the root hooks (serial: the process-wide context). */
    const serialTest = async (i: number): Promise<number> => {
      const start = performance.now();
      beginTest(`bench test ${i}`);
      try {
        const ev = events.fetcher({ descriptor: `[info]\ndescription = "bench ${i}"\n` });
        await hh.send(topics.fetcher, ev);
        await hh.waitFor(topics.executor, forAction(ev.action_id), {
          description: "the echo",
          timeoutMs: 30_000,
        });
      } finally {
        endTest();
      }
      return performance.now() - start;
    };
    /** The same without the process-wide context, so several can run at once. */
    const concurrentTest = async (): Promise<void> => {
      const since = Date.now();
      const ev = events.fetcher();
      await hh.send(topics.fetcher, ev);
      await hh.waitFor(topics.executor, forAction(ev.action_id), {
        description: "the echo",
        timeoutMs: 30_000,
        since,
        ids: [ev.action_id],
      });
    };
    const wall = async (n: number): Promise<number> => {
      const start = performance.now();
      await Promise.all(Array.from({ length: n }, () => concurrentTest()));
      return performance.now() - start;
    };

    for (let i = 0; i < 20; i++) await serialTest(-i); // warm-up (first waits, JIT, connections)
    const times: number[] = [];
    for (let i = 0; i < N; i++) times.push(await serialTest(i));
    const ones: number[] = [];
    const twenties: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      ones.push(await wall(1));
      twenties.push(await wall(PARALLEL));
    }

    // The slow patterns after the harness's tests, so their groups (and their leaving) cannot
    // slow the harness's numbers down; one warm-up each for connections and JIT.
    const kafka = new Kafka({
      clientId: "bench-per-test",
      brokers: settings.kafkaBootstrapServers,
      logLevel: logLevel.NOTHING,
    });
    const slow: Record<Pattern, number[]> = { "replaced-system": [], "per-test-consumer": [] };
    for (const pattern of Object.keys(slow) as Pattern[]) {
      await perTestGroupTest(kafka, pattern, topics, () => events.fetcher());
      for (let i = 0; i < SLOW_N; i++)
        slow[pattern].push(await perTestGroupTest(kafka, pattern, topics, () => events.fetcher()));
    }

    const median = percentile(times, 50);
    const p95 = percentile(times, 95);
    const one = percentile(ones, 50);
    const twenty = percentile(twenties, 50);
    const ratio = twenty / one;
    const replacedMedian = percentile(slow["replaced-system"], 50);
    const perTestMedian = percentile(slow["per-test-consumer"], 50);
    const vsReplaced = replacedMedian / median;
    const vsPerTest = perTestMedian / median;
    const ok =
      median <= LIMITS.medianMs &&
      p95 <= LIMITS.p95Ms &&
      ratio <= LIMITS.parallelRatio &&
      vsReplaced >= LIMITS.vsReplacedSystem &&
      vsPerTest >= LIMITS.vsPerTestConsumer;
    const result = {
      overheadMedianMs: round1(median),
      overheadP95Ms: round1(p95),
      overheadMinMs: round1(Math.min(...times)),
      overheadMaxMs: round1(Math.max(...times)),
      tests: N,
      oneMs: round1(one),
      parallel20Ms: round1(twenty),
      parallel20OverOne: Math.round(ratio * 100) / 100,
      rounds: ROUNDS,
      harnessStartMs,
      brokerStartMs: external ? null : brokerMs,
      groupJoins: h.stats().groupJoins,
      replacedSystemMedianMs: round1(replacedMedian),
      perTestConsumerMedianMs: round1(perTestMedian),
      slowTests: SLOW_N,
      groupInitialRebalanceDelayMs: REBALANCE_DELAY_MS,
      vsReplacedSystem: Math.round(vsReplaced * 10) / 10,
      vsPerTestConsumer: Math.round(vsPerTest * 10) / 10,
      limits: LIMITS,
      pass: ok,
      machine: `${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(2)}, node ${process.version}`,
      date: new Date().toISOString(),
    };
    const mark = (b: boolean): string => (b ? "ok" : "MISSED");
    console.log(
      `bench: per test (send + waitFor through an echo service) median ${result.overheadMedianMs} ms ` +
        `[${mark(median <= LIMITS.medianMs)} ≤ ${LIMITS.medianMs}], p95 ${result.overheadP95Ms} ms ` +
        `[${mark(p95 <= LIMITS.p95Ms)} ≤ ${LIMITS.p95Ms}] over ${N}; ${PARALLEL} in parallel ` +
        `${result.parallel20Ms} ms vs one ${result.oneMs} ms = ${result.parallel20OverOne}× ` +
        `[${mark(ratio <= LIMITS.parallelRatio)} ≤ ${LIMITS.parallelRatio}×]; harness start ${harnessStartMs} ms ` +
        `(${result.machine})`,
    );
    console.log(
      `bench: per test, side by side (group.initial.rebalance.delay.ms=${REBALANCE_DELAY_MS}): ` +
        `harness ${result.overheadMedianMs} ms; replaced system's pattern (new consumer and group, ` +
        `polled until assigned) ${result.replacedSystemMedianMs} ms = ${result.vsReplacedSystem}× ` +
        `[${mark(vsReplaced >= LIMITS.vsReplacedSystem)} ≥ ${LIMITS.vsReplacedSystem}×]; per-test consumer ` +
        `(new group from the beginning) ${result.perTestConsumerMedianMs} ms = ${result.vsPerTestConsumer}× ` +
        `[${mark(vsPerTest >= LIMITS.vsPerTestConsumer)} ≥ ${LIMITS.vsPerTestConsumer}×] (medians of ${SLOW_N})`,
    );
    console.log(JSON.stringify(result));
    return ok ? 0 : 1;
  } finally {
    await stopEcho?.();
    await h?.stop();
    if (!external) {
      await hostScript("stop").catch((e) => console.error(`bench: stopping the broker failed: ${e}`));
      rmSync(runDir, { recursive: true, force: true });
    }
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`bench failed: ${(e as Error).stack ?? e}`);
    process.exit(2);
  },
);
