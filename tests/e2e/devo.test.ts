/**
 * Two devo stacks on one shared cluster (scripts/e2e-devo.sh): isolated while both run, and each
 * destroy removing its own namespace's contents and nothing else. Both declare the same
 * cluster-scoped objects a devo stack may make — a CRD (mockInfra.crds) and node labels
 * (cluster.nodeLabels: one label both set, one each) — which every destroy keeps (docs/devo.md).
 * INCEPTION_E2E_DEVO_PHASE: "both" (after both ups), "a-destroyed", "both-destroyed".
 * INCEPTION_E2E_DEVO_CRDS: the CRDs both declare, comma-separated.
 * INCEPTION_E2E_DEVO_NODE_LABELS: JSON, node → every label the two stacks set on it.
 */
import { expect } from "chai";
import * as fs from "fs";
import { ApiextensionsV1Api, AppsV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";

const need = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run through scripts/e2e-devo.sh)`);
  return v;
};
const STACKS = ["devo-e2e-a", "devo-e2e-b"];
const ns = (stack: string) => `inception-${stack}`;
const phase = need("INCEPTION_E2E_DEVO_PHASE");
const crds = need("INCEPTION_E2E_DEVO_CRDS").split(",");
const nodeLabels = JSON.parse(need("INCEPTION_E2E_DEVO_NODE_LABELS")) as Record<
  string,
  Record<string, string>
>;

/** Cluster-scoped kinds a stack may declare besides its Namespace (Pulumi's kind), and their names. */
const KEPT: Record<string, string[]> = {
  CustomResourceDefinition: crds,
  NodePatch: Object.keys(nodeLabels),
};

function kube(): { core: CoreV1Api; apps: AppsV1Api; ext: ApiextensionsV1Api } {
  const kc = new KubeConfig();
  kc.loadFromFile(need("INCEPTION_E2E_KUBECONFIG"));
  return {
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    ext: kc.makeApiClient(ApiextensionsV1Api),
  };
}

interface K8sObject {
  id: string;
  kind: string;
  namespace: string | undefined;
  name: string;
  /** Declared with retainOnDelete: `pulumi destroy` leaves it in the cluster. */
  retained: boolean;
}

/** The Kubernetes objects a stack declares, from `pulumi stack export`. */
function declared(stateFile: string): K8sObject[] {
  const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as {
    deployment: {
      resources?: { type: string; outputs?: Record<string, unknown>; retainOnDelete?: boolean }[];
    };
  };
  return (state.deployment.resources ?? [])
    .filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers"))
    .map((r) => {
      const meta = (r.outputs?.metadata ?? {}) as { name?: string; namespace?: string };
      const kind = r.type.split(":").pop() ?? r.type;
      return {
        id: `${r.type}/${meta.namespace ?? ""}/${meta.name ?? ""}`,
        kind,
        namespace: meta.namespace,
        name: meta.name ?? "",
        retained: r.retainOnDelete === true,
      };
    });
}

async function namespaceExists(name: string): Promise<boolean> {
  try {
    await kube().core.readNamespace({ name });
    return true;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return false;
    throw e;
  }
}

/** Every Deployment and StatefulSet of the namespace has all its replicas ready. */
async function expectRunning(namespace: string): Promise<void> {
  const { apps } = kube();
  const deployments = (await apps.listNamespacedDeployment({ namespace })).items;
  const sets = (await apps.listNamespacedStatefulSet({ namespace })).items;
  expect(deployments.length + sets.length, `workloads in ${namespace}`).to.be.at.least(4);
  for (const w of [...deployments, ...sets]) {
    expect(w.status?.readyReplicas ?? 0, `${namespace}/${w.metadata?.name} ready`).to.equal(
      w.spec?.replicas ?? 1,
    );
  }
}

/** The CRDs are Established and every node carries every label the stacks set. */
async function expectKeptObjects(): Promise<void> {
  const { core, ext } = kube();
  for (const name of crds) {
    const crd = await ext.readCustomResourceDefinition({ name });
    const established = crd.status?.conditions?.find((c) => c.type === "Established")?.status;
    expect(established, `CRD ${name} Established`).to.equal("True");
  }
  for (const [node, labels] of Object.entries(nodeLabels)) {
    const n = await core.readNode({ name: node });
    for (const [k, v] of Object.entries(labels)) {
      expect(n.metadata?.labels?.[k], `node ${node}: label ${k}`).to.equal(v);
    }
  }
}

describe(`devo: two stacks on one cluster (${phase})`, () => {
  if (phase === "both") {
    const [a, b] = need("INCEPTION_E2E_DEVO_STATES").split(",").map(declared);

    it("each stack declares only its namespace, objects inside it, and the CRD and node labels, kept on destroy", () => {
      const kept = Object.entries(KEPT)
        .flatMap(([kind, names]) => names.map((n) => `${kind}/${n}`))
        .sort();
      for (const [stack, objects] of [
        [STACKS[0], a],
        [STACKS[1], b],
      ] as const) {
        expect(objects.length, stack).to.be.greaterThan(10);
        for (const o of objects) {
          if (o.namespace === undefined && o.kind === "Namespace") {
            expect(o.name, `${stack}: ${o.id}`).to.equal(ns(stack));
          } else if (o.namespace === undefined) {
            expect(KEPT[o.kind] ?? [], `${stack}: cluster-scoped ${o.id}`).to.include(o.name);
            expect(o.retained, `${stack}: ${o.id} kept on destroy`).to.equal(true);
          } else {
            expect(o.namespace, `${stack}: ${o.id}`).to.equal(ns(stack));
          }
        }
        // The config took effect: without these the checks after each destroy would prove nothing.
        const clusterScoped = objects
          .filter((o) => o.namespace === undefined && o.kind !== "Namespace")
          .map((o) => `${o.kind}/${o.name}`)
          .sort();
        expect(clusterScoped, `${stack}: cluster-scoped objects besides its namespace`).to.deep.equal(kept);
      }
    });

    it("no object is declared by both, but the cluster-scoped ones both keep", () => {
      const ids = new Set(a.map((o) => o.id));
      const shared = b.filter((o) => ids.has(o.id));
      expect(shared.filter((o) => o.namespace !== undefined || !o.retained).map((o) => o.id)).to.deep.equal(
        [],
      );
    });

    it("both namespaces run their mock infra and service", async () => {
      for (const stack of STACKS) await expectRunning(ns(stack));
    });

    it("the CRD and every node label are in the cluster", expectKeptObjects);
  }

  if (phase === "a-destroyed") {
    it("a's namespace is gone", async () => {
      expect(await namespaceExists(ns(STACKS[0]))).to.equal(false);
    });
    it("b still runs everything", async () => {
      await expectRunning(ns(STACKS[1]));
    });
    it("the CRD and the node labels, b's and a's own, are still there", expectKeptObjects);
  }

  if (phase === "both-destroyed") {
    it(
      "the CRD and the node labels are still there (kept on devo: other stacks may use them)",
      expectKeptObjects,
    );
    it("both namespaces are gone and the cluster's nodes are still Ready", async () => {
      for (const stack of STACKS) expect(await namespaceExists(ns(stack)), stack).to.equal(false);
      const nodes = (await kube().core.listNode()).items;
      expect(nodes).to.have.length(2);
      for (const n of nodes) {
        expect(n.status?.conditions?.find((c) => c.type === "Ready")?.status, n.metadata?.name).to.equal(
          "True",
        );
      }
    });
  }
});
