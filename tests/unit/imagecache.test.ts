/**
 * The local stage's image cache (infra/imagecache.ts): what its start prints, how the program acts
 * on it, and how a kind cluster's nodes reach it.
 */
import { expect } from "chai";
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
