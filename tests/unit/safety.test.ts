import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { loadConfig } from "../../infra/config";
import { OWNER_LABEL, ownerLabelValue } from "../../infra/ownership";
import { backendProblem } from "../../infra/preflight";
import { REDACTED, redactEnv } from "../../infra/suite/hook";
import { Registered, backend, hookOutput, isSecretValue, runStack, runStackExpectingError } from "./stack";

const ROOT = path.resolve(__dirname, "../..");
const NAMESPACE = "kubernetes:core/v1:Namespace";
const SECRET = "kubernetes:core/v1:Secret";
const WORKLOADS = [
  "kubernetes:apps/v1:Deployment",
  "kubernetes:apps/v1:StatefulSet",
  "kubernetes:batch/v1:Job",
];

/** An API server answering the preflight: its version, and the namespaces it is given. */
async function apiServer(namespaces: Map<string, Record<string, string>>) {
  const server = http.createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    const ns = /^\/api\/v1\/namespaces\/([^/?]+)$/.exec(req.url ?? "");
    if (req.url === "/version") res.end(JSON.stringify({ major: "1", minor: "34", gitVersion: "v1.34.4" }));
    else if (ns && namespaces.has(ns[1]))
      res.end(
        JSON.stringify({ kind: "Namespace", metadata: { name: ns[1], labels: namespaces.get(ns[1]) } }),
      );
    else {
      res.statusCode = 404;
      res.end(JSON.stringify({ kind: "Status", status: "Failure", reason: "NotFound", code: 404 }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** A kubeconfig with contexts `ci` (the stack's) and `prod-admin` (another cluster's admin). */
function kubeconfig(server: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "inception-kc-")), "config");
  fs.writeFileSync(
    file,
    `apiVersion: v1\nkind: Config\ncurrent-context: ci\n` +
      `clusters:\n- name: c1\n  cluster: {server: "${server}", insecure-skip-tls-verify: true}\n` +
      `- name: prod\n  cluster: {server: "https://prod.example:6443"}\n` +
      `users:\n- name: u1\n  user: {token: ci-token}\n- name: admin\n  user: {token: PROD-ADMIN-TOKEN}\n` +
      `contexts:\n- name: ci\n  context: {cluster: c1, user: u1}\n- name: prod-admin\n  context: {cluster: prod, user: admin}\n`,
  );
  return file;
}

function devoConfig(kc: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    "inception:stage": "devo",
    "inception:cluster": { kubeconfig: kc, context: "ci" },
    "inception:images": { registry: "registry.local:5000" },
    ...extra,
  };
}

type PodSpec = {
  securityContext?: Record<string, unknown>;
  containers: { name: string; securityContext?: Record<string, unknown>; env?: unknown[] }[];
};

function podSpecOf(r: Registered): PodSpec {
  const spec = r.inputs.spec as { template: { spec: PodSpec } };
  return spec.template.spec;
}

