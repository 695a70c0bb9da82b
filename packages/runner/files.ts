/** Which files of a suite directory are test files: the `suite.spec` glob (SUITE_SPEC). */
import * as fs from "fs";
import * as path from "path";
import { minimatch } from "minimatch";

/** Mocha's usual names, at any depth: `*.test.*` and `*.spec.*`, in TypeScript or JavaScript (CJS or ESM). */
export const DEFAULT_SPEC = "**/*.{test,spec}.{ts,js,mjs,cjs}";

/**
 * The test files under `dir` whose path relative to `dir` matches `spec`, sorted. A suite's own
 * node_modules is never searched: its dependencies ship test files of their own.
 */
export function suiteFiles(dir: string, spec: string = DEFAULT_SPEC): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (e.name !== "node_modules") walk(r);
      } else if (minimatch(r, spec, { dot: false })) out.push(path.join(dir, r));
    }
  };
  walk("");
  return out.sort();
}
