/**
 * The local stage's image cache: a registry on this machine (scripts/registry.sh, container
 * `inception-image-cache` on the kind network, data in a volume) that outlives kind clusters.
 * Every image of a local stack is pushed there, and the kind nodes pull from it through a
 * containerd mirror of `localhost:<images.cachePort>`.
 *
 * Why not `kind load` (BAI's LOCAL_PUBLISH, and this project's until Step 14): it sends the whole
 * image (`docker save`) to every node, for every new cluster and every change. On a cold `up` that
 * was 30-43 s for the executor's and the suite's images (about 350 MB each) on the critical path,
 * where what changed was a few hundred kB (docs/measurements.md, "Step 14 cold up"). A push sends
 * only the layers the registry lacks, and a node's pull fetches compressed layers over the local
 * network and unpacks only those it does not hold (the Node runtime's and the mock infra's are in
 * the node image already); a push does not need the cluster, so it runs while kind creates it.
 */
import * as command from "@pulumi/command";
import * as fs from "fs";
import * as path from "path";

/** The cache's container (and, with `-data`, its volume): one for every local stack here. */
export const IMAGE_CACHE_NAME = "inception-image-cache";

/** Where the stack pushes: the cache as the host reaches it. */
export function imageCacheRegistry(port: number): string {
  return `localhost:${port}`;
}

/** The containerd mirror entry's template, which scripts/registry.sh --print-containerd-patch fills too. */
const CONTAINERD_MIRROR = fs.readFileSync(
  path.resolve(__dirname, "..", "scripts", "containerd-mirror.toml"),
  "utf8",
);

/**
 * The kind config's containerd patch: a node pulls `localhost:<port>/…` from the cache by its name
 * on the kind network (for the node image's containerd 1.6, which sets no config_path;
 * docs/registry.md).
 */
export function imageCacheContainerdPatch(port: number): string {
  return CONTAINERD_MIRROR.replace("@REGISTRY@", imageCacheRegistry(port)).replace(
    "@ENDPOINT@",
    `http://${IMAGE_CACHE_NAME}:5000`,
  );
}

// Starts the cache unless it runs (idempotent, locked against another stack's update), then
// prints "generation <its data volume's creation time>", or "problem <why>". Never fails: the
// preflight turns a problem into its own error.
export const IMAGE_CACHE_SCRIPT = `set -u
if ! out=$(scripts/registry.sh start 2>&1); then
  echo "problem $(printf '%s' "$out" | tail -n 3 | tr '\\n' ' ')"
  exit 0
fi
if ! out=$(scripts/registry.sh identity 2>&1); then
  echo "problem $(printf '%s' "$out" | tr '\\n' ' ')"
  exit 0
fi
echo "generation $out"
`;

/** What ensureImageCache found: the cache's generation, or why it is not there. */
export type ImageCacheState = { generation: string } | { problem: string };

/** Reads IMAGE_CACHE_SCRIPT's output. */
export function parseImageCache(stdout: string | undefined): ImageCacheState {
  const lines = (stdout ?? "").split("\n").map((l) => l.trim());
  const fact = (key: string) =>
    lines
      .find((l) => l.startsWith(`${key} `))
      ?.slice(key.length + 1)
      .trim();
  const generation = fact("generation");
  if (generation !== undefined && generation !== "") return { generation };
  return { problem: fact("problem") ?? "scripts/registry.sh printed neither a generation nor a problem" };
}

/**
 * Starts the image cache on `port` when it does not run, and tells its generation (a new one once
 * its data are gone: everything is pushed again). During an update only (the caller's to ensure):
 * it runs processes.
 */
export async function ensureImageCache(port: number, projectRoot: string): Promise<ImageCacheState> {
  const r = await command.local.run({
    command: IMAGE_CACHE_SCRIPT,
    interpreter: ["/bin/bash", "-c"],
    dir: projectRoot,
    environment: { INCEPTION_REGISTRY_NAME: IMAGE_CACHE_NAME, INCEPTION_REGISTRY_PORT: String(port) },
    logging: "none",
  });
  return parseImageCache(r.stdout);
}