describe("ownership of the namespace", () => {
  const namespaces = new Map<string, Record<string, string>>();
  let api: Awaited<ReturnType<typeof apiServer>>;
  before(async () => {
    api = await apiServer(namespaces);
  });
  after(() => api.close());
  afterEach(() => namespaces.clear());

  it("labels the namespace with its stack (<project>.<stack>) and Pod Security restricted", async () => {
    const run = await runStack("local", {});
    const [ns] = run.of(NAMESPACE);
    const labels = (ns.inputs.metadata as { labels: Record<string, string> }).labels;
    expect(labels[OWNER_LABEL]).to.equal("inception.local");
    expect(labels["pod-security.kubernetes.io/enforce"]).to.equal("restricted");
  });

  it("encodes the owner as a valid label value, distinct per stack, also for long names", () => {
    const valid = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
    expect(ownerLabelValue("inception", "devo")).to.equal("inception.devo");
    const long = ownerLabelValue("inception", `ci-${"x".repeat(80)}-1`);
    const long2 = ownerLabelValue("inception", `ci-${"x".repeat(80)}-2`);
    expect(long).to.match(valid);
    expect(long2).to.match(valid);
    expect(long).to.not.equal(long2);
  });

  it("refuses a namespace that exists without the owner label, naming it and the label found", async () => {
    namespaces.set("team-a", { "app.kubernetes.io/name": "theirs" });
    const { error, resources } = await runStackExpectingError(
      "devo",
      devoConfig(kubeconfig(api.url), { "inception:namespace": "team-a" }),
    );
    expect(error.message).to.contain('"team-a"');
    expect(error.message).to.contain(`${OWNER_LABEL}: none found, want inception.devo`);
    expect(error.message).to.contain("adoptNamespace");
    expect(resources.filter((r) => r.type === NAMESPACE)).to.have.length(0);
  });

  it("takes an unlabelled namespace over only with adoptNamespace: true", async () => {
    namespaces.set("team-a", {});
    const run = await runStack(
      "devo",
      devoConfig(kubeconfig(api.url), {
        "inception:namespace": "team-a",
        "inception:adoptNamespace": "true",
      }),
    );
    const [ns] = run.of(NAMESPACE);
    expect((ns.inputs.metadata as { labels: Record<string, string> }).labels[OWNER_LABEL]).to.equal(
      "inception.devo",
    );
  });

  it("refuses another stack's namespace even with adoptNamespace", async () => {
    namespaces.set("inception-devo", { [OWNER_LABEL]: "inception.devo-other" });
    const { error } = await runStackExpectingError(
      "devo",
      devoConfig(kubeconfig(api.url), { "inception:adoptNamespace": "true" }),
    );
    expect(error.message).to.contain('"inception-devo"');
    expect(error.message).to.contain(`${OWNER_LABEL}=inception.devo-other`);
  });

  it("deploys again into its own namespace (a previous run's, or from a fresh clone)", async () => {
    namespaces.set("inception-devo", { [OWNER_LABEL]: "inception.devo" });
    const run = await runStack("devo", devoConfig(kubeconfig(api.url)));
    expect(run.of(NAMESPACE)).to.have.length(1);
  });

  it("stores only the stack's own context of the kubeconfig, as a secret", async () => {
    const run = await runStack("devo", devoConfig(kubeconfig(api.url)));
    const stored = run.exports.kubeconfig as string;
    expect(stored).to.contain("ci-token");
    expect(stored).to.not.contain("PROD-ADMIN-TOKEN");
    expect(stored).to.not.contain("prod.example");
    expect(run.secretExports).to.include("kubeconfig");
  });

  describe("durable state for shared stages", () => {
    const saved = backend.url;
    afterEach(() => (backend.url = saved));

    it("devo refuses the checkout-local file backend, naming the alternative", async () => {
      backend.url = `file://${ROOT}/.inception/state`;
      const { error, resources } = await runStackExpectingError("devo", devoConfig(kubeconfig(api.url)));
      expect(error.message).to.contain("inception:stage is devo, whose state would live inside the checkout");
      expect(error.message).to.contain("PULUMI_BACKEND_URL=file://$HOME/.local/state/inception");
      expect(resources).to.have.length(0);
    });

    it("accepts a backend outside the checkout on devo, and the checkout's on local", () => {
      expect(backendProblem({ PULUMI_BACKEND_URL: "file:///var/lib/ci/state" }, ROOT)).to.equal(undefined);
      expect(backendProblem({ PULUMI_BACKEND_URL: "s3://bucket/inception" }, ROOT)).to.equal(undefined);
      expect(backendProblem({ PULUMI_BACKEND_URL: `file://${ROOT}` }, ROOT)).to.be.a("string");
      expect(backendProblem({ PULUMI_BACKEND_URL: `file://${ROOT}-sibling/state` }, ROOT)).to.equal(
        undefined,
      );
    });
  });
});

