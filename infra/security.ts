/**
 * What every workload the stack declares runs with: the Pod Security Standard `restricted` profile,
 * enforced by the namespace's Pod Security Admission labels, so the API server (not this code)
 * refuses a pod that asks for more.
 */
import type * as k8s from "@pulumi/kubernetes";

/**
 * The numeric user (and group) every container runs as. Numeric, so the kubelet can verify
 * `runAsNonRoot` whatever the image's USER says; 1000 is the user the project's images declare
 * (images/*, services/executor, tests/Dockerfile) and apache/kafka's and the zookeeper image's own.
 */
export const RUN_AS_USER = 1000;

/** Pod Security Admission labels of the stack's namespace: `restricted`, enforced and reported. */
export const POD_SECURITY_LABELS: Record<string, string> = {
  "pod-security.kubernetes.io/enforce": "restricted",
  "pod-security.kubernetes.io/enforce-version": "latest",
  "pod-security.kubernetes.io/warn": "restricted",
  "pod-security.kubernetes.io/audit": "restricted",
};

/**
 * The pod-level security context. fsGroup: emptyDir and PVC volumes (Kafka's and ZooKeeper's data,
 * the S3 mock's buckets) become writable by the non-root user.
 */
export function podSecurityContext(): k8s.types.input.core.v1.PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: RUN_AS_USER,
    runAsGroup: RUN_AS_USER,
    fsGroup: RUN_AS_USER,
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** The container-level security context. */
export function containerSecurityContext(): k8s.types.input.core.v1.SecurityContext {
  return {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}
