/**
 * The shell scripts the command resources run, executed for real against fake `kind` and
 * `docker` CLIs that record their calls (the real ones are exercised by the e2e tier).
 */
import { expect } from "chai";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { KIND_CREATE_SCRIPT, KIND_DELETE_SCRIPT } from "../../infra/cluster";
import { PUBLISH_SCRIPT, contextHash, publishFailure } from "../../infra/publish";

const FAKE_KIND = `#!/bin/bash
echo "kind $*" >>"$FAKE/log"
name=""; cfg=""; args=("$@")
for ((i = 0; i < $#; i++)); do
  case "\${args[$i]}" in --name) name="\${args[$((i + 1))]}" ;; --config) cfg="\${args[$((i + 1))]}" ;; esac
done
case "$1 $2" in
  "get clusters") cat "$FAKE/clusters" 2>/dev/null ;;
  "create cluster")
    [ -n "\${FAIL_CREATE:-}" ] && { echo "ERROR: failed to create cluster: boom" >&2; exit 1; }
    cp "$cfg" "$FAKE/config-$name"; echo "$name" >>"$FAKE/clusters" ;;
  "delete cluster") grep -vx "$name" "$FAKE/clusters" >"$FAKE/c2" || true; mv "$FAKE/c2" "$FAKE/clusters" ;;
  "get kubeconfig") echo "kubeconfig-of-$name" ;;
  "load docker-image") ;;
  *) echo "fake kind: unexpected $*" >&2; exit 2 ;;
esac
`;

const FAKE_DOCKER = `#!/bin/bash
echo "docker $*" >>"$FAKE/log"
if [ "$1" = login ]; then
  echo "login config=\${DOCKER_CONFIG:-none} password=$(cat)" >>"$FAKE/log"
  [ -n "\${FAIL_LOGIN:-}" ] && { echo "Error response from daemon: login attempt to http://reg:5000/v2/ failed with status: 401 Unauthorized" >&2; exit 1; }
fi
[ "$1" = push ] && [ -n "\${FAIL_PUSH:-}" ] && { echo "$FAIL_PUSH" >&2; exit 1; }
[ "$1" = build ] && [ -n "\${FAIL_BUILD:-}" ] && { echo "#5 RUN npm ci" >&2; echo "$FAIL_BUILD" >&2; exit 17; }
# The registry: a file per pushed image, holding its image ID (the config digest of its manifest).
ref="\${*: -1}"; stored="$FAKE/registry/$(printf '%s' "$ref" | tr '/:' '__')"
if [ "$1 $2" = "image inspect" ] && [ "$3" = -f ]; then echo "\${FAKE_IMAGE_ID:-sha256:local}"; exit 0; fi
if [ "$1 $2" = "manifest inspect" ]; then
  [ -f "$stored" ] || { echo "no such manifest: $ref" >&2; exit 1; }
  printf '{"schemaVersion":2,"config":{"digest":"%s"}}\n' "$(cat "$stored")"; exit 0
fi
# HOLD_AT=push|build: the first such call holds until FAKE/release exists; another one meanwhile
# is an overlap, logged as such.
if [ "$1" = "\${HOLD_AT:-}" ]; then
  if mkdir "$FAKE/holding" 2>/dev/null; then
    for _ in $(seq 1 400); do [ -f "$FAKE/release" ] && break; sleep 0.05; done
    [ -f "$FAKE/release" ] || { echo "fake docker: never released" >&2; exit 1; }
    echo "$1 held, then released" >>"$FAKE/log"
    rmdir "$FAKE/holding"
  else
    echo "$1 OVERLAPPING the held one" >>"$FAKE/log"
  fi
fi
[ "$1" = push ] && { mkdir -p "$FAKE/registry"; echo "\${FAKE_IMAGE_ID:-sha256:local}" >"$stored"; }
exit 0
`;

/** A script started in the background, its stderr collected as it comes. */
interface Started {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<number | null>;
}

