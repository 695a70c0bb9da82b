/**
 * What the fetcher suite's tests share: the service's wire format (its own copy: the suite knows
 * the service only from the outside), its topics, and the stack's endpoints from the environment
 * (the suite Job gets them from the outputs ConfigMap and Secret).
 */
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";

export interface FetchRequest {
  request_id: string;
  url?: string;
  bucket?: string;
  key?: string;
}

export interface FetchResult {
  request_id: string;
  status: "DONE" | "FAILED";
  bucket: string;
  key: string;
  bytes?: number;
  sha256?: string;
  reason?: string;
  /** The worker Job's name; empty when no Job was created. */
  job: string;
}

/** The fetcher's topics (named like the service's settings), for `harness({ topics })`. */
export const topics = {
  requests: process.env.FETCH_REQUESTS_TOPIC?.trim() || "fetch.requests",
  results: process.env.FETCH_RESULTS_TOPIC?.trim() || "fetch.results",
};

/** Labels of the worker Jobs and pods the fetcher spawns. */
export const spawnedFor = (requestId: string): Record<string, string> => ({
  "spawned-by": "fetcher",
  "request-id": requestId,
});

/** A worker pod is scheduled, started and finished within this on a busy two-core kind cluster. */
export const RESULT_TIMEOUT_MS = 90_000;

export function env(name: string): string {
  const v = process.env[name]?.trim();
  if (!v)
    throw new Error(
      `${name} is not set: the fetcher suite needs the stack's outputs (see examples/fetcher/README.md)`,
    );
  return v;
}

/** The data server's files and the bucket the tests fetch into (the first configured one). */
export const dataServer = () => ({
  url: env("DATA_SERVER_URL"),
  files: env("DATA_SERVER_FILES").split(",").filter(Boolean),
});
export const bucket = (): string => process.env.FETCH_BUCKET?.trim() || env("S3_BUCKETS").split(",")[0];

export async function readS3(Bucket: string, Key: string): Promise<Buffer> {
  const s3 = new S3Client({
    endpoint: env("S3_ENDPOINT"),
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: env("S3_ACCESS_KEY"), secretAccessKey: env("S3_SECRET_KEY") },
  });
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    return Buffer.from(await got.Body!.transformToByteArray());
  } finally {
    s3.destroy();
  }
}
