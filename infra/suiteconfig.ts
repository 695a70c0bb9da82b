// The suite's settings are part of the one stack config schema (infra/config); kept for importers.
export { DEFAULT_SUITE_DIR } from "./config";
export type { SuiteConfig } from "./config";
