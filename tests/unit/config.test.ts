/**
 * The stack config's schema on its own (pure, no Pulumi runtime): its rules, its error messages, its
 * secrets, the docs generated from it, and the mock infra contract derived into the program.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { ConfigError, LoadInput, PROFILES, loadConfig, selectorProblem } from "../../infra/config";
import { keysOf, renderConfigDocs, stageKeys } from "../../infra/config/docs";
import { MOCK_CONTRACT, OUTPUT_KEYS } from "../../infra/contract";
import { runStack } from "./stack";
import { decodeHookSettings } from "../../infra/suite/settings";

type Obj = Record<string, unknown>;

function load(stack: string, config: Obj, more: Partial<LoadInput> = {}) {
  const raw: Record<string, string> = {};
  for (const [k, v] of Object.entries(config))
    raw[`inception:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
  return loadConfig({ project: "inception", stack, config: raw, env: {}, ...more });
}

function problems(stack: string, config: Obj, more: Partial<LoadInput> = {}): string {
  try {
    load(stack, config, more);
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("the config was accepted");
}

describe("stack config schema", () => {
  const cases: [string, string, Obj, string][] = [
    [
      "namespace default",
      "local",
      { namespace: "default" },
      'inception:namespace is "default", a namespace of the cluster itself',
    ],
    [
      "namespace kube-*",
      "local",
      { namespace: "kube-system" },
      'inception:namespace is "kube-system", a namespace of the cluster itself',
    ],
    [
      "artifactsDir /",
      "local",
      { suite: { artifactsDir: "/" } },
      'inception:suite.artifactsDir is "/": it must be a directory inside the project',
    ],
    [
      "artifactsDir with ..",
      "local",
      { suite: { artifactsDir: "out/../../x" } },
      'inception:suite.artifactsDir is "out/../../x": it must be a directory inside the project',
    ],
    [
      "no topics",
      "local",
      { mockInfra: { kafka: { topics: [] } } },
      "inception:mockInfra.kafka.topics is empty: the broker would have no topic",
    ],
    [
      "spawnedSelector that does not parse",
      "local",
      { services: [{ name: "x", image: "i:1", spawnedSelector: "app in (a" }] },
      'inception:services[0].spawnedSelector is "app in (a", which is not a Kubernetes label selector',
    ],
    [
      "service readiness wait shorter than a probe can pass",
      "local",
      { services: [{ name: "x", image: "i:1", readyTimeoutSeconds: 1 }] },
      "inception:services[0].readyTimeoutSeconds must be an integer from 5 to 3600, got 1",
    ],
    [
      "test timeout longer than the Job deadline",
      "local",
      { suite: { timeoutSeconds: 60, testTimeoutMs: 120000 } },
      "inception:suite.testTimeoutMs is 120000 ms, longer than the suite Job's deadline suite.timeoutSeconds (60 s)",
    ],
    [
      "stack name too long for the default kind cluster name",
      "a-feature-branch-with-a-name-longer-than-kind-allows",
      { stage: "local" },
      'inception:cluster.name is not set, and its default "inception-a-feature-branch-with-a-name-longer-than-kind-allows" (from the stack name) has 62 characters: kind allows 50',
    ],
    [
      "wildcard verbs",
      "local",
      { services: [{ name: "x", image: "i:1", rules: [{ resources: ["pods"], verbs: ["*"] }] }] },
      'inception:services[0].rules[0].verbs has "*", which grants every verb in the namespace',
    ],
    [
      "wildcard resources",
      "local",
      { services: [{ name: "x", image: "i:1", rules: [{ resources: ["*"], verbs: ["get"] }] }] },
      'inception:services[0].rules[0].resources has "*", which grants every resource',
    ],
    [
      "a wildcard in the suite's rules",
      "local",
      { suite: { rules: [{ apiGroups: ["batch"], resources: ["jobs"], verbs: ["*"] }] } },
      'inception:suite.rules[0].verbs has "*", which grants every verb in the namespace',
    ],
    [
      "duplicate service names",
      "local",
      {
        services: [
          { name: "x", image: "i:1" },
          { name: "x", image: "i:2" },
        ],
      },
      'inception:services[1].name repeats service "x"',
    ],
    ["unknown profile", "local", { profile: "gke" }, 'inception:profile must be one of bai, none, got "gke"'],
    [
      "a Kafka version the mock is not built in",
      "local",
      { mockInfra: { kafka: { version: "3.8.0" } } },
      'inception:mockInfra.kafka.version must be a version the mock Kafka is built in: 4.4.0 or 3.9.2 (3.9 is the last line that takes the protocol versions old clients pin (e.g. kafka-python 1.4.6 at api_version 0.10)), got "3.8.0"',
    ],
    [
      "a Kafka line without its patch version",
      "local",
      { mockInfra: { kafka: { version: 3.9 } } },
      "inception:mockInfra.kafka.version must be a version the mock Kafka is built in: 4.4.0 or 3.9.2",
    ],
    [
      "suite.spec of the wrong type",
      "local",
      { suite: { spec: 3 } },
      "inception:suite.spec must be a glob or a list of globs, got 3",
    ],
    [
      "bad INCEPTION_MOCK_IMAGES",
      "local",
      {},
      'inception:mockInfra.images (from INCEPTION_MOCK_IMAGES) must be one of public, local, got "hub"',
    ],
  ];
  for (const [what, stack, config, message] of cases) {
    it(`refuses ${what}, with its own message`, () => {
      const env = what === "bad INCEPTION_MOCK_IMAGES" ? { env: { INCEPTION_MOCK_IMAGES: "hub" } } : {};
      expect(problems(stack, config, env)).to.contain(message);
    });
  }

  it("accepts a wildcard rule marked allowWildcard, and drops the marker", () => {
    const c = load("local", {
      services: [
        { name: "x", image: "i:1", rules: [{ resources: ["*"], verbs: ["*"], allowWildcard: true }] },
      ],
    });
    expect(c.services[0].rules).to.deep.equal([{ apiGroups: [""], resources: ["*"], verbs: ["*"] }]);
  });

  it("suite.rules: the project's suite may create Jobs (it starts CronJob runs); a suite of its own only reads", () => {
    const create = [{ apiGroups: ["batch"], resources: ["jobs"], verbs: ["create"] }];
    expect(load("local", {}).suite.rules).to.deep.equal(create);
    expect(load("local", { suite: { dir: "tests/suites/mockinfra" } }).suite.rules).to.deep.equal([]);
    expect(load("local", { suite: { rules: [] } }).suite.rules).to.deep.equal([]);
    const own = [{ apiGroups: [""], resources: ["configmaps"], verbs: ["create"] }];
    expect(load("local", { suite: { dir: "tests/suites/mockinfra", rules: own } }).suite.rules).to.deep.equal(
      own,
    );
  });

  it("parses Kubernetes label selectors", () => {
    for (const ok of [
      "created-by=executor",
      "a=b,c!=d",
      "app in (x, y)",
      "tier notin (a)",
      "!legacy",
      "x.io/app",
    ]) {
      expect(selectorProblem(ok), ok).to.equal(undefined);
    }
    for (const bad of ["", "a=b=c", "app in (x", "has space=1", "a=bad value"]) {
      expect(selectorProblem(bad), bad).to.be.a("string");
    }
  });

  it("names the fix of every problem: a pulumi config command, with --secret for a secret", () => {
    const message = problems("local", { cluster: { workers: "two", wrokers: 1 }, s3SecretKey: "short" });
    expect(message).to.contain(
      "fix: pulumi config set --path inception:cluster.workers <an integer from 0 to 10>",
    );
    expect(message).to.contain("fix: pulumi config rm --path inception:cluster.wrokers");
    expect(message).to.contain("fix: pulumi config set --secret inception:s3SecretKey <8 to 128 characters");
    const label = problems("local", { cluster: { workerLabels: [{ "node.type": "has space" }] } });
    expect(label).to.contain(
      `fix: pulumi config set --path 'inception:cluster.workerLabels[0]["node.type"]'`,
    );
  });

  it("never shows a secret's value in an error (canary)", () => {
    const canary = "CANARY-7f3a9-never-shown";
    const messages = [
      // Secrets by their path: invalid (a space), or valid beside other problems.
      problems("local", { s3SecretKey: `${canary} x`, namespace: "Bad!" }),
      problems("devo", { images: { username: "ci", password: ["x", canary] }, cluster: {} }),
      problems("devo", { images: { password: canary }, cluster: { context: "ci" } }),
      // Anything under a key Pulumi holds as a secret (set with --secret --path).
      problems(
        "local",
        { services: [{ name: "x", image: "i:1", env: { TOKEN: { nested: canary } } }] },
        { secretKeys: ["inception:services"] },
      ),
      problems("local", { services: canary }, { secretKeys: ["inception:services"] }),
      problems("local", { suite: { grep: [canary] } }, { secretKeys: ["inception:suite"] }),
    ];
    for (const m of messages) expect(m).to.not.contain(canary);
    // Where the secret itself is wrong, the message says so without its value.
    for (const i of [0, 1, 3, 4, 5]) expect(messages[i]).to.contain("got [secret]");
    // The canary is found when it is not a secret: the check above can fail.
    expect(problems("local", { suite: { grep: [canary] } })).to.contain(canary);
  });

  it("the bai profile labels the workers; none leaves them bare", () => {
    const bai = load("local", {});
    expect(bai.profile).to.equal("bai");
    expect(bai.cluster.type === "kind" && bai.cluster.workerLabels).to.deep.equal(PROFILES.bai.workerLabels);
    const none = load("local", { profile: "none" });
    expect(none.cluster.type === "kind" && none.cluster.workerLabels).to.deep.equal([]);
  });

  it("the profile picks the mock Kafka's version and, on stage local, the CRDs; config overrides both", () => {
    const bai = load("local", {});
    expect(bai.mockInfra.kafka.version).to.equal("3.9.2");
    expect(bai.mockInfra.crds).to.deep.equal(["mock-infra/crds/mpijob.yaml"]);
    const none = load("local", { profile: "none" });
    expect(none.mockInfra.kafka.version).to.equal("4.4.0");
    expect(none.mockInfra.crds).to.deep.equal([]);
    // A shared cluster gets no CRD unless config names it: it is cluster-wide, maybe the real operator's.
    const devo = { cluster: { context: "ci" }, images: { registry: "r" } };
    expect(load("devo", devo).mockInfra.crds).to.deep.equal([]);
    expect(load("devo", devo).mockInfra.kafka.version).to.equal("3.9.2");
    expect(
      load("devo", { ...devo, mockInfra: { crds: ["mock-infra/crds/mpijob.yaml"] } }).mockInfra.crds,
    ).to.deep.equal(["mock-infra/crds/mpijob.yaml"]);
    const set = load("local", { mockInfra: { kafka: { version: "4.4.0" }, crds: [] } });
    expect(set.mockInfra.kafka.version).to.equal("4.4.0");
    expect(set.mockInfra.crds).to.deep.equal([]);
    expect(
      load("local", { profile: "none", mockInfra: { kafka: { version: "3.9.2" } } }).mockInfra.kafka.version,
    ).to.equal("3.9.2");
  });

  it("takes suite.spec as a glob or a list, mocha's usual names by default", () => {
    expect(load("local", {}).suite.spec).to.deep.equal(["**/*.{test,spec}.{ts,js,mjs,cjs}"]);
    expect(load("local", { suite: { spec: "test/**/*.spec.mjs" } }).suite.spec).to.deep.equal([
      "test/**/*.spec.mjs",
    ]);
    expect(load("local", { suite: { spec: ["a/*.js", "b/*.js"] } }).suite.spec).to.have.length(2);
  });
});

