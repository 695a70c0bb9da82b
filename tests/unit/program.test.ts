import { spawnSync } from "child_process";
import { expect } from "chai";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { KubeConfig } from "@kubernetes/client-node";
import * as YAML from "yaml";
import { reduceKubeconfig } from "../../infra/cluster";
import { apiServerProblem } from "../../infra/preflight";
import { FAKE_KUBECONFIG, runStack, runStackExpectingError } from "./stack";

/** An API server that answers the preflight's version request (set while the devo tests run). */
let apiServer: string | undefined;

/** Namespaces the fake API server has, by name → labels (set by a test, cleared after it). */
const existingNamespaces = new Map<string, Record<string, string>>();

async function fakeApiServer(answer: boolean): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((req, res) => {
    if (!answer) return; // holds the request: the preflight must give up by itself
    res.setHeader("content-type", "application/json");
    const ns = /^\/api\/v1\/namespaces\/([^/?]+)$/.exec(req.url ?? "");
    if (ns) {
      const labels = existingNamespaces.get(ns[1]);
      if (labels === undefined) {
        res.statusCode = 404;
        res.end(
          JSON.stringify({
            kind: "Status",
            apiVersion: "v1",
            status: "Failure",
            reason: "NotFound",
            code: 404,
          }),
        );
      } else {
        res.end(JSON.stringify({ kind: "Namespace", apiVersion: "v1", metadata: { name: ns[1], labels } }));
      }
      return;
    }
    res.end(
      req.url === "/version" ? JSON.stringify({ major: "1", minor: "34", gitVersion: "v1.34.4" }) : "{}",
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const COMMAND = "command:local:Command";
const PROVIDER = "pulumi:providers:kubernetes";
const NODE_PATCH = "kubernetes:core/v1:NodePatch";
const NAMESPACE = "kubernetes:core/v1:Namespace";

function kubeconfig(
  current: string,
  contexts: string[],
  server = apiServer ?? "https://127.0.0.1:2",
): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "inception-kc-"));
  const file = path.join(dir, "config");
  const ctx = contexts.map((c) => `- name: ${c}\n  context: {cluster: c1, user: u1}`).join("\n");
  fs.writeFileSync(
    file,
    `apiVersion: v1\nkind: Config\ncurrent-context: ${current}\n` +
      `clusters:\n- name: c1\n  cluster: {server: "${server}", insecure-skip-tls-verify: true}\n` +
      `users:\n- name: u1\n  user: {token: t}\ncontexts:\n${ctx}\n`,
  );
  return file;
}

