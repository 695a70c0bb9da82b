/**
 * One error for a whole stack config: every problem names its key, says what was expected and what
 * was given (never a secret's value), and the `pulumi config` command that fixes it.
 */
import type { z } from "zod";

export const NAMESPACE = "inception";

/** Shown instead of a value that is, or may hold, a secret. */
export const SECRET_SHOWN = "[secret]";

/** One problem with one config key. */
export interface Problem {
  /** Key as the user writes it after `inception:` (`cluster.workers`, `services[0].env`). */
  key: string;
  /** The whole line: `inception:<key> must be …, got …`. */
  message: string;
  /** The command that fixes it. */
  fix: string;
}

/** Thrown before any resource is declared; lists every problem found in the stack config. */
export class ConfigError extends Error {
  constructor(
    readonly problems: Problem[],
    heading = "invalid stack config",
  ) {
    super(
      `${heading} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.message}\n      fix: ${p.fix}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

export function show(v: unknown): string {
  if (v === undefined) return "nothing";
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

type PathPart = PropertyKey;

/** `cluster.workerLabels[0].node.type`: how messages name a key (and how docs/config.md lists them). */
export function keyOf(path: readonly PathPart[]): string {
  return path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join("");
}

/** The same path in `pulumi config set --path` syntax: keys that are not identifiers are quoted. */
function pulumiPath(path: readonly PathPart[]): string {
  return path
    .map((p, i) => {
      if (typeof p === "number") return `[${p}]`;
      const s = String(p);
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) return i === 0 ? s : `.${s}`;
      return `[${JSON.stringify(s)}]`;
    })
    .join("");
}

/** Where a problem's fix is typed: the key, and whether the value must be set with --secret. */
export interface FixOptions {
  secret?: boolean;
  /** What to type as the value (defaults to `<expected form>`). */
  value?: string;
  /** A whole command instead (e.g. `kubectl config use-context ci`). */
  command?: string;
  /** Remove the key instead of setting it. */
  remove?: boolean;
}

export function fixCommand(path: readonly PathPart[], expected: string, o: FixOptions = {}): string {
  if (o.command !== undefined) return o.command;
  const nested = path.length > 1;
  const key = `${NAMESPACE}:${pulumiPath(path)}`;
  const flags = `${nested ? "--path " : ""}${o.secret ? "--secret " : ""}`;
  const quoted = /[^A-Za-z0-9_.:/-]/.test(key) ? `'${key}'` : key;
  if (o.remove) return `pulumi config rm ${flags}${quoted}`;
  return `pulumi config set ${flags}${quoted} ${o.value ?? `<${expected}>`}`;
}

/** Collects problems from zod issues and from checks made outside the schema. */
export class Problems {
  readonly list: Problem[] = [];

  /** @param isSecret whether a path's value is (or may hold) a secret: such values are never shown. */
  constructor(private readonly isSecret: (path: readonly PathPart[]) => boolean = () => false) {}

  /** "`inception:<key>` must be <expected>, got <given>". */
  expected(path: readonly PathPart[], expected: string, given: unknown, fix: FixOptions = {}): void {
    const secret = this.isSecret(path);
    this.list.push({
      key: keyOf(path),
      message: `${NAMESPACE}:${keyOf(path)} must be ${expected}, got ${secret ? SECRET_SHOWN : show(given)}`,
      fix: fixCommand(path, expected, { secret, ...fix }),
    });
  }

  /** A problem whose message is not of the "must be … got …" form (`<key> <message>`). */
  other(path: readonly PathPart[], message: string, fix: FixOptions = {}): void {
    this.list.push({
      key: keyOf(path),
      message: `${NAMESPACE}:${keyOf(path)} ${message}`,
      fix: fixCommand(path, "value", { secret: this.isSecret(path), ...fix }),
    });
  }

  /** Turns zod's issues into problems. Messages of the schema are the expected forms. */
  fromZod(issues: readonly z.core.$ZodIssue[]): void {
    for (const issue of issues) {
      const path = issue.path;
      if (issue.code === "unrecognized_keys") {
        for (const k of issue.keys) {
          const at = [...path, k];
          const hint = issue.message.startsWith("known:") ? ` (${issue.message})` : "";
          this.other(at, `is not a known setting${hint}`, { remove: true });
        }
      } else if (issue.code === "custom") {
        const params = (issue.params ?? {}) as { fix?: FixOptions; expected?: string };
        if (params.expected !== undefined) {
          this.expected(path, params.expected, (issue as { input?: unknown }).input, params.fix);
        } else this.other(path, issue.message, params.fix ?? {});
      } else {
        this.expected(path, issue.message, (issue as { input?: unknown }).input);
      }
    }
  }

  get empty(): boolean {
    return this.list.length === 0;
  }
}
