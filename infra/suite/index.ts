/**
 * One run of the black-box suite: a Kubernetes Job (or, with runner "host", mocha on this machine)
 * and the post-deploy hook that waits for it, streams its lines into `pulumi up`'s output and
 * hands back the results (stack outputs) and the run's artifacts folder.
 *
 * Readiness is the hook's to wait for, not Pulumi's: the Job is created suspended and the services'
 * Deployments are not awaited; the hook resumes the Job once every service is Ready (each within
 * its readyTimeoutSeconds), and otherwise writes the run folder with verdict service-not-ready.
 * Pulumi waiting instead would fail the update at its timeout, before any run folder or output.
 * The mock infra stays Pulumi-awaited: the Job depends on it being Ready.
 */
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { execFileSync } from "child_process";
import * as path from "path";
import { podEnvironment } from "../contract";
import type { MockWorkload } from "../mock";
import { containerSecurityContext, podSecurityContext } from "../security";
import type { SuiteConfig } from "../suiteconfig";
import { SUITE_RUN_LABEL, TestsOutput, VerdictCause } from "./collect";
import type { ResultsLine } from "./hook";
import { HOOK_SETTINGS_ENV, NotPublished, encodeHookSettings } from "./settings";
import { lastRunDurations } from "./shards";

export { SUITE_RUN_LABEL, newRunId } from "./collect";
export { SuiteImage } from "./image";

/** A service under test as far as the hook is concerned: whose logs to collect. */
export interface CollectedService {
  /** Service name (a folder of the artifacts). */
  name: string;
  /** Label selector of the service's own pods. */
  podSelector: string;
  /** Label selector of the pods and Jobs it spawns. */
  spawnedSelector: string;
  /** How long the hook waits for the service's Deployment to be available before the suite starts. */
  readyTimeoutSeconds: number;
}

export interface SuiteRunArgs {
  /** Namespace of the Job. */
  namespace: string;
  /** Validated suite settings. */
  config: SuiteConfig;
  /** Stack name (artifacts go to `<artifactsDir>/<stack>/<run id>`). */
  stack: string;
  /** The stack's stage (the run report's header). */
  stage: string;
  /** This run's id; a new one per `up` unless rerun is "onChange". */
  runId: string;
  /** Suite image reference, resolved once it is available to the cluster. */
  image: pulumi.Input<string>;
  /** The test files' directory: inside the image (runner "job") or on this host (runner "host"). */
  suiteDir: string;
  /** Name of the mock infra outputs ConfigMap the suite reads its endpoints from. */
  outputsConfigMap: pulumi.Input<string>;
  /** Kubeconfig (secret) and context the hook uses. */
  kubeconfig: pulumi.Input<string>;
  /** Kubeconfig context. */
  context: pulumi.Input<string>;
  /** Services whose logs the hook collects. Defaults to none. */
  services?: CollectedService[];
  /** The mock infra's workloads the hook waits to be Ready before the suite starts. Defaults to none. */
  mockInfra?: MockWorkload[];
  /**
   * What must exist before the suite Job is created: the mock infra (Ready: Pulumi awaits it) and the
   * services under test (applied only: the hook waits for them, see SuiteRun). Defaults to none.
   */
  after?: pulumi.Input<pulumi.Resource>[];
  /** Root of the checkout (the hook's script and the artifacts folder are resolved against it). */
  projectRoot: string;
  /** Endpoints (and JOB_IMAGE) the host runner uses instead of the in-cluster ones. Defaults to none. */
  hostEnv?: pulumi.Input<Record<string, string>>;
  /**
   * The suite's secret environment (Pulumi secrets): a Kubernetes Secret the Job references with
   * secretKeyRef; the host runner gets the values in its (secret) settings. Defaults to none.
   */
  secretEnv?: Record<string, pulumi.Input<string>>;
  /** Variables whose values the hook blanks in the describe dumps of the artifacts. Defaults to none. */
  redactEnv?: string[];
  /**
   * The suite's `env` came from a config key Pulumi holds as a secret (a value set with
   * `--secret --path`): its literal values go to the state as secrets. Defaults to false.
   */
  envIsSecret?: boolean;
  /**
   * Images the run needs that could not be built or published (failures reported as data, see
   * infra/publish.ts): any, and the run is "could-not-start" at once. Defaults to none.
   */
  notPublished?: pulumi.Input<NotPublished[]>;
}

