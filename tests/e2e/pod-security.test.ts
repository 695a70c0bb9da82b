/**
 * Least privilege the cluster enforces (scripts/e2e-devo.sh), in each namespace of
 * INCEPTION_E2E_NAMESPACES (comma-separated) after a green run: Pod Security Admission refuses a
 * privileged pod, and every pod there — the mock infra, the service, the suite, the Jobs the
 * executor spawned — runs as non-root, cannot escalate privileges, drops ALL capabilities and has
 * a RuntimeDefault (or Localhost) seccomp profile, as read back through the API.
 * INCEPTION_E2E_KUBECONFIG: the cluster's kubeconfig.
 */
import { expect } from "chai";
import { ApiException, CoreV1Api, KubeConfig, V1Pod } from "@kubernetes/client-node";

const need = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run through scripts/e2e-devo.sh)`);
  return v;
};
const namespaces = need("INCEPTION_E2E_NAMESPACES").split(",");

function core(): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromFile(need("INCEPTION_E2E_KUBECONFIG"));
  return kc.makeApiClient(CoreV1Api);
}

/** The pods a green run leaves, by the labels infra/ and the executor give them: each must be there. */
const GROUPS: { what: string; label: string; value: string }[] = [
  { what: "mock infra", label: "app.kubernetes.io/part-of", value: "inception-mock-infra" },
  { what: "service", label: "app.kubernetes.io/part-of", value: "inception-service-under-test" },
  { what: "suite", label: "app.kubernetes.io/part-of", value: "inception-suite" },
  { what: "spawned by the executor", label: "created-by", value: "executor" },
];

/** What the Pod Security Standard `restricted` asks of each container, as the pod states it. */
function violations(pod: V1Pod): string[] {
  const spec = pod.spec;
  const psc = spec?.securityContext;
  const out: string[] = [];
  const containers = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
  for (const c of containers) {
    const sc = c.securityContext;
    const who = `${pod.metadata?.name}/${c.name}`;
    if ((sc?.runAsNonRoot ?? psc?.runAsNonRoot) !== true) out.push(`${who}: runAsNonRoot is not true`);
    if ((sc?.runAsUser ?? psc?.runAsUser) === 0) out.push(`${who}: runAsUser is 0`);
    if (!(sc?.capabilities?.drop ?? []).includes("ALL")) out.push(`${who}: capabilities.drop lacks ALL`);
    if ((sc?.capabilities?.add ?? []).length > 0)
      out.push(`${who}: adds capabilities ${sc?.capabilities?.add?.join(",")}`);
    if (sc?.allowPrivilegeEscalation !== false) out.push(`${who}: allowPrivilegeEscalation is not false`);
    if (sc?.privileged === true) out.push(`${who}: privileged`);
    const seccomp = sc?.seccompProfile?.type ?? psc?.seccompProfile?.type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost")
      out.push(`${who}: seccompProfile is ${seccomp ?? "unset"}`);
  }
  if (containers.length === 0) out.push(`${pod.metadata?.name}: no containers`);
  return out;
}

describe("Pod Security: what the cluster enforces in the stacks' namespaces", () => {
  for (const namespace of namespaces) {
    it(`${namespace} enforces the restricted profile`, async () => {
      const ns = await core().readNamespace({ name: namespace });
      expect(ns.metadata?.labels?.["pod-security.kubernetes.io/enforce"]).to.equal("restricted");
    });

    it(`the API server refuses a privileged pod in ${namespace}`, async () => {
      const name = `privileged-probe-${Date.now().toString(36)}`;
      const pod: V1Pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name },
        spec: {
          restartPolicy: "Never",
          containers: [
            {
              name: "probe",
              image: "inception/node:24",
              command: ["true"],
              securityContext: { privileged: true },
            },
          ],
        },
      };
      let refused: ApiException<unknown> | undefined;
      try {
        await core().createNamespacedPod({ namespace, body: pod });
      } catch (e) {
        if (!(e instanceof ApiException)) throw e;
        refused = e;
      }
      if (refused === undefined) {
        await core()
          .deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 })
          .catch(() => undefined);
        expect.fail(`the API server admitted the privileged pod ${namespace}/${name}`);
      }
      const body = (typeof refused.body === "string" ? JSON.parse(refused.body) : refused.body) as {
        reason?: string;
        message?: string;
      };
      console.log(`      the API server answered ${refused.code} ${body.reason}: ${body.message}`);
      expect(refused.code).to.equal(403);
      expect(body.reason).to.equal("Forbidden");
      expect(body.message).to.match(/violates PodSecurity "restricted:latest"/);
      expect(body.message).to.match(
        /privileged \(containers? "probe" must not set securityContext\.privileged=true\)/,
      );
    });

    it(`every pod in ${namespace} runs as non-root and drops ALL capabilities in every container`, async () => {
      const pods = (await core().listNamespacedPod({ namespace })).items;
      const counts = GROUPS.map((g) => ({
        what: g.what,
        n: pods.filter((p) => p.metadata?.labels?.[g.label] === g.value).length,
      }));
      console.log(
        `      ${namespace}: ${pods.length} pods (${counts.map((c) => `${c.what} ${c.n}`).join(", ")})`,
      );
      for (const c of counts) expect(c.n, `pods of the ${c.what} in ${namespace}`).to.be.at.least(1);
      expect(pods.flatMap(violations)).to.deep.equal([]);
    });
  }
});
