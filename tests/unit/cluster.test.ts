/**
 * The kind cluster's convergence (infra/cluster.ts): the probe script against fake docker, kind and
 * kubectl, what its lines mean, the keep-or-recreate decision over a sequence of updates, and the
 * program acting on it.
 */
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
  deletedWithCluster,
  GENERATION_TRIGGER,
  KIND_PROBE_SCRIPT,
  KindClusterHealth,
  KindClusterPlan,
  kindClusterPlan,
  parseKindProbe,
} from "../../infra/cluster";
import { loadConfig } from "../../infra/config";
import { preflight } from "../../infra/preflight";
import { kindProbe, runStack, runStackExpectingError } from "./stack";

// The fakes answer from files in $FAKE: `containers` (docker ps's lines), `docker-down` (docker
// info fails), `api-down` (kubectl fails); every call is logged.
const FAKE_DOCKER = `#!/bin/bash
echo "docker $*" >>"$FAKE/log"
if [ -f "$FAKE/docker-down" ]; then
  echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
  exit 1
fi
case "$1" in
  info) echo "20.10.24" ;;
  ps) [ "$*" = "ps -a --filter label=io.x-k8s.kind.cluster=$CLUSTER --format {{.Names}} {{.State}} {{.Label \\"io.x-k8s.kind.role\\"}}" ] || { echo "fake docker: unexpected $*" >&2; exit 2; }
      cat "$FAKE/containers" 2>/dev/null || true ;;
  *) echo "fake docker: unexpected $*" >&2; exit 2 ;;
esac
`;
const FAKE_KIND = `#!/bin/bash
echo "kind $*" >>"$FAKE/log"
[ "$*" = "get kubeconfig --name $CLUSTER" ] || { echo "fake kind: unexpected $*" >&2; exit 2; }
echo "apiVersion: v1 # SECRET-KUBECONFIG"
`;
const FAKE_KUBECTL = `#!/bin/bash
echo "kubectl $*" >>"$FAKE/log"
grep -q SECRET-KUBECONFIG "$2" || { echo "fake kubectl: not the cluster's kubeconfig" >&2; exit 2; }
if [ -f "$FAKE/api-down" ]; then
  echo "The connection to the server 127.0.0.1:40125 was refused - did you specify the right host or port?" >&2
  exit 1
fi
echo ok
`;

function probe(containers: string[], files: string[] = [], nodes = 3) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "inception-kind-probe-"));
  fs.mkdirSync(path.join(dir, "bin"));
  for (const [name, text] of [
    ["docker", FAKE_DOCKER],
    ["kind", FAKE_KIND],
    ["kubectl", FAKE_KUBECTL],
  ]) {
    fs.writeFileSync(path.join(dir, "bin", name), text, { mode: 0o755 });
  }
  fs.writeFileSync(path.join(dir, "log"), "");
  if (containers.length > 0) fs.writeFileSync(path.join(dir, "containers"), containers.join("\n") + "\n");
  for (const f of files) fs.writeFileSync(path.join(dir, f), "");
  const r = spawnSync("/bin/bash", ["-c", KIND_PROBE_SCRIPT], {
    env: {
      PATH: `${dir}/bin:/usr/bin:/bin`,
      FAKE: dir,
      CLUSTER: "c1",
      NODES: String(nodes),
      API_RETRY_PAUSES: "0 0 0",
    },
    encoding: "utf8",
    timeout: 15000,
  });
  const log = fs.readFileSync(path.join(dir, "log"), "utf8").trim().split("\n").filter(Boolean);
  fs.rmSync(dir, { recursive: true, force: true });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, log, result: parseKindProbe(r.stdout) };
}

const RUNNING = [
  "c1-control-plane running control-plane",
  "c1-worker running worker",
  "c1-worker2 running worker",
];