describe("least privilege", () => {
  it("every workload runs non-root, no escalation, no capabilities, RuntimeDefault seccomp", async () => {
    const run = await runStack("local", {
      "inception:mockInfra": { zookeeper: { enabled: true } },
    });
    const workloads = run.resources.filter((r) => WORKLOADS.includes(r.type));
    // kafka, zookeeper, s3, data server, the executor, the suite Job.
    expect(workloads.map((w) => w.name)).to.have.length.of.at.least(6);
    for (const w of workloads) {
      const pod = podSpecOf(w);
      expect(pod.securityContext, w.name).to.deep.include({
        runAsNonRoot: true,
        runAsUser: 1000,
        seccompProfile: { type: "RuntimeDefault" },
      });
      for (const c of pod.containers) {
        expect(c.securityContext, `${w.name}/${c.name}`).to.deep.include({
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"] },
        });
      }
    }
  });

  it("the mock images the toolchain builds declare a numeric non-root USER", () => {
    for (const d of ["mock-http", "mock-s3", "mock-zookeeper", "mock-kafka"]) {
      const dockerfile = fs.readFileSync(path.join(ROOT, "images", d, "Dockerfile"), "utf8");
      const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
      expect(users.at(-1), d).to.match(/^[1-9]\d*(:\d+)?$/);
    }
  });
});

describe("secretEnv", () => {
  it("reaches services and the suite Job as Secrets referenced by secretKeyRef, never as a value", async () => {
    const run = await runStack("local", {
      "inception:services": [{ name: "executor", secretEnv: { API_TOKEN: "svc-token-1" } }],
      "inception:suite": { secretEnv: { SUITE_TOKEN: "suite-token-1" } },
    });
    const secrets = run.of(SECRET);
    const svcSecret = secrets.find((s) => s.name === "service-executor-secret-env")!;
    expect(svcSecret.secretInputs).to.include("stringData");
    expect(svcSecret.inputs.stringData).to.deep.equal({ API_TOKEN: "svc-token-1" });
    const suiteSecret = secrets.find((s) => s.name === "suite-secret-env")!;
    expect(suiteSecret.secretInputs).to.include("stringData");

    const [deployment] = run.resources.filter((r) => r.name === "service-executor-deployment");
    const env = podSpecOf(deployment).containers[0].env as {
      name: string;
      value?: unknown;
      valueFrom?: unknown;
    }[];
    expect(env.find((e) => e.name === "API_TOKEN")).to.deep.equal({
      name: "API_TOKEN",
      valueFrom: { secretKeyRef: { name: "executor-secret-env", key: "API_TOKEN" } },
    });
    const [job] = run.of("kubernetes:batch/v1:Job");
    const jobEnv = podSpecOf(job).containers[0].env as { name: string; valueFrom?: unknown }[];
    expect(jobEnv.find((e) => e.name === "SUITE_TOKEN")).to.deep.equal({
      name: "SUITE_TOKEN",
      valueFrom: { secretKeyRef: { name: "suite-secret-env", key: "SUITE_TOKEN" } },
    });
  });

  it("refuses a variable given both in env and secretEnv", () => {
    expect(() =>
      loadConfig({
        project: "inception",
        stack: "local",
        config: {
          "inception:services": JSON.stringify([
            { name: "executor", env: { T: "a" }, secretEnv: { T: "b" } },
          ]),
        },
      }),
    ).to.throw(/services\[0\]\.secretEnv\.T is also set in env/);
  });

  it("describe dumps blank the literal value of a secret variable, keep references", () => {
    const pod: V1Pod = {
      metadata: { name: "p" },
      spec: {
        containers: [
          {
            name: "c",
            env: [
              { name: "API_TOKEN", value: "leaked-literal" },
              { name: "PLAIN", value: "kept" },
              { name: "REF", valueFrom: { secretKeyRef: { name: "s", key: "REF" } } },
            ],
          },
        ],
      },
    };
    const job: V1Job = { metadata: { name: "j" }, spec: { template: { spec: pod.spec } } };
    for (const obj of [pod, job]) {
      const text = JSON.stringify(redactEnv(obj, ["API_TOKEN", "REF"]));
      expect(text).to.not.contain("leaked-literal");
      expect(text).to.contain(REDACTED);
      expect(text).to.contain('"kept"');
      expect(text).to.contain('"secretKeyRef":{"name":"s","key":"REF"}');
    }
    // The original object (the hook keeps using it) is untouched.
    expect(JSON.stringify(pod)).to.contain("leaked-literal");
  });
});