/** The verdict of a run as the stack outputs carry it. */
export interface RunVerdict {
  ok: boolean;
  reason: string;
  cause: VerdictCause;
}

/**
 * The hook's results line (its last line on stdout), or a red verdict saying why there is none.
 * Exported for the unit tests: the outputs of a red run are read from here.
 */
export function readResultsLine(stdout: string): ResultsLine {
  const last = stdout.trim().split("\n").pop() ?? "";
  try {
    const r = JSON.parse(last) as Partial<ResultsLine>;
    if (typeof r.ok === "boolean" && typeof r.reason === "string" && r.tests !== undefined)
      return { cause: r.ok ? "passed" : "hook-error", ...r } as ResultsLine;
  } catch {
    // not JSON: below
  }
  const reason = `the hook printed no results line (got ${JSON.stringify(last.slice(0, 200))})`;
  const tests: TestsOutput = { passed: 0, failed: 0, pending: 0, durationMs: 0, failures: [], error: reason };
  return { ok: false, reason, cause: "hook-error", tests };
}

/** The checkout's commit for the report; "unknown" outside a git checkout (or without git). */
export function gitCommit(projectRoot: string): string {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], {
      cwd: projectRoot,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "unknown";
  }
}

export class SuiteRun extends pulumi.ComponentResource {
  /** `{passed, failed, pending, durationMs, failures}` of this run; `error` when no test says why it is red. */
  readonly tests: pulumi.Output<unknown>;
  /** This run's verdict and its cause. */
  readonly verdict: pulumi.Output<RunVerdict>;
  /** The run's report.html (undefined when the hook could not write it). */
  readonly report: pulumi.Output<string | undefined>;
  readonly runId: string;
  /** Folder holding junit.xml, results.json and every log of this run. */
  readonly artifactsDir: string;
  /** The suite Job's name (undefined with the host runner). */
  readonly jobName: string | undefined;

