/**
 * Checks the cluster a real `pulumi up -s <stage local stack>` made (scripts/e2e.sh runs it and
 * passes the stack's kubeconfig in INCEPTION_E2E_KUBECONFIG).
 */
import { expect } from "chai";
import { CoreV1Api, KubeConfig, V1Node } from "@kubernetes/client-node";
import { DEFAULT_WORKER_LABELS } from "../../infra/config";

function client(): CoreV1Api {
  const file = process.env.INCEPTION_E2E_KUBECONFIG;
  if (!file) throw new Error("INCEPTION_E2E_KUBECONFIG is not set (run through scripts/e2e.sh)");
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc.makeApiClient(CoreV1Api);
}

const ready = (n: V1Node) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");

describe("local cluster made by the stack", () => {
  let nodes: V1Node[];
  before(async () => {
    nodes = (await client().listNode()).items.sort((a, b) =>
      (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""),
    );
  });

  it("has one control-plane and two worker nodes, all Ready", () => {
    expect(nodes.map((n) => n.metadata?.name)).to.have.length(3);
    const cp = nodes.filter((n) => "node-role.kubernetes.io/control-plane" in (n.metadata?.labels ?? {}));
    expect(cp).to.have.length(1);
    for (const n of nodes) expect(ready(n), `${n.metadata?.name} Ready`).to.equal(true);
  });

  it("labels worker 1 and worker 2 with the BAI profile's node labels", () => {
    const workers = nodes.filter(
      (n) => !("node-role.kubernetes.io/control-plane" in (n.metadata?.labels ?? {})),
    );
    expect(workers).to.have.length(2);
    workers.forEach((w, i) => {
      for (const [k, v] of Object.entries(DEFAULT_WORKER_LABELS[i])) {
        expect(w.metadata?.labels?.[k], `${w.metadata?.name} ${k}`).to.equal(v);
      }
    });
  });
});
