/**
 * The benchmark descriptor as BAI (benchmark-ai, the replaced system) defines it, with BAI's rules
 * (docs/executor.md, "BAI behaviour → ours"):
 *
 * ```toml
 * spec_version = "0.1.0"                 # required
 * [info]                                 # required
 * description = "what it measures"       # required
 * scheduling = "single_run"              # default; or a cron schedule such as "*\/5 * * * *"
 * execution_engine = "default"           # or "aws.sagemaker" (another executor's)
 * [info.labels]                          # optional: added to the labels of what is created
 * team = "perf"
 * [hardware]                             # required
 * instance_type = "local"                # required ("local": no node selector)
 * strategy = "single_node"               # or "horovod" (num_instances > 1) or "inference" ([server])
 * [env]                                  # required
 * docker_image = "busybox:1.36"          # required
 * [env.vars]                             # optional: strings only
 * [ml]
 * benchmark_code = "echo hello"          # optional: run under /bin/sh -c, with `args` appended
 * args = "--epochs 1"
 * [[data.sources]]  [[output.metrics]]   # optional arrays of tables
 * [resources]                            # ours, not BAI's: cpu, memory, deadline_seconds
 * ```
 *
 * As BAI's parser is strict, a key it does not know is refused, naming the key. Prototype keys
 * (`__proto__`, `constructor`, `prototype`) are refused at any depth. The source is
 * `payload.toml.contents` when it is a non-empty table (the parsed descriptor, as BAI's fetcher
 * sends it) or a string (TOML), otherwise `payload.toml.doc` (the TOML source).
 */
import { TomlError, parse as parseToml } from "smol-toml";
import { z } from "zod";
import { FetcherPayload, MAX_DEPTH, isObject, shapeProblem } from "./events";
import { JOB_LIMITS, ResourceRequest, cpuMillis, memoryBytes } from "./jobs";

export type Strategy = "single_node" | "horovod" | "inference";

export interface Descriptor {
  image: string;
  /** Container command (exec form); undefined keeps the image's entrypoint. */
  command?: string[];
  /** Container args; undefined keeps the image's. */
  args?: string[];
  /** Cron schedule; undefined means a single run. */
  schedule?: string;
  /** Environment of the benchmark container. */
  env: Record<string, string>;
  /** `[hardware] instance_type`, used as a node selector (not for "local"). */
  instanceType?: string;
  /** `[resources]`: what the descriptor asks for instead of the executor's defaults. */
  resources?: ResourceRequest;
  strategy: Strategy;
  /** `[info.labels]`, added to the labels of every object made for the action. */
  labels: Record<string, string>;
  /** `[hardware.distributed] num_instances` (horovod). */
  instances: number;
  /** `[server]` of an inference benchmark. */
  server?: { image: string; ports: number[]; command: string[]; env: Record<string, string> };
}

