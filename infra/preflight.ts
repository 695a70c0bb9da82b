/**
 * Checks of the stack config against the world, after the pure validation (infra/config) and before
 * any resource is declared: the files config names exist and are what they should be, an
 * existing cluster's kubeconfig is readable, names the context, and its API server answers, and
 * (during an update) what became of the stack's kind cluster (infra/cluster.ts acts on it). Same
 * style as the config's: one ConfigError listing every problem, each with the command that fixes it.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { KubeConfig, VersionApi } from "@kubernetes/client-node";
import * as pulumi from "@pulumi/pulumi";
import { minimatch } from "minimatch";
import { KindClusterHealth, probeKindCluster } from "./cluster";
import { ConfigError } from "./config";
import type { StageConfig } from "./config";
import { Problems, show } from "./config/errors";
import { IMAGE_CACHE_NAME, ensureImageCache } from "./imagecache";
import { CrdDocument, readCrd } from "./mock/crds";
import { namespaceLabels, ownerLabelValue, ownershipProblem } from "./ownership";

/** What the checks read, for the program to use (so nothing is read twice). */
export interface World {
  /** The CRD manifests of `mockInfra.crds`, parsed. */
  crds: CrdDocument[];
  /** `suite.dir`, `suite.extraFiles`, `suite.dockerfile` relative to the project, with forward slashes. */
  suitePaths: { dir: string; extraFiles: string[]; dockerfile: string | undefined };
  /** What became of the stack's kind cluster; undefined in a preview and on an existing cluster. */
  kindCluster?: KindClusterHealth;
  /**
   * The local stage's image cache, started when it did not run: its generation (infra/imagecache.ts).
   * Undefined in a preview and on an existing cluster.
   */
  imageCache?: { generation: string };
}

export interface PreflightOptions {
  /** How long the API server may take to answer its version. Defaults to 5 s. */
  apiTimeoutMs?: number;
  /** The environment (PULUMI_BACKEND_URL). Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** A preview: the kind cluster is not probed (no process runs while previewing). Defaults to Pulumi's. */
  dryRun?: boolean;
}

