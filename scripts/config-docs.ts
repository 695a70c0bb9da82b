/**
 * Writes docs/config.md from the stack config's schema (`npm run docs:config`); with --check, fails
 * when the file differs from what the schema gives.
 */
import * as fs from "fs";
import * as path from "path";
import { renderConfigDocs } from "../infra/config/docs";

const file = path.join(__dirname, "..", "docs", "config.md");
const text = renderConfigDocs();
if (process.argv.includes("--check")) {
  if (fs.readFileSync(file, "utf8") !== text) {
    console.error("docs/config.md is stale: run npm run docs:config");
    process.exit(1);
  }
} else fs.writeFileSync(file, text);
