/**
 * The test harness' public API. Start here: docs/harness.md.
 *
 *   import { fieldEquals, harness, newId } from "@inception/harness";
 *   const h = harness({ topics: { requests: "fetch.requests", results: "fetch.results" } });
 *   it("answers a request", async () => {
 *     const id = newId("r");
 *     await h.send(h.topics.requests, { request_id: id });
 *     await h.waitFor(h.topics.results, fieldEquals("request_id", id), { description: "the result" });
 *   });
 *
 * The replaced system's (BAI) topics and events are a profile: "@inception/harness/profiles/bai".
 */
export * from "./events";
export { harness, SuiteHarness } from "./handle";
export * from "./settings";
export { TestContext, currentTest, beginTest, endTest, slugify } from "./context";
export {
  KafkaHarness,
  WaitTimeoutError,
  type WaitTimeoutDetails,
  type Condition,
  type HarnessStats,
  type Predicate,
  type TimelineEntry,
  type WaitOptions,
} from "./kafka";
export {
  addArtifactCollector,
  collectArtifacts,
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
  jobFromCronJob,
  kube,
  kubeArtifactCollector,
  selectorString,
  type Kind,
  type KubeState,
  type KubeWaitOptions,
  type Selector,
} from "./kube";
