/**
 * CustomResourceDefinitions installed without an operator (the replaced system installed MPIJob's), so a
 * service that creates such objects can be tested. CRDs are cluster-scoped. On a shared cluster
 * several stacks declare the same CRD: server-side apply lets each apply it (identical fields are
 * co-owned; a different definition of the same name is a field conflict, reported by the API
 * server naming the other manager), and destroy leaves it in place for the others.
 */
import * as fs from "fs";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { parseAllDocuments } from "yaml";

export interface CrdDocument {
  file: string;
  name: string;
  spec: Record<string, unknown>;
}

/** Reads a CRD manifest; returns an error message instead of throwing, for config validation. */
export function readCrd(file: string): CrdDocument | string {
  if (!fs.existsSync(file)) return `names ${JSON.stringify(file)}, which does not exist`;
  let docs: unknown[];
  try {
    docs = parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJS());
  } catch (e) {
    return `names ${JSON.stringify(file)}, which is not YAML: ${(e as Error).message}`;
  }
  const crds = docs.filter((d) => d !== null && d !== undefined) as Record<string, unknown>[];
  const [doc] = crds;
  if (
    crds.length !== 1 ||
    doc.kind !== "CustomResourceDefinition" ||
    doc.apiVersion !== "apiextensions.k8s.io/v1"
  ) {
    return `names ${JSON.stringify(file)}, which must hold exactly one apiextensions.k8s.io/v1 CustomResourceDefinition`;
  }
  const name = (doc.metadata as { name?: unknown } | undefined)?.name;
  if (typeof name !== "string" || typeof doc.spec !== "object" || doc.spec === null) {
    return `names ${JSON.stringify(file)}, whose CustomResourceDefinition lacks metadata.name or spec`;
  }
  return { file, name, spec: doc.spec as Record<string, unknown> };
}

export interface MockCrdsArgs {
  /** Validated CRD documents. */
  crds: CrdDocument[];
  /** The cluster is shared: keep the CRDs on destroy. Defaults to false. */
  shared?: boolean;
}

export class MockCrds extends pulumi.ComponentResource {
  readonly names: string[];

  constructor(name: string, args: MockCrdsArgs, opts: pulumi.ComponentResourceOptions) {
    super("inception:mock:Crds", name, {}, opts);
    this.names = args.crds.map((c) => c.name);
    for (const c of args.crds) {
      new k8s.apiextensions.v1.CustomResourceDefinition(
        `${name}-${c.name}`,
        {
          metadata: { name: c.name, labels: { "app.kubernetes.io/managed-by": "inception" } },
          spec: c.spec as unknown as k8s.types.input.apiextensions.v1.CustomResourceDefinitionSpec,
        },
        { parent: this, retainOnDelete: args.shared ?? false },
      );
    }
    this.registerOutputs({ names: this.names });
  }
}
