/**
 * Image publishing: which files a build context's tag follows (.dockerignore through the library
 * docker's JS tooling uses), image references, the host-side preparation in scripts/publish-image.sh,
 * and a preview that runs no process and writes no file.
 */
import { expect } from "chai";
import childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { PREPARED_STAMP, sourcesHash } from "../../infra/prepare";
import {
  PUBLISH_SCRIPT,
  PublishedImage,
  contextFiles,
  contextHash,
  imageHash,
  parseImageRef,
  publishFailure,
  publishTriggers,
  retryFile,
} from "../../infra/publish";

function tempDir(files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "inception-publish-"));
  for (const [f, c] of Object.entries(files)) write(dir, f, c);
  return dir;
}

function write(dir: string, rel: string, content: string): void {
  fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir, rel), content);
}

/** Every path under `dir` with its size and modification time: a change anywhere shows. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      const st = fs.statSync(path.join(dir, r));
      out.push(`${r} ${st.size} ${st.mtimeMs}`);
      if (e.isDirectory()) walk(r);
    }
  };
  walk("");
  return out.sort();
}

describe("publish: the files a build context's tag follows", () => {
  it("an allow-list .dockerignore (* then !src): follows allowed files only", () => {
    const dir = tempDir({
      Dockerfile: "FROM scratch\nCOPY src /src\n",
      ".dockerignore": "*\n!src\n",
      "src/a.ts": "a",
      "README.md": "readme",
    });
    expect(contextFiles(dir)).to.deep.equal(["src/a.ts"]);
    const h1 = contextHash(dir, "Dockerfile", {});
    write(dir, "README.md", "changed");
    write(dir, "notes/x.txt", "new, excluded");
    expect(contextHash(dir, "Dockerfile", {}), "an excluded file changed").to.equal(h1);
    write(dir, "src/a.ts", "b");
    const h2 = contextHash(dir, "Dockerfile", {});
    expect(h2, "an allowed file changed").to.not.equal(h1);
    write(dir, "src/sub/b.ts", "new, allowed");
    expect(contextHash(dir, "Dockerfile", {}), "an allowed file added").to.not.equal(h2);
  });

  it("follows docker's matching: root-relative patterns, **, directories, later ! lines win", () => {
    const dir = tempDir({
      Dockerfile: "FROM scratch\n",
      ".dockerignore": "# a comment\n*.log\n**/*.tmp\nbuild/\n!build/keep.txt\n/docs\n",
      "a.log": "",
      "d/a.log": "",
      "d/e/x.tmp": "",
      "build/out.bin": "",
      "build/keep.txt": "",
      "docs/x.md": "",
      "d/docs/y.md": "",
    });
    expect(contextFiles(dir)).to.deep.equal([
      ".dockerignore",
      "Dockerfile",
      "build/keep.txt",
      "d/a.log",
      "d/docs/y.md",
    ]);
  });

  it("the Dockerfile counts even when .dockerignore leaves it out", () => {
    const dir = tempDir({ Dockerfile: "FROM scratch\n", ".dockerignore": "Dockerfile\n" });
    const h1 = contextHash(dir, "Dockerfile", {});
    write(dir, "Dockerfile", "FROM busybox\n");
    expect(contextHash(dir, "Dockerfile", {})).to.not.equal(h1);
  });

  it("a prepared context: follows its sources (even those the image leaves out), not what preparing writes", () => {
    const dir = tempDir({
      Dockerfile: "FROM scratch\nCOPY dist /dist\n",
      ".dockerignore": "src\n",
      "package.json": "{}",
      "src/main.ts": "1",
    });
    const prepare = ["npm", "run", "prepare-image"];
    const h1 = contextHash(dir, "Dockerfile", {}, prepare);
    write(dir, "dist/main.js", "compiled");
    write(dir, "node_modules/x/index.js", "dep");
    write(dir, PREPARED_STAMP, "stamp");
    expect(contextHash(dir, "Dockerfile", {}, prepare), "outputs of preparing").to.equal(h1);
    write(dir, "src/main.ts", "2");
    expect(contextHash(dir, "Dockerfile", {}, prepare), "a source the image leaves out").to.not.equal(h1);
    expect(contextHash(dir, "Dockerfile", {}, ["other"])).to.not.equal(
      contextHash(dir, "Dockerfile", {}, prepare),
    );
  });

  it("a prebuilt image is identified by its reference", () => {
    expect(imageHash("inception/node:22")).to.equal(imageHash("inception/node:22"));
    expect(imageHash("inception/node:22")).to.not.equal(imageHash("inception/node:24"));
    expect(imageHash("a")).to.match(/^[0-9a-f]{12}$/);
  });
});