function sandbox(): {
  dir: string;
  run: (script: string, env: Record<string, string>) => ReturnType<typeof spawnSync>;
  start: (script: string, env: Record<string, string>) => Started;
  log: () => string[];
} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "inception-fake-"));
  fs.mkdirSync(path.join(dir, "bin"));
  fs.writeFileSync(path.join(dir, "bin", "kind"), FAKE_KIND, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "bin", "docker"), FAKE_DOCKER, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "log"), "");
  // The host-wide locks of the publishes (INCEPTION_CACHE/locks) are the sandbox's own.
  const env = (extra: Record<string, string>): Record<string, string> => ({
    PATH: `${dir}/bin:${path.dirname(process.execPath)}:/usr/bin:/bin`,
    FAKE: dir,
    INCEPTION_CACHE: dir,
    ...extra,
  });
  return {
    dir,
    run: (script, extra) => spawnSync("/bin/bash", ["-c", script], { env: env(extra), encoding: "utf8" }),
    start: (script, extra) => {
      const child = spawn("/bin/bash", ["-c", script], { env: env(extra) });
      let stderr = "";
      child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
      const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      return { child, stderr: () => stderr, exit };
    },
    log: () => fs.readFileSync(path.join(dir, "log"), "utf8").trim().split("\n").filter(Boolean),
  };
}

