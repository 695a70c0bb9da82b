/**
 * ServiceUnderTest under pulumi mocks, constructed directly (not through infra/index.ts), and the
 * host-side preparation of its build context.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { EXECUTOR_RULES, ServiceUnderTest, ServiceUnderTestArgs, defaultPrepare } from "../../infra/service";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}
type Obj = Record<string, unknown>;

class Mocks implements pulumi.runtime.Mocks {
  readonly resources: Registered[] = [];
  newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
    this.resources.push({ type: args.type, name: args.name, inputs: args.inputs as Obj });
    return { id: `${args.name}-id`, state: { ...args.inputs, stdout: "published" } };
  }
  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    return args.inputs;
  }
}

const settled = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply(resolve));

function tempContext(files: Record<string, string> = { Dockerfile: "FROM scratch\n" }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "inception-svc-"));
  for (const [f, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), c);
  }
  return dir;
}

async function deploy(extra: Partial<ServiceUnderTestArgs> = {}) {
  const mocks = new Mocks();
  await pulumi.runtime.setMocks(mocks, "inception", "unit", false);
  const svc = new ServiceUnderTest("executor", {
    namespace: "inception-local",
    publishTo: { type: "registry", registry: "localhost:5002", generation: "g-1" },
    context: tempContext(),
    affinity: { nodeAffinity: {} },
    ...extra,
  });
  const deploymentName = await settled(svc.deploymentName);
  const image = await settled(svc.image);
  const of = (type: string) => mocks.resources.filter((r) => r.type === type);
  const deployment = of("kubernetes:apps/v1:Deployment")[0];
  const pod = ((deployment.inputs.spec as Obj).template as Obj).spec as Obj;
  const container = (pod.containers as Obj[])[0] as Obj & { env: Obj[] };
  return { mocks, deploymentName, image, of, deployment, pod, container };
}

describe("service under test", () => {
  it("publishes the image from its build context and runs it in a Deployment", async () => {
    const { deploymentName, image, of, deployment, pod, container } = await deploy();
    expect(deploymentName).to.equal("executor");
    expect(image).to.match(/^localhost:5002\/inception\/executor:[0-9a-f]{12}$/);
    const publishes = of("command:local:Command");
    // One command: built on the host and pushed to the image cache, which the nodes pull from.
    expect(publishes).to.have.length(1);
    expect(publishes[0].name).to.match(/-publish$/);
    expect((publishes[0].inputs.environment as Obj).TARGET).to.equal("registry");
    expect(deployment.inputs.metadata).to.deep.include({ name: "executor", namespace: "inception-local" });
    expect(deployment.inputs.spec).to.deep.include({ replicas: 1, strategy: { type: "Recreate" } });
    expect(pod.serviceAccountName).to.equal("executor");
    expect(pod).to.have.property("affinity");
    expect(container).to.deep.include({ image, imagePullPolicy: "IfNotPresent" });
    expect(container.readinessProbe).to.deep.include({ httpGet: { path: "/ready", port: 8080 } });
    expect(container.livenessProbe).to.deep.include({ httpGet: { path: "/healthz", port: 8080 } });
  });

  it("binds a Role with the executor's rules to its ServiceAccount", async () => {
    const { of } = await deploy();
    expect(of("kubernetes:core/v1:ServiceAccount").map((r) => (r.inputs.metadata as Obj).name)).to.deep.equal(
      ["executor"],
    );
    const role = of("kubernetes:rbac.authorization.k8s.io/v1:Role")[0];
    expect(role.inputs.rules).to.deep.equal(EXECUTOR_RULES);
    // What services/executor/src/kube.ts and watch.ts call, and pods read-only.
    expect(EXECUTOR_RULES).to.deep.equal([
      { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "get", "list", "watch", "delete"] },
      { apiGroups: ["batch"], resources: ["cronjobs"], verbs: ["create", "get", "list", "delete"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["configmaps", "services"], verbs: ["create", "list", "delete"] },
      { apiGroups: ["rbac.authorization.k8s.io"], resources: ["rolebindings"], verbs: ["list", "delete"] },
      { apiGroups: ["kubeflow.org"], resources: ["mpijobs"], verbs: ["create", "list", "delete"] },
    ]);
    const binding = of("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")[0];
    expect(binding.inputs.roleRef).to.deep.include({ kind: "Role", name: "executor" });
    expect(binding.inputs.subjects).to.deep.equal([
      { kind: "ServiceAccount", name: "executor", namespace: "inception-local" },
    ]);
  });

  it("takes env from the outputs ConfigMap by key, plus literal values and the pod's identity", async () => {
    const { container } = await deploy({
      outputsConfigMap: pulumi.output("outputs-infrastructure"),
      env: { EXECUTOR_FAULT: "drop-executor-event", TOPIC_STATUS: "BAI_APP_STATUS" },
    });
    const env = Object.fromEntries(container.env.map((e) => [e.name as string, e]));
    expect(env.KAFKA_BOOTSTRAP_SERVERS.valueFrom).to.deep.equal({
      configMapKeyRef: { name: "outputs-infrastructure", key: "kafka_bootstrap_servers" },
    });
    expect(env.KAFKA_TOPICS.valueFrom).to.deep.equal({
      configMapKeyRef: { name: "outputs-infrastructure", key: "kafka_topics" },
    });
    expect(env.EXECUTOR_FAULT.value).to.equal("drop-executor-event");
    expect(env.TOPIC_STATUS.value).to.equal("BAI_APP_STATUS");
    expect(env.POD_NAMESPACE.valueFrom).to.deep.equal({ fieldRef: { fieldPath: "metadata.namespace" } });
    expect(env.HEALTH_PORT.value).to.equal("8080");
  });

  it("honours replicas, node selector, name, rules, port and ConfigMap keys", async () => {
    const rules = [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }];
    const { deployment, pod, container, of, deploymentName } = await deploy({
      name: "other",
      replicas: 2,
      nodeSelector: { "node.type": "bai-services-cheap" },
      rules,
      healthPort: 9000,
      readinessPath: "/ok",
      configMapEnv: { S3_ENDPOINT: "s3_endpoint" },
    });
    expect(deploymentName).to.equal("other");
    expect((deployment.inputs.spec as Obj).replicas).to.equal(2);
    expect(pod.nodeSelector).to.deep.equal({ "node.type": "bai-services-cheap" });
    expect(pod).to.not.have.property("affinity");
    expect(of("kubernetes:rbac.authorization.k8s.io/v1:Role")[0].inputs.rules).to.deep.equal(rules);
    expect(container.readinessProbe).to.deep.include({ httpGet: { path: "/ok", port: 9000 } });
    const names = container.env.map((e) => e.name);
    expect(names).to.include("S3_ENDPOINT").and.not.include("KAFKA_BOOTSTRAP_SERVERS");
  });

  it("pushes to a registry on devo-like targets", async () => {
    const { image } = await deploy({ publishTo: { type: "registry", registry: "registry.example:5000" } });
    expect(image).to.match(/^registry\.example:5000\/inception\/executor:[0-9a-f]{12}$/);
  });

  it("refuses a build context without a Dockerfile", async () => {
    await pulumi.runtime.setMocks(new Mocks(), "inception", "unit", false);
    expect(
      () =>
        new ServiceUnderTest("x", {
          namespace: "n",
          publishTo: { type: "registry", registry: "localhost:5002" },
          context: tempContext({ "README.md": "" }),
          prepare: [],
        }),
    ).to.throw(/no Dockerfile in build context/);
  });
});

describe("service build context preparation", () => {
  it("prepares with npm run prepare-image when the package has that script", () => {
    expect(defaultPrepare(tempContext())).to.deep.equal([]);
    expect(defaultPrepare(tempContext({ "package.json": '{"scripts":{"build":"tsc"}}' }))).to.deep.equal([]);
    expect(
      defaultPrepare(tempContext({ "package.json": '{"scripts":{"prepare-image":"x"}}' })),
    ).to.deep.equal(["npm", "run", "--silent", "prepare-image"]);
    expect(defaultPrepare(path.join(__dirname, "../../services/executor"))).to.have.length(4);
  });
});
