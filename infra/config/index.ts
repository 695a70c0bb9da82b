/**
 * The stack's typed configuration: read, defaulted and validated by the schema (./schema.ts) before
 * any resource is declared. Pure: nothing here touches the file system or the network (those checks
 * are infra/preflight.ts). Bad input throws one ConfigError listing every problem.
 */
import * as os from "os";
import * as path from "path";
import { ConfigError, NAMESPACE, Problems } from "./errors";
import { STAGES, Stage, StackConfig, isSecretPath, stackSchema } from "./schema";

export * from "./schema";
export { ConfigError, NAMESPACE, SECRET_SHOWN } from "./errors";
export type { Problem } from "./errors";

/** The validated config plus what the program needs besides it. */
export type StageConfig = StackConfig & {
  project: string;
  stack: string;
  /** Directory of Pulumi.yaml: relative paths in config are resolved against it. */
  projectRoot: string;
  /** Top-level keys Pulumi holds as secrets (set with `--secret`, possibly with `--path`). */
  secretKeys: string[];
};

/** Raw config as Pulumi hands it over: `inception:<key>` → string (objects as JSON). */
export type RawConfig = Record<string, string>;

export interface LoadInput {
  project: string;
  stack: string;
  config: RawConfig;
  /** Full keys (`inception:images`) whose values are secrets. Defaults to none. */
  secretKeys?: string[];
  env?: NodeJS.ProcessEnv;
  /** Directory of Pulumi.yaml. Defaults to the working directory. */
  projectRoot?: string;
}

/** Reads and validates the stack config; throws ConfigError listing every problem. */
export function loadConfig(input: LoadInput): StageConfig {
  const env = input.env ?? process.env;
  const secretKeys = (input.secretKeys ?? [])
    .filter((k) => k.startsWith(`${NAMESPACE}:`))
    .map((k) => k.slice(NAMESPACE.length + 1));
  const p = new Problems((at) => {
    const key = at.map(String).join(".");
    return secretKeys.includes(String(at[0])) || isSecretPath(key);
  });

  const raw: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(input.config)) {
    if (!fullKey.startsWith(`${NAMESPACE}:`)) continue;
    const key = fullKey.slice(NAMESPACE.length + 1);
    if (key.includes(".") || key.includes("[")) {
      p.other(
        [key],
        `is not a known setting (to set a nested value use: pulumi config set --path ${NAMESPACE}:${key} <value>)`,
        {
          command: `pulumi config rm '${fullKey}' && pulumi config set --path '${fullKey}' <value>`,
        },
      );
      continue;
    }
    raw[key] = parseValue(value);
  }

  // The stage decides the cluster's form, so it is resolved before the rest.
  const fromStack = (STAGES as readonly string[]).includes(input.stack) ? (input.stack as Stage) : undefined;
  const stage = (STAGES as readonly unknown[]).includes(raw.stage)
    ? (raw.stage as Stage)
    : (fromStack ?? "local");
  if (raw.stage === undefined && fromStack === undefined) {
    p.other(
      ["stage"],
      `is required for stack "${input.stack}" (its name is not one of ${STAGES.join(", ")})`,
      {
        value: "<local|devo|prod>",
      },
    );
  }

  // One switch in config or the environment (the environment wins, for CI on air-gapped hosts).
  const imagesFromEnv = env.INCEPTION_MOCK_IMAGES;
  if (imagesFromEnv !== undefined && imagesFromEnv !== "") {
    if (imagesFromEnv === "public" || imagesFromEnv === "local") {
      const m = raw.mockInfra;
      raw.mockInfra =
        typeof m === "object" && m !== null
          ? { ...m, images: imagesFromEnv }
          : m === undefined
            ? { images: imagesFromEnv }
            : m;
    } else {
      p.expected(
        ["mockInfra", "images (from INCEPTION_MOCK_IMAGES)"],
        "one of public, local",
        imagesFromEnv,
        {
          command: "export INCEPTION_MOCK_IMAGES=public  # or local, or unset it",
        },
      );
    }
  }

  const fromEnv = env.KUBECONFIG?.split(path.delimiter).find((s) => s.length > 0);
  const schema = stackSchema({
    stack: input.stack,
    stage,
    kubeconfig: fromEnv ?? path.join(os.homedir(), ".kube", "config"),
  });
  const parsed = schema.safeParse(raw, { reportInput: true });
  if (!parsed.success) p.fromZod(parsed.error.issues);
  if (!p.empty || !parsed.success) throw new ConfigError(p.list);
  return {
    ...parsed.data,
    project: input.project,
    stack: input.stack,
    projectRoot: input.projectRoot ?? process.cwd(),
    secretKeys,
  };
}

function parseValue(v: string): unknown {
  const t = v.trim();
  if (t.startsWith("{") || t.startsWith("[")) {
    try {
      return JSON.parse(t) as unknown;
    } catch {
      return v;
    }
  }
  return v;
}

/** Reads the running stack's config through the Pulumi runtime. */
export function configFromPulumi(): StageConfig {
  // Imported here so the pure loader above stays usable without a Pulumi runtime.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
  const config = pulumi.runtime.allConfig();
  // The engine's list of secret keys (PULUMI_CONFIG_SECRET_KEYS); marked internal in the typings.
  const runtime = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
  return loadConfig({
    project: pulumi.getProject(),
    stack: pulumi.getStack(),
    config,
    secretKeys: Object.keys(config).filter((k) => runtime.isConfigSecret?.(k) === true),
    // Pulumi runs the program in its `main` directory (infra/); paths in config are the project's.
    projectRoot: path.resolve(__dirname, "../.."),
  });
}