  constructor(name: string, args: SuiteRunArgs, opts: pulumi.ComponentResourceOptions) {
    super("inception:suite:SuiteRun", name, {}, opts);
    const c = args.config;
    const ns = args.namespace;
    const child = { parent: this };
    this.runId = args.runId;
    this.artifactsDir = path.resolve(args.projectRoot, c.artifactsDir, args.stack, args.runId);

    const labels = { "app.kubernetes.io/part-of": "inception-suite" };
    const sa = new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      { metadata: { name: "suite", namespace: ns, labels } },
      child,
    );
    // Read-only: what the harness needs to watch the service's work, nothing it could break; plus
    // what the suite's config asks for (suite.rules: the project's suite starts CronJob runs).
    const role = new k8s.rbac.v1.Role(
      `${name}-role`,
      {
        metadata: { name: "suite", namespace: ns, labels },
        rules: [
          {
            apiGroups: [""],
            resources: ["pods", "pods/log", "services", "events", "persistentvolumeclaims"],
            verbs: ["get", "list", "watch"],
          },
          { apiGroups: ["batch"], resources: ["jobs", "cronjobs"], verbs: ["get", "list", "watch"] },
          { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["get", "list", "watch"] },
          // BAI's executor makes MPIJobs for horovod benchmarks (a rule for a kind without its CRD is inert).
          { apiGroups: ["kubeflow.org"], resources: ["mpijobs"], verbs: ["get", "list", "watch"] },
          ...c.rules,
        ],
      },
      child,
    );
    const binding = new k8s.rbac.v1.RoleBinding(
      `${name}-binding`,
      {
        metadata: { name: "suite", namespace: ns, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: ns }],
      },
      child,
    );

    const settings: Record<string, string> = {
      // The user's first: config validation keeps them off the stack's own names.
      ...c.env,
      RUN_ID: args.runId,
      SUITE_NAME: `${args.stack}-${args.runId}`,
      MOCHA_TIMEOUT_MS: String(c.testTimeoutMs),
      MOCHA_RETRIES: String(c.retries),
      MOCHA_PARALLEL: String(c.parallel),
      SUITE_DIR: args.suiteDir,
      SUITE_SPEC: c.spec.length === 1 ? c.spec[0] : JSON.stringify(c.spec),
      ...(c.grep ? { MOCHA_GREP: c.grep } : {}),
      WAIT_TIMEOUT_MS: String(Math.min(c.testTimeoutMs, 60000)),
      NAMESPACE: ns,
      ARTIFACTS_DIR: "/tmp/artifacts",
    };

    const secretEnv = args.secretEnv ?? {};
    const secretEnvRefs: k8s.types.input.core.v1.EnvVar[] = [];
    if (c.runner === "job" && Object.keys(secretEnv).length > 0) {
      const secret = new k8s.core.v1.Secret(
        `${name}-secret-env`,
        {
          metadata: { name: "suite-secret-env", namespace: ns, labels },
          stringData: pulumi.secret(secretEnv) as pulumi.Input<Record<string, pulumi.Input<string>>>,
        },
        child,
      );
      for (const k of Object.keys(secretEnv)) {
        secretEnvRefs.push({ name: k, valueFrom: { secretKeyRef: { name: secret.metadata.name, key: k } } });
      }
    }

    // Sharded: one pod per completion index, each running its part of the files, split in the
    // pods by the last kept run's per-file durations (the same for every pod: they are in the spec).
    const sharded = c.runner === "job" && c.shards > 1;
    const fileDurations = sharded
      ? sortedKeys(lastRunDurations(path.dirname(this.artifactsDir), args.runId))
      : {};
    if (sharded) {
      settings.SUITE_SHARDS = String(c.shards);
      settings.SUITE_FILE_DURATIONS = JSON.stringify(fileDurations);
    }

    let hookAfter: pulumi.Input<pulumi.Resource>[] = [binding];
    if (c.runner === "job") {
      this.jobName = `suite-${args.runId}`;
      const job = new k8s.batch.v1.Job(
        `${name}-job-${args.runId}`,
        {
          metadata: {
            name: this.jobName,
            namespace: ns,
            labels: { ...labels, [SUITE_RUN_LABEL]: args.runId },
            // The hook waits for the Job (and streams it); Pulumi must not block on it.
            annotations: { "pulumi.com/skipAwait": "true" },
          },
          spec: {
            // Created suspended, resumed by the hook once every service under test is Ready: a
            // service that never is still gets its run folder (verdict service-not-ready), and
            // the Job is left suspended, never run. An Indexed Job suspends the same way.
            suspend: true,
            ...(sharded
              ? {
                  completionMode: "Indexed",
                  completions: c.shards,
                  parallelism: c.shards,
                  // Per index: a shard whose tests fail (or that crashes) does not stop the others;
                  // the Job fails once all have ended.
                  backoffLimitPerIndex: 0,
                }
              : { backoffLimit: 0 }),
            activeDeadlineSeconds: c.timeoutSeconds,
            template: {
              metadata: { labels: { ...labels, [SUITE_RUN_LABEL]: args.runId } },
              spec: {
                restartPolicy: "Never",
                serviceAccountName: sa.metadata.name,
                securityContext: podSecurityContext(),
                containers: [
                  {
                    name: "suite",
                    image: args.image,
                    imagePullPolicy: "IfNotPresent",
                    securityContext: containerSecurityContext(),
                    env: [
                      ...Object.entries(settings).map(([k, v]) => ({
                        name: k,
                        value: args.envIsSecret && k in c.env ? pulumi.secret(v) : v,
                      })),
                      // Jobs the tests ask the service to run use an image the cluster already has.
                      { name: "JOB_IMAGE", value: args.image },
                      // The mock infra's endpoints and secrets, as the contract table names them.
                      ...podEnvironment(args.outputsConfigMap),
                      ...secretEnvRefs,
                    ],
                    resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } },
                  },
                ],
              },
            },
          },
        },
        // Old runs' Jobs stay for inspection; the hook keeps the newest keepRuns of them.
        {
          ...child,
          dependsOn: [binding, ...(args.after ?? [])],
          retainOnDelete: true,
          deleteBeforeReplace: false,
          // The hook owns it once the Job exists: a later `up` (or a refresh) of the same run must
          // not suspend it again.
          ignoreChanges: ["spec.suspend"],
        },
      );
      hookAfter = [job];
    } else {
      this.jobName = undefined;
    }

    // One validated value (settings.ts); secret as a whole, since the kubeconfig is.
    const hookSettings = pulumi
      .all([
        args.kubeconfig,
        args.context,
        args.hostEnv ?? {},
        c.runner === "host" ? secretEnv : {},
        args.notPublished ?? [],
      ])
      .apply(([kubeconfig, context, hostEnv, hostSecretEnv, notPublished]) =>
        encodeHookSettings({
          runner: c.runner,
          kubeconfig,
          context,
          namespace: ns,
          jobName: this.jobName ?? "",
          runId: args.runId,
          stack: args.stack,
          stage: args.stage,
          gitCommit: gitCommit(args.projectRoot),
          runDir: this.artifactsDir,
          services: args.services ?? [],
          mockInfra: args.mockInfra ?? [],
          timeoutSeconds: c.timeoutSeconds + 120,
          keepRuns: c.keepRuns,
          hostEnv: c.runner === "host" ? { ...settings, ...hostEnv, ...hostSecretEnv } : {},
          ...(sharded ? { shards: c.shards, fileDurations } : {}),
          redactEnv: args.redactEnv ?? [],
          couldNotStart: notPublished,
        }),
      );
    const script = `exec node -r ts-node/register/transpile-only infra/suite/${c.runner === "job" ? "hook" : "host"}.ts`;
    const hook = new command.local.Command(
      `${name}-hook`,
      {
        create: script,
        dir: args.projectRoot,
        environment: { [HOOK_SETTINGS_ENV]: pulumi.secret(hookSettings) },
        // A new run id means a new run; the suite's own inputs are part of it with rerun "onChange".
        triggers: [args.runId],
        logging: "stderr",
      },
      { ...child, dependsOn: [...hookAfter, ...(args.after ?? [])], additionalSecretOutputs: [] },
    );
    // The hook exits 0 whatever the verdict: its line is this run's, red or green, and becomes the
    // stack outputs; failUpdateWhenRed fails the update once they are recorded.
    const results = hook.stdout.apply(readResultsLine);
    this.tests = results.apply((r) => r.tests);
    this.verdict = results.apply((r) => ({ ok: r.ok, reason: r.reason, cause: r.cause }));
    this.report = results.apply((r) => r.report);
    this.registerOutputs({ tests: this.tests, verdict: this.verdict, report: this.report });
  }
}

