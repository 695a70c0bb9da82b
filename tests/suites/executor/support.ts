/**
 * What the executor suite's tests share: the image their benchmark Jobs run and the descriptors
 * they send (as BAI's fetcher did: the TOML source, base64 in `doc`, and its parsed table).
 *
 * JOB_IMAGE must already be in the cluster's nodes — the Jobs use imagePullPolicy IfNotPresent and
 * nothing can be pulled here — and have /bin/sh, echo and sleep. Default: inception/node:24 (the
 * Debian-based image the suite and service images build on).
 */
import { descriptor, DescriptorOptions } from "@inception/harness/profiles/bai";

export const JOB_IMAGE = process.env.JOB_IMAGE?.trim() || "inception/node:24";

/** Time for a Job's pod to be scheduled, started and finished on a busy two-core kind cluster. */
export const POD_TIMEOUT_MS = 90_000;

/** A job that runs about a minute but stops at once on SIGTERM (a shell as PID 1 ignores it
 *  otherwise, and its pod would linger for the 30 s grace period after a cancel). */
export const SLEEP_60 = "trap 'exit 143' TERM; sleep 60 & wait";

/** `{ descriptor, contents }` for `bai.events.fetcher(...)`: a descriptor BAI's executor accepts. */
export function benchmark(o: Omit<DescriptorOptions, "image"> & { image?: string }): {
  descriptor: string;
  contents: Record<string, unknown>;
} {
  return descriptor({ description: "inception executor suite", ...o, image: o.image ?? JOB_IMAGE });
}
