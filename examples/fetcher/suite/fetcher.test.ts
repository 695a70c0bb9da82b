// The fetcher, black-box: a request on its topic becomes a worker Job labelled spawned-by=fetcher
// that downloads a file from the data server into S3; the result comes back on its topic.
import { createHash } from "node:crypto";
import { expect } from "chai";
import type { V1Pod } from "@kubernetes/client-node";
import { fieldEquals, harness, kube, newId } from "@inception/harness";
import {
  bucket,
  dataServer,
  FetchRequest,
  FetchResult,
  readS3,
  RESULT_TIMEOUT_MS,
  spawnedFor,
  topics,
} from "./support";

// Declared as the file loads: the harness reads (and creates when missing) the fetcher's topics.
const h = harness({ topics });

/** Sends the request and waits for its result. */
async function fetchFile(request: FetchRequest): Promise<FetchResult> {
  await h.send(h.topics.requests, request);
  return h.waitFor<FetchResult>(h.topics.results, fieldEquals("request_id", request.request_id), {
    description: `the result of ${request.request_id}`,
    timeoutMs: RESULT_TIMEOUT_MS,
  });
}

describe("fetcher", () => {
  it("fetches a data-server file into S3: DONE, and the object's bytes are the file's", async () => {
    const { url, files } = dataServer();
    const file = files[0];
    const id = newId("r");
    const request = { request_id: id, url: `${url}/${file}`, bucket: bucket(), key: `fetched/${id}/${file}` };

    const result = await fetchFile(request);
    expect(result.status, result.reason).to.equal("DONE");
    expect(result).to.include({ bucket: request.bucket, key: request.key });

    const expected = Buffer.from(await (await fetch(request.url)).arrayBuffer());
    const stored = await readS3(request.bucket, request.key);
    expect(
      stored.equals(expected),
      `s3://${request.bucket}/${request.key} differs from ${request.url}`,
    ).to.equal(true);
    expect(result.bytes).to.equal(expected.length);
    expect(result.sha256).to.equal(createHash("sha256").update(expected).digest("hex"));
  });

  it("reports a missing file as FAILED naming HTTP 404; the worker's pod failed", async () => {
    const id = newId("r");
    const request = {
      request_id: id,
      url: `${dataServer().url}/no-such-file-${id}.txt`,
      bucket: bucket(),
      key: id,
    };

    const result = await fetchFile(request);
    expect(result.status).to.equal("FAILED");
    expect(result.reason).to.match(/\b404\b/);
    expect(result.job).to.not.equal("");

    const [pod] = await kube().waitFor<V1Pod>("pod", spawnedFor(id), "failed");
    expect(pod.metadata?.labels).to.include({ "spawned-by": "fetcher", "job-name": result.job });
  });

  it("refuses a request without a url: FAILED, and no Job", async () => {
    const id = newId("r");
    const result = await fetchFile({ request_id: id, bucket: bucket(), key: id });
    expect(result.status).to.equal("FAILED");
    expect(result.reason).to.match(/url is required/);
    expect(result.job).to.equal("");
    expect(await kube().list("job", spawnedFor(id))).to.deep.equal([]);
  });
});