describe("adding a setting is one schema entry", () => {
  it("docs/config.md is what the schema generates (npm run docs:config)", () => {
    const file = path.join(__dirname, "../../docs/config.md");
    expect(fs.readFileSync(file, "utf8")).to.equal(
      renderConfigDocs(),
      "docs/config.md is stale: npm run docs:config",
    );
  });

  it("every key of the schema is documented, and parsed with its default into the config", () => {
    const docs = renderConfigDocs();
    for (const stage of ["local", "devo"] as const) {
      const keys = stageKeys(stage);
      expect(keys.length).to.be.above(50);
      const parsed = load(
        stage,
        stage === "devo" ? { cluster: { context: "ci" }, images: { registry: "r" } } : {},
      );
      for (const k of keys) {
        expect(docs, k.key).to.contain(`\`inception:${k.key}\``);
        expect(k.description !== "" || k.form !== "", k.key).to.equal(true);
        // A key outside lists is in the parsed config (defaults applied), under its own name.
        if (k.key.includes("[]")) continue;
        const top = k.key.split(".")[0];
        const at = k.key
          .split(".")
          .reduce<unknown>((o, part) => (o as Obj | undefined)?.[part], parsed as unknown as Obj);
        if (top === "cluster" && stage === "devo" && k.key === "cluster.kubeconfig") continue; // parsed as kubeconfigPath
        if (k.default === "none" || /required|unused|none/.test(k.default) || k.key === "stage") continue;
        expect(at, `${k.key} (default ${k.default})`).to.not.equal(undefined);
      }
    }
  });

  it("documents the mock infra contract, and services may take any of its keys", () => {
    const docs = renderConfigDocs();
    for (const e of MOCK_CONTRACT) expect(docs).to.contain(`| \`${e.key}\` | \`${e.env}\` |`);
    expect(OUTPUT_KEYS).to.include.members(["kafka_bootstrap_servers_external", "s3_secret_key"]);
    expect(keysOf).to.be.a("function");
  });
});

