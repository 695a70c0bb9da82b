/**
 * The test harness' public API. Start here: docs/harness.md.
 *
 *   import { harness, statusOf } from "../harness";
 *   const h = harness();                       // the suite's one Kafka harness (root hook)
 *   const ev = h.events.fetcher();             // fresh ids, registered with the current test
 *   await h.send(h.topics.fetcher, ev);
 *   await h.waitFor(h.topics.status, statusOf(ev.action_id, "SUCCEEDED"), { description: "run succeeded" });
 */
export * from "./events";
export * from "./settings";
export { TestContext, currentTest, beginTest, endTest, slugify } from "./context";
export {
  KafkaHarness,
  WaitTimeoutError,
  type Condition,
  type HarnessStats,
  type Predicate,
  type TimelineEntry,
  type WaitOptions,
} from "./kafka";
export {
  addArtifactCollector,
  collectArtifacts,
  harness,
  settings,
  type ArtifactCollector,
  type ArtifactContext,
} from "./hooks";
export {
  KubeHarness,
  KubeWaitError,
  byAction,
  byClient,
  byParentAction,
  createdBy,
  kube,
  kubeArtifactCollector,
  selectorString,
  type Kind,
  type KubeState,
  type KubeWaitOptions,
  type Selector,
} from "./kube";
