/** Which files of a suite directory are test files: the `suite.spec` glob (SUITE_SPEC). */
import * as fs from "fs";
import * as path from "path";
import { minimatch } from "minimatch";

/** Mocha's usual names, at any depth: `*.test.*` and `*.spec.*`, in TypeScript or JavaScript (CJS or ESM). */
export const DEFAULT_SPEC = "**/*.{test,spec}.{ts,js,mjs,cjs}";

/**
 * SUITE_SPEC as the stack writes it: one glob, or a JSON list of globs (a glob may hold commas,
 * as in `{test,spec}`, so a list is never comma-separated).
 */
export function parseSpec(v: string | undefined): string[] {
  const t = v?.trim();
  if (!t) return [DEFAULT_SPEC];
  if (!t.startsWith("[")) return [t];
  const list: unknown = JSON.parse(t);
  if (!Array.isArray(list) || list.length === 0 || !list.every((g) => typeof g === "string" && g !== "")) {
    throw new Error(`SUITE_SPEC is ${t}: expected a glob or a JSON list of globs`);
  }
  return list as string[];
}

/**
 * The test files under `dir` whose path relative to `dir` matches one of `spec`, sorted. A
 * suite's own node_modules is never searched: its dependencies ship test files of their own.
 */
export function suiteFiles(dir: string, spec: string | string[] = DEFAULT_SPEC): string[] {
  const globs = typeof spec === "string" ? [spec] : spec;
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (e.name !== "node_modules") walk(r);
      } else if (globs.some((g) => minimatch(r, g, { dot: false }))) out.push(path.join(dir, r));
    }
  };
  walk("");
  return out.sort();
}
