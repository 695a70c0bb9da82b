/**
 * The running test and the ids it uses. The root hooks (hooks.ts) begin a context before each
 * test and end it after; event builders and `send` register ids with it. Waits use it to default
 * their look-back (only messages since the test began) and to say what was seen for the test's
 * ids when they time out; failure artifacts use it to select the test's timeline.
 *
 * Mocha runs tests one at a time in this suite (no --parallel), so one current context suffices.
 */
import { randomUUID } from "node:crypto";

export class TestContext {
  /** Epoch milliseconds when the test began. */
  readonly startedAt = Date.now();
  /** The test's own id: what its id-less sends are filed under (a profile may use it too, e.g.
   *  the BAI profile as every event's `client_id`: one client per test). */
  readonly id = `t-${randomUUID()}`;
  /** Every id the test used (its own, and those of the events it built or sent), in first-use order. */
  readonly ids = new Set<string>([this.id]);

  constructor(readonly title: string) {}

  /** Registers ids as belonging to this test (timeline, artifacts, timeout messages). */
  track(...ids: string[]): void {
    for (const id of ids) if (id) this.ids.add(id);
  }

  /** File-system-safe name of the test: lower case, `[a-z0-9-]`, at most 100 characters. */
  get slug(): string {
    return slugify(this.title);
  }
}

export function slugify(title: string): string {
  const s = title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 100)
    .replace(/-+$/, "");
  return s || "test";
}

let current: TestContext | undefined;

/** Starts the context of a test (the root hook's beforeEach does this). */
export function beginTest(title: string): TestContext {
  current = new TestContext(title);
  return current;
}

/** Ends the current test's context. */
export function endTest(): void {
  current = undefined;
}

/** The running test's context, or undefined outside a test. */
export function currentTest(): TestContext | undefined {
  return current;
}
