/**
 * Builds an image from a directory of the repo and pushes it to a registry the cluster pulls from:
 * on local the image cache on this machine (infra/imagecache.ts), elsewhere the stack's registry.
 * The tag is a hash of the build context, so an unchanged image is never published again.
 *
 * Nothing here touches the world while the program runs: the tag is computed by reading files, and
 * preparing the context (`npm ci`, `tsc`), building and publishing happen in the command resource,
 * which runs only during an update. `pulumi preview` therefore runs no process and writes no file.
 */
import * as command from "@pulumi/command";
import dockerignore from "@balena/dockerignore";
import { parseQualifiedName } from "@swimlane/docker-reference";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { stripVTControlCharacters } from "util";
import * as pulumi from "@pulumi/pulumi";
import { PREPARED_STAMP, PREPARE_OUTPUTS, defaultPrepare, sourcesHash } from "./prepare";

/** Where a published image goes. */
export type PublishTarget =
  | {
      type: "registry";
      registry: string;
      /** Pushes log in with these (the password a Pulumi secret); none: the host's docker login. */
      credentials?: { username: string; password: pulumi.Input<string> };
      /**
       * The registry's generation (the image cache's data volume): a new one, a registry emptied
       * since, gets every image again. null: not known (a preview: the state's value is kept).
       * Defaults to none (a registry the stack does not manage).
       */
      generation?: string | null;
    }
  // Built into the local docker only: a base other images are built FROM.
  | { type: "local" };

export interface PublishedImageArgs {
  /** Image name; the repository is `<prefix>/<name>`. */
  name: string;
  /** Build context directory (absolute, or relative to the working directory). Give this or `image`. */
  context?: string;
  /**
   * A prebuilt image to publish instead of building one (pulled first when absent), pushed as
   * `<registry>/<prefix>/<name>:<its tag>`. Defaults to none.
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
  /**
   * A failure to prepare, build, load or push is reported as data (`failure`) and does not fail the
   * update: for the images a suite run needs, so that the run can say why it could not start (see
   * PUBLISH_FAILED_MARK). Defaults to false: a failure fails the command resource.
   */
  failureAsData?: boolean;
}

/** Why an image was not published: the image and the last lines its publishing printed. */
export interface PublishFailure {
  image: string;
  log: string;
}

/**
 * The last line of a publish that failed with `failureAsData` (scripts/publish-image.sh).
 *
 * Why a failure as data: Pulumi stops an update at its first failed resource, and the program's
 * outputs it had not received by then keep their previous values, so a failed image build would
 * leave the last run's `tests` in place and write no run folder. Instead the command succeeds and
 * says so on its last stdout line; `failure` carries the build's last lines, which the suite hook
 * turns into the run's verdict "could-not-start" (and the update then fails once its outputs are
 * recorded, see failUpdateWhenRed). A command that "succeeded" is not run again while its inputs
 * stay the same, so on a failure the script also writes a fresh token into the image's retry file,
 * which is one of the command's triggers: the next update publishes again (and once that succeeds
 * the token stays as it is, so nothing is published needlessly after).
 */
export const PUBLISH_FAILED_MARK = "inception-publish-failed:";

/** Lines of a failed publish's output kept as its `failure`. */
const FAILURE_LINES = 20;

/** The failure a publish command's output reports, or undefined when the image was published. */
export function publishFailure(stdout: string, stderr: string): string | undefined {
  const last = stdout.trim().split("\n").pop() ?? "";
  if (!last.startsWith(PUBLISH_FAILED_MARK)) return undefined;
  const tail = stderr
    .split("\n")
    // docker colours its build output: the reason is read in logs, JSON and HTML, never a terminal.
    .map((l) => stripVTControlCharacters(l).trimEnd())
    .filter((l) => l !== "")
    .slice(-FAILURE_LINES);
  return tail.length > 0 ? tail.join("\n") : last.slice(PUBLISH_FAILED_MARK.length).trim();
}

/**
 * The retry file of an image and its target (see PUBLISH_FAILED_MARK), one per stack: another
 * stack's failed publish of the same image must not make this one publish again.
 */