describe("stage local", () => {
  it("declares a kind cluster with the bai profile's node labels, a provider and a namespace", async () => {
    const run = await runStack("local", {});
    const kinds = run.of(COMMAND).filter((c) => c.name === "cluster-kind");
    expect(kinds).to.have.length(1);
    const [kind] = kinds;
    expect(kind.inputs.create).to.contain("kind create cluster");
    expect(kind.inputs.delete).to.contain("kind delete cluster");
    const env = kind.inputs.environment as Record<string, string>;
    expect(env.CLUSTER).to.equal("inception-local");
    // The preloaded node image, as the toolchain names it.
    const preloaded = spawnSync("scripts/mock-images.sh", ["--print"], { encoding: "utf8" });
    expect(preloaded.status, preloaded.stderr).to.equal(0);
    expect(env.NODE_IMAGE)
      .to.equal(preloaded.stdout.trim())
      .and.to.match(/-preloaded$/);
    expect(env.WAIT_SECONDS).to.equal("300");

    const cfg = JSON.parse(env.KIND_CONFIG);
    expect(cfg.kind).to.equal("Cluster");
    expect(cfg.nodes.map((n: { role: string }) => n.role)).to.deep.equal([
      "control-plane",
      "worker",
      "worker",
    ]);
    expect(cfg.nodes[1].labels).to.deep.equal({
      "node.type": "bai-worker",
      "topology.kubernetes.io/zone": "test-zone",
      "failure-domain.beta.kubernetes.io/zone": "test-zone",
      "node.kubernetes.io/instance-type": "local",
      "beta.kubernetes.io/instance-type": "local",
    });
    expect(cfg.nodes[2].labels).to.deep.equal({ "node.type": "bai-services-cheap" });
    // The mock infra's host endpoints: Kafka's external listener and the S3 API.
    expect(cfg.nodes[0].extraPortMappings).to.deep.equal([
      { containerPort: 30092, hostPort: 9092, listenAddress: "127.0.0.1", protocol: "TCP" },
      { containerPort: 30070, hostPort: 7070, listenAddress: "127.0.0.1", protocol: "TCP" },
    ]);

    const [provider] = run.of(PROVIDER);
    expect(provider.inputs.context).to.equal("kind-inception-local");
    expect(provider.inputs.kubeconfig).to.equal(FAKE_KUBECONFIG);
    expect(provider.secretInputs).to.include("kubeconfig");
    expect(String(provider.inputs.deleteUnreachable)).to.equal("true");

    const [ns] = run.of(NAMESPACE);
    expect((ns.inputs.metadata as { name: string }).name).to.equal("inception-local");
    expect(ns.provider).to.match(/cluster-k8s/);

    expect(run.exports.stage).to.equal("local");
    expect(run.exports.kindCluster).to.equal("inception-local");
    expect(run.exports.kubeconfig).to.equal(FAKE_KUBECONFIG);
    expect(run.secretExports).to.include("kubeconfig");
    expect(run.of(NODE_PATCH)).to.have.length(0);
  });

  it("renders workers, labels, port mappings and the node image from config", async () => {
    const run = await runStack("laptop", {
      "inception:stage": "local",
      "inception:cluster": {
        name: "mine",
        workers: 3,
        nodeImage: "kind-default",
        waitSeconds: 60,
        controlPlaneLabels: { "node.type": "control" },
        workerLabels: [{ "node.type": "a" }, { "node.type": "b", tier: 2 }],
        portMappings: [{ containerPort: 30100, hostPort: 9100 }],
      },
      "inception:mockInfra": { s3: { enabled: false } },
    });
    const env = run.of(COMMAND).find((c) => c.name === "cluster-kind")!.inputs.environment as Record<
      string,
      string
    >;
    expect(env.CLUSTER).to.equal("mine");
    expect(env).to.not.have.property("NODE_IMAGE");
    expect(env.WAIT_SECONDS).to.equal("60");
    const cfg = JSON.parse(env.KIND_CONFIG);
    expect(cfg.nodes).to.have.length(4);
    expect(cfg.nodes[0].labels).to.deep.equal({ "node.type": "control" });
    expect(cfg.nodes[0].extraPortMappings).to.deep.equal([
      { containerPort: 30100, hostPort: 9100, listenAddress: "127.0.0.1", protocol: "TCP" },
      { containerPort: 30092, hostPort: 9092, listenAddress: "127.0.0.1", protocol: "TCP" },
    ]);
    expect(cfg.nodes[2].labels).to.deep.equal({ "node.type": "b", tier: "2" });
    expect(cfg.nodes[3]).to.deep.equal({ role: "worker" });
    expect(run.exports.namespaceName).to.equal("inception-laptop");
  });

  it("recreates the cluster when its shape changes (triggers follow the config)", async () => {
    const a = await runStack("local", { "inception:cluster": { workers: 1 } });
    const b = await runStack("local", { "inception:cluster": { workers: 2 } });
    const c = await runStack("local", { "inception:cluster": { workers: 1 } });
    const t = (r: typeof a) =>
      JSON.stringify(r.of(COMMAND).find((x) => x.name === "cluster-kind")!.inputs.triggers);
    expect(t(a)).to.not.equal(t(b));
    expect(t(a)).to.equal(t(c));
  });
});

