/**
 * Runs the Pulumi program under `pulumi.runtime.setMocks` and records what it registers.
 * Mocks are set first, then the program is imported afresh, as Pulumi's testing guide prescribes.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { PUBLISH_FAILED_MARK } from "../../infra/publish";

export interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  provider: string | undefined;
  /** Top-level inputs that arrived as secrets. */
  secretInputs: string[];
}

// Pulumi's wire marker of a secret value.
const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Whether a value is Pulumi's wire form of a secret (nested ones stay wrapped in `inputs`). */
export function isSecretValue(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG] === SECRET_SIG;
}

export const FAKE_TESTS = { passed: 5, failed: 0, pending: 0, durationMs: 1000, failures: [] };

/** The results line the mocked suite hook prints (its last stdout line); a test may swap it. */
export const hookOutput = {
  line: (): string =>
    JSON.stringify({
      ok: true,
      reason: "5 passed",
      cause: "passed",
      report: "/r/report.html",
      tests: FAKE_TESTS,
    }),
};

/**
 * Publish commands (by resource name) whose image fails to build, with what the build printed on
 * stderr: the mocked command reports it as scripts/publish-image.sh does with FAILURE_AS_DATA.
 */
export const failingPublishes = new Map<string, string>();

/** PULUMI_BACKEND_URL while the program runs: outside the checkout, as shared stages need; a test may swap it. */
export const backend = { url: "file:///var/tmp/inception-unit-state" };

export const FAKE_KUBECONFIG = "apiVersion: v1\nkind: Config\ncurrent-context: kind-test\n";

/**
 * What the kind cluster probe (infra/cluster.ts KIND_PROBE_SCRIPT) prints, from its environment;
 * by default a cluster whose nodes all run and whose API server answers. A test may swap it.
 */
export const kindProbe = {
  stdout: (env: Record<string, string>): string =>
    [
      `expect ${env.NODES}`,
      "docker ok",
      ...Array.from(
        { length: Number(env.NODES) },
        (_, i) =>
          `node ${env.CLUSTER}-${i === 0 ? "control-plane running control-plane" : `worker${i} running worker`}`,
      ),
      "api ok",
    ].join("\n"),
};

/** What the image cache's start (infra/imagecache.ts) prints in the stack tests; tests may swap it. */
export const imageCache = {
  stdout: (env: Record<string, string>): string => `generation unit-${env.INCEPTION_REGISTRY_PORT}`,
};

class RecordingMocks implements pulumi.runtime.Mocks {
  readonly resources: Registered[] = [];

  newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
    const inputs: Record<string, unknown> = {};
    const secretInputs: string[] = [];
    for (const [k, v] of Object.entries(args.inputs as Record<string, unknown>)) {
      if (isSecretValue(v)) secretInputs.push(k);
      inputs[k] = isSecretValue(v) ? v.value : v;
    }
    this.resources.push({ type: args.type, name: args.name, inputs, provider: args.provider, secretInputs });
    const state: Record<string, unknown> = { ...args.inputs };
    if (args.type === "command:local:Command") {
      // The kind command prints the kubeconfig, the suite hook a results line, publishing the image.
      const env = args.inputs.environment as Record<string, string> | undefined;
      const failed = failingPublishes.get(args.name);
      state.stdout = args.name.endsWith("-hook")
        ? hookOutput.line()
        : failed !== undefined && env?.FAILURE_AS_DATA === "1"
          ? `${PUBLISH_FAILED_MARK} publishing ${env.IMAGE} failed (exit 1)\n`
          : args.name.endsWith("-publish")
            ? `${env?.IMAGE}\n`
            : FAKE_KUBECONFIG;
      state.stderr = failed ?? "";
    }
    return { id: `${args.name}-id`, state };
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    if (args.token === "command:local:run") {
      const env = (args.inputs.environment ?? {}) as Record<string, string>;
      const cache = env.INCEPTION_REGISTRY_NAME !== undefined;
      return { ...args.inputs, stdout: cache ? imageCache.stdout(env) : kindProbe.stdout(env), stderr: "" };
    }
    return args.inputs;
  }
}

export interface StackRun {
  resources: Registered[];
  exports: Record<string, unknown>;
  secretExports: string[];
  of(type: string): Registered[];
}

/** Sets mocks and config (`secretKeys`: keys held as secrets), then imports infra/index.ts afresh. */
async function importProgram(
  stack: string,
  config: Record<string, unknown>,
  secretKeys: string[] = [],
): Promise<{ mocks: RecordingMocks; load: () => Promise<Record<string, unknown>> }> {
  const mocks = new RecordingMocks();
  process.env.PULUMI_BACKEND_URL = backend.url;
  await pulumi.runtime.setMocks(mocks, "inception", stack, false);
  const raw: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) raw[k] = typeof v === "string" ? v : JSON.stringify(v);
  pulumi.runtime.setAllConfig(raw, secretKeys);
  const infra = path.resolve(__dirname, "../../infra") + path.sep;
  for (const k of Object.keys(require.cache)) if (k.startsWith(infra)) delete require.cache[k];
  // The program is an async function (its preflight awaits the API server); Pulumi calls it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const program = require("../../infra/index") as () => Promise<Record<string, unknown>>;
  return { mocks, load: () => program() };
}

/** Runs infra/index.ts as stack `stack` with `config` (keys like "inception:cluster"). */
export async function runStack(
  stack: string,
  config: Record<string, unknown>,
  secretKeys: string[] = [],
): Promise<StackRun> {
  const { mocks, load } = await importProgram(stack, config, secretKeys);
  const mod = await load();
  const exports: Record<string, unknown> = {};
  const secretExports: string[] = [];
  // The exports resolve only after the resources they come from were registered with the mocks.
  for (const [k, v] of Object.entries(mod)) {
    if (pulumi.Output.isInstance(v)) {
      exports[k] = await new Promise((resolve) => (v as pulumi.Output<unknown>).apply(resolve));
      if (await pulumi.isSecret(v as pulumi.Output<unknown>)) secretExports.push(k);
    } else exports[k] = v;
  }
  return {
    resources: mocks.resources,
    exports,
    secretExports,
    of: (type: string) => mocks.resources.filter((r) => r.type === type),
  };
}

/** Runs the program expecting it to throw; returns the error and what was registered anyway. */
export async function runStackExpectingError(
  stack: string,
  config: Record<string, unknown>,
  secretKeys: string[] = [],
): Promise<{ error: Error; resources: Registered[] }> {
  const { mocks, load } = await importProgram(stack, config, secretKeys);
  try {
    await load();
  } catch (e) {
    return { error: e as Error, resources: mocks.resources };
  }
  throw new Error("the program did not throw");
}
