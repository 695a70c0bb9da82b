/** Structured logs: one JSON object per line on stdout (`ts`, `level`, `svc`, `msg`, fields). Same as the executor's. */
export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function jsonLogger(
  svc: string,
  min: Level = "info",
  write: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Logger {
  const log =
    (level: Level) =>
    (msg: string, fields: Record<string, unknown> = {}): void => {
      if (ORDER[level] < ORDER[min]) return;
      const entry: Record<string, unknown> = { ts: new Date().toISOString(), level, svc, msg };
      for (const [k, v] of Object.entries(fields)) {
        if (v !== undefined) entry[k] = v instanceof Error ? v.message : v;
      }
      write(JSON.stringify(entry));
    };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/** A logger that keeps lines in memory (tests). */
export function memoryLogger(): Logger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const l = jsonLogger("test", "debug", (s) => lines.push(JSON.parse(s)));
  return Object.assign(l, { lines });
}