describe("canaries: no secret value outside a Pulumi secret", () => {
  const CANARY = { s3: "CANARY3s3key9f1", registry: "CANARYregpw7c2", secretEnv: "CANARYsecenv5d8" };
  const all = Object.values(CANARY);

  /** Where a canary occurs in a value, skipping what Pulumi holds as a secret. */
  function leaks(v: unknown, at: string, out: string[]): string[] {
    if (isSecretValue(v)) return out;
    if (typeof v === "string") {
      for (const c of all) if (v.includes(c)) out.push(`${at}: ${c}`);
    } else if (Array.isArray(v)) v.forEach((x, i) => leaks(x, `${at}[${i}]`, out));
    else if (typeof v === "object" && v !== null)
      for (const [k, x] of Object.entries(v)) leaks(x, `${at}.${k}`, out);
    return out;
  }

  function plainLeaks(run: Awaited<ReturnType<typeof runStack>>): string[] {
    const out: string[] = [];
    for (const r of run.resources) {
      for (const [k, v] of Object.entries(r.inputs)) {
        if (!r.secretInputs.includes(k)) leaks(v, `${r.type} ${r.name}.${k}`, out);
      }
    }
    for (const [k, v] of Object.entries(run.exports)) {
      if (!run.secretExports.includes(k)) leaks(v, `output ${k}`, out);
    }
    return out;
  }

  const namespaces = new Map<string, Record<string, string>>();
  let api: Awaited<ReturnType<typeof apiServer>>;
  const line = hookOutput.line;
  let exitCode: typeof process.exitCode;
  before(async () => {
    api = await apiServer(namespaces);
  });
  after(() => api.close());
  beforeEach(() => (exitCode = process.exitCode));
  afterEach(() => {
    hookOutput.line = line;
    process.exitCode = exitCode;
  });

  const config = () =>
    devoConfig(kubeconfig(api.url), {
      "inception:s3SecretKey": CANARY.s3,
      "inception:images": { registry: "registry.local:5000", username: "ci", password: CANARY.registry },
      "inception:services": [{ name: "executor", secretEnv: { API_TOKEN: CANARY.secretEnv } }],
      "inception:suite": { secretEnv: { SUITE_TOKEN: CANARY.secretEnv } },
    });

  it("a green run: the canaries are only in secret inputs, and do reach them", async () => {
    const run = await runStack("devo", config(), ["inception:s3SecretKey", "inception:images"]);
    expect(plainLeaks(run)).to.deep.equal([]);
    // The search can find them: each canary is in some secret input.
    const inSecrets = JSON.stringify(run.resources.map((r) => r.secretInputs.map((k) => r.inputs[k])));
    for (const c of all) expect(inSecrets, c).to.contain(c);
  });

  it("a red run: none in plain inputs or outputs either", async () => {
    hookOutput.line = () =>
      JSON.stringify({
        ok: false,
        reason: "1 test(s) failed",
        cause: "tests-failed",
        report: "/r/report.html",
        tests: { passed: 0, failed: 1, pending: 0, durationMs: 1, failures: [{ title: "t", message: "m" }] },
      });
    const run = await runStack("devo", config(), ["inception:s3SecretKey", "inception:images"]);
    expect(run.exports.verdict).to.deep.include({ ok: false });
    expect(plainLeaks(run)).to.deep.equal([]);
  });

  it("config errors name the secret keys but never their values", async () => {
    const { error } = await runStackExpectingError(
      "devo",
      {
        ...devoConfig(kubeconfig(api.url)),
        "inception:s3SecretKey": `${CANARY.s3} has spaces`,
        "inception:images": { registry: "registry.local:5000", password: CANARY.registry },
        "inception:services": [{ name: "executor", secretEnv: { API_TOKEN: { nested: CANARY.secretEnv } } }],
        "inception:suite": { secretEnv: { "BAD NAME": CANARY.secretEnv } },
      },
      ["inception:s3SecretKey", "inception:images", "inception:services", "inception:suite"],
    );
    // Each bad secret is reported …
    expect(error.message).to.contain("inception:s3SecretKey");
    expect(error.message).to.contain("inception:images.password");
    expect(error.message).to.contain("secretEnv.API_TOKEN");
    // … and no canary is in the message.
    for (const c of all) expect(error.message, c).to.not.contain(c);
  });
});

