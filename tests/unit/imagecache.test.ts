/**
 * The local stage's image cache (infra/imagecache.ts): what its start prints, how the program acts
 * on it, and how a kind cluster's nodes reach it.
 */
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { IMAGE_CACHE_NAME, imageCacheContainerdPatch, parseImageCache } from "../../infra/imagecache";
import { imageCache, runStack, runStackExpectingError } from "./stack";

type Obj = Record<string, unknown>;

describe("image cache: what its start prints", () => {
  it("reads the generation, or the problem, and never takes silence for a cache", () => {
    expect(parseImageCache("generation 2026-12-01T00:27:21Z-23055-27414\n")).to.deep.equal({
      generation: "2026-12-01T00:27:21Z-23055-27414",
    });
    expect(
      parseImageCache("problem docker run inception-image-cache failed (is port 5002 taken?)"),
    ).to.deep.equal({ problem: "docker run inception-image-cache failed (is port 5002 taken?)" });
    expect(parseImageCache(""))
      .to.have.property("problem")
      .that.matches(/neither a generation nor a problem/);
    expect(parseImageCache("generation \n")).to.have.property("problem");
  });

  it("the containerd patch mirrors localhost:<port> to the cache's container on the kind network", () => {
    expect(imageCacheContainerdPatch(5002)).to.equal(
      `[plugins."io.containerd.grpc.v1.cri".registry.mirrors."localhost:5002"]\n` +
        `  endpoint = ["http://${IMAGE_CACHE_NAME}:5000"]\n`,
    );
    // The devo registry's patch (scripts/lib-devo.sh) is the same entry, filled by the script.
    const printed = spawnSync("bash", ["scripts/registry.sh", "--print-containerd-patch"], {
      cwd: path.resolve(__dirname, "../.."),
      env: { ...process.env, INCEPTION_REGISTRY_NAME: IMAGE_CACHE_NAME, INCEPTION_REGISTRY_PORT: "5002" },
      encoding: "utf8",
    });
    expect(printed.status, printed.stderr).to.equal(0);
    expect(printed.stdout).to.equal(imageCacheContainerdPatch(5002));
  });
});

describe("image cache: the program", () => {
  const defaultCache = imageCache.stdout;
  afterEach(() => {
    imageCache.stdout = defaultCache;
  });
  const kindConfig = (run: Awaited<ReturnType<typeof runStack>>) =>
    JSON.parse(
      (run.of("command:local:Command").find((c) => c.name === "cluster-kind")!.inputs.environment as Obj)
        .KIND_CONFIG as string,
    ) as Obj;

  it("the kind cluster pulls from the cache on the configured port; every publish goes there, keyed on its generation", async () => {
    imageCache.stdout = (env) => `generation g-${env.INCEPTION_REGISTRY_NAME}-${env.INCEPTION_REGISTRY_PORT}`;
    const run = await runStack("local", { "inception:images": { cachePort: 5123 } });
    expect(kindConfig(run).containerdConfigPatches).to.deep.equal([imageCacheContainerdPatch(5123)]);
    const publishes = run.of("command:local:Command").filter((c) => c.name.endsWith("-publish"));
    expect(publishes.length).to.be.greaterThan(3);
    for (const p of publishes) {
      const env = p.inputs.environment as Record<string, string>;
      if (env.TARGET === "local") continue; // the layered suite's base: built FROM, never pushed
      expect(env.IMAGE, p.name).to.match(/^localhost:5123\//);
      expect((p.inputs.triggers as string[])[3], p.name).to.equal(`g-${IMAGE_CACHE_NAME}-5123`);
    }
  });

  it("stops in the preflight when the cache cannot start, naming the port and the command", async () => {
    imageCache.stdout = () =>
      "problem docker run inception-image-cache failed (is port 5002 taken? docker ps)";
    const { error, resources } = await runStackExpectingError("local", {});
    expect(error.message).to.contain(
      "inception:images.cachePort is 5002, where the image cache could not start: docker run inception-image-cache failed (is port 5002 taken? docker ps)",
    );
    expect(error.message).to.contain(
      `INCEPTION_REGISTRY_NAME=${IMAGE_CACHE_NAME} INCEPTION_REGISTRY_PORT=5002`,
    );
    expect(resources).to.deep.equal([]);
  });
});

describe("image cache: scripts/registry.sh identity and start (a fake docker)", () => {
  const script = path.resolve(__dirname, "../../scripts/registry.sh");
  // The cache runs on the port in $FAKE/port when that file exists.
  const FAKE_DOCKER = `#!/bin/bash
echo "docker $*" >>"$FAKE/log"
if [ "$1 $2" = "volume inspect" ]; then [ -f "$FAKE/label" ] && { cat "$FAKE/label"; exit 0; }; exit 1; fi
if [ "$1" = inspect ]; then [ -f "$FAKE/port" ] && { echo true; exit 0; }; exit 1; fi
if [ "$1" = port ]; then [ -f "$FAKE/port" ] && { echo "127.0.0.1:$(cat "$FAKE/port")"; exit 0; }; exit 1; fi
exit 0
`;
  const registry = (args: string[], files: Record<string, string>, env: Record<string, string> = {}) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "inception-cache-"));
    fs.mkdirSync(path.join(dir, "bin"));
    fs.writeFileSync(path.join(dir, "bin", "docker"), FAKE_DOCKER, { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "log"), "");
    for (const [f, c] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), `${c}\n`);
    const r = spawnSync("/bin/bash", [script, ...args], {
      env: {
        PATH: `${dir}/bin:/usr/bin:/bin`,
        HOME: dir,
        FAKE: dir,
        INCEPTION_REGISTRY_NAME: IMAGE_CACHE_NAME,
        ...env,
      },
      encoding: "utf8",
    });
    return { ...r, log: fs.readFileSync(path.join(dir, "log"), "utf8").trim() };
  };
  const identity = (label: string | undefined) =>
    registry(["identity"], label !== undefined ? { label } : {});

  it("prints the generation its data volume was labelled with when it was made", () => {
    const r = identity("2026-12-01T00:27:21Z-23055-27414");
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal("2026-12-01T00:27:21Z-23055-27414\n");
    expect(r.log).to.equal(
      `docker volume inspect -f {{ index .Labels "io.inception.registry.generation" }} ${IMAGE_CACHE_NAME}-data`,
    );
  });

  it("fails, naming why, for a volume that is missing or has no generation", () => {
    const missing = identity(undefined);
    expect(missing.status).to.not.equal(0);
    expect(missing.stderr).to.contain(
      `registry ${IMAGE_CACHE_NAME} has no data volume ${IMAGE_CACHE_NAME}-data`,
    );
    const unlabelled = identity("<no value>");
    expect(unlabelled.status).to.not.equal(0);
    expect(unlabelled.stderr).to.contain("has no io.inception.registry.generation label");
    expect(parseImageCache(`generation ${unlabelled.stdout}`)).to.have.property("problem");
  });

  it("start: refuses to take the cache, running on another port, from the stacks that use it", () => {
    const r = registry(["start"], { port: "5002" }, { INCEPTION_REGISTRY_PORT: "5003" });
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.contain(
      `${IMAGE_CACHE_NAME} already runs on 127.0.0.1:5002, used by other stacks: use port 5002`,
    );
    // Nothing removed, built or started.
    expect(r.log.split("\n").filter((l) => /^docker (rm|run|build|volume create)/.test(l))).to.deep.equal([]);
  });
});
