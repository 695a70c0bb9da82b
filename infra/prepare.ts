/**
 * Preparing a build context on the host before `docker build` (e.g. `npm ci` and `tsc`): npm cannot
 * run inside a build here. Used by PublishedImage for every image built from a context.
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

/** The stamp a prepared build context keeps: the hash of the inputs it was prepared from. */
export const PREPARED_STAMP = ".inception-prepared";

/** `npm run --silent prepare-image` when the context's package.json has that script. */
export function defaultPrepare(context: string): string[] {
  const pkg = path.join(context, "package.json");
  if (!fs.existsSync(pkg)) return [];
  const scripts = (JSON.parse(fs.readFileSync(pkg, "utf8")) as { scripts?: Record<string, string> }).scripts;
  return scripts?.["prepare-image"] !== undefined ? ["npm", "run", "--silent", "prepare-image"] : [];
}

// Build outputs and the stamp are not inputs of the preparation.
const NOT_INPUTS = new Set(["node_modules", "dist", PREPARED_STAMP]);

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

/**
 * Runs `command` in `context` unless the stamp says it already ran for these sources. Runs at
 * program time, before PublishedImage hashes the context, so the hash covers what it produced.
 */
export function prepareContext(context: string, command: string[]): "ran" | "current" | "skipped" {
  // Unit tests run the program under mocks: nothing is built, so nothing needs preparing.
  if (process.env.INCEPTION_SKIP_PREPARE === "1") return "skipped";
  const stampFile = path.join(context, PREPARED_STAMP);
  if (
    fs.existsSync(stampFile) &&
    fs.readFileSync(stampFile, "utf8").trim() === sourcesHash(context, command)
  ) {
    return "current";
  }
  pulumi.log.info(`preparing ${context}: ${command.join(" ")}`);
  const r = spawnSync(command[0], command.slice(1), { cwd: context, encoding: "utf8" });
  if (r.status !== 0) {
    const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n").slice(-20).join("\n");
    throw new Error(
      `preparing the build context ${context} failed (${command.join(" ")}: ${r.error?.message ?? `exit ${r.status}`}):\n${out}`,
    );
  }
  // Hashed after the run: whatever the command itself rewrote (a lockfile, say) counts as prepared.
  fs.writeFileSync(stampFile, `${sourcesHash(context, command)}\n`);
  return "ran";
}