/** Runs every check; throws one ConfigError listing every problem. */
export async function preflight(config: StageConfig, opts: PreflightOptions = {}): Promise<World> {
  const p = new Problems();
  const root = config.projectRoot;

  const crds: CrdDocument[] = [];
  config.mockInfra.crds.forEach((c, i) => {
    const doc = readCrd(path.resolve(root, c));
    if (typeof doc === "string") p.other(["mockInfra", "crds", i], doc);
    else if (crds.some((x) => x.name === doc.name))
      p.other(["mockInfra", "crds", i], `repeats CRD ${doc.name}`);
    else crds.push(doc);
  });

  const s = config.suite;
  const dir = projectPath(p, ["suite", "dir"], s.dir, root, "directory") ?? s.dir;
  if (fs.existsSync(path.join(root, dir)) && !hasTests(path.join(root, dir), s.spec)) {
    p.other(
      ["suite", "dir"],
      `is ${show(dir)}, which holds no test file matching suite.spec (${s.spec.join(", ")})`,
      {
        value: "<a directory with test files>",
      },
    );
  }
  const extraFiles = s.extraFiles.flatMap(
    (f, i) => projectPath(p, ["suite", "extraFiles", i], f, root, "any") ?? [],
  );
  const dockerfile =
    s.dockerfile === undefined
      ? undefined
      : projectPath(p, ["suite", "dockerfile"], s.dockerfile, root, "file");

  config.services.forEach((svc, i) => {
    if (svc.context !== undefined && !fs.existsSync(path.join(root, svc.context, "Dockerfile"))) {
      p.other(["services", i, "context"], `is ${show(svc.context)}, which has no Dockerfile`, {
        value: "<a directory with a Dockerfile>",
      });
    }
  });

  if (config.stage !== "local") {
    const problem = backendProblem(opts.env ?? process.env, root);
    if (problem !== undefined) {
      p.other(["stage"], `is ${config.stage}, ${problem}`, {
        command: "export PULUMI_BACKEND_URL=file://$HOME/.local/state/inception  # see docs/devo.md",
      });
    }
  }

  if (config.cluster.type === "existing") {
    const { kubeconfigPath, context } = config.cluster;
    const kc = contextGuard(p, kubeconfigPath, context);
    if (kc !== undefined) {
      const problem = await apiServerProblem(kc, opts.apiTimeoutMs ?? 5000);
      if (problem !== undefined) {
        p.other(["cluster", "context"], `is ${show(context)}, whose ${problem}`, {
          command: `kubectl --kubeconfig ${kubeconfigPath} --context ${context} version`,
        });
      } else {
        await ownershipCheck(p, kc, config);
      }
    }
  }

  // Last, and only when all else passed: it runs processes and may wait on the API server.
  let kindCluster: KindClusterHealth | undefined;
  if (config.cluster.type === "kind" && p.empty && !(opts.dryRun ?? pulumi.runtime.isDryRun())) {
    const { name, workers } = config.cluster;
    const probe = await probeKindCluster(name, workers + 1);
    if (probe.state === "no-docker") {
      p.other(["cluster", "name"], `is ${show(name)}, a kind cluster, which needs Docker: ${probe.detail}`, {
        command: "scripts/toolchain.sh --start-services  # starts dockerd when it is installed and silent",
      });
    } else if (probe.state === "unanswering") {
      // Its containers run: a slow API server on a busy machine is no reason to throw a cluster
      // (and every run in it) away. Said, and left to the person to judge.
      p.other(["cluster", "name"], `is ${show(name)}, a kind cluster that ${probe.detail}`, {
        command: `kubectl --context kind-${name} get --raw /readyz  # or npm run down, for a new cluster`,
      });
    } else kindCluster = { ...probe, state: probe.state };
  }
  let imageCache: { generation: string } | undefined;
  if (kindCluster !== undefined) {
    const port = config.images.cachePort;
    const cache = await ensureImageCache(port, root);
    if ("problem" in cache) {
      p.other(
        ["images", "cachePort"],
        `is ${port}, where the image cache could not start: ${cache.problem}`,
        {
          command: `INCEPTION_REGISTRY_NAME=${IMAGE_CACHE_NAME} INCEPTION_REGISTRY_PORT=${port} scripts/registry.sh start  # or another free port`,
        },
      );
    } else imageCache = cache;
  }

  if (!p.empty) throw new ConfigError(p.list, "stack config failed its preflight checks");
  return {
    crds,
    suitePaths: { dir, extraFiles, dockerfile },
    ...(kindCluster ? { kindCluster } : {}),
    ...(imageCache ? { imageCache } : {}),
  };
}

/**
 * Why the state backend does not suit a shared stage, or undefined. Pulumi hands the program no
 * word of its backend; PULUMI_BACKEND_URL is how scripts/env.sh and a CI choose it. A file backend
 * inside the checkout dies with the checkout: a fresh CI clone finds no state, so it neither
 * destroys what the last run left nor knows the namespace is its own.
 */
export function backendProblem(env: NodeJS.ProcessEnv, projectRoot: string): string | undefined {
  const url = env.PULUMI_BACKEND_URL ?? "";
  if (!url.startsWith("file://")) return undefined;
  let dir = url.slice("file://".length);
  if (dir === "~" || dir.startsWith("~/")) dir = path.join(os.homedir(), dir.slice(1));
  const rel = path.relative(path.resolve(projectRoot), path.resolve(dir));
  if (rel.startsWith("..") || path.isAbsolute(rel)) return undefined;
  return (
    `whose state would live inside the checkout (PULUMI_BACKEND_URL=${url}): a fresh clone (every CI run) ` +
    `would find no state. Keep it outside: a file backend on a lasting path ` +
    `(export PULUMI_BACKEND_URL=file://$HOME/.local/state/inception) or an S3 bucket ` +
    `(export PULUMI_BACKEND_URL=s3://<bucket>/<prefix>); see docs/devo.md`
  );
}

/**
 * Asks the current context's API server for its version; returns what is wrong, or undefined when
 * it answers within `timeoutMs`.
 */
