// An old Kafka client against the mock Kafka's two lines (`mockInfra.kafka.version`): kafka-python
// 1.4.6, the version BAI's services pin, from PyPI (scripts/kafka-python.sh runs the host's
// python3 with it). Kafka 3.9 serves it at every protocol level it speaks. Kafka 4 removed the
// 0.10-era levels (KIP-896) and closes the connection of a client pinned to them; a client that
// asks the broker (BAI's services do) settles on 1.0.0, which 4.x still serves. The tier's broker
// is the 4.x line; this file starts a 3.9 broker of its own (kafka-host.sh, KAFKA_HOST_VERSION)
// for its tests only and stops it after them.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { settings } from "../harness";
import { brokerLog, extraRunDir, hostScript } from "./kafka-host.fixture";

const run = promisify(execFile);
const root = path.resolve(__dirname, "../..");
const pinned = readFileSync(path.join(root, "toolchain/kafka/version.env"), "utf8");
const KAFKA_3 = /^KAFKA_3_VERSION=(\S+)$/m.exec(pinned)?.[1] ?? "KAFKA_3_VERSION missing";
const KAFKA_4 = /^KAFKA_VERSION=(\S+)$/m.exec(pinned)?.[1] ?? "KAFKA_VERSION missing";

/** What tests/component/kafka-python-client.py prints: its round trip, or its error. */
interface RoundTrip {
  client?: string;
  api_version?: string;
  produced?: number;
  consumed?: string[];
  committed?: number;
  error?: string;
  message?: string;
}

/** One round trip of kafka-python 1.4.6 against BOOTSTRAP, at protocol level `level` (or `auto`). */
async function oldClient(bootstrap: string, level: "auto" | "0.10.1"): Promise<RoundTrip> {
  const args = [path.join(__dirname, "kafka-python-client.py"), bootstrap, `old-${randomUUID()}`, "3", level];
  const out = await run(path.join(root, "scripts/kafka-python.sh"), args, { timeout: 25_000 }).catch(
    (e: { stdout?: string; stderr?: string; message: string }) => {
      if (!e.stdout?.trim())
        throw new Error(`kafka-python-client.py printed nothing: ${e.message}\n${e.stderr}`);
      return { stdout: e.stdout };
    },
  );
  const last = out.stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(last) as RoundTrip;
}

const ROUND_TRIP = { produced: 3, consumed: ["v0", "v1", "v2"], committed: 3 };

describe(`an old-protocol client (kafka-python 1.4.6) against Kafka ${KAFKA_4} and ${KAFKA_3}`, () => {
  const dir = extraRunDir("kafka3");
  let kafka3 = "";

  before(async function () {
    // The first start fetches the jars from Maven Central (cached after that).
    this.timeout(180_000);
    // So does the first use of kafka-python (PyPI): inside this budget, not a round trip's.
    await run(path.join(root, "scripts/kafka-python.sh"), ["--path"], { timeout: 120_000 });
    const out = await hostScript("start", dir, { KAFKA_HOST_VERSION: KAFKA_3 });
    kafka3 = /^KAFKA_BOOTSTRAP_SERVERS=(\S+)$/m.exec(out)?.[1] ?? "";
    expect(kafka3, `kafka-host.sh start printed no bootstrap line:\n${out}`).to.not.equal("");
  });

  after(async function () {
    this.timeout(30_000);
    await hostScript("stop", dir);
  });

  it(`Kafka ${KAFKA_4} refuses the 0.10 protocol: it closes the connection (Produce v2 is unsupported)`, async () => {
    const r = await oldClient(settings().kafkaBootstrapServers[0], "0.10.1");
    expect(r, JSON.stringify(r)).to.deep.include({ error: "KafkaConnectionError" });
    expect(r.produced).to.equal(undefined);
    // The broker says why: the removed request version, not some other fault.
    expect(readFileSync(brokerLog, "utf8")).to.match(
      /UnsupportedVersionException: Received request for api with key 0 \(Produce\) and unsupported version 2/,
    );
  });

  it(`Kafka ${KAFKA_4} still serves the client when it asks the broker its level (1.0.0), as BAI's services do`, async () => {
    const r = await oldClient(settings().kafkaBootstrapServers[0], "auto");
    expect(r).to.deep.include({ api_version: "1.0.0", ...ROUND_TRIP });
  });

  it(`Kafka ${KAFKA_3}: asking the broker its level, it creates a topic, produces and consumes in a group`, async () => {
    const r = await oldClient(kafka3, "auto");
    expect(r).to.deep.include({ client: "kafka-python 1.4.6", api_version: "1.0.0", ...ROUND_TRIP });
  });

  it(`Kafka ${KAFKA_3}: pinned to the 0.10 protocol (Produce v2, message format v1), it produces and consumes`, async () => {
    const r = await oldClient(kafka3, "0.10.1");
    expect(r).to.deep.include({ api_version: "0.10.1", ...ROUND_TRIP });
  });
});