export function retryFile(image: string, target: PublishTarget, stack: string = pulumi.getStack()): string {
  const where = target.type === "registry" ? target.registry : "";
  const key = crypto
    .createHash("sha256")
    .update(`${stack}\n${image}\n${target.type}\n${where}`)
    .digest("hex");
  return path.join(PROJECT_ROOT, ".inception", "publish-retry", key.slice(0, 16));
}

/**
 * A publish command's triggers: it publishes again when the content changes, the registry is
 * another or was emptied (its generation), or a failure as data asks for it (`retryToken`). A
 * generation not asked (null, a preview) keeps the state's (ignoreChanges).
 */
export function publishTriggers(
  contentHash: string,
  image: string,
  t: PublishTarget,
  retryToken: string[],
): { triggers: string[]; ignoreChanges: string[] } {
  if (t.type !== "registry" || t.generation === undefined) {
    return {
      triggers: [contentHash, image, t.type === "registry" ? t.registry : "local", ...retryToken],
      ignoreChanges: [],
    };
  }
  return {
    triggers: [contentHash, image, t.registry, t.generation ?? "not asked", ...retryToken],
    ignoreChanges: t.generation === null ? ["triggers[3]"] : [],
  };
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
  /** With `failureAsData`: why it was not published; undefined once it was (and without). */
  readonly failure: pulumi.Output<PublishFailure | undefined>;

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
    // A context written only during an update (contentHash given) is prepared by its writer.
    const prepare = args.context === undefined || given ? [] : (args.prepare ?? defaultPrepare(context));
    if (prepare.some((a) => a.includes("\n"))) {
      throw new Error(`image ${args.name}: a prepare argument may not contain a line break`);
    }
    const source = args.image === undefined ? undefined : parseImageRef(args.image, `image ${args.name}`);
    this.contentHash =
      args.contentHash ??
      (args.image !== undefined
        ? imageHash(args.image)
        : contextHash(context, dockerfile, args.buildArgs ?? {}, prepare));
    const repo = `${args.prefix ?? "inception"}/${args.name}`;
    const t = args.target;
    // A digest cannot be a tag: a prebuilt image without a tag is pushed under its content hash.
    const tag = source?.tag ?? this.contentHash;
    const image =
      t.type === "registry" ? `${t.registry}/${repo}:${tag}` : (args.image ?? `${repo}:${this.contentHash}`);
    parseImageRef(image, `image ${args.name}`);
    this.localRef = image;

    const environment: Record<string, pulumi.Input<string>> = {
      IMAGE: image,
      SOURCE_IMAGE: args.image ?? "",
      CONTEXT: context,
      DOCKERFILE: dockerfile,
      BUILD_ARGS: Object.entries(args.buildArgs ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join("\n"),
      // The preparation runs in the command (an update), never at program time (a preview too).
      PREPARE: prepare.join("\n"),
      PREPARED_HASH: prepare.length > 0 ? sourcesHash(context, prepare) : "",
      PREPARED_STAMP,
      TARGET: t.type,
      REGISTRY_USERNAME: t.type === "registry" ? (t.credentials?.username ?? "") : "",
      REGISTRY_PASSWORD:
        t.type === "registry" && t.credentials !== undefined ? pulumi.secret(t.credentials.password) : "",
    };
    const retry = args.failureAsData ? retryFile(image, t) : undefined;
    if (retry !== undefined) {
      environment.FAILURE_AS_DATA = "1";
      environment.RETRY_FILE = retry;
    }
    // Again after a failure reported as data (a new token each time it failed).
    const retryToken =
      retry !== undefined ? [fs.existsSync(retry) ? fs.readFileSync(retry, "utf8").trim() : ""] : [];
    const script = `exec /bin/bash ${JSON.stringify(path.relative(PROJECT_ROOT, PUBLISH_SCRIPT_FILE))}`;
    const { triggers, ignoreChanges } = publishTriggers(this.contentHash, image, t, retryToken);
    const published = new command.local.Command(
      `${name}-publish`,
      { create: script, dir: PROJECT_ROOT, environment, triggers },
      { parent: this, ignoreChanges },
    );
    this.ref = published.stdout.apply(() => image);
    this.failure =
      retry === undefined
        ? pulumi.output(undefined)
        : pulumi.all([published.stdout, published.stderr]).apply(([out, errs]) => {
            const log = publishFailure(out, errs);
            return log === undefined ? undefined : { image, log };
          });
    this.registerOutputs({ ref: this.ref, failure: this.failure });
  }
}

