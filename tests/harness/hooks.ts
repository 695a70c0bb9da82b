/**
 * Mocha root hooks for suites that use the harness (load with `"require": [..., "tests/harness/hooks.ts"]`):
 *
 * - before all: load settings (one error listing every bad variable) and start the suite's ONE
 *   Kafka harness (one consumer-group join for the whole run) on the topics the loaded test files
 *   declared with `harness({ topics })` (handle.ts);
 * - before each: begin the test's context (its ids, its start time);
 * - after each: when the test failed, run every artifact collector into
 *   `<ARTIFACTS_DIR>/<test title slug>/` — the built-in one writes `events.json`, the test's
 *   timeline;
 * - after all: stop the harness.
 *
 * Extension point: `addArtifactCollector(name, fn)` adds a collector (e.g. pods, jobs and logs
 * of the test's action ids from Kubernetes). Collectors run one after another; a collector that
 * throws is reported in `collectors.json` and does not stop the others or change the test result.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import type { Context } from "mocha";
import { beginTest, currentTest, endTest, TestContext } from "./context";
import { declaredProfiles, useHarness } from "./handle";
import { KafkaHarness } from "./kafka";
import { loadSettings, Settings } from "./settings";

/** What a collector gets: the failed test, its directory (already created) and the suite's handles. */
export interface ArtifactContext {
  test: TestContext;
  /** The mocha title path joined by " ", e.g. "executor runs a job". */
  fullTitle: string;
  error: Error | undefined;
  dir: string;
  harness: KafkaHarness | undefined;
  settings: Settings;
}

export type ArtifactCollector = (a: ArtifactContext) => Promise<void>;

const collectors: { name: string; fn: ArtifactCollector }[] = [];

/** Adds a collector run for every failed test, after those added before it. */
export function addArtifactCollector(name: string, fn: ArtifactCollector): void {
  collectors.push({ name, fn });
}

// The built-in collector: the test's event timeline.
addArtifactCollector("events", async (a) => {
  const entries = a.harness?.timelineFor(a.test.ids) ?? [];
  const doc = {
    test: a.fullTitle,
    startedAt: new Date(a.test.startedAt).toISOString(),
    ids: [...a.test.ids],
    error: a.error ? { message: a.error.message, stack: a.error.stack } : null,
    events: entries.map((e) => ({ ...e, at: new Date(e.at).toISOString(), atMs: e.at - a.test.startedAt })),
  };
  await writeFile(path.join(a.dir, "events.json"), JSON.stringify(doc, null, 2) + "\n");
});

/** The mocha test's property holding its TestContext (`startedAt`, `ids`); packages/runner/reporter.ts reads it. */
export const TEST_CONTEXT_PROPERTY = "inceptionTest";

let suite: { settings: Settings; harness: KafkaHarness } | undefined;

/** The suite's settings (loaded by the root hook). */
export function settings(): Settings {
  if (!suite) throw new Error("settings not loaded: load tests/harness/hooks.ts as a mocha root hook");
  return suite.settings;
}

/**
 * Runs every collector for a failed test into `<artifactsDir>/<slug>/`; returns that directory.
 * Exported so other runners (and the harness's own tests) can call it.
 */
export async function collectArtifacts(
  test: TestContext,
  fullTitle: string,
  error: Error | undefined,
  s: Settings,
  h: KafkaHarness | undefined,
): Promise<string> {
  const dir = path.join(s.artifactsDir, test.slug);
  await mkdir(dir, { recursive: true });
  const results: { name: string; ok: boolean; error?: string; ms: number }[] = [];
  for (const c of collectors) {
    const t0 = Date.now();
    try {
      await c.fn({ test, fullTitle, error, dir, harness: h, settings: s });
      results.push({ name: c.name, ok: true, ms: Date.now() - t0 });
    } catch (e) {
      results.push({ name: c.name, ok: false, error: String((e as Error)?.stack ?? e), ms: Date.now() - t0 });
    }
  }
  await writeFile(path.join(dir, "collectors.json"), JSON.stringify(results, null, 2) + "\n");
  return dir;
}

export const mochaHooks = {
  async beforeAll(this: Context): Promise<void> {
    if (suite) return;
    const s = loadSettings();
    this.timeout(s.startTimeoutMs + 5_000);
    const h = await KafkaHarness.start(s, declaredProfiles());
    suite = { settings: s, harness: h };
    useHarness(h);
    const st = h.stats();
    console.log(
      `[harness] Kafka harness ready in ${st.startMs} ms (${s.kafkaBootstrapServers.join(",")}; topics: ${h.topics.join(", ") || "none"})`,
    );
  },

  beforeEach(this: Context): void {
    const test = beginTest(this.currentTest?.fullTitle() ?? "test");
    // The suite runner's reporter records the test's start and ids from here (results.json): a
    // plain property, since the runner does not import the harness.
    if (this.currentTest) Object.assign(this.currentTest, { [TEST_CONTEXT_PROPERTY]: test });
  },

  async afterEach(this: Context): Promise<void> {
    const test = currentTest();
    const t = this.currentTest;
    try {
      if (test && t && t.state === "failed" && suite) {
        this.timeout(120_000);
        const err = (t as unknown as { err?: Error }).err;
        const dir = await collectArtifacts(test, t.fullTitle(), err, suite.settings, suite.harness);
        console.log(`[harness] artifacts of the failed test: ${dir}`);
      }
    } finally {
      endTest();
    }
  },

  async afterAll(): Promise<void> {
    if (!suite) return;
    const { harness: h, settings: st } = suite;
    suite = undefined;
    useHarness(undefined);
    // The whole run's Kafka timeline goes with the run's artifacts, failed or not.
    mkdirSync(st.artifactsDir, { recursive: true });
    writeFileSync(path.join(st.artifactsDir, "timeline.json"), JSON.stringify(h.fullTimeline(), null, 2));
    await h.stop();
  },
};
