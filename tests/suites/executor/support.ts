/**
 * What the executor suite's tests share: the image their benchmark Jobs run and the descriptors
 * they send (as BAI's fetcher did: the TOML source and its parsed table).
 *
 * JOB_IMAGE must already be in the cluster's nodes — the Jobs use imagePullPolicy IfNotPresent and
 * nothing can be pulled here — and have /bin/sh, echo and sleep. Default: inception/node:24 (the
 * Debian-based image the suite and service images build on).
 */
export const JOB_IMAGE = process.env.JOB_IMAGE?.trim() || "inception/node:24";

/** Time for a Job's pod to be scheduled, started and finished on a busy two-core kind cluster. */
export const POD_TIMEOUT_MS = 90_000;

/** A job that runs about a minute but stops at once on SIGTERM (a shell as PID 1 ignores it
 *  otherwise, and its pod would linger for the 30 s grace period after a cancel). */
export const SLEEP_60 = "trap 'exit 143' TERM; sleep 60 & wait";

export interface DescriptorOptions {
  /** Shell command of the benchmark container. */
  command: string;
  /** A cron schedule; default a single run. */
  schedule?: string;
  image?: string;
}

/** `{ descriptor, contents }` for `bai.events.fetcher(...)`: the TOML and the same as a table. */
export function benchmark(o: DescriptorOptions): { descriptor: string; contents: Record<string, unknown> } {
  const contents = {
    info: { description: "inception executor suite", scheduling: o.schedule ?? "single_run" },
    env: { docker_image: o.image ?? JOB_IMAGE },
    ml: { command: o.command },
  };
  return { descriptor: toToml(contents), contents };
}

/** TOML of a table of tables of strings (JSON string escapes are valid TOML basic strings). */
export function toToml(t: Record<string, Record<string, string>>): string {
  return Object.entries(t)
    .map(
      ([section, kv]) =>
        `[${section}]\n${Object.entries(kv)
          .map(([k, v]) => `${k} = ${JSON.stringify(v)}\n`)
          .join("")}`,
    )
    .join("\n");
}
