/**
 * What a worker pod does: download one file over HTTP and upload it to S3, with the outcome
 * (bytes and sha256, or the reason it failed) for the termination message.
 */
import { createHash } from "node:crypto";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { WorkerConfig } from "./config";
import type { Logger } from "./log";
import type { WorkerOutcome } from "./requests";

/** A failure with a reason meant for the result event (HTTP status, S3 error). */
export class TransferError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransferError";
  }
}

export type Upload = (bucket: string, key: string, body: Buffer) => Promise<void>;

/** The real upload: a path-style S3 client (the mock's endpoint has no bucket subdomains). */
export function s3Upload(s3: WorkerConfig["s3"]): Upload {
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
    maxAttempts: 3,
  });
  return async (Bucket, Key, Body) => {
    await client.send(new PutObjectCommand({ Bucket, Key, Body, ContentLength: Body.length }));
  };
}

export async function download(url: string, timeoutMs: number): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "follow" });
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    throw new TransferError(
      `download failed: ${url}: ${e instanceof Error ? e.message : String(e)}${cause ? ` (${cause})` : ""}`,
    );
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new TransferError(`download failed: HTTP ${res.status} ${res.statusText} for ${url}`.trimEnd());
  }
  return Buffer.from(await res.arrayBuffer());
}

/** Downloads `cfg.url` into `cfg.bucket`/`cfg.key`; never throws: the outcome says what happened. */
export async function transfer(cfg: WorkerConfig, upload: Upload, log: Logger): Promise<WorkerOutcome> {
  const target = `s3://${cfg.bucket}/${cfg.key}`;
  try {
    log.info("downloading", { url: cfg.url });
    const body = await download(cfg.url, cfg.timeoutMs);
    const sha256 = createHash("sha256").update(body).digest("hex");
    log.info("downloaded", { bytes: body.length, sha256 });
    try {
      await upload(cfg.bucket, cfg.key, body);
    } catch (e) {
      const name = (e as { name?: string }).name;
      const msg = e instanceof Error ? e.message : String(e);
      throw new TransferError(
        `upload to ${target} failed: ${name && name !== "Error" ? `${name}: ` : ""}${msg}`,
      );
    }
    log.info("uploaded", { target, endpoint: cfg.s3.endpoint });
    return { status: "DONE", bytes: body.length, sha256 };
  } catch (e) {
    const reason = e instanceof TransferError ? e.message : `unexpected error: ${String(e)}`;
    log.error("fetch failed", { reason });
    return { status: "FAILED", reason };
  }
}