describe("kind cluster probe (KIND_PROBE_SCRIPT read by parseKindProbe)", () => {
  it("healthy: every node container runs and the API server answers /readyz", () => {
    const p = probe(RUNNING);
    expect(p.status, p.stderr).to.equal(0);
    expect(p.result).to.deep.equal({ state: "healthy", detail: "runs and its API server answers" });
    expect(p.log).to.include("kind get kubeconfig --name c1");
    expect(p.log.filter((l) => l.startsWith("kubectl"))).to.have.length(1);
    expect(p.log.find((l) => l.startsWith("kubectl"))).to.match(/--request-timeout=10s get --raw \/readyz$/);
  });

  it("absent: no node container carries the cluster's kind label (kind delete cluster)", () => {
    const p = probe([]);
    expect(p.result.state).to.equal("absent");
    expect(p.log.some((l) => l.startsWith("kind") || l.startsWith("kubectl"))).to.equal(false);
  });

  it("stopped: node containers that exist but do not run (a Docker engine restart), named", () => {
    const p = probe([
      "c1-control-plane exited control-plane",
      "c1-worker exited worker",
      "c1-worker2 running worker",
    ]);
    expect(p.result.state).to.equal("stopped");
    expect(p.result.detail).to.contain("c1-control-plane exited, c1-worker exited");
    expect(p.log.some((l) => l.startsWith("kubectl"))).to.equal(false);
  });

  it("incomplete: a node container short of the config (a worker removed by hand)", () => {
    const p = probe(RUNNING.slice(0, 2));
    expect(p.result.state).to.equal("incomplete");
    expect(p.result.detail).to.contain("2 node container(s)").and.contain("the config makes 3");
  });

  it("unanswering: the nodes run but /readyz fails three times; kubectl's error is kept", () => {
    const p = probe(RUNNING, ["api-down"]);
    expect(p.result.state).to.equal("unanswering");
    expect(p.result.detail).to.contain("127.0.0.1:40125 was refused");
    expect(p.log.filter((l) => l.startsWith("kubectl"))).to.have.length(3);
  });

  it("no-docker: the engine does not answer; nothing else is asked", () => {
    const p = probe(RUNNING, ["docker-down"]);
    expect(p.result.state).to.equal("no-docker");
    expect(p.result.detail).to.contain("Is the docker daemon running?");
    expect(p.log).to.deep.equal(["docker info --format {{.ServerVersion}}"]);
  });

  it("never prints the kubeconfig (the cluster's admin credentials)", () => {
    const p = probe(RUNNING);
    expect(p.stdout).to.not.contain("SECRET-KUBECONFIG");
  });

  it("reads nothing as no Docker, not as a healthy cluster", () => {
    expect(parseKindProbe(undefined).state).to.equal("no-docker");
    expect(parseKindProbe("").state).to.equal("no-docker");
  });
});

describe("kind cluster plan: keep or recreate", () => {
  const healthy: KindClusterHealth = { state: "healthy", detail: "runs and its API server answers" };
  const gone: KindClusterHealth = { state: "absent", detail: "does not exist (no node container)" };

  it("keeps the state's generation in a preview and for a healthy cluster", () => {
    for (const h of [undefined, healthy]) {
      const plan = kindClusterPlan("c1", h);
      expect(plan.ignoreChanges).to.deep.equal([GENERATION_TRIGGER]);
      expect(plan.recreate).to.equal(undefined);
    }
  });

  it("recreates a cluster gone, stopped, short of a node or silent, saying why", () => {
    for (const state of ["absent", "stopped", "incomplete", "unanswering"] as const) {
      const plan = kindClusterPlan("c1", { state, detail: `is ${state}` }, new Date("2026-12-01T10:00:00Z"));
      expect(plan.ignoreChanges, state).to.deep.equal([]);
      expect(plan.recreate).to.equal(`kind cluster c1 is ${state}`);
      expect(plan.generation).to.equal(`2026-12-01T10:00:00.000Z ${state}: kind cluster c1 is ${state}`);
    }
  });

  // Pulumi's side of it: with the trigger in ignoreChanges the state's value is kept, else the
  // new one is taken, and a changed value replaces the cluster.
  function update(state: string | undefined, plan: KindClusterPlan): { state: string; replaced: boolean } {
    const next =
      state !== undefined && plan.ignoreChanges.includes(GENERATION_TRIGGER) ? state : plan.generation;
    return { state: next, replaced: state !== undefined && next !== state };
  }

  it("replaces a cluster only on the update that finds it gone, never on the healthy ones around it", () => {
    const seen: (KindClusterHealth | undefined)[] = [
      gone,
      healthy,
      healthy,
      undefined,
      gone,
      healthy,
      healthy,
    ];
    let state: string | undefined;
    const replaced: boolean[] = [];
    seen.forEach((h, i) => {
      const r = update(state, kindClusterPlan("c1", h, new Date(Date.UTC(2026, 11, 1, 10, i))));
      state = r.state;
      replaced.push(r.replaced);
    });
    // The first update creates (no state yet); the fifth finds it gone again and replaces it.
    expect(replaced).to.deep.equal([false, false, false, false, true, false, false]);
  });

  it("a cluster gone twice gets two different generations (each recreation replaces)", () => {
    const a = kindClusterPlan("c1", gone, new Date("2026-12-01T10:00:00Z"));
    const b = kindClusterPlan("c1", gone, new Date("2026-12-01T10:00:01Z"));
    expect(a.generation).to.not.equal(b.generation);
  });
});

