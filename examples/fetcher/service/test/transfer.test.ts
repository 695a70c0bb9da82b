/**
 * The worker's download + upload against a local HTTP server (the data server's stand-in) and a
 * fake S3 endpoint that records what the real S3 client PUTs.
 */
import { expect } from "chai";
import { createHash } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError, loadWorkerConfig, WorkerConfig } from "../src/config";
import { memoryLogger } from "../src/log";
import { s3Upload, transfer } from "../src/transfer";

const FILE = Buffer.from("inception data server test file\n".repeat(100));

async function serve(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

describe("fetcher example: the worker's transfer", () => {
  let data: Awaited<ReturnType<typeof serve>>;
  let s3: Awaited<ReturnType<typeof serve>>;
  const puts: { path: string; body: Buffer; auth: string }[] = [];
  let s3Status = 200;

  before(async () => {
    data = await serve((req, res) => {
      if (req.url === "/test-file.txt") res.writeHead(200).end(FILE);
      else res.writeHead(404, "File not found").end();
    });
    s3 = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (req.method === "PUT") {
          puts.push({
            path: req.url ?? "",
            body: Buffer.concat(chunks),
            auth: req.headers.authorization ?? "",
          });
        }
        if (s3Status === 200) res.writeHead(200, { ETag: '"x"' }).end();
        else {
          res
            .writeHead(s3Status, { "content-type": "application/xml" })
            .end(
              "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>",
            );
        }
      });
    });
  });
  after(async () => {
    await data?.close();
    await s3?.close();
  });
  beforeEach(() => {
    puts.length = 0;
    s3Status = 200;
  });

  const config = (url: string): WorkerConfig =>
    loadWorkerConfig({
      REQUEST_ID: "r-1",
      FETCH_URL: url,
      S3_BUCKET: "fetched",
      S3_KEY: "dir/test-file.txt",
      S3_ENDPOINT: s3.url,
      S3_ACCESS_KEY: "inception",
      S3_SECRET_KEY: "secret",
    });

  it("downloads the file and PUTs exactly its bytes to /<bucket>/<key>, signed with the access key", async () => {
    const cfg = config(`${data.url}/test-file.txt`);
    const outcome = await transfer(cfg, s3Upload(cfg.s3), memoryLogger());
    expect(outcome).to.deep.equal({
      status: "DONE",
      bytes: FILE.length,
      sha256: createHash("sha256").update(FILE).digest("hex"),
    });
    expect(puts).to.have.length(1);
    expect(puts[0].path.split("?")[0]).to.equal("/fetched/dir/test-file.txt");
    expect(puts[0].body.equals(FILE)).to.equal(true);
    expect(puts[0].auth).to.contain("Credential=inception/");
  });

  it("a 404 is FAILED naming the HTTP status, and nothing is uploaded", async () => {
    const cfg = config(`${data.url}/missing.txt`);
    const outcome = await transfer(cfg, s3Upload(cfg.s3), memoryLogger());
    expect(outcome).to.deep.equal({
      status: "FAILED",
      reason: `download failed: HTTP 404 File not found for ${data.url}/missing.txt`,
    });
    expect(puts).to.have.length(0);
  });

  it("an S3 error is FAILED naming the target and the S3 error", async () => {
    s3Status = 404;
    const cfg = config(`${data.url}/test-file.txt`);
    const outcome = await transfer(cfg, s3Upload(cfg.s3), memoryLogger());
    expect(outcome.status).to.equal("FAILED");
    expect(outcome.reason).to.match(/^upload to s3:\/\/fetched\/dir\/test-file.txt failed: NoSuchBucket/);
  });

  it("an incomplete environment is one error naming every missing variable", () => {
    let err: unknown;
    try {
      loadWorkerConfig({ FETCH_URL: "ftp://x", S3_ENDPOINT: "http://s3" });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as ConfigError).problems).to.deep.equal([
      "REQUEST_ID is required",
      'FETCH_URL: "ftp://x" is not an http(s) URL',
      "S3_BUCKET is required",
      "S3_KEY is required",
      "S3_ACCESS_KEY is required",
      "S3_SECRET_KEY is required",
    ]);
  });
});
