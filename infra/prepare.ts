/**
 * Preparing a build context on the host before `docker build` (e.g. `npm ci` and `tsc`): npm cannot
 * run inside a build here. PublishedImage passes the command to scripts/publish-image.sh, which runs
 * it during an update only, skipping it while the stamp says the sources are unchanged. This module
 * only reads files, so a preview stays free of side effects.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

/** The stamp a prepared build context keeps: the hash of the inputs it was prepared from. */
export const PREPARED_STAMP = ".inception-prepared";

/**
 * What a preparation writes (top-level entries of the context): not inputs of it. The suite
 * image's `.inception-packages` is a copy of ../packages, whose own hash is in its prepare command.
 */
export const PREPARE_OUTPUTS: readonly string[] = ["node_modules", "dist", ".inception-packages"];

/** `npm run --silent prepare-image` when the context's package.json has that script. */
export function defaultPrepare(context: string): string[] {
  const pkg = path.join(context, "package.json");
  if (!fs.existsSync(pkg)) return [];
  const scripts = (JSON.parse(fs.readFileSync(pkg, "utf8")) as { scripts?: Record<string, string> }).scripts;
  return scripts?.["prepare-image"] !== undefined ? ["npm", "run", "--silent", "prepare-image"] : [];
}

const NOT_INPUTS = new Set([...PREPARE_OUTPUTS, PREPARED_STAMP]);

/** Hash of the context's sources (everything but node_modules, dist and the stamp) and the command. */
export function sourcesHash(context: string, command: string[]): string {
  const h = crypto.createHash("sha256");
  h.update(`command:${JSON.stringify(command)}\n`);
  const walk = (rel: string): void => {
    const entries = fs
      .readdirSync(path.join(context, rel), { withFileTypes: true })
      .sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (!rel && NOT_INPUTS.has(e.name)) continue;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) {
        h.update(`file:${r}\n`);
        h.update(fs.readFileSync(path.join(context, r)));
      }
    }
  };
  walk("");
  return h.digest("hex").slice(0, 16);
}