describe("the mock infra contract in the program", () => {
  it("the ConfigMap holds no secret, the Secret the secret entries, the Job gets every entry", async () => {
    const run = await runStack("local", { "inception:mockInfra": { zookeeper: { enabled: true } } });
    const meta = (r: { inputs: Obj }) => r.inputs.metadata as { name: string };
    const data = run
      .of("kubernetes:core/v1:ConfigMap")
      .find((r) => meta(r).name === "outputs-infrastructure")!.inputs.data as Obj;
    for (const k of Object.keys(data)) {
      expect(
        MOCK_CONTRACT.some((e) => !e.secret && (e.key === k || e.hostKey === k)),
        k,
      ).to.equal(true);
    }
    const secret = run
      .of("kubernetes:core/v1:Secret")
      .find((r) => meta(r).name === "outputs-infrastructure-secrets")!;
    expect(Object.keys(secret.inputs.stringData as Obj)).to.deep.equal(
      MOCK_CONTRACT.filter((e) => e.secret).map((e) => e.key),
    );
    expect(secret.secretInputs).to.include("stringData");
    const job = run.of("kubernetes:batch/v1:Job")[0];
    const env = (((job.inputs.spec as Obj).template as Obj).spec as { containers: { env: Obj[] }[] })
      .containers[0].env as { name: string; valueFrom?: Obj }[];
    for (const e of MOCK_CONTRACT) {
      const v = env.find((x) => x.name === e.env);
      expect(v?.valueFrom, e.env).to.have.property(e.secret ? "secretKeyRef" : "configMapKeyRef");
    }
  });

  it("the host runner gets every entry, the host-side value where there is one", async () => {
    const run = await runStack("local", {
      "inception:suite": { runner: "host" },
      "inception:mockInfra": { zookeeper: { enabled: true }, crds: ["mock-infra/crds/mpijob.yaml"] },
    });
    const hook = run.of("command:local:Command").find((c) => c.name === "suite-hook")!;
    const hostEnv = decodeHookSettings(hook.inputs.environment as Record<string, string>).hostEnv as Obj;
    for (const e of MOCK_CONTRACT) expect(hostEnv, e.env).to.have.property(e.env);
    expect(hostEnv.KAFKA_BOOTSTRAP_SERVERS).to.equal("localhost:9092");
    expect(hostEnv.S3_ENDPOINT).to.equal("http://localhost:7070");
    expect(hostEnv.DATA_SERVER_URL).to.match(/^http:\/\/data-server\./);
    expect(hostEnv.CRDS).to.equal("mpijobs.kubeflow.org");
    expect(hostEnv.S3_SECRET_KEY).to.equal("inception-mock-secret");
  });
});