describe("the program and the kind cluster probe", () => {
  const defaultProbe = kindProbe.stdout;
  afterEach(() => {
    kindProbe.stdout = defaultProbe;
  });
  const kindCommand = (run: Awaited<ReturnType<typeof runStack>>) =>
    run.of("command:local:Command").find((c) => c.name === "cluster-kind")!;

  it("keeps a healthy cluster: the generation trigger is left to the state", async () => {
    const run = await runStack("local", {});
    expect((kindCommand(run).inputs.triggers as string[])[1]).to.equal("found answering");
  });

  it("gives a cluster deleted out of band a new generation, naming why", async () => {
    kindProbe.stdout = (env) => `expect ${env.NODES}\ndocker ok\n`;
    const run = await runStack("local", {});
    const generation = (kindCommand(run).inputs.triggers as string[])[1];
    expect(generation).to.match(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z absent: kind cluster inception-local does not exist/,
    );
  });

  it("stops in the preflight when Docker does not answer, with the command that starts it", async () => {
    kindProbe.stdout = (env) => `expect ${env.NODES}\ndocker Cannot connect to the Docker daemon\n`;
    const { error, resources } = await runStackExpectingError("local", {});
    expect(error.message).to.contain("stack config failed its preflight checks");
    expect(error.message).to.contain(
      'inception:cluster.name is "inception-local", a kind cluster, which needs Docker: the Docker engine does not answer: Cannot connect to the Docker daemon',
    );
    expect(error.message).to.contain("scripts/toolchain.sh --start-services");
    expect(resources).to.deep.equal([]);
  });

  it("keeps a cluster whose API server is slow to answer: stops in the preflight, naming it", async () => {
    kindProbe.stdout = (env) =>
      defaultProbe(env).replace("api ok", "api The connection to the server was refused");
    const { error, resources } = await runStackExpectingError("local", {});
    expect(error.message).to.contain(
      'inception:cluster.name is "inception-local", a kind cluster that runs, but its API server does not answer: The connection to the server was refused',
    );
    expect(error.message).to.contain("kubectl --context kind-inception-local get --raw /readyz");
    expect(resources).to.deep.equal([]);
  });

  it("probes nothing in a preview", async () => {
    const config = loadConfig({
      project: "inception",
      stack: "local",
      config: {},
      projectRoot: path.resolve(__dirname, "../.."),
    });
    // Outside a Pulumi runtime an invoke would throw: the preview path must not reach it.
    const world = await preflight(config, { dryRun: true });
    expect(world).to.not.have.property("kindCluster");
  });
});

describe("the objects of a kind cluster go with it (deletedWithCluster)", () => {
  // A stand-in for the create command: the transform only passes it on.
  const cluster = {
    urn: "urn:pulumi:local::inception::command:local:Command::cluster-kind",
  } as unknown as pulumi.Resource;
  const transform = deletedWithCluster(cluster);
  const args = (type: string, custom: boolean) => ({
    type,
    name: "x",
    custom,
    props: { metadata: { name: "x" } },
    opts: { dependsOn: [] },
  });

  it("gives every Kubernetes object deletedWith the cluster, its props and other options kept", () => {
    for (const type of [
      "kubernetes:apps/v1:Deployment",
      "kubernetes:core/v1:Namespace",
      "kubernetes:batch/v1:Job",
    ]) {
      const r = transform(args(type, true));
      expect(r, type).to.deep.equal({
        props: { metadata: { name: "x" } },
        opts: { dependsOn: [], deletedWith: cluster },
      });
    }
  });

  it("leaves alone components, commands and the Kubernetes provider (they are not in the cluster)", () => {
    expect(transform(args("inception:mock:MockInfra", false))).to.equal(undefined);
    expect(transform(args("command:local:Command", true))).to.equal(undefined);
    expect(transform(args("pulumi:providers:kubernetes", true))).to.equal(undefined);
  });
});

describe("every object of the stack takes the cluster's objectOptions (infra/index.ts)", () => {
  // Pulumi's mocks apply no transforms, so the program under mocks cannot show deletedWith; what
  // can fail here is the wiring: a resource declared with the provider alone would miss it.
  it("passes ...cluster.objectOptions to every resource it declares after the cluster", () => {
    const text = fs.readFileSync(path.resolve(__dirname, "../../infra/index.ts"), "utf8");
    const calls: { name: string; args: string }[] = [];
    for (const m of text.matchAll(/new ([\w.]+)\(/g)) {
      // The call's text up to its closing parenthesis.
      let depth = 0;
      let end = m.index + m[0].length - 1;
      for (; end < text.length; end++) {
        if (text[end] === "(") depth++;
        else if (text[end] === ")" && --depth === 0) break;
      }
      calls.push({ name: m[1], args: text.slice(m.index, end + 1) });
    }
    // Images go to a registry, not into the cluster, and must not wait for it (the cluster's
    // provider in their options would: they are built and pushed while kind creates the cluster).
    const images = calls.filter((c) => ["SuiteImage", "PublishedImage"].includes(c.name));
    expect(images.map((c) => c.name)).to.include.members(["SuiteImage", "PublishedImage"]);
    for (const c of images) expect(c.args, c.name).to.not.contain("cluster.");
    const objects = calls.filter(
      (c) =>
        !["KindCluster", "ExistingCluster", "pulumi.Config", "Set", "SuiteImage", "PublishedImage"].includes(
          c.name,
        ),
    );
    expect(objects.map((c) => c.name)).to.include.members([
      "k8s.core.v1.Namespace",
      "MockInfra",
      "ServiceUnderTest",
      "SuiteRun",
    ]);
    for (const c of objects) expect(c.args, c.name).to.contain("...cluster.objectOptions");
    expect(text).to.not.contain("provider: cluster.provider");
  });
});
