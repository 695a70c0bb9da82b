/**
 * One stack's footprint on a cluster, computed without one: the CPU and memory every workload of a
 * local stack with the default config requests (mock infra, the reference executor, the suite
 * Job), per workload and in total, from what the program declares under Pulumi mocks. Step 14's
 * target: at most 1 GiB of memory requested per stack, so that many CI stacks fit on one shared
 * cluster. docs/measurements.md "Step 14 footprint" has the table this prints.
 *
 * Counted as the scheduler counts a pod: its containers' requests added up, or its largest init
 * container when that is larger (init containers that stay running, sidecars, are added to every
 * other container: an upper bound of Kubernetes' rule), times the pods the workload runs at once
 * (replicas; a Job's parallelism). The Jobs the executor starts while a test runs are the tests'
 * doing, not the stack's declaration, and are not counted here.
 */
import { expect } from "chai";
import { runStack, Registered } from "./stack";

const GiB = 2 ** 30;
const MiB = 2 ** 20;

const UNITS: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** A Kubernetes quantity ("100m", "512Mi", "1", "1.5Gi") as a number (cores or bytes). */
export function quantity(q: unknown): number {
  if (q === undefined || q === null) return 0;
  if (typeof q === "number") return q;
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(q).trim());
  if (!m) throw new Error(`not a Kubernetes quantity: ${JSON.stringify(q)}`);
  return Number(m[1]) * UNITS[m[2] ?? ""];
}

interface Container {
  name?: string;
  restartPolicy?: string;
  resources?: { requests?: Record<string, unknown> };
}
interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
}

export interface WorkloadRequests {
  workload: string;
  pods: number;
  /** Per pod. */
  cpu: number;
  memory: number;
  /** Containers that request no CPU or no memory: the scheduler would count them as nothing. */
  unrequested: string[];
}

/** Where each workload type keeps its pod template, and how many pods it runs at once. */
const WORKLOADS: Record<string, (spec: Record<string, unknown>) => { pod: PodSpec; pods: number }> = {
  "kubernetes:apps/v1:Deployment": (s) => ({ pod: podOf(s.template), pods: replicas(s.replicas) }),
  "kubernetes:apps/v1:StatefulSet": (s) => ({ pod: podOf(s.template), pods: replicas(s.replicas) }),
  "kubernetes:apps/v1:ReplicaSet": (s) => ({ pod: podOf(s.template), pods: replicas(s.replicas) }),
  "kubernetes:batch/v1:Job": (s) => ({ pod: podOf(s.template), pods: replicas(s.parallelism) }),
  "kubernetes:core/v1:Pod": (s) => ({ pod: s as PodSpec, pods: 1 }),
};
/** Workloads whose pod count depends on the cluster or the clock: a stack declaring one needs a rule here. */
const UNCOUNTED = ["kubernetes:apps/v1:DaemonSet", "kubernetes:batch/v1:CronJob"];

const replicas = (n: unknown): number => (n === undefined || n === null ? 1 : Number(n));
const podOf = (template: unknown): PodSpec => ((template as { spec?: PodSpec })?.spec ?? {}) as PodSpec;

/** Every workload the stack declares, with its requests. */
export function workloadRequests(resources: Registered[]): WorkloadRequests[] {
  const out: WorkloadRequests[] = [];
  for (const r of resources) {
    if (UNCOUNTED.includes(r.type)) throw new Error(`${r.type} ${r.name}: no rule counts its pods yet`);
    const shape = WORKLOADS[r.type];
    if (!shape) continue;
    const { pod, pods } = shape((r.inputs.spec ?? {}) as Record<string, unknown>);
    const unrequested: string[] = [];
    const req = (c: Container, k: "cpu" | "memory"): number => {
      const v = c.resources?.requests?.[k];
      if (v === undefined) unrequested.push(`${c.name ?? "?"} (${k})`);
      return quantity(v);
    };
    const perPod = (k: "cpu" | "memory"): number => {
      const inits = pod.initContainers ?? [];
      const sidecars = inits.filter((c) => c.restartPolicy === "Always").reduce((a, c) => a + req(c, k), 0);
      const app = (pod.containers ?? []).reduce((a, c) => a + req(c, k), 0);
      const init = Math.max(0, ...inits.filter((c) => c.restartPolicy !== "Always").map((c) => req(c, k)));
      return Math.max(app, init) + sidecars;
    };
    const kind = r.type.split(":").pop()!;
    const name = (r.inputs.metadata as { name?: string } | undefined)?.name ?? r.name;
    out.push({
      workload: `${kind} ${name}`,
      pods,
      cpu: perPod("cpu"),
      memory: perPod("memory"),
      unrequested,
    });
  }
  return out;
}

