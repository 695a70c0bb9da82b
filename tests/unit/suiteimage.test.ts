// The suite image's generated context (infra/suite/image.ts): named by a hash of its sources, read
// without writing (previewing writes nothing), and a suite with its own package.json gets its
// dependencies installed on the host.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { SuiteImage, suiteInstallCommand, suiteSourcesHash } from "../../infra/suite/image";
import type { SuiteConfig } from "../../infra/suiteconfig";

const root = path.resolve(__dirname, "../..");

describe("suite image sources", () => {
  it("hashes a suite's sources without writing anything, and follows its files", () => {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), "inception-project-"));
    fs.mkdirSync(path.join(project, "suite", "node_modules", "dep"), { recursive: true });
    fs.writeFileSync(path.join(project, "suite", "a.spec.mjs"), "one");
    fs.writeFileSync(path.join(project, "suite", "node_modules", "dep", "x.js"), "x");
    const c = { dir: "suite", extraFiles: [], dockerfile: undefined } as unknown as SuiteConfig;
    const before = fs.readdirSync(project, { recursive: true }).sort();
    const h = suiteSourcesHash(project, c);
    expect(suiteSourcesHash(project, c)).to.equal(h);
    expect(fs.readdirSync(project, { recursive: true }).sort()).to.deep.equal(before);
    // The suite's own node_modules is installed for the image, not part of its sources.
    fs.writeFileSync(path.join(project, "suite", "node_modules", "dep", "x.js"), "y");
    expect(suiteSourcesHash(project, c)).to.equal(h);
    fs.writeFileSync(path.join(project, "suite", "a.spec.mjs"), "two");
    expect(suiteSourcesHash(project, c)).to.not.equal(h);
  });

  it("installs an ESM suite's own dependencies with npm ci on the host, and nothing for a plain dir", () => {
    expect(suiteInstallCommand(path.join(root, "tests/fixtures/esm-suite"))).to.deep.equal([
      "npm",
      "ci",
      "--omit=dev",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
    ]);
    expect(suiteInstallCommand(path.join(root, "tests/suites/executor"))).to.deep.equal([]);
  });
});

describe("a suite image that cannot be made", () => {
  class Mocks implements pulumi.runtime.Mocks {
    newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
      const env = args.inputs.environment as Record<string, string> | undefined;
      return { id: `${args.name}-id`, state: { ...args.inputs, stdout: `${env?.IMAGE}\n`, stderr: "" } };
    }
    call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
      return args.inputs;
    }
  }

  it("a suite whose dependencies fail to install: the image's failure says so, for the run to report", async () => {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), "inception-project-"));
    fs.mkdirSync(path.join(project, "tests"));
    fs.writeFileSync(path.join(project, "tests", "Dockerfile"), "FROM scratch\n");
    fs.mkdirSync(path.join(project, "suite"));
    fs.writeFileSync(path.join(project, "suite", "a.test.mjs"), "");
    fs.writeFileSync(
      path.join(project, "suite", "package.json"),
      JSON.stringify({ scripts: { "prepare-image": "echo the registry is gone >&2; exit 3" } }),
    );
    await pulumi.runtime.setMocks(new Mocks(), "inception", "unit", false);
    const c = { dir: "suite", extraFiles: [], dockerfile: undefined } as unknown as SuiteConfig;
    const image = new SuiteImage("suite-image", {
      config: c,
      projectRoot: project,
      stack: "unit",
      target: { type: "local" },
    });
    const failure = await new Promise<unknown>((resolve) => image.failure.apply(resolve));
    expect(failure)
      .to.have.property("image")
      .that.matches(/^inception\/suite-project:[0-9a-f]{12}$/);
    expect((failure as { log: string }).log).to.match(
      /installing the suite's dependencies in \S+ failed \(npm run --silent prepare-image: exit 3\):\n(.*\n)*the registry is gone/,
    );
  });
});
