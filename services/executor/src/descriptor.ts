/**
 * The benchmark descriptor subset the executor understands (docs/executor.md):
 *
 * ```toml
 * [info]
 * scheduling = "single_run"          # default; or a cron schedule such as "*\/5 * * * *"
 * [env]
 * docker_image = "busybox:1.36"      # or [ml] image
 * [env.vars]                         # optional: environment of the benchmark container
 * MODE = "quick"
 * [ml]
 * command = "echo hello"             # a string runs under /bin/sh -c; an array is the exec form
 *                                    # (the seed's name benchmark_code is accepted too); optional
 * args = ["--epochs", "1"]           # optional; a string is appended to a string command
 * [hardware]
 * instance_type = "local"            # optional: nodeSelector node.kubernetes.io/instance-type
 * [resources]                        # optional, within bounds (jobs.ts JOB_LIMITS)
 * cpu = "500m"                       # limit of the benchmark container (Kubernetes quantity)
 * memory = "256Mi"                   # limit of the benchmark container
 * deadline_seconds = 600             # activeDeadlineSeconds of the Job
 * ```
 *
 * Other sections and keys are ignored; prototype keys (`__proto__`, `constructor`, `prototype`)
 * are refused at any depth. The source is `payload.toml.contents` when it is a non-empty
 * table (the parsed descriptor, as the seed's fetcher sends it) or a string (TOML), otherwise
 * `payload.toml.doc` (the TOML source).
 */
import { TomlError, parse as parseToml } from "smol-toml";
import { FetcherPayload, MAX_DEPTH, isObject, shapeProblem } from "./events";
import { JOB_LIMITS, ResourceRequest, cpuMillis, memoryBytes } from "./jobs";

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
  /** `[hardware] instance_type`, used as a node selector. */
  instanceType?: string;
  /** `[resources]`: what the descriptor asks for instead of the executor's defaults. */
  resources?: ResourceRequest;
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
    else if (typeof doc === "string" && doc.trim() !== "") table = readToml(doc);
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

/** Validates the descriptor of a fetcher payload; throws DescriptorError listing every problem. */
export function parseDescriptor(payload: unknown): Descriptor {
  const t = descriptorTable(payload);
  const problems: string[] = [];
  const section = (name: string): Record<string, unknown> => {
    const s = t[name];
    if (s === undefined) return {};
    if (!isObject(s)) {
      problems.push(`[${name}] must be a table`);
      return {};
    }
    return s;
  };
  const info = section("info");
  const env = section("env");
  const ml = section("ml");
  const hardware = section("hardware");

  const optString = (where: string, v: unknown): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v === "string" && v.trim() !== "") return v;
    problems.push(`${where} must be a non-empty string`);
    return undefined;
  };
  const stringList = (where: string, v: unknown): string[] | undefined => {
    if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string")) return v as string[];
    problems.push(`${where} must be a non-empty string or a non-empty list of strings`);
    return undefined;
  };

  const image = optString("[env] docker_image", env.docker_image) ?? optString("[ml] image", ml.image);
  if (image === undefined && env.docker_image === undefined && ml.image === undefined) {
    problems.push("the image is missing ([env] docker_image or [ml] image)");
  } else if (image !== undefined && /\s/.test(image))
    problems.push(`image ${JSON.stringify(image)} has spaces`);

  let command: string[] | undefined;
  let args: string[] | undefined;
  const cmdKey = ml.command !== undefined ? "command" : "benchmark_code";
  const cmd = ml[cmdKey];
  const rawArgs = ml.args;
  if (typeof cmd === "string" && cmd.trim() !== "") {
    const argString = typeof rawArgs === "string" ? rawArgs : undefined;
    command = ["/bin/sh", "-c", argString ? `${cmd} ${argString}` : cmd];
    if (Array.isArray(rawArgs)) args = stringList("[ml] args", rawArgs);
    else if (rawArgs !== undefined && argString === undefined) stringList("[ml] args", rawArgs);
  } else {
    if (cmd !== undefined) command = stringList(`[ml] ${cmdKey}`, cmd);
    if (rawArgs !== undefined) args = stringList("[ml] args", rawArgs);
  }

  let schedule: string | undefined;
  const sched = info.scheduling;
  if (sched !== undefined) {
    if (typeof sched !== "string") problems.push("[info] scheduling must be a string");
    else if (sched.trim() === "single_run" || sched.trim() === "") schedule = undefined;
    else if (isCron(sched)) schedule = sched.trim();
    else
      problems.push(`[info] scheduling ${JSON.stringify(sched)} is neither "single_run" nor a cron schedule`);
  }

  const vars: Record<string, string> = {};
  if (env.vars !== undefined) {
    if (!isObject(env.vars)) problems.push("[env.vars] must be a table");
    else {
      for (const [k, v] of Object.entries(env.vars)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
          problems.push(`[env.vars] ${k} is not a valid variable name`);
        else if (typeof v === "string" || typeof v === "number" || typeof v === "boolean")
          vars[k] = String(v);
        else problems.push(`[env.vars] ${k} must be a string, number or boolean`);
      }
    }
  }

  const resources = parseResources(section("resources"), problems);

  const instanceType = optString("[hardware] instance_type", hardware.instance_type);
  if (instanceType !== undefined && !/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(instanceType)) {
    problems.push(`[hardware] instance_type ${JSON.stringify(instanceType)} is not a valid label value`);
  }

  if (problems.length > 0 || image === undefined) throw new DescriptorError(problems);
  return {
    image,
    ...(command ? { command } : {}),
    ...(args ? { args } : {}),
    ...(schedule ? { schedule } : {}),
    env: vars,
    ...(instanceType ? { instanceType } : {}),
    ...(Object.keys(resources).length > 0 ? { resources } : {}),
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