describe("stage devo", () => {
  let api: { url: string; close: () => void };
  before(async () => {
    api = await fakeApiServer(true);
    apiServer = api.url;
  });
  after(() => {
    apiServer = undefined;
    api.close();
  });

  it("uses the kubeconfig's context, declares no kind resources and touches no node", async () => {
    const file = kubeconfig("ci", ["ci", "other"]);
    const run = await runStack("devo", {
      "inception:cluster": { kubeconfig: file, context: "ci" },
      "inception:images": { registry: "registry.local:5000" },
    });
    // On devo commands publish images to the registry and run the suite hook; no kind.
    expect(run.of(COMMAND).map((c) => c.name)).to.include("suite-hook");
    for (const c of run.of(COMMAND).filter((x) => x.name !== "suite-hook")) {
      expect(c.name).to.match(/-publish$/);
      expect((c.inputs.environment as Record<string, string>).TARGET).to.equal("registry");
    }
    // No image cache on devo: not started (its mocked generation is nowhere), no mirror.
    expect(JSON.stringify(run.of(COMMAND))).to.not.contain("unit-5002");
    const [provider] = run.of(PROVIDER);
    expect(provider.inputs.context).to.equal("ci");
    // Reduced to the one context the stack uses: the other context is not stored.
    const stored = YAML.parse(provider.inputs.kubeconfig as string) as {
      contexts: { name: string }[];
      "current-context": string;
      users: { name: string }[];
      clusters: { name: string }[];
    };
    expect(stored.contexts.map((c) => c.name)).to.deep.equal(["ci"]);
    expect(stored["current-context"]).to.equal("ci");
    expect(stored.users.map((u) => u.name)).to.deep.equal(["u1"]);
    expect(stored.clusters.map((c) => c.name)).to.deep.equal(["c1"]);
    expect(run.exports.kubeconfig).to.equal(provider.inputs.kubeconfig);
    expect(run.of(NODE_PATCH)).to.have.length(0);
    expect(run.exports.stage).to.equal("devo");
    expect(run.exports.kindCluster).to.equal(undefined);
    expect(run.secretExports).to.include("kubeconfig");
  });

  it("logs in to the registry with the stack's credentials, the password kept secret", async () => {
    const run = await runStack("devo", {
      "inception:cluster": { kubeconfig: kubeconfig("ci", ["ci"]), context: "ci" },
      "inception:images": { registry: "registry.local:5000", username: "ci", password: "s3cret-pw" },
    });
    const publishes = run.of(COMMAND).filter((c) => c.name.endsWith("-publish"));
    expect(publishes).to.not.have.length(0);
    for (const c of publishes) {
      const env = c.inputs.environment as Record<string, string>;
      expect(env.REGISTRY_USERNAME, c.name).to.equal("ci");
      expect(env.REGISTRY_PASSWORD, c.name).to.equal("s3cret-pw");
      expect(c.secretInputs, c.name).to.include("environment");
      // A failed command echoes its create command: a file keeps the error to the script's words.
      expect(c.inputs.create, c.name).to.equal('exec /bin/bash "scripts/publish-image.sh"');
    }
  });

  it("publishes no NodePort on the shared cluster and exports no host endpoints", async () => {
    const run = await runStack("devo", {
      "inception:cluster": { kubeconfig: kubeconfig("ci", ["ci"]), context: "ci" },
      "inception:images": { registry: "registry.local:5000" },
    });
    const services = run.of("kubernetes:core/v1:Service");
    expect(services).to.not.have.length(0);
    for (const svc of services) {
      const spec = svc.inputs.spec as { type?: string; ports: { nodePort?: number }[] };
      expect(spec.type ?? "ClusterIP", svc.name).to.equal("ClusterIP");
      expect(
        spec.ports.every((port) => port.nodePort === undefined),
        svc.name,
      ).to.equal(true);
    }
    const endpoints = run.exports.mockEndpoints as Record<string, string>;
    expect(Object.keys(endpoints).filter((k) => k.endsWith("_external"))).to.deep.equal([]);
  });

  it("names an unreachable API server before anything is declared", async () => {
    // Port 2 on loopback (client-node 2 refuses port 1 as a fetch "bad port" before connecting): nothing listens, the connection is refused at once.
    const file = kubeconfig("ci", ["ci"], "https://127.0.0.1:2");
    const { error, resources } = await runStackExpectingError("devo", {
      "inception:cluster": { kubeconfig: file, context: "ci" },
      "inception:images": { registry: "registry.local:5000" },
    });
    expect(error.name).to.equal("ConfigError");
    expect(error.message).to.match(/^stack config failed its preflight checks \(1 problem\)/);
    expect(error.message).to.match(
      /inception:cluster\.context is "ci", whose API server https:\/\/127\.0\.0\.1:2 is unreachable: .*ECONNREFUSED/,
    );
    expect(error.message).to.contain(`fix: kubectl --kubeconfig ${file} --context ci version`);
    expect(resources).to.have.length(0);
  });

  it("gives up on an API server that does not answer, after the timeout", async () => {
    const silent = await fakeApiServer(false);
    try {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfig("ci", ["ci"], silent.url));
      const started = Date.now();
      const problem = await apiServerProblem(kc, 300);
      expect(problem).to.equal(
        `API server ${silent.url} is unreachable: no answer within 0.3 s (is the cluster up, and is this its kubeconfig?)`,
      );
      expect(Date.now() - started).to.be.below(5000);
      kc.loadFromFile(kubeconfig("ci", ["ci"]));
      expect(await apiServerProblem(kc, 5000)).to.equal(undefined);
    } finally {
      silent.close();
    }
  });

  it("labels only the nodes named in config", async () => {
    const file = kubeconfig("ci", ["ci"]);
    const run = await runStack("devo", {
      "inception:cluster": {
        kubeconfig: file,
        context: "ci",
        nodeLabels: { "node-a": { "node.type": "x" } },
      },
      "inception:images": { registry: "registry.local:5000" },
    });
    const patches = run.of(NODE_PATCH);
    expect(patches).to.have.length(1);
    expect(patches[0].inputs.metadata).to.deep.equal({ name: "node-a", labels: { "node.type": "x" } });
  });

  it("takes the kubeconfig from KUBECONFIG when config names none", async () => {
    const file = kubeconfig("ci", ["ci"]);
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = file;
    try {
      const run = await runStack("devo", {
        "inception:cluster": { context: "ci" },
        "inception:images": { registry: "registry.local" },
      });
      expect(run.of(PROVIDER)[0].inputs.kubeconfig).to.equal(
        reduceKubeconfig(fs.readFileSync(file, "utf8"), "ci"),
      );
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });
});

