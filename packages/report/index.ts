/**
 * @inception/report: the self-contained HTML report of a suite run and the run history of a stack.
 *
 *   writeRunReport(runDir, meta)   // <runDir>/report.html and run.json
 *   writeHistory(stackDir)         // <stackDir>/index.html (call after pruning old runs)
 *
 * The render functions are pure with respect to the folder they read: same files, same page.
 */
export { renderRunReport, writeRunReport, REPORT_FILE, RUN_FILE } from "./run";
export type { RunSummary } from "./run";
export { renderHistory, writeHistory, HISTORY_FILE } from "./history";
export type { RunMeta, TestResult, WaitTimeout } from "./read";
export { buildStory, parseWaitTimeout } from "./story";
