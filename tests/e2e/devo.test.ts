/**
 * Two devo stacks on one shared cluster (scripts/e2e-devo.sh): isolated while both run, and each
 * destroy removing its own namespace's contents and nothing else.
 * INCEPTION_E2E_DEVO_PHASE: "both" (after both ups), "a-destroyed", "both-destroyed".
 */
import { expect } from "chai";
import * as fs from "fs";
import { AppsV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";

const need = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run through scripts/e2e-devo.sh)`);
  return v;
};
const STACKS = ["devo-e2e-a", "devo-e2e-b"];
const ns = (stack: string) => `inception-${stack}`;
const phase = need("INCEPTION_E2E_DEVO_PHASE");

function kube(): { core: CoreV1Api; apps: AppsV1Api } {
  const kc = new KubeConfig();
  kc.loadFromFile(need("INCEPTION_E2E_KUBECONFIG"));
  return { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
}

interface K8sObject {
  id: string;
  kind: string;
  namespace: string | undefined;
  name: string;
}

/** The Kubernetes objects a stack declares, from `pulumi stack export`. */
function declared(stateFile: string): K8sObject[] {
  const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as {
    deployment: { resources?: { type: string; outputs?: Record<string, unknown> }[] };
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

describe(`devo: two stacks on one cluster (${phase})`, () => {
  if (phase === "both") {
    const [a, b] = need("INCEPTION_E2E_DEVO_STATES").split(",").map(declared);

    it("each stack declares only its namespace and objects inside it", () => {
      for (const [stack, objects] of [
        [STACKS[0], a],
        [STACKS[1], b],
      ] as const) {
        expect(objects.length, stack).to.be.greaterThan(10);
        for (const o of objects) {
          if (o.namespace === undefined) {
            expect(o.kind, `${stack}: cluster-scoped ${o.id}`).to.equal("Namespace");
            expect(o.name).to.equal(ns(stack));
          } else {
            expect(o.namespace, `${stack}: ${o.id}`).to.equal(ns(stack));
          }
        }
      }
    });

    it("no object is declared by both", () => {
      const ids = new Set(a.map((o) => o.id));
      expect(b.filter((o) => ids.has(o.id)).map((o) => o.id)).to.deep.equal([]);
    });

    it("both namespaces run their mock infra and service", async () => {
      for (const stack of STACKS) await expectRunning(ns(stack));
    });
  }

  if (phase === "a-destroyed") {
    it("a's namespace is gone", async () => {
      expect(await namespaceExists(ns(STACKS[0]))).to.equal(false);
    });
    it("b still runs everything", async () => {
      await expectRunning(ns(STACKS[1]));
    });
  }

  if (phase === "both-destroyed") {
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