describe("passphrase by stage (scripts/lib.sh select_stack)", () => {
  /** Runs select_stack in a project dir holding `files`, with a fake pulumi; the passphrase it chose. */
  function select(files: Record<string, string>, args: string[], env: Record<string, string> = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "inception-stage-"));
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
    fs.mkdirSync(path.join(dir, "bin"));
    fs.writeFileSync(path.join(dir, "bin", "pulumi"), "#!/bin/bash\nexit 0\n", { mode: 0o755 });
    const script =
      `. ${JSON.stringify(path.join(ROOT, "scripts", "lib.sh"))}\n` +
      `select_stack ${args.map((a) => JSON.stringify(a)).join(" ")}\n` +
      `echo "passphrase=$PULUMI_CONFIG_PASSPHRASE"\n`;
    const r = spawnSync("bash", ["-c", script], {
      encoding: "utf8",
      env: {
        PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
        HOME: dir,
        INCEPTION_ROOT: dir,
        INCEPTION_LOCAL_PASSPHRASE: "public-local",
        PULUMI_BACKEND_URL: `file://${dir}/state`,
        ...env,
      },
    });
    fs.rmSync(dir, { recursive: true, force: true });
    return { status: r.status, out: r.stdout + r.stderr };
  }

  it("a stack named local-x whose stage is devo does not get the local passphrase", () => {
    const r = select({ "Pulumi.local-x.yaml": "config:\n  inception:stage: devo\n" }, ["local-x"]);
    expect(r.status).to.not.equal(0);
    expect(r.out).to.contain("stack local-x has stage devo");
    expect(r.out).to.contain("PULUMI_CONFIG_PASSPHRASE");
    expect(r.out).to.not.contain("passphrase=public-local");
  });

  it("any stack whose stage is local gets it, by its config file, its name or the caller's word", () => {
    expect(select({ "Pulumi.ci-1.yaml": 'config:\n  inception:stage: "local"\n' }, ["ci-1"]).out).to.contain(
      "passphrase=public-local",
    );
    expect(select({}, ["local"]).out).to.contain("passphrase=public-local");
    expect(select({}, ["e2e-x", "local"]).out).to.contain("passphrase=public-local");
  });

  it("a stack of no known stage needs a passphrase; a given passphrase is kept", () => {
    const r = select({}, ["local-y"]);
    expect(r.status).to.not.equal(0);
    expect(r.out).to.contain("names no stage");
    expect(
      select({ "Pulumi.devo.yaml": "config:\n  inception:stage: devo\n" }, ["devo"], {
        PULUMI_CONFIG_PASSPHRASE: "mine",
      }).out,
    ).to.contain("passphrase=mine");
  });
});

describe("a suite env set with --secret --path", () => {
  it("reaches the Job as a secret, and is blanked in describe dumps", async () => {
    const run = await runStack(
      "local",
      { "inception:suite": { env: { HARNESS_TOKEN: "plain-looking-1" } } },
      ["inception:suite"],
    );
    // Pulumi marks the whole top-level input holding a secret: the Job's spec reaches the state encrypted.
    const [job] = run.of("kubernetes:batch/v1:Job");
    expect(job.secretInputs).to.include("spec");
    const [hook] = run.resources.filter((r) => r.name === "suite-hook");
    expect(hook.secretInputs).to.include("environment");
    const [encoded] = Object.values(hook.inputs.environment as Record<string, string>);
    expect((JSON.parse(encoded) as { redactEnv: string[] }).redactEnv).to.deep.equal(["HARNESS_TOKEN"]);
  });
});