/** The same map with its keys sorted: the Job's spec must not change with the order runs listed them. */
function sortedKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Exit code the Node language host reads as "the program already reported its error". */
const EXIT_AFTER_REPORTED_ERROR = 32;

/**
 * Red runs that fail the update even with `failOnTestFailure` off: the stack's own failures, not
 * the tests' (before the hook reported them, an image that failed to build or a service that never
 * became Ready failed the update as a resource).
 */
export const STACK_FAILURES: readonly VerdictCause[] = ["could-not-start", "service-not-ready"];

/**
 * Fails `pulumi up` when the run is red — after the stack outputs are recorded, so they show the
 * red run, not the previous green one. A failed resource would not do: the engine stops reading
 * the program at the first failed step, and outputs it has not received by then keep their old
 * values. The program's own failure is read only after it ended, its outputs registered (and the
 * engine keeps the outputs a failed update registered). Nothing fails in a preview: the verdict
 * is unknown there. Returns the verdict once checked: export it, and the check has run by the
 * time the outputs are. With `failOnTestFailure` false only STACK_FAILURES fail it.
 */
export function failUpdateWhenRed(run: SuiteRun, failOnTestFailure = true): pulumi.Output<RunVerdict> {
  return pulumi.all([run.verdict, run.report]).apply(([v, report]) => {
    if (!v.ok && (failOnTestFailure || STACK_FAILURES.includes(v.cause))) {
      void pulumi.log.error(
        `inception: run ${run.runId} FAILED (${v.cause}): ${v.reason}\n` +
          `inception: report: ${report ?? `none (${run.artifactsDir})`}`,
      );
      process.exitCode = EXIT_AFTER_REPORTED_ERROR;
    }
    return v;
  });
}
