/** Pieces every mock workload shares: labels, placement, the Deployment + Service pair. */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/**
 * The preferred placement of the mock infra and the services: nodes with the profile's label
 * (`inception:profile`), anywhere when there are none; undefined when the profile names none.
 */
export function servicesAffinity(
  node: { key: string; value: string } | undefined,
): k8s.types.input.core.v1.Affinity | undefined {
  if (node === undefined) return undefined;
  return {
    nodeAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          preference: { matchExpressions: [{ key: node.key, operator: "In", values: [node.value] }] },
        },
      ],
    },
  };
}

/**
 * Stateless mocks have nothing to drain, and python's http.server ignores SIGTERM: without this
 * each would hold `pulumi destroy` for Kubernetes' default 30 s grace period.
 */
export const MOCK_TERMINATION_GRACE_SECONDS = 2;

export function mockLabels(component: string): Record<string, string> {
  return { "app.kubernetes.io/name": component, "app.kubernetes.io/part-of": "inception-mock-infra" };
}

export interface MockServicePort {
  name: string;
  port: number;
  /** Set to publish the port as a NodePort. */
  nodePort?: number;
}

/**
 * A mock's Service is not awaited: its workload's readiness probe (awaited) is what says the mock
 * answers. Pulumi's own Service await adds a 10 s settle after every change of the Service's
 * endpoints (pulumi-kubernetes, provider/pkg/await/service.go), which put 0–10 s after Kafka's
 * readiness on every cold up's path to the suite. A selector that matches no pod, which that await
 * caught, is tests/unit/mockinfra.test.ts's to catch.
 */
export const SERVICE_NO_AWAIT = { "pulumi.com/skipAwait": "true" };

/** A Service selecting `component`'s pods; NodePort when any port has a nodePort. */
export function mockService(
  name: string,
  component: string,
  namespace: pulumi.Input<string>,
  ports: MockServicePort[],
  opts: pulumi.CustomResourceOptions,
): k8s.core.v1.Service {
  const nodePort = ports.some((p) => p.nodePort !== undefined);
  return new k8s.core.v1.Service(
    name,
    {
      metadata: { name: component, namespace, labels: mockLabels(component), annotations: SERVICE_NO_AWAIT },
      spec: {
        type: nodePort ? "NodePort" : "ClusterIP",
        selector: mockLabels(component),
        ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.port, nodePort: p.nodePort })),
      },
    },
    opts,
  );
}

/** In-cluster DNS name of a Service. */
export function serviceHost(component: string, namespace: string): string {
  return `${component}.${namespace}.svc.cluster.local`;
}