export async function apiServerProblem(kc: KubeConfig, timeoutMs = 5000): Promise<string | undefined> {
  const server = kc.getCurrentCluster()?.server ?? "(no server)";
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
  });
  const call = kc
    .makeApiClient(VersionApi)
    .getCode()
    .then(
      () => undefined,
      (e: { code?: number; cause?: { message?: string }; message?: string }) =>
        e?.code === 401
          ? "refuses the kubeconfig's credentials (401)"
          : String(e?.cause?.message ?? e?.message ?? e),
    );
  const error = await Promise.race([call, timeout]).finally(() => clearTimeout(timer));
  if (error === undefined) return undefined;
  return `API server ${server} is unreachable: ${error} (is the cluster up, and is this its kubeconfig?)`;
}

/**
 * Refuses a namespace that exists without this stack's owner label (unless adoptNamespace) or with
 * another stack's. A kind cluster is the stack's own (recreated when its state does not know it),
 * so only an existing cluster is asked.
 */
async function ownershipCheck(p: Problems, kc: KubeConfig, config: StageConfig): Promise<void> {
  const owner = ownerLabelValue(config.project, config.stack);
  let labels: Record<string, string> | null;
  try {
    labels = await namespaceLabels(kc, config.namespace);
  } catch (e) {
    const err = e as { code?: number; message?: string };
    p.other(
      ["namespace"],
      `is ${show(config.namespace)}, whose owner could not be read (${err.code ?? err.message ?? String(e)}): refusing to deploy without knowing whose it is`,
      { command: `kubectl get namespace ${config.namespace} --show-labels` },
    );
    return;
  }
  if (labels === null) return;
  const problem = ownershipProblem(config.namespace, labels, owner, config.adoptNamespace, config.stack);
  if (problem !== undefined) p.other(["namespace"], problem, { value: "<a namespace of this stack's own>" });
}

/** Refuses a kubeconfig whose current context is not the one the stack names; returns it when good. */
function contextGuard(p: Problems, file: string, context: string): KubeConfig | undefined {
  const kubeconfig = ["cluster", "kubeconfig"];
  if (!fs.existsSync(file)) {
    p.other(kubeconfig, `names ${show(file)}, which does not exist`, { value: "<path of a kubeconfig>" });
    return undefined;
  }
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (e) {
    p.other(kubeconfig, `names ${show(file)}, which is not a readable kubeconfig: ${(e as Error).message}`, {
      value: "<path of a kubeconfig>",
    });
    return undefined;
  }
  const names = kc.getContexts().map((x) => x.name);
  if (!names.includes(context)) {
    p.other(
      ["cluster", "context"],
      `is ${show(context)}, which ${file} does not have (it has: ${names.join(", ") || "none"})`,
      { value: names[0] ?? "<context>" },
    );
    return undefined;
  }
  const current = kc.getCurrentContext();
  if (current !== context) {
    p.other(
      ["cluster", "context"],
      `is ${show(context)} but the current context of ${file} is ${show(current)}: refusing to deploy ` +
        `(run: kubectl config use-context ${context})`,
      { command: `kubectl --kubeconfig ${file} config use-context ${context}` },
    );
    return undefined;
  }
  kc.setCurrentContext(context);
  return kc;
}

/**
 * A path inside the project that must exist (as a directory, a file, or either), normalised to
 * forward slashes relative to the project root; undefined when bad (a problem is recorded).
 */
function projectPath(
  p: Problems,
  key: (string | number)[],
  v: string,
  root: string,
  kind: "directory" | "file" | "any",
): string | undefined {
  const abs = path.resolve(root, v);
  const rel = path.relative(root, abs);
  const fix = { value: `<a ${kind === "any" ? "path" : kind} inside ${root}>` };
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) {
    p.other(key, `is ${show(v)}, which is not inside the project ${root}`, fix);
    return undefined;
  }
  const st = fs.statSync(abs, { throwIfNoEntry: false });
  if (st === undefined) p.other(key, `is ${show(v)}, which does not exist under ${root}`, fix);
  else if (kind === "directory" && !st.isDirectory())
    p.other(key, `is ${show(v)}, which is not a directory`, fix);
  else if (kind === "file" && !st.isFile()) p.other(key, `is ${show(v)}, which is not a file`, fix);
  else return rel.split(path.sep).join("/");
  return undefined;
}

function hasTests(dir: string, spec: string[], rel = ""): boolean {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).some((e) => {
    const r = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) return e.name !== "node_modules" && hasTests(dir, spec, r);
    return spec.some((g) => minimatch(r, g, { dot: false }));
  });
}