export function totals(w: WorkloadRequests[]): { cpu: number; memory: number } {
  return {
    cpu: w.reduce((a, x) => a + x.pods * x.cpu, 0),
    memory: w.reduce((a, x) => a + x.pods * x.memory, 0),
  };
}

const cores = (c: number): string => `${Math.round(c * 1000)}m`;
const mib = (b: number): string => `${Math.round((b / MiB) * 10) / 10} MiB`;

function table(w: WorkloadRequests[]): string {
  const t = totals(w);
  return [
    "| workload | pods | CPU requested | memory requested |",
    "| --- | --- | --- | --- |",
    ...w.map(
      (x) =>
        `| ${x.workload.replace(/^Job suite-.*$/, "Job suite-<run id>")} | ${x.pods} | ` +
        `${cores(x.pods * x.cpu)} | ${mib(x.pods * x.memory)} |`,
    ),
    `| **one stack** | ${w.reduce((a, x) => a + x.pods, 0)} | **${cores(t.cpu)}** | **${mib(t.memory)}** |`,
  ].join("\n");
}

describe("one stack's footprint (requests, default config)", () => {
  it("quantities read as the API server reads them", () => {
    expect(quantity("100m")).to.equal(0.1);
    expect(quantity("2")).to.equal(2);
    expect(quantity("512Mi")).to.equal(512 * MiB);
    expect(quantity("1Gi")).to.equal(GiB);
    expect(quantity("1.5Gi")).to.equal(1.5 * GiB);
    expect(quantity("128M")).to.equal(128e6);
    expect(() => quantity("lots")).to.throw(/not a Kubernetes quantity/);
  });

  it("requests at most 1 GiB of memory in all: mock infra, the executor and the suite Job", async () => {
    const run = await runStack("local", {});
    const w = workloadRequests(run.resources);
    console.log(`\n${table(w)}\n`);
    // Each piece is there: a component that stopped declaring its workload must not shrink the sum.
    expect(w.map((x) => x.workload.replace(/^Job suite-.*$/, "Job suite-<run>"))).to.have.members([
      "StatefulSet kafka",
      "Deployment s3",
      "Deployment data-server",
      "Deployment executor",
      "Job suite-<run>",
    ]);
    // A container without requests would count as nothing here and be packed anywhere there.
    expect(w.flatMap((x) => x.unrequested.map((c) => `${x.workload}: ${c}`))).to.deep.equal([]);
    const t = totals(w);
    expect(t.memory, `memory requested by one stack: ${mib(t.memory)}`).to.be.at.most(GiB);
  });

  it("a sharded suite requests one suite pod per shard (the Job's parallelism)", async () => {
    const one = workloadRequests((await runStack("local", {})).resources);
    const four = workloadRequests((await runStack("local", { "inception:suite": { shards: 4 } })).resources);
    const suite = (w: WorkloadRequests[]) => w.find((x) => x.workload.startsWith("Job suite-"))!;
    expect(suite(one).pods).to.equal(1);
    expect(suite(four).pods).to.equal(4);
    expect(totals(four).memory - totals(one).memory).to.equal(3 * suite(one).memory);
  });
});