describe("publish: image references", () => {
  const digest = `sha256:${"0123456789abcdef".repeat(4)}`;
  for (const [ref, parts] of [
    ["localhost:5000/foo", { name: "localhost:5000/foo" }],
    ["localhost:5000/foo:1.2", { name: "localhost:5000/foo", tag: "1.2" }],
    [`foo@${digest}`, { name: "foo", digest }],
    [`foo:1@${digest}`, { name: "foo", tag: "1", digest }],
    ["registry.example.com/a/b:tag", { name: "registry.example.com/a/b", tag: "tag" }],
    ["foo", { name: "foo" }],
    ["inception/mock-kafka:4.4.0", { name: "inception/mock-kafka", tag: "4.4.0" }],
  ] as const) {
    it(`${ref} → ${JSON.stringify(parts)}`, () => {
      expect(parseImageRef(ref)).to.deep.equal(parts);
    });
  }

  for (const bad of ["", "Foo", "foo:bar:baz", "foo@sha256:abc", "a b", "foo:"]) {
    it(`refuses ${JSON.stringify(bad)}, naming it`, () => {
      expect(() => parseImageRef(bad, "image x")).to.throw(/^image x: ".*" is not an image reference \(/);
    });
  }
});

const FAKE_DOCKER = `#!/bin/bash
echo "docker $*" >>"$FAKE/log"
exit 0
`;

describe("publish: preparing the build context (scripts/publish-image.sh)", () => {
  function setup() {
    const fake = tempDir({ log: "" });
    fs.mkdirSync(path.join(fake, "bin"));
    fs.writeFileSync(path.join(fake, "bin", "docker"), FAKE_DOCKER, { mode: 0o755 });
    const ctx = tempDir({ Dockerfile: "FROM scratch\n", "src/a.ts": "1" });
    const run = (prepare: string[], hash: string) =>
      childProcess.spawnSync("/bin/bash", ["-c", PUBLISH_SCRIPT], {
        env: {
          PATH: `${fake}/bin:/usr/bin:/bin`,
          FAKE: fake,
          // Where the publish's host-wide locks go.
          INCEPTION_CACHE: fake,
          IMAGE: "inception/svc:abc",
          CONTEXT: ctx,
          DOCKERFILE: "Dockerfile",
          BUILD_ARGS: "",
          PREPARE: prepare.join("\n"),
          PREPARED_HASH: hash,
          PREPARED_STAMP,
          TARGET: "local",
        },
        encoding: "utf8",
      });
    const docker = () => fs.readFileSync(path.join(fake, "log"), "utf8").trim().split("\n").filter(Boolean);
    return { ctx, run, docker };
  }

  it("prepares once per state of the sources, before the build", () => {
    const { ctx, run, docker } = setup();
    const cmd = ["sh", "-c", "mkdir -p dist && echo run >> dist/runs"];
    const first = run(cmd, sourcesHash(ctx, cmd));
    expect(first.status, first.stderr).to.equal(0);
    expect(first.stdout).to.equal("inception/svc:abc\n");
    expect(first.stderr).to.contain(`inception: preparing ${ctx}: sh -c mkdir -p dist`);
    expect(fs.readFileSync(path.join(ctx, PREPARED_STAMP), "utf8")).to.equal(`${sourcesHash(ctx, cmd)}\n`);
    expect(run(cmd, sourcesHash(ctx, cmd)).stderr).to.not.contain("preparing");
    write(ctx, "src/a.ts", "2");
    expect(run(cmd, sourcesHash(ctx, cmd)).status).to.equal(0);
    expect(fs.readFileSync(path.join(ctx, "dist/runs"), "utf8")).to.equal("run\nrun\n");
    expect(docker()).to.have.length(3);
    expect(docker()[0]).to.match(/^docker build -t inception\/svc:abc /);
  });

  it("a failed preparation: the command's last words, no stamp, no build", () => {
    const { ctx, run, docker } = setup();
    const r = run(["sh", "-c", "echo npm says no >&2; exit 3"], "h1");
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.match(/preparing the build context .* failed \(sh -c .*exit 3\):\nnpm says no/);
    expect(r.stdout).to.equal("");
    expect(fs.existsSync(path.join(ctx, PREPARED_STAMP))).to.equal(false);
    expect(docker()).to.deep.equal([]);
  });

  it("no preparation: builds straight away", () => {
    const { ctx, run, docker } = setup();
    expect(run([], "").status).to.equal(0);
    expect(fs.existsSync(path.join(ctx, PREPARED_STAMP))).to.equal(false);
    expect(docker()).to.have.length(1);
  });
});

describe("publish: a preview has no side effects", () => {
  const SPAWNERS = ["spawn", "spawnSync", "exec", "execSync", "execFile", "execFileSync", "fork"] as const;
  type Spawners = Pick<typeof childProcess, (typeof SPAWNERS)[number]>;
  let saved: Partial<Spawners>;
  let calls: string[];

  class Mocks implements pulumi.runtime.Mocks {
    readonly commands: Record<string, unknown>[] = [];
    newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
      if (args.type === "command:local:Command") this.commands.push(args.inputs as Record<string, unknown>);
      return { id: `${args.name}-id`, state: { ...args.inputs } };
    }
    call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
      return args.inputs;
    }
  }

  beforeEach(() => {
    calls = [];
    saved = {};
    const cp = childProcess as unknown as Record<string, unknown>;
    for (const f of SPAWNERS) {
      (saved as Record<string, unknown>)[f] = cp[f];
      cp[f] = (...args: unknown[]) => {
        calls.push(`${f} ${JSON.stringify(args[0])}`);
        throw new Error(`no child process while previewing (${f})`);
      };
    }
  });
  afterEach(() => {
    Object.assign(childProcess, saved);
  });

  it("builds from a context with a prepare-image script and publishes a prebuilt image: no process, no file", async () => {
    const mocks = new Mocks();
    await pulumi.runtime.setMocks(mocks, "inception", "unit", true);
    expect(pulumi.runtime.isDryRun()).to.equal(true);
    const ctx = tempDir({
      Dockerfile: "FROM scratch\nCOPY dist /dist\n",
      "package.json": JSON.stringify({ scripts: { "prepare-image": "mkdir dist && echo x > dist/x" } }),
      "src/a.ts": "1",
    });
    const executor = path.join(__dirname, "../../services/executor");
    const before = { ctx: snapshot(ctx), executor: snapshot(executor) };
    const target = { type: "registry" as const, registry: "localhost:5002", generation: null };
    const built = new PublishedImage("svc", { name: "svc", context: ctx, target });
    const executorImage = new PublishedImage("executor", { name: "executor", context: executor, target });
    const prebuilt = new PublishedImage("node", { name: "node", image: "inception/node:22", target });
    // A preview resolves no command output: wait until the three commands are registered.
    for (let i = 0; i < 10_000 && mocks.commands.length < 3; i++) await new Promise(setImmediate);
    expect(mocks.commands).to.have.length(3);
    expect([built, executorImage, prebuilt].map((i) => i.contentHash)).to.satisfy((h: string[]) =>
      h.every((x) => /^[0-9a-f]{12}$/.test(x)),
    );

    expect(calls, "child processes").to.deep.equal([]);
    expect(snapshot(ctx), "the context").to.deep.equal(before.ctx);
    expect(snapshot(executor), "services/executor").to.deep.equal(before.executor);
    // The preparation is handed to the command, which runs only during an update.
    const env = mocks.commands[0].environment as Record<string, string>;
    expect(env.PREPARE).to.equal("npm\nrun\n--silent\nprepare-image");
    expect(env.PREPARED_HASH).to.equal(sourcesHash(ctx, ["npm", "run", "--silent", "prepare-image"]));
    expect(built.localRef).to.equal(`localhost:5002/inception/svc:${built.contentHash}`);
    expect(prebuilt.localRef).to.equal("localhost:5002/inception/node:22");
  });

  it("the tag a preview computes is the one the update uses", async () => {
    const ctx = tempDir({
      Dockerfile: "FROM scratch\n",
      "package.json": JSON.stringify({ scripts: { "prepare-image": "true" } }),
    });
    const target = { type: "local" as const };
    await pulumi.runtime.setMocks(new Mocks(), "inception", "unit", true);
    const preview = new PublishedImage("p", { name: "p", context: ctx, target }).contentHash;
    // What preparing leaves behind does not move the tag.
    write(ctx, "node_modules/x.js", "x");
    write(ctx, "dist/main.js", "x");
    write(ctx, PREPARED_STAMP, "x");
    await pulumi.runtime.setMocks(new Mocks(), "inception", "unit", false);
    expect(new PublishedImage("p", { name: "p", context: ctx, target }).contentHash).to.equal(preview);
  });

  it("registry: a prebuilt image keeps its tag; a digest or no tag: the content hash", async () => {
    await pulumi.runtime.setMocks(new Mocks(), "inception", "unit", true);
    const target = { type: "registry" as const, registry: "localhost:5000" };
    const tagged = new PublishedImage("a", { name: "a", image: "reg.example:5000/x/y:1.2", target });
    expect(tagged.localRef).to.equal("localhost:5000/inception/a:1.2");
    const untagged = new PublishedImage("b", { name: "b", image: "localhost:5001/foo", target });
    expect(untagged.localRef).to.equal(`localhost:5000/inception/b:${untagged.contentHash}`);
    const pinned = new PublishedImage("c", {
      name: "c",
      image: `foo@sha256:${"ab".repeat(32)}`,
      target,
    });
    expect(pinned.localRef).to.equal(`localhost:5000/inception/c:${pinned.contentHash}`);
    expect(() => new PublishedImage("d", { name: "d", image: "Not/An:Image:ref", target })).to.throw(
      /image d: "Not\/An:Image:ref" is not an image reference/,
    );
  });
});

