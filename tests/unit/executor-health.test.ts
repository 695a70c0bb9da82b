/**
 * The reference executor's probes while its broker is not there yet (a restarted cluster: Kafka
 * comes back after the service): /healthz answers from the start, so the liveness probe does not
 * kill a process that only waits; /ready stays 503 until the consumer group is joined.
 */
import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import * as http from "http";
import * as net from "net";
import * as path from "path";

const root = path.resolve(__dirname, "../..");

/** A port nothing listens on now: the OS's pick, released at once. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The status of GET path, or undefined when nothing answers. */
function status(port: number, p: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: p, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("error", () => resolve(undefined));
    req.on("timeout", () => req.destroy());
  });
}

describe("the executor's probes before its broker answers", () => {
  let child: ChildProcess | undefined;
  afterEach(() => child?.kill("SIGKILL"));

  it("/healthz is 200 and /ready 503 while the broker is unreachable", async () => {
    const [healthPort, deadBroker] = [await freePort(), await freePort()];
    let output = "";
    child = spawn(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", "services/executor/src/main.ts"],
      {
        cwd: root,
        env: {
          ...process.env,
          KAFKA_BOOTSTRAP_SERVERS: `127.0.0.1:${deadBroker}`,
          JOB_NAMESPACE: "inception-test",
          HEALTH_PORT: String(healthPort),
        },
      },
    );
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 20_000;
    let alive: number | undefined;
    while (alive === undefined) {
      if (Date.now() > deadline)
        throw new Error(`waited 20 s for /healthz to answer; the executor printed:\n${output}`);
      if (child.exitCode !== null) throw new Error(`the executor exited ${child.exitCode}:\n${output}`);
      alive = await status(healthPort, "/healthz");
      if (alive === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    expect(alive).to.equal(200);
    expect(await status(healthPort, "/ready")).to.equal(503);
    // Still waiting for the broker, not done with it: the connection is what it is trying.
    expect(output).to.contain("Connection error");
  });
});
