/**
 * docs/config.md, generated from the schema (scripts/config-docs.ts writes it; a unit test fails
 * when the file is stale): every key with its form, default and description, and the mock infra
 * contract table.
 */
import { z } from "zod";
import { MOCK_CONTRACT, OUTPUTS_CONFIGMAP, OUTPUTS_SECRET } from "../contract";
import { NAMESPACE } from "./errors";
import { STAGES, Stage, stackSchema } from "./schema";

/** One documented key. */
export interface KeyDoc {
  /** `cluster.workers`, `services[].env`. */
  key: string;
  form: string;
  default: string;
  description: string;
  secret: boolean;
}

type Def = { type: string; [k: string]: unknown };
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Metadata of every layer of a wrapped schema, the outermost winning. */
function metaOf(s: z.ZodType): Record<string, unknown> {
  const layers: Record<string, unknown>[] = [];
  let cur: z.ZodType | undefined = s;
  while (cur !== undefined) {
    const m = z.globalRegistry.get(cur);
    if (m) layers.push(m as Record<string, unknown>);
    const d = defOf(cur);
    cur = (d.innerType ??
      (d.type === "pipe" ? (defOf(d.in as z.ZodType).type === "transform" ? d.out : d.in) : undefined)) as
      z.ZodType | undefined;
  }
  return Object.assign({}, ...layers.reverse()) as Record<string, unknown>;
}

/** The schema under wrappers (default, optional, pipes), and its default when it has one. */
function unwrap(s: z.ZodType): { core: z.ZodType; def?: { value: unknown } } {
  let cur = s;
  let dflt: { value: unknown } | undefined;
  for (;;) {
    const d = defOf(cur);
    if (d.type === "default" || d.type === "prefault") {
      dflt ??= {
        value: typeof d.defaultValue === "function" ? (d.defaultValue as () => unknown)() : d.defaultValue,
      };
      cur = d.innerType as z.ZodType;
    } else if (d.type === "optional" || d.type === "nullable") cur = d.innerType as z.ZodType;
    else if (d.type === "pipe") {
      const inner = defOf(d.in as z.ZodType).type === "transform" ? d.out : d.in;
      cur = inner as z.ZodType;
    } else return { core: cur, def: dflt };
  }
}

function shown(v: unknown): string {
  if (typeof v === "string") return `\`${v}\``;
  if (Array.isArray(v) && v.length === 0) return "none";
  if (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0) return "none";
  return `\`${JSON.stringify(v)}\``;
}

/** Every key under `schema`, depth first, in the schema's order. */
export function keysOf(schema: z.ZodType, prefix = ""): KeyDoc[] {
  const { core } = unwrap(schema);
  const d = defOf(core);
  if (d.type !== "object") return [];
  const out: KeyDoc[] = [];
  for (const [name, field] of Object.entries(d.shape as Record<string, z.ZodType>)) {
    const key = prefix === "" ? name : `${prefix}.${name}`;
    const meta = metaOf(field);
    const { core: fcore, def } = unwrap(field);
    const fd = defOf(fcore);
    const element = fd.type === "array" ? unwrap(fd.element as z.ZodType).core : undefined;
    const nested =
      fd.type === "object" ? fcore : element && defOf(element).type === "object" ? element : undefined;
    const children = nested ? keysOf(nested, fd.type === "array" ? `${key}[]` : key) : [];
    if (fd.type !== "object") {
      out.push({
        key,
        form: String(
          meta.form ??
            (element
              ? `a list, each ${String(metaOf(fd.element as z.ZodType).form ?? "with the keys below")}`
              : fd.type),
        ),
        default: String(meta.default ?? (def ? shown(def.value) : "none")),
        description: String(meta.description ?? ""),
        secret: meta.secret === true,
      });
    }
    out.push(...children);
  }
  return out;
}

/** The schema's keys for a stage (the cluster's keys depend on it). */
export function stageKeys(stage: Stage): KeyDoc[] {
  return keysOf(stackSchema({ stack: "<stack>", stage, kubeconfig: "~/.kube/config" }));
}

