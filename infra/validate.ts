/**
 * Small readers that turn untyped stack config into typed values and collect every problem
 * instead of stopping at the first, so one error can list all of them.
 */

/** One problem with one config key. */
export interface Problem {
  key: string;
  message: string;
}

/** Collects problems; keys are written as the user types them (`inception:cluster.workers`). */
export class Problems {
  readonly list: Problem[] = [];
  constructor(private readonly namespace: string) {}

  /** Records "`<ns>:<key>` must be <expected>, got <found>". */
  expected(key: string, expected: string, found: unknown): undefined {
    this.list.push({ key, message: `${this.namespace}:${key} must be ${expected}, got ${show(found)}` });
    return undefined;
  }

  /** Records a problem whose message is not of the "must be … got …" form. */
  other(key: string, message: string): undefined {
    this.list.push({ key, message: `${this.namespace}:${key} ${message}` });
    return undefined;
  }

  get empty(): boolean {
    return this.list.length === 0;
  }
}

/** Thrown before any resource is declared; lists every problem found in the stack config. */
export class ConfigError extends Error {
  constructor(readonly problems: Problem[]) {
    super(
      `invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

export function show(v: unknown): string {
  if (v === undefined) return "nothing";
  if (typeof v === "string") return JSON.stringify(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

export type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Reads an object-valued key and reports fields it does not know (a typo would otherwise be
 * silently ignored). Returns an empty object when the key is absent.
 */
export function objectAt(p: Problems, key: string, v: unknown, known: readonly string[]): Obj | undefined {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) return p.expected(key, "an object", v);
  for (const k of Object.keys(v)) {
    if (!known.includes(k)) p.other(`${key}.${k}`, `is not a known setting (known: ${known.join(", ")})`);
  }
  return v;
}

export function str(
  p: Problems,
  key: string,
  v: unknown,
  def: string,
  pattern?: RegExp,
  form?: string,
): string {
  if (v === undefined || v === null) return def;
  if (typeof v !== "string" || v.length === 0) return p.expected(key, form ?? "a non-empty string", v) ?? def;
  if (pattern && !pattern.test(v)) return p.expected(key, form ?? `a string matching ${pattern}`, v) ?? def;
  return v;
}

export function optStr(
  p: Problems,
  key: string,
  v: unknown,
  pattern?: RegExp,
  form?: string,
): string | undefined {
  if (v === undefined || v === null) return undefined;
  const s = str(p, key, v, "", pattern, form);
  return s === "" ? undefined : s;
}

export function int(p: Problems, key: string, v: unknown, def: number, min: number, max?: number): number {
  if (v === undefined || v === null) return def;
  // Values set with `pulumi config set` arrive as strings; accept "3" but not "two" or "2.5".
  const n = typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v;
  const form = max === undefined ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || (max !== undefined && n > max)) {
    return p.expected(key, form, v) ?? def;
  }
  return n;
}

export function bool(p: Problems, key: string, v: unknown, def: boolean): boolean {
  if (v === undefined || v === null) return def;
  if (v === true || v === "true") return true;
  if (v === false || v === "false") return false;
  return p.expected(key, "true or false", v) ?? def;
}

export function oneOf<T extends string>(
  p: Problems,
  key: string,
  v: unknown,
  allowed: readonly T[],
  def: T,
): T {
  if (v === undefined || v === null) return def;
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
    return p.expected(key, `one of ${allowed.join(", ")}`, v) ?? def;
  }
  return v as T;
}

export function array(p: Problems, key: string, v: unknown): unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return p.expected(key, "a list", v);
  return v;
}

// Kubernetes label syntax: an optional DNS-subdomain prefix and a name of at most 63 characters.
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function isLabelKey(k: string): boolean {
  const slash = k.lastIndexOf("/");
  if (slash === -1) return LABEL_NAME.test(k);
  return DNS_SUBDOMAIN.test(k.slice(0, slash)) && LABEL_NAME.test(k.slice(slash + 1));
}

export function isLabelValue(v: string): boolean {
  return v === "" || LABEL_NAME.test(v);
}

/** Reads a map of Kubernetes labels; values may be given as numbers or booleans in YAML. */
export function labels(p: Problems, key: string, v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) return p.expected(key, "a map of Kubernetes labels", v);
  const out: Record<string, string> = {};
  for (const [k, raw] of Object.entries(v)) {
    const val = typeof raw === "number" || typeof raw === "boolean" ? String(raw) : raw;
    if (!isLabelKey(k))
      p.other(
        `${key}`,
        `has an invalid label key ${show(k)} (want [prefix/]name, name ≤ 63 of [A-Za-z0-9-_.])`,
      );
    else if (typeof val !== "string" || !isLabelValue(val)) {
      p.expected(
        `${key}.${k}`,
        "a label value (≤ 63 of [A-Za-z0-9-_.], starting and ending alphanumeric)",
        raw,
      );
    } else out[k] = val;
  }
  return out;
}

/** DNS-1123 label: Kubernetes namespace and kind cluster names. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