export class DescriptorError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid descriptor: ${problems.join("; ")}`);
    this.name = "DescriptorError";
  }
}

/** The descriptor table of a fetcher payload (see the module comment for where it is read from). */
export function descriptorTable(payload: unknown): Record<string, unknown> {
  if (!isObject(payload)) throw new DescriptorError(["payload must be an object"]);
  const toml = (payload as Partial<FetcherPayload>).toml;
  if (!isObject(toml)) throw new DescriptorError(["payload.toml is missing"]);
  const { contents, doc } = toml as Record<string, unknown>;
  let table: Record<string, unknown> | undefined;
  try {
    if (isObject(contents) && Object.keys(contents).length > 0) table = contents;
    else if (typeof contents === "string" && contents.trim() !== "") table = readToml(contents);
    else if (typeof doc === "string" && doc.trim() !== "") table = readToml(docSource(doc));
  } catch (e) {
    if (e instanceof TomlError) {
      const what = e.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
      throw new DescriptorError([`TOML line ${e.line}, column ${e.column}: ${what}`]);
    }
    throw e;
  }
  if (table === undefined) throw new DescriptorError(["payload.toml has neither contents nor doc"]);
  const shape = shapeProblem(table, "the descriptor");
  if (shape !== undefined) throw new DescriptorError([shape]);
  return table;
}

/**
 * The TOML source in `doc`: BAI's front end sends the file base64-encoded; TOML text as it is is
 * read too (no TOML document is a base64 string: a key needs `=` and a value after it).
 */
export function docSource(doc: string): string {
  const compact = doc.replace(/\s+/g, "");
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return doc;
  const text = Buffer.from(compact, "base64").toString("utf8");
  return text.includes("\uFFFD") ? doc : text;
}

/** TOML through smol-toml: the full TOML 1.0 grammar, into objects without a prototype. */
function readToml(source: string): Record<string, unknown> {
  return parseToml(source, { maxDepth: MAX_DEPTH }) as Record<string, unknown>;
}

// A cron field: numbers, names, *, ranges, steps and lists. Five fields, or a @macro.
const CRON_FIELD =
  /^(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(\/[0-9]+)?(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(\/[0-9]+)?)*$/;
const CRON_MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

export function isCron(s: string): boolean {
  const t = s.trim();
  if (CRON_MACROS.includes(t)) return true;
  const fields = t.split(/\s+/);
  return fields.length === 5 && fields.every((f) => CRON_FIELD.test(f));
}

// BAI's descriptor model, field for field: its parser is strict (an unknown key is an error), a
// field without a default is required, and each value must have the declared type.
const req = z.string({
  error: (i) => (i.input === undefined ? "missing value for a required field" : "must be a string"),
});
const opt = z.string({ error: "must be a string" }).optional();
const flag = z.boolean({ error: "must be true or false" }).optional();
const whole = z.number({ error: "must be a whole number" }).int({ error: "must be a whole number" });
const strings = z.record(z.string(), z.string({ error: "must be a string" }), { error: "must be a table" });
const table = <T extends z.ZodRawShape>(shape: T) =>
  z.strictObject(shape, {
    // Only the type of the table itself: an unknown key keeps zod's message naming it.
    error: (i) =>
      i.code !== "invalid_type"
        ? undefined
        : i.input === undefined
          ? "missing value for a required field"
          : "must be a table",
  });
const content = table({ src: req, path: req, id: opt, md5: opt });
const output = table({
  metrics: z.array(table({ name: req, units: req, pattern: req }), {
    error: (i) =>
      i.input === undefined ? "missing value for a required field" : "must be an array of tables",
  }),
});
const DescriptorSchema = table({
  spec_version: req,
  info: table({
    description: req,
    task_name: opt,
    execution_engine: z
      .enum(["default", "aws.sagemaker"], { error: 'must be "default" or "aws.sagemaker"' })
      .optional(),
    scheduling: opt,
    labels: strings.optional(),
  }),
  hardware: table({
    instance_type: req,
    aws_zone_id: opt,
    availability_zone: opt,
    strategy: z
      .enum(["single_node", "horovod", "inference"], {
        error: 'must be "single_node", "horovod" or "inference"',
      })
      .optional(),
    distributed: table({ num_instances: whole.optional(), processes_per_instance: opt }).optional(),
  }),
  env: table({ docker_image: req, privileged: flag, extended_shm: flag, vars: strings.optional() }),
  output: output.optional(),
  ml: table({
    framework: z
      .enum(["tensorflow", "mxnet", ""], { error: 'must be "tensorflow", "mxnet" or ""' })
      .optional(),
    benchmark_code: opt,
    args: opt,
    framework_version: opt,
    script: table({ script: req }).optional(),
  }).optional(),
  data: table({ sources: z.array(content, { error: "must be an array of tables" }) }).optional(),
  custom_params: table({
    python_version: opt,
    sagemaker_job_name: opt,
    dashboard: opt,
    region: opt,
    merge: flag,
    hyper_params: z.record(z.string(), z.unknown()).optional(),
  }).optional(),
  server: table({
    hardware: table({ instance_type: req, aws_zone_id: opt, availability_zone: opt }),
    env: table({
      docker_image: req,
      ports: z.array(whole, {
        error: (i) =>
          i.input === undefined ? "missing value for a required field" : "must be a list of whole numbers",
      }),
      start_command: req,
      privileged: flag,
      extended_shm: flag,
      vars: strings.optional(),
      readiness_probe: table({
        path: req,
        port: whole.optional(),
        scheme: z
          .string()
          .refine((s) => ["http", "https"].includes(s.toLowerCase()), 'must be "http" or "https"')
          .optional(),
        initial_delay_seconds: whole.optional(),
        period_seconds: whole.optional(),
        timeout_seconds: whole.optional(),
        success_threshold: whole.optional(),
        failure_threshold: whole.optional(),
      }).optional(),
      start_command_args: opt,
    }),
    models: z.array(content, { error: "must be an array of tables" }).optional(),
    output: output.optional(),
  }).optional(),
  // Ours, not BAI's: the limits of the benchmark container (checked by parseResources).
  resources: z.record(z.string(), z.unknown(), { error: "must be a table" }).optional(),
});

// A Kubernetes label key or value as BAI checks [info.labels].
const LABEL = /^(?=.{1,63}$)([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
// Instance families with GPUs, where `processes_per_instance = "gpus"` can be resolved.
const GPU_FAMILY = /^[gp]\d/;

/** The engine a fetcher event asks for (`[info] execution_engine`, default "default"), unchecked. */
export function engineOf(table: Record<string, unknown>): unknown {
  const info = table.info;
  return isObject(info) && info.execution_engine !== undefined ? info.execution_engine : "default";
}

/** Validates the descriptor of a fetcher payload; throws DescriptorError with BAI's reasons. */
export function parseDescriptor(payload: unknown): Descriptor {
  return checkDescriptor(descriptorTable(payload));
}

/** Validates a descriptor table (BAI's rules, then the executor's own limits). */
export function checkDescriptor(t: Record<string, unknown>): Descriptor {
  const r = DescriptorSchema.safeParse(t);
  if (!r.success) {
    throw new DescriptorError(
      r.error.issues.slice(0, 5).map((i) => {
        const at = i.path.map(String).join(".");
        return at === "" ? i.message : `${at}: ${i.message}`;
      }),
    );
  }
  const d = r.data;
  const problems: string[] = [];
  const strategy = d.hardware.strategy ?? "single_node";
  const instances = d.hardware.distributed?.num_instances ?? 2;
  const perInstance = d.hardware.distributed?.processes_per_instance ?? "1";
  if (strategy === "inference" && !d.server) problems.push("strategy inference: missing [server] definition");
  // BAI checks the count whenever [hardware.distributed] has its defaults, whatever the strategy.
  if (instances <= 1)
    problems.push(`hardware.distributed.num_instances: invalid number of instances ${instances}`);
  if (perInstance === "gpus") {
    if (!GPU_FAMILY.test(d.hardware.instance_type))
      problems.push(
        `hardware.distributed.processes_per_instance: "gpus" on ${d.hardware.instance_type}, which has no GPUs`,
      );
  } else if (!/^\d+$/.test(perInstance.trim()))
    problems.push(
      `hardware.distributed.processes_per_instance: ${JSON.stringify(perInstance)} is neither "gpus" nor a number`,
    );

  const scheduling = d.info.scheduling ?? "single_run";
  if (scheduling !== "single_run" && !isCron(scheduling))
    problems.push(
      `info.scheduling: invalid cron expression ${JSON.stringify(scheduling)} (a Kubernetes cron schedule or "single_run")`,
    );
  const labels = d.info.labels ?? {};
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL.test(k)) problems.push(`info.labels: invalid label key ${JSON.stringify(k)}`);
    else if (v !== "" && !LABEL.test(v))
      problems.push(`info.labels.${k}: invalid label value ${JSON.stringify(v)}`);
  }
  if (d.ml?.framework_version && !d.ml.framework)
    problems.push("ml.framework_version: a framework version without a framework");
  if (d.ml?.script && !d.ml.script.script.endsWith(".tar"))
    problems.push(`ml.script.script: ${JSON.stringify(d.ml.script.script)} is not a tar file`);

  // The executor's own checks: what it runs must be a usable image, variable names and limits.
  const image = d.env.docker_image.trim();
  if (image === "" || /\s/.test(image))
    problems.push(`env.docker_image ${JSON.stringify(d.env.docker_image)} is not an image`);
  const vars = d.env.vars ?? {};
  for (const k of Object.keys(vars))
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) problems.push(`env.vars: ${k} is not a valid variable name`);
  const instanceType = d.hardware.instance_type;
  if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(instanceType))
    problems.push(`hardware.instance_type ${JSON.stringify(instanceType)} is not a valid label value`);
  const resources = parseResources(isObject(d.resources) ? d.resources : {}, problems);
  if (problems.length > 0) throw new DescriptorError(problems);

  const code = d.ml?.benchmark_code?.trim();
  const args = d.ml?.args?.trim();
  const server = d.server
    ? {
        image: d.server.env.docker_image,
        ports: d.server.env.ports,
        command: [
          "/bin/sh",
          "-c",
          [d.server.env.start_command, d.server.env.start_command_args ?? ""].join(" ").trim(),
        ],
        env: d.server.env.vars ?? {},
      }
    : undefined;
  return {
    image,
    ...(code ? { command: ["/bin/sh", "-c", args ? `${code} ${args}` : code] } : {}),
    ...(!code && args ? { args: args.split(/\s+/) } : {}),
    ...(scheduling !== "single_run" ? { schedule: scheduling.trim() } : {}),
    env: vars,
    ...(instanceType !== "local" ? { instanceType } : {}),
    ...(Object.keys(resources).length > 0 ? { resources } : {}),
    strategy,
    labels,
    instances,
    ...(server ? { server } : {}),
  };
}

/** `[resources]`: each value a valid quantity within JOB_LIMITS' bounds, else a problem. */
function parseResources(r: Record<string, unknown>, problems: string[]): ResourceRequest {
  const out: ResourceRequest = {};
  const b = JOB_LIMITS.max;
  if (r.cpu !== undefined) {
    const m = typeof r.cpu === "string" || typeof r.cpu === "number" ? cpuMillis(r.cpu) : undefined;
    if (m === undefined || m < 1) problems.push(`[resources] cpu must be a CPU quantity such as "500m" or 2`);
    else if (m > cpuMillis(b.cpu)!) problems.push(`[resources] cpu ${r.cpu} is over the limit of ${b.cpu}`);
    else out.cpu = String(r.cpu);
  }
  if (r.memory !== undefined) {
    const m = typeof r.memory === "string" ? memoryBytes(r.memory) : undefined;
    if (m === undefined || m < 1) problems.push(`[resources] memory must be a quantity such as "256Mi"`);
    else if (m > memoryBytes(b.memory)!)
      problems.push(`[resources] memory ${r.memory} is over the limit of ${b.memory}`);
    else out.memory = r.memory as string;
  }
  if (r.deadline_seconds !== undefined) {
    const d = r.deadline_seconds;
    if (typeof d !== "number" || !Number.isInteger(d) || d < 1 || d > b.deadlineSeconds) {
      problems.push(`[resources] deadline_seconds must be a whole number from 1 to ${b.deadlineSeconds}`);
    } else out.deadlineSeconds = d;
  }
  return out;
}
