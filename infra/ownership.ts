/**
 * Which stack owns a namespace. The Kubernetes provider (4.25) creates with server-side apply,
 * which takes over an object that already exists; `pulumi destroy` would then delete a namespace
 * the stack never made, with everything in it. So the namespace carries its stack's label, and the
 * preflight refuses one that exists without it (infra/preflight.ts).
 */
import * as crypto from "crypto";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";

/** The label naming the stack that owns a namespace. */
export const OWNER_LABEL = "inception.dev/stack";

const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/**
 * The owner label's value: `<project>.<stack>` (Pulumi's own `<project>/<stack>`, but a label value
 * may not hold '/'). One that is not a valid label value (longer than 63 characters, say) becomes
 * its valid characters cut to fit, then '-' and a hash of `<project>.<stack>`, so that two stacks
 * do not share a value.
 */
export function ownerLabelValue(project: string, stack: string): string {
  const full = `${project}.${stack}`;
  if (LABEL_VALUE.test(full)) return full;
  const digest = crypto.createHash("sha256").update(full).digest("hex").slice(0, 10);
  const head = full
    .replace(/[^-A-Za-z0-9_.]/g, "-")
    .slice(0, 63 - digest.length - 1)
    .replace(/^[^A-Za-z0-9]+/, "")
    .replace(/[^A-Za-z0-9]+$/, "");
  return head === "" ? digest : `${head}-${digest}`;
}

/** Why the stack may not deploy into `namespace` as it stands, or undefined when it may. */
export function ownershipProblem(
  namespace: string,
  labels: Record<string, string> | undefined,
  owner: string,
  adopt: boolean,
  legacyOwner?: string,
): string | undefined {
  const found = labels?.[OWNER_LABEL];
  // Before <project>.<stack>, the label held the bare stack name: such a namespace is this stack's.
  if (found === owner || (legacyOwner !== undefined && found === legacyOwner)) return undefined;
  if (found !== undefined) {
    return (
      `is ${JSON.stringify(namespace)}, which exists and belongs to another stack ` +
      `(${OWNER_LABEL}=${found}; this stack is ${owner}): refusing to take it over, with or without adoptNamespace`
    );
  }
  if (adopt) return undefined;
  return (
    `is ${JSON.stringify(namespace)}, which exists without this stack's owner label ` +
    `(${OWNER_LABEL}: none found, want ${owner}): the stack would take it over and \`pulumi destroy\` ` +
    `would delete it with everything in it. Choose another namespace, or set adoptNamespace: true to take it over`
  );
}

/**
 * The labels of `namespace` in the cluster, null when it does not exist; throws on any other
 * failure (the caller reports it).
 */
export async function namespaceLabels(
  kc: KubeConfig,
  namespace: string,
): Promise<Record<string, string> | null> {
  try {
    const ns = await kc.makeApiClient(CoreV1Api).readNamespace({ name: namespace });
    return ns.metadata?.labels ?? {};
  } catch (e) {
    if ((e as { code?: number }).code === 404) return null;
    throw e;
  }
}