describe("publish: a failure reported as data", () => {
  class Mocks implements pulumi.runtime.Mocks {
    readonly commands: Record<string, unknown>[] = [];
    constructor(private readonly out: { stdout: string; stderr: string }) {}
    newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
      if (args.type === "command:local:Command") this.commands.push(args.inputs as Record<string, unknown>);
      return { id: `${args.name}-id`, state: { ...args.inputs, ...this.out } };
    }
    call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
      return args.inputs;
    }
  }
  const settled = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply(resolve));
  const target = { type: "registry" as const, registry: `unit-${process.pid}:5000` };
  const failedOut = {
    stdout: "inception-publish-failed: publishing x failed (exit 1)\n",
    stderr: "inception: building x\n\n#7 ERROR: exit code: 1  \n",
  };

  it("reads the failure from the command's last stdout line, the log from its stderr", () => {
    expect(publishFailure(failedOut.stdout, failedOut.stderr)).to.equal(
      "inception: building x\n#7 ERROR: exit code: 1",
    );
    expect(publishFailure("inception-publish-failed: publishing x failed (exit 1)", "")).to.equal(
      "publishing x failed (exit 1)",
    );
    expect(publishFailure("inception/x:1\n", "any noise")).to.equal(undefined);
    // docker's colours are not part of the reason
    expect(publishFailure(failedOut.stdout, "\u001b[91mno space\n\u001b[0mThe command returned 1")).to.equal(
      "no space\nThe command returned 1",
    );
    const long = Array.from({ length: 50 }, (_, i) => `line ${i}`).join("\n");
    expect(publishFailure(failedOut.stdout, long)?.split("\n")).to.have.length(20);
  });

  it("a failed publish is its `failure`, and its retry token a trigger: the next update publishes again", async () => {
    const ctx = tempDir({ Dockerfile: "FROM scratch\n" });
    const mocks = new Mocks(failedOut);
    await pulumi.runtime.setMocks(mocks, "inception", "unit", false);
    const img = new PublishedImage("svc", {
      name: "svc",
      context: ctx,
      target,
      failureAsData: true,
      prepare: [],
    });
    expect(await settled(img.failure)).to.deep.equal({
      image: img.localRef,
      log: "inception: building x\n#7 ERROR: exit code: 1",
    });
    const env = mocks.commands[0].environment as Record<string, string>;
    const file = retryFile(img.localRef, target);
    expect(env).to.deep.include({ FAILURE_AS_DATA: "1", RETRY_FILE: file });
    expect((mocks.commands[0].triggers as string[]).slice(-1)).to.deep.equal([""]);
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, "failed 2026-12-01T00:00:00.1Z 42\n");
      const again = new Mocks({ stdout: "x\n", stderr: "" });
      await pulumi.runtime.setMocks(again, "inception", "unit", false);
      const next = new PublishedImage("svc", {
        name: "svc",
        context: ctx,
        target,
        failureAsData: true,
        prepare: [],
      });
      expect(await settled(next.failure)).to.equal(undefined);
      expect((again.commands[0].triggers as string[]).slice(-1)).to.deep.equal([
        "failed 2026-12-01T00:00:00.1Z 42",
      ]);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it("without failureAsData: no retry trigger, no failure (a failed command fails the update)", async () => {
    const mocks = new Mocks(failedOut);
    await pulumi.runtime.setMocks(mocks, "inception", "unit", false);
    const img = new PublishedImage("m", { name: "m", image: "inception/m:1", target });
    await settled(img.ref);
    expect(await settled(img.failure)).to.equal(undefined);
    expect(mocks.commands[0].environment).to.not.have.any.keys("FAILURE_AS_DATA", "RETRY_FILE");
    expect(mocks.commands[0].triggers).to.have.length(3);
  });
});

