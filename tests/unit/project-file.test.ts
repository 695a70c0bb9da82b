/**
 * Pulumi.yaml: the program is compiled with the project's own tsconfig.json (the one lint checks
 * it with). Pulumi runs the program in its `main` folder and looks for the tsconfig there.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

const root = path.resolve(__dirname, "../..");

describe("Pulumi.yaml", () => {
  it("points the TypeScript runtime at the project's tsconfig.json, relative to main", () => {
    const project = YAML.parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8"));
    expect(project.runtime.options.typescript).to.equal(true);
    const programDir = path.resolve(root, project.main);
    expect(path.resolve(programDir, project.runtime.options.tsconfig)).to.equal(
      path.join(root, "tsconfig.json"),
    );
  });
});