/** The parts of an image reference (distribution/reference grammar) the publishing needs. */
export interface ImageRef {
  /** Everything before the tag and digest: `[registry[:port]/]path`. */
  name: string;
  tag?: string;
  digest?: string;
}

/**
 * Parses `[registry[:port]/]path[:tag][@digest]` with a port of docker's own reference grammar, so
 * that `localhost:5000/foo` is the repository `localhost:5000/foo` without a tag. Throws, naming
 * `what`, for a string that is no image reference.
 */
export function parseImageRef(ref: string, what = "image reference"): ImageRef {
  let parsed;
  try {
    parsed = parseQualifiedName(ref);
  } catch (e) {
    throw new Error(`${what}: ${JSON.stringify(ref)} is not an image reference (${(e as Error).message})`, {
      cause: e,
    });
  }
  const name = parsed.domain ? `${parsed.domain}/${parsed.repository}` : String(parsed.repository);
  return {
    name,
    ...(parsed.tag !== undefined ? { tag: parsed.tag } : {}),
    ...(parsed.digest !== undefined ? { digest: parsed.digest } : {}),
  };
}

/**
 * A prebuilt image is identified by its reference. Asking docker for its image ID would be a
 * process at program time (a preview too); the images this project prebuilds carry their version in
 * the tag, and a digest reference (`name@sha256:…`) pins the content exactly.
 */
export function imageHash(image: string): string {
  return crypto.createHash("sha256").update(`image:${image}`).digest("hex").slice(0, 12);
}

/**
 * Hash of what the image is built from: the Dockerfile, the build args and every file of the
 * context that docker would send (`.dockerignore` honoured, `!` exceptions included). When the
 * context is prepared on the host, the preparation's outputs (node_modules, dist) are replaced by
 * the hash of its inputs (every other file of the context, which it may read, and the command):
 * the tag is known before anything is prepared, so a preview computes the same tag as the update.
 */
export function contextHash(
  context: string,
  dockerfile: string,
  buildArgs: Record<string, string>,
  prepare: string[] = [],
): string {
  const h = crypto.createHash("sha256");
  h.update(`dockerfile:${dockerfile}\n`);
  // Docker sends the Dockerfile even when .dockerignore lists it.
  h.update(fs.readFileSync(path.join(context, dockerfile)));
  for (const [k, v] of Object.entries(buildArgs).sort()) h.update(`arg:${k}=${v}\n`);
  if (prepare.length > 0) h.update(`prepared:${sourcesHash(context, prepare)}\n`);
  const skip = prepare.length > 0 ? [...PREPARE_OUTPUTS, PREPARED_STAMP] : [];
  for (const rel of contextFiles(context, skip)) {
    h.update(`file:${rel}\n`);
    h.update(fs.readFileSync(path.join(context, rel)));
  }
  return h.digest("hex").slice(0, 12);
}

/**
 * The files of `context` that `docker build` sends, per its `.dockerignore` (sorted), less the
 * top-level entries named in `skip`.
 */
export function contextFiles(context: string, skip: readonly string[] = []): string[] {
  const file = path.join(context, ".dockerignore");
  const patterns = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split(/\r?\n/) : [];
  const matcher = dockerignore().add(patterns);
  // An ignored directory may hold a file that a later `!` line lets back in: only without such
  // lines can a whole directory be skipped unread.
  const exceptions = patterns.some((p) => p.trim().startsWith("!"));
  const out: string[] = [];
  const walk = (rel: string): void => {
    const entries = fs
      .readdirSync(path.join(context, rel), { withFileTypes: true })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (!rel && skip.includes(e.name)) continue;
      if (e.isDirectory()) {
        if (!exceptions && matcher.ignores(r)) continue;
        walk(r);
      } else if (e.isFile() && !matcher.ignores(r)) out.push(r);
    }
  };
  walk("");
  return out;
}