describe("bad stack config", () => {
  const goodKc = kubeconfig("ci", ["ci"]);
  const otherKc = kubeconfig("laptop", ["ci", "laptop"]);
  const cases: { what: string; stack: string; config: Record<string, unknown>; error: string }[] = [
    {
      what: "workers not an integer",
      stack: "local",
      config: { "inception:cluster": { workers: "two" } },
      error: 'inception:cluster.workers must be an integer from 0 to 10, got "two"',
    },
    {
      what: "negative workers",
      stack: "local",
      config: { "inception:cluster": { workers: -1 } },
      error: "inception:cluster.workers must be an integer from 0 to 10, got -1",
    },
    {
      what: "unknown stage",
      stack: "local",
      config: { "inception:stage": "staging" },
      error: 'inception:stage must be one of local, devo, prod, got "staging"',
    },
    {
      what: "stage missing on a stack not named after one",
      stack: "feature-x",
      config: {},
      error: 'inception:stage is required for stack "feature-x"',
    },
    {
      what: "typo in a cluster setting",
      stack: "local",
      config: { "inception:cluster": { wrokers: 2 } },
      error: "inception:cluster.wrokers is not a known setting (known: name, workers,",
    },
    {
      what: "nested key set without --path",
      stack: "local",
      config: { "inception:cluster.workers": "3" },
      error: "use: pulumi config set --path inception:cluster.workers <value>",
    },
    {
      what: "cluster name with upper case",
      stack: "local",
      config: { "inception:cluster": { name: "My_Cluster" } },
      error:
        "inception:cluster.name must be a kind cluster name (lower-case alphanumerics and '-', at most 50), got \"My_Cluster\"",
    },
    {
      what: "invalid label value",
      stack: "local",
      config: { "inception:cluster": { workerLabels: [{ "node.type": "has space" }] } },
      error: "inception:cluster.workerLabels[0].node.type must be a label value",
    },
    {
      what: "more worker labels than workers",
      stack: "local",
      config: { "inception:cluster": { workers: 1, workerLabels: [{}, {}] } },
      error: "inception:cluster.workerLabels has 2 entries but the cluster has 1 workers",
    },
    {
      what: "port mapping outside the NodePort range",
      stack: "local",
      config: { "inception:cluster": { portMappings: [{ containerPort: 80, hostPort: 8080 }] } },
      error: "inception:cluster.portMappings[0].containerPort must be an integer from 30000 to 32767, got 80",
    },
    {
      what: "two mappings on one host port",
      stack: "local",
      config: {
        "inception:cluster": {
          portMappings: [
            { containerPort: 30001, hostPort: 9000 },
            { containerPort: 30002, hostPort: 9000 },
          ],
        },
      },
      error:
        "inception:cluster.portMappings[1].hostPort repeats 127.0.0.1:9000/TCP of cluster.portMappings[0]",
    },
    {
      what: "namespace not a DNS label",
      stack: "local",
      config: { "inception:namespace": "Tests!" },
      error:
        "inception:namespace must be a DNS-1123 label (lower-case alphanumerics and '-', at most 63), got \"Tests!\"",
    },
    {
      what: "devo without a context",
      stack: "devo",
      config: { "inception:cluster": { kubeconfig: goodKc }, "inception:images": { registry: "r.local" } },
      error: "inception:cluster.context is required on an existing cluster",
    },
    {
      what: "devo whose current context is another",
      stack: "devo",
      config: {
        "inception:cluster": { kubeconfig: otherKc, context: "ci" },
        "inception:images": { registry: "r.local" },
      },
      error:
        'inception:cluster.context is "ci" but the current context of ' +
        otherKc +
        ' is "laptop": refusing to deploy',
    },
    {
      what: "devo context the kubeconfig lacks",
      stack: "devo",
      config: {
        "inception:cluster": { kubeconfig: goodKc, context: "prod" },
        "inception:images": { registry: "r.local" },
      },
      error: 'inception:cluster.context is "prod", which ' + goodKc + " does not have (it has: ci)",
    },
    {
      what: "devo kubeconfig missing",
      stack: "devo",
      config: {
        "inception:cluster": { kubeconfig: "/nonexistent/kc", context: "ci" },
        "inception:images": { registry: "r.local" },
      },
      error: 'inception:cluster.kubeconfig names "/nonexistent/kc", which does not exist',
    },
    {
      what: "devo without a registry",
      stack: "devo",
      config: { "inception:cluster": { kubeconfig: goodKc, context: "ci" } },
      error: "inception:images.registry is required on stage devo",
    },
    {
      what: "a kind-only setting on devo",
      stack: "devo",
      config: {
        "inception:cluster": { kubeconfig: goodKc, context: "ci", workers: 2 },
        "inception:images": { registry: "r.local" },
      },
      error: "inception:cluster.workers is not a known setting (known: kubeconfig, context, nodeLabels)",
    },
    {
      what: "registry user without a password",
      stack: "devo",
      config: {
        "inception:cluster": { kubeconfig: goodKc, context: "ci" },
        "inception:images": { registry: "r.local", username: "ci" },
      },
      error: "inception:images.username is set without its partner",
    },
    {
      what: "registry credentials on local",
      stack: "local",
      config: { "inception:images": { username: "ci", password: "pw-pw-pw" } },
      error: "inception:images.username is set on stage local",
    },
    {
      what: "cluster not an object",
      stack: "local",
      config: { "inception:cluster": "big" },
      error: 'inception:cluster must be an object, got "big"',
    },
  ];

  for (const c of cases) {
    it(`${c.what}: fails with its own message and registers nothing`, async () => {
      const { error, resources } = await runStackExpectingError(c.stack, c.config);
      expect(error.name).to.equal("ConfigError");
      expect(error.message).to.contain(c.error);
      expect(resources, "resources registered before the error").to.have.length(0);
    });
  }

  it("lists every problem of one config in one error", async () => {
    const { error } = await runStackExpectingError("local", {
      "inception:cluster": { workers: "two", name: "UPPER", waitSeconds: "soon" },
      "inception:namespace": "Bad!",
    });
    expect(error.message).to.match(/^invalid stack config \(4 problems\)/);
    for (const key of ["cluster.workers", "cluster.name", "cluster.waitSeconds", "namespace"]) {
      expect(error.message).to.contain(`inception:${key} must be`);
    }
  });
});