describe("publish: the registry's generation (the image cache emptied gets every image again)", () => {
  const registry = { type: "registry" as const, registry: "localhost:5002" };

  it("is a trigger: another generation publishes again", () => {
    const a = publishTriggers("h", "img", { ...registry, generation: "2026-12-01T00:00:00Z" }, []);
    const b = publishTriggers("h", "img", { ...registry, generation: "2026-12-01T01:00:00Z" }, []);
    expect(a.triggers).to.deep.equal(["h", "img", "localhost:5002", "2026-12-01T00:00:00Z"]);
    expect(b.triggers).to.not.deep.equal(a.triggers);
    expect(a.ignoreChanges).to.deep.equal([]);
  });

  it("not asked (a preview): the state's is kept; a registry the stack does not manage has none", () => {
    const preview = publishTriggers("h", "img", { ...registry, generation: null }, ["token"]);
    expect(preview.ignoreChanges).to.deep.equal(["triggers[3]"]);
    expect(preview.triggers[3]).to.equal("not asked");
    expect(preview.triggers[4]).to.equal("token");
    const devo = publishTriggers("h", "img", registry, []);
    expect(devo.triggers).to.deep.equal(["h", "img", "localhost:5002"]);
    expect(devo.ignoreChanges).to.deep.equal([]);
    expect(publishTriggers("h", "img", { type: "local" }, []).triggers).to.deep.equal(["h", "img", "local"]);
  });
});