const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

function table(rows: KeyDoc[]): string {
  return [
    "| key | form | default | description |",
    "| --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| \`${NAMESPACE}:${r.key}\` | ${cell(r.form)} | ${cell(r.default)} | ${cell(r.description)}${r.secret ? " (secret)" : ""} |`,
    ),
  ].join("\n");
}

/** The whole of docs/config.md. */
export function renderConfigDocs(): string {
  const local = stageKeys("local");
  const existing = stageKeys("devo");
  const section = (rows: KeyDoc[], top: string) =>
    rows.filter((r) => r.key === top || r.key.startsWith(`${top}.`) || r.key.startsWith(`${top}[`));
  const tops = [...new Set(local.map((r) => r.key.split(/[.[]/)[0]))];
  const parts: string[] = [
    "# Stack config reference",
    "",
    "<!-- Generated from infra/config/schema.ts by `npm run docs:config`; do not edit by hand. -->",
    "",
    `Every setting lives under the \`${NAMESPACE}:\` namespace of \`Pulumi.<stack>.yaml\`. The schema in`,
    "`infra/config/schema.ts` reads, defaults and validates all of it before any resource is declared,",
    "then `infra/preflight.ts` checks it against this machine (files named in config, the kubeconfig and",
    "its API server). A bad stack config stops the program with one error listing every problem, each",
    "with the command that fixes it (a secret's value is never shown), e.g.",
    "",
    "```",
    "invalid stack config (2 problems):",
    '  - inception:cluster.workers must be an integer from 0 to 10, got "two"',
    "      fix: pulumi config set --path inception:cluster.workers <an integer from 0 to 10>",
    "  - inception:cluster.wrokers is not a known setting (known: name, workers, nodeImage, …)",
    "      fix: pulumi config rm --path inception:cluster.wrokers",
    "```",
    "",
    "Nested values are set with `--path`: `pulumi config set --path inception:cluster.workers 3`;",
    "secrets with `--secret` as well. Keys are listed as `section.key`; `list[].key` is a key of each",
    "entry of a list.",
    "",
  ];
  const single = tops.filter((t) => section(local, t).length === 1 && section(local, t)[0].key === t);
  parts.push("## Top level", "", table(local.filter((r) => single.includes(r.key))), "");
  for (const top of tops.filter((t) => !single.includes(t))) {
    if (top === "cluster") {
      parts.push(`## \`${NAMESPACE}:cluster\` on stage \`local\` (kind)`, "", table(section(local, top)), "");
      const others = STAGES.filter((s) => s !== "local").join("` and `");
      parts.push(
        `## \`${NAMESPACE}:cluster\` on stages \`${others}\` (existing cluster)`,
        "",
        table(section(existing, top)),
        "",
      );
    } else {
      parts.push(`## \`${NAMESPACE}:${top}\``, "", table(section(local, top)), "");
    }
  }
  parts.push(
    "## The mock infra contract",
    "",
    `What the mock infra offers: the ConfigMap \`${OUTPUTS_CONFIGMAP}\` (and the stack output`,
    `\`mockEndpoints\`) holds the entries of the enabled mocks, the Secret \`${OUTPUTS_SECRET}\` the secret`,
    "ones. The suite Job gets each as its variable (configMapKeyRef / secretKeyRef), the host runner the",
    "host-side value; a service takes any key with `envFromOutputs`.",
    "",
    "| outputs key | variable | host runner gets | secret | from | meaning |",
    "| --- | --- | --- | --- | --- | --- |",
    ...MOCK_CONTRACT.map(
      (e) =>
        `| \`${e.key}\` | \`${e.env}\` | ${e.hostKey ? `\`${e.hostKey}\` (published on the host)` : "the same value"} | ${e.secret ? "yes (in the Secret)" : "no"} | \`mockInfra.${e.from}\` | ${cell(e.description)} |`,
    ),
    "",
  );
  return parts.join("\n");
}
