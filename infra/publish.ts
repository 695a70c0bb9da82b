/**
 * Builds an image from a directory of the repo and makes it available to the cluster: on local
 * `kind load docker-image` (the seed's LOCAL_PUBLISH), elsewhere `docker push` to the registry.
 * The tag is a hash of the build context, so an unchanged image is never published again.
 */
import * as command from "@pulumi/command";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { defaultPrepare, prepareContext } from "./prepare";

/** Where a published image goes. */
export type PublishTarget =
  | { type: "kind"; clusterName: string; clusterIdentity: pulumi.Input<string> }
  | {
      type: "registry";
      registry: string;
      /** Pushes log in with these (the password a Pulumi secret); none: the host's docker login. */
      credentials?: { username: string; password: pulumi.Input<string> };
    }
  // Built into the local docker only: a base other images are built FROM.
  | { type: "local" };

export interface PublishedImageArgs {
  /** Image name; the repository is `<prefix>/<name>`. */
  name: string;
  /** Build context directory (absolute, or relative to the working directory). Give this or `image`. */
  context?: string;
  /**
   * A prebuilt image to publish instead of building one (pulled first when absent). Loaded into kind
   * under its own name; pushed as `<registry>/<prefix>/<name>:<tag>`. Defaults to none.
   */
  image?: string;
  /**
   * Command run in the context on the host before the build, when its sources changed. Defaults to
   * `npm run --silent prepare-image` when the context's package.json has that script, else none.
   */
  prepare?: string[];
  /**
   * The context's content hash, for a context written only during an update (the suite's generated
   * one): the context is then neither required nor read (nor prepared) at program time. Defaults to
   * hashing the context.
   */
  contentHash?: string;
  /** Dockerfile path relative to the context. Defaults to "Dockerfile". */
  dockerfile?: string;
  /** Build arguments. Defaults to none. */
  buildArgs?: Record<string, string>;
  /** Repository prefix. Defaults to "inception". */
  prefix?: string;
  /** Where the image is published. */
  target: PublishTarget;
}

/** scripts/publish-image.sh: what each publish command runs (its text, for the script tests). */
const PROJECT_ROOT = path.resolve(__dirname, "..");
export const PUBLISH_SCRIPT_FILE = path.resolve(__dirname, "..", "scripts", "publish-image.sh");
export const PUBLISH_SCRIPT = fs.readFileSync(PUBLISH_SCRIPT_FILE, "utf8");

/** An image built from the repo and published for the stack's cluster. */
export class PublishedImage extends pulumi.ComponentResource {
  /** Full image reference; resolves once the image is available to the cluster. */
  readonly ref: pulumi.Output<string>;
  /** The same reference, known up front; the image is in the local docker once `ref` resolves. */
  readonly localRef: string;
  /** Content hash of the build context (the tag). */
  readonly contentHash: string;

  constructor(name: string, args: PublishedImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("inception:publish:PublishedImage", name, {}, opts);
    if ((args.context === undefined) === (args.image === undefined)) {
      throw new Error(`image ${args.name}: give exactly one of context (to build) or image (prebuilt)`);
    }
    const dockerfile = args.dockerfile ?? "Dockerfile";
    const context = args.context === undefined ? "" : path.resolve(args.context);
    const given = args.contentHash !== undefined;
    if (args.context !== undefined && !given && !fs.existsSync(path.join(context, dockerfile))) {
      throw new Error(`image ${args.name}: no ${dockerfile} in build context ${context}`);
    }
    if (args.context !== undefined && !given) {
      const prepare = args.prepare ?? defaultPrepare(context);
      if (prepare.length > 0) prepareContext(context, prepare);
    }
    this.contentHash =
      args.contentHash ??
      (args.image !== undefined
        ? imageHash(args.image)
        : contextHash(context, dockerfile, args.buildArgs ?? {}));
    const repo = `${args.prefix ?? "inception"}/${args.name}`;
    const t = args.target;
    const tag =
      args.image !== undefined ? (args.image.split(":").pop() ?? this.contentHash) : this.contentHash;
    const image =
      t.type === "registry" ? `${t.registry}/${repo}:${tag}` : (args.image ?? `${repo}:${this.contentHash}`);
    this.localRef = image;

    const environment: Record<string, pulumi.Input<string>> = {
      IMAGE: image,
      SOURCE_IMAGE: args.image ?? "",
      CONTEXT: context,
      DOCKERFILE: dockerfile,
      BUILD_ARGS: Object.entries(args.buildArgs ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join("\n"),
      TARGET: t.type,
      CLUSTER: t.type === "kind" ? t.clusterName : "",
      REGISTRY_USERNAME: t.type === "registry" ? (t.credentials?.username ?? "") : "",
      REGISTRY_PASSWORD:
        t.type === "registry" && t.credentials !== undefined ? pulumi.secret(t.credentials.password) : "",
    };
    const publish = new command.local.Command(
      `${name}-publish`,
      {
        create: `exec /bin/bash ${JSON.stringify(path.relative(PROJECT_ROOT, PUBLISH_SCRIPT_FILE))}`,
        dir: PROJECT_ROOT,
        environment,
        // Publish again only when the content changes or the kind cluster was recreated.
        triggers: [
          this.contentHash,
          image,
          t.type === "kind" ? t.clusterIdentity : t.type === "registry" ? t.registry : "local",
        ],
      },
      { parent: this },
    );
    this.ref = publish.stdout.apply(() => image);
    this.registerOutputs({ ref: this.ref });
  }
}

/** A prebuilt image is identified by its local image ID when present, else by its reference. */
export function imageHash(image: string): string {
  const r = spawnSync("docker", ["image", "inspect", "--format", "{{.Id}}", image], { encoding: "utf8" });
  const id = r.status === 0 ? r.stdout.trim() : image;
  return crypto.createHash("sha256").update(id).digest("hex").slice(0, 12);
}

/**
 * Hash of every file of the build context that docker would send (honouring .dockerignore's
 * plain patterns), plus the Dockerfile and build args.
 */
export function contextHash(context: string, dockerfile: string, buildArgs: Record<string, string>): string {
  const ignore = readDockerignore(context);
  const h = crypto.createHash("sha256");
  h.update(`dockerfile:${dockerfile}\n`);
  for (const [k, v] of Object.entries(buildArgs).sort()) h.update(`arg:${k}=${v}\n`);
  for (const rel of listFiles(context, "", ignore)) {
    h.update(`file:${rel}\n`);
    h.update(fs.readFileSync(path.join(context, rel)));
  }
  return h.digest("hex").slice(0, 12);
}

function readDockerignore(context: string): RegExp[] {
  const f = path.join(context, ".dockerignore");
  if (!fs.existsSync(f)) return [];
  return fs
    .readFileSync(f, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith("#") && !l.startsWith("!"))
    .map((l) => globToRegExp(l.replace(/^\/+|\/+$/g, "")));
}

/** `*` matches within a path segment, `**` across segments; a match also covers everything below. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
      if (glob[i + 1] === "/") i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}(/.*)?$`);
}

function listFiles(root: string, rel: string, ignore: RegExp[]): string[] {
  const out: string[] = [];
  const entries = fs
    .readdirSync(path.join(root, rel), { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (ignore.some((re) => re.test(r))) continue;
    if (e.isDirectory()) out.push(...listFiles(root, r, ignore));
    else if (e.isFile()) out.push(r);
  }
  return out;
}
