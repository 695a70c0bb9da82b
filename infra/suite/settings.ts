/**
 * The post-deploy hook's settings: one JSON value in one environment variable, written by the
 * SuiteRun component (index.ts) and read by the hook (hook.ts, host.ts), both through this schema,
 * so the two sides cannot drift and a bad value fails naming the field (never echoing a value: the
 * kubeconfig is a secret).
 */
import { z } from "zod";

/** The one variable the hook reads. */
export const HOOK_SETTINGS_ENV = "INCEPTION_HOOK_SETTINGS";

const nonEmpty = z.string().min(1);

export const hookSettingsSchema = z
  .object({
    /** `job`: wait for the suite Job in the cluster; `host`: run the suite with mocha on this machine. */
    runner: z.enum(["job", "host"]),
    /** The stack's kubeconfig (a secret) and the context in it the hook uses. */
    kubeconfig: nonEmpty,
    context: nonEmpty,
    namespace: nonEmpty,
    /** The suite Job (runner "job"). */
    jobName: z.string(),
    runId: nonEmpty,
    /** The stack, its stage and the checkout's commit: the run report's header. */
    stack: nonEmpty,
    stage: nonEmpty,
    /** `git rev-parse HEAD` of the project, or "unknown" outside a git checkout. */
    gitCommit: nonEmpty,
    /** This run's artifacts folder (absolute). */
    runDir: nonEmpty.refine((p) => p.startsWith("/"), "must be an absolute path"),
    /**
     * The services under test: the suite starts once each one's Deployment (selected by
     * podSelector, its pods' labels) is rolled out and a pod of it is Ready, waited for at most
     * readyTimeoutSeconds; their pods' logs (and spawned pods' logs) are collected.
     */
    services: z.array(
      z.object({
        name: nonEmpty,
        podSelector: nonEmpty,
        spawnedSelector: nonEmpty,
        readyTimeoutSeconds: z.int().positive(),
      }),
    ),
    /**
     * The mock infra's workloads: the suite starts once each has a Ready pod, waited for at most
     * readyTimeoutSeconds. Pulumi awaits a mock only when it changes it.
     */
    mockInfra: z
      .array(z.object({ name: nonEmpty, podSelector: nonEmpty, readyTimeoutSeconds: z.int().positive() }))
      .default([]),
    /** How long the hook waits for the whole run. */
    timeoutSeconds: z.int().positive(),
    /** Runs (artifact folders and suite Jobs) kept. */
    keepRuns: z.int().min(1),
    /** The host runner's environment (runner "host"): the suite's settings and host-side endpoints. */
    hostEnv: z.record(z.string(), z.string()),
    /** A sharded suite (suite.shards > 1): its pod count, and the per-file durations it is split by. */
    shards: z.int().min(2).max(32).optional(),
    fileDurations: z.record(z.string(), z.number().nonnegative()).optional(),
    /** Variables whose literal values are blanked in the artifacts' describe dumps (secrets). */
    redactEnv: z.array(z.string()).default([]),
    /**
     * Images the run needs that could not be built or published (infra/publish.ts): what each is
     * for, its reference and its publishing's last lines. Any: the run cannot start.
     */
    couldNotStart: z.array(z.object({ what: nonEmpty, image: nonEmpty, log: z.string() })).default([]),
  })
  .strict()
  .refine((s) => s.runner === "host" || s.jobName !== "", {
    path: ["jobName"],
    message: 'must name the suite Job with runner "job"',
  });

export type HookSettings = z.output<typeof hookSettingsSchema>;

/** An image a run needs that could not be built or published. */
export type NotPublished = HookSettings["couldNotStart"][number];

/** Why the hook's settings cannot be used: every problem, each naming its field. */
export class HookSettingsError extends Error {
  constructor(problems: string[]) {
    super(`the hook's settings (${HOOK_SETTINGS_ENV}) are invalid:\n  ${problems.join("\n  ")}`);
    this.name = "HookSettingsError";
  }
}

function check(v: unknown): HookSettings {
  const r = hookSettingsSchema.safeParse(v);
  if (r.success) return r.data;
  // Messages only: zod's issues carry no input value unless asked, and the kubeconfig is secret.
  throw new HookSettingsError(r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`));
}

/** The settings as the value of HOOK_SETTINGS_ENV; throws a HookSettingsError for bad settings. */
export function encodeHookSettings(s: z.input<typeof hookSettingsSchema>): string {
  return JSON.stringify(check(s));
}

/** The settings from the environment; throws a HookSettingsError naming every bad field. */
export function decodeHookSettings(env: NodeJS.ProcessEnv): HookSettings {
  const raw = env[HOOK_SETTINGS_ENV];
  if (raw === undefined || raw === "") throw new HookSettingsError([`${HOOK_SETTINGS_ENV} is not set`]);
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    // Not the parser's message: it quotes the text, which holds the kubeconfig.
    throw new HookSettingsError([`${HOOK_SETTINGS_ENV} is not valid JSON`]);
  }
  return check(v);
}