describe("secret settings", () => {
  it("a services key set with --secret keeps its env out of the state in plain text", async () => {
    const run = await runStack(
      "local",
      { "inception:services": [{ name: "executor", env: { API_TOKEN: "tok-123" } }] },
      ["inception:services"],
    );
    const dep = run
      .of("kubernetes:apps/v1:Deployment")
      .find((d) => (d.inputs.metadata as Obj).name === "executor")!;
    expect(dep.secretInputs).to.include("spec");
    const plain = await runStack("local", { "inception:services": [{ name: "executor", env: { A: "b" } }] });
    const dep2 = plain
      .of("kubernetes:apps/v1:Deployment")
      .find((d) => (d.inputs.metadata as Obj).name === "executor")!;
    expect(dep2.secretInputs).to.not.include("spec");
  });

  it("the S3 secret key reaches the mock and the outputs Secret only as a secret", async () => {
    const run = await runStack("local", { "inception:s3SecretKey": "a-secret-key-1" }, [
      "inception:s3SecretKey",
    ]);
    const secrets = run.of("kubernetes:core/v1:Secret");
    expect(secrets.map((s) => (s.inputs.metadata as Obj).name).sort()).to.deep.equal([
      "outputs-infrastructure-secrets",
      "s3-credentials",
    ]);
    for (const s of secrets) {
      expect(s.secretInputs).to.include("stringData");
      expect(JSON.stringify(s.inputs.stringData)).to.contain("a-secret-key-1");
    }
  });

  it("profile none: the mocks and services have no preferred nodes", async () => {
    const run = await runStack("local", { "inception:profile": "none" });
    for (const d of run.of("kubernetes:apps/v1:Deployment")) {
      const pod = ((d.inputs.spec as Obj).template as Obj).spec as Obj;
      expect(pod, (d.inputs.metadata as Obj).name as string).to.not.have.property("affinity");
    }
  });
});