/** Waits until `ready()` holds, polling; fails naming what it waited for after `ms`. */
async function until(what: string, ready: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`waited ${ms} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const KIND_ENV = { CLUSTER: "c1", KIND_CONFIG: '{"kind":"Cluster"}\n', WORKERS: "2", WAIT_SECONDS: "120" };

describe("kind cluster scripts", () => {
  it("create: writes the generated config, creates with image and wait, prints the kubeconfig", () => {
    const s = sandbox();
    const r = s.run(KIND_CREATE_SCRIPT, { ...KIND_ENV, NODE_IMAGE: "img:1" });
    expect(r.status, String(r.stderr)).to.equal(0);
    expect(r.stdout).to.equal("kubeconfig-of-c1\n");
    expect(fs.readFileSync(path.join(s.dir, "config-c1"), "utf8")).to.equal(KIND_ENV.KIND_CONFIG);
    const create = s.log().find((l) => l.startsWith("kind create cluster"));
    expect(create).to.match(/--name c1 --config \S+ --image img:1 --wait 120s$/);
  });

  it("create: omits --image when the stack lets kind choose", () => {
    const s = sandbox();
    const r = s.run(KIND_CREATE_SCRIPT, KIND_ENV);
    expect(r.status).to.equal(0);
    expect(s.log().find((l) => l.startsWith("kind create cluster"))).to.not.contain("--image");
  });

  it("create: recreates a cluster left behind by an interrupted run", () => {
    const s = sandbox();
    fs.writeFileSync(path.join(s.dir, "clusters"), "c1\n");
    const r = s.run(KIND_CREATE_SCRIPT, KIND_ENV);
    expect(r.status).to.equal(0);
    expect(r.stderr).to.contain("exists but this stack did not create it");
    const calls = s.log().filter((l) => !l.startsWith("kind get"));
    expect(calls[0]).to.equal("kind delete cluster --name c1");
    expect(calls[1]).to.match(/^kind create cluster --name c1/);
  });

  it("create: fails with kind's error when kind fails", () => {
    const s = sandbox();
    const r = s.run(KIND_CREATE_SCRIPT, { ...KIND_ENV, FAIL_CREATE: "1" });
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.contain("ERROR: failed to create cluster: boom");
    expect(r.stdout).to.equal("");
  });

  it("delete: deletes a present cluster", () => {
    const s = sandbox();
    fs.writeFileSync(path.join(s.dir, "clusters"), "c1\nother\n");
    const r = s.run(KIND_DELETE_SCRIPT, KIND_ENV);
    expect(r.status).to.equal(0);
    expect(s.log()).to.include("kind delete cluster --name c1");
    expect(fs.readFileSync(path.join(s.dir, "clusters"), "utf8")).to.equal("other\n");
  });

  it("delete: succeeds when the cluster was deleted out of band", () => {
    const s = sandbox();
    fs.writeFileSync(path.join(s.dir, "clusters"), "other\n");
    const r = s.run(KIND_DELETE_SCRIPT, KIND_ENV);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.contain("already gone");
    expect(s.log().filter((l) => l.startsWith("kind delete"))).to.have.length(0);
  });
});

describe("image publishing", () => {
  const base = { IMAGE: "inception/svc:abc", CONTEXT: "/ctx", DOCKERFILE: "Dockerfile", BUILD_ARGS: "" };

  it("local: builds into the local docker only (a base other images are built FROM), and prints the image", () => {
    const s = sandbox();
    const r = s.run(PUBLISH_SCRIPT, { ...base, TARGET: "local", BUILD_ARGS: "A=1\nB=x y" });
    expect(r.status, String(r.stderr)).to.equal(0);
    expect(r.stdout).to.equal("inception/svc:abc\n");
    expect(s.log()).to.deep.equal([
      "docker build -t inception/svc:abc -f /ctx/Dockerfile --build-arg A=1 --build-arg B=x y /ctx",
    ]);
  });

  it("registry: builds and pushes; a refused or unreachable registry fails with a clear message", () => {
    const s = sandbox();
    const reg = { ...base, IMAGE: "reg:5000/inception/svc:abc", TARGET: "registry" };
    const ok = s.run(PUBLISH_SCRIPT, reg);
    expect(ok.status).to.equal(0);
    expect(s.log()).to.include("docker push reg:5000/inception/svc:abc");
    expect(
      s.log().some((l) => l.startsWith("docker login")),
      "no credentials: no login",
    ).to.equal(false);
    // Another build under the tag: the registry's is not this one, so it is pushed.
    const denied = s.run(PUBLISH_SCRIPT, {
      ...reg,
      FAKE_IMAGE_ID: "sha256:other",
      FAIL_PUSH: "denied: requested access to the resource is denied",
    });
    expect(denied.status).to.not.equal(0);
    expect(denied.stderr).to.contain(
      "inception: the registry reg:5000 refused the push of reg:5000/inception/svc:abc: not authorized",
    );
    const down = s.run(PUBLISH_SCRIPT, {
      ...reg,
      FAKE_IMAGE_ID: "sha256:other",
      FAIL_PUSH: 'Get "http://reg:5000/v2/": dial tcp 127.0.0.1:5000: connect: connection refused',
    });
    expect(down.status).to.not.equal(0);
    expect(down.stderr).to.contain("inception: the registry reg:5000 is unreachable (the push of");
  });

  it("registry credentials: logs in through stdin into a throw-away docker config", () => {
    const s = sandbox();
    const reg = {
      ...base,
      IMAGE: "reg:5000/inception/svc:abc",
      TARGET: "registry",
      REGISTRY_USERNAME: "ci",
      REGISTRY_PASSWORD: "pw 1",
    };
    const ok = s.run(PUBLISH_SCRIPT, reg);
    expect(ok.status, String(ok.stderr)).to.equal(0);
    const log = s.log();
    expect(log).to.include("docker login --username ci --password-stdin reg:5000");
    const login = log.find((l) => l.startsWith("login config="))!;
    expect(login).to.match(/^login config=\/tmp\/\S+ password=pw 1$/);
    // The throw-away config is gone afterwards.
    expect(fs.existsSync(login.split(" ")[1].slice("config=".length))).to.equal(false);
    expect(log.indexOf("docker push reg:5000/inception/svc:abc")).to.be.greaterThan(log.indexOf(login));
    const refused = s.run(PUBLISH_SCRIPT, { ...reg, FAIL_LOGIN: "1" });
    expect(refused.status).to.not.equal(0);
    expect(refused.stderr).to.contain(
      "inception: the registry reg:5000 refused the login of ci: not authorized",
    );
    expect(refused.stderr).to.not.contain("pw 1");
  });

  it("FAILURE_AS_DATA: a failed build is data (exit 0, its last stdout line) and a fresh retry token; a publish that works keeps the token", () => {
    const s = sandbox();
    const retry = path.join(s.dir, "retry", "svc");
    const env = {
      ...base,
      IMAGE: "localhost:5002/inception/svc:abc",
      TARGET: "registry",
      FAILURE_AS_DATA: "1",
      RETRY_FILE: retry,
    };
    const failed = s.run(PUBLISH_SCRIPT, { ...env, FAIL_BUILD: "ERROR: failed to solve: boom" });
    expect(failed.status, String(failed.stderr)).to.equal(0);
    expect(String(failed.stdout)).to.match(
      /^inception-publish-failed: publishing localhost:5002\/inception\/svc:abc failed \(exit 17\): the run cannot start/,
    );
    // (Ends with: this machine's bash may print noise of its own first.)
    expect(publishFailure(String(failed.stdout), String(failed.stderr))).to.match(
      /(^|\n)inception: building localhost:5002\/inception\/svc:abc from \/ctx\n#5 RUN npm ci\nERROR: failed to solve: boom$/,
    );
    expect(
      s.log().some((l) => l.startsWith("docker push")),
      "nothing pushed after the failure",
    ).to.equal(false);
    const first = fs.readFileSync(retry, "utf8");
    expect(first).to.match(/^failed \d{4}-/);
    s.run(PUBLISH_SCRIPT, { ...env, FAIL_BUILD: "ERROR: again" });
    const second = fs.readFileSync(retry, "utf8");
    expect(second, "each failure a new token").to.not.equal(first);
    const ok = s.run(PUBLISH_SCRIPT, env);
    expect(ok.status).to.equal(0);
    expect(ok.stdout).to.equal("localhost:5002/inception/svc:abc\n");
    expect(publishFailure(String(ok.stdout), String(ok.stderr))).to.equal(undefined);
    expect(fs.readFileSync(retry, "utf8"), "a success leaves the token").to.equal(second);

    // A refused push is a failure too; the throw-away docker config is still removed.
    const reg = { ...env, IMAGE: "reg:5000/inception/svc:abc" };
    const denied = s.run(PUBLISH_SCRIPT, {
      ...reg,
      REGISTRY_USERNAME: "ci",
      REGISTRY_PASSWORD: "pw",
      FAIL_PUSH: "denied: requested access to the resource is denied",
    });
    expect(denied.status).to.equal(0);
    expect(publishFailure(String(denied.stdout), String(denied.stderr))).to.contain(
      "the registry reg:5000 refused the push of reg:5000/inception/svc:abc: not authorized",
    );
    const login = s.log().find((l) => l.startsWith("login config="))!;
    expect(fs.existsSync(login.split(" ")[1].slice("config=".length))).to.equal(false);
  });

  it("without FAILURE_AS_DATA a failed build fails the command, as before, and writes no token", () => {
    const s = sandbox();
    const retry = path.join(s.dir, "retry", "svc");
    const r = s.run(PUBLISH_SCRIPT, {
      ...base,
      TARGET: "registry",
      RETRY_FILE: retry,
      FAIL_BUILD: "ERROR: failed to solve: boom",
    });
    expect(r.status).to.equal(17);
    expect(r.stdout).to.equal("");
    expect(fs.existsSync(retry)).to.equal(false);
  });

  it("pushes nothing when the registry holds this very image under its tag, and pushes over another", () => {
    const s = sandbox();
    const reg = { ...base, IMAGE: "localhost:5001/inception/svc:abc", TARGET: "registry" };
    expect(s.run(PUBLISH_SCRIPT, reg).status).to.equal(0);
    const again = s.run(PUBLISH_SCRIPT, reg);
    expect(again.status).to.equal(0);
    expect(again.stdout).to.equal("localhost:5001/inception/svc:abc\n");
    expect(again.stderr).to.contain(
      "inception: localhost:5001 holds localhost:5001/inception/svc:abc already",
    );
    // A localhost registry is plain HTTP to the daemon: `docker manifest` is told so.
    expect(s.log()).to.include("docker manifest inspect --insecure localhost:5001/inception/svc:abc");
    expect(s.log().filter((l) => l.startsWith("docker push"))).to.have.length(1);
    const other = s.run(PUBLISH_SCRIPT, { ...reg, FAKE_IMAGE_ID: "sha256:rebuilt" });
    expect(other.status).to.equal(0);
    expect(s.log().filter((l) => l.startsWith("docker push"))).to.have.length(2);
  });

  // Stacks updating at once on one host (devo CI runs, bench:stacks) publish the same images.
  for (const c of [
    {
      what: "one image: pushed by one at a time, the second finds it in the registry",
      at: "push",
      second: { IMAGE: "reg:5000/inception/svc:abc" },
      waits: "pushing reg:5000/inception/svc:abc",
    },
    {
      what: "one build context: prepared and built by one at a time",
      at: "build",
      second: { IMAGE: "inception/svc:abc", TARGET: "local" },
      waits: "preparing and building /ctx",
    },
  ]) {
    it(`two publishes at once on one host, ${c.what}`, async () => {
      const s = sandbox();
      const env = { ...base, IMAGE: "reg:5000/inception/svc:abc", TARGET: "registry", HOLD_AT: c.at };
      const first = s.start(PUBLISH_SCRIPT, env);
      await until(`the first publish's docker ${c.at}`, () => fs.existsSync(path.join(s.dir, "holding")));
      const second = s.start(PUBLISH_SCRIPT, { ...env, ...c.second });
      let secondDone = false;
      void second.exit.then(() => (secondDone = true));
      await until(
        "the second publish to wait, or to end",
        () => second.stderr().includes("waiting") || secondDone,
      );
      fs.writeFileSync(path.join(s.dir, "release"), "");
      expect(await first.exit, first.stderr()).to.equal(0);
      expect(await second.exit, second.stderr()).to.equal(0);
      expect(second.stderr()).to.contain(`inception: waiting for another publish on this host (${c.waits})`);
      const log = s.log();
      expect(log.filter((l) => l.includes("OVERLAPPING"))).to.deep.equal([]);
      const released = log.indexOf(`${c.at} held, then released`);
      expect(released).to.be.greaterThan(-1);
      if (c.at === "push") {
        expect(log.filter((l) => l.startsWith("docker push"))).to.have.length(1);
        expect(second.stderr()).to.contain("inception: reg:5000 holds reg:5000/inception/svc:abc already");
      } else {
        expect(
          log.lastIndexOf("docker build -t inception/svc:abc -f /ctx/Dockerfile /ctx"),
        ).to.be.greaterThan(released);
      }
    });
  }

  it("tags by content: changes with a file, ignores .dockerignore'd files", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "inception-ctx-"));
    fs.writeFileSync(path.join(dir, "Dockerfile"), "FROM scratch\n");
    fs.writeFileSync(path.join(dir, ".dockerignore"), "node_modules\n*.log\n");
    fs.mkdirSync(path.join(dir, "src"));
    fs.writeFileSync(path.join(dir, "src", "a.ts"), "a");
    const h1 = contextHash(dir, "Dockerfile", {});
    fs.mkdirSync(path.join(dir, "node_modules"));
    fs.writeFileSync(path.join(dir, "node_modules", "x.js"), "x");
    fs.writeFileSync(path.join(dir, "debug.log"), "noise");
    expect(contextHash(dir, "Dockerfile", {})).to.equal(h1);
    expect(contextHash(dir, "Dockerfile", { V: "2" })).to.not.equal(h1);
    fs.writeFileSync(path.join(dir, "src", "a.ts"), "b");
    expect(contextHash(dir, "Dockerfile", {})).to.not.equal(h1);
  });
});
