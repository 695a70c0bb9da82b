/**
 * Mocha global fixtures of the component tier: a real Kafka broker on this host for the run.
 *
 * Setup runs `scripts/kafka-host.sh start` with a run directory of its own
 * (.inception/kafka-component/<pid>), sets KAFKA_BOOTSTRAP_SERVERS for the harness, and teardown
 * stops it. If the broker cannot start, setup throws and the whole tier fails — it never skips.
 * Brokers left behind by runs that were killed (their mocha pid is gone) are stopped first, with
 * the other brokers a test file started for itself (`extraRunDir`).
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = path.resolve(__dirname, "../..");
const script = path.join(root, "scripts/kafka-host.sh");
const runsDir = path.join(root, ".inception/kafka-component");
const runDir = path.join(runsDir, String(process.pid));

/** Broker start time of this run, for the tests that report measurements. */
export let brokerStartMs = 0;
/** The tier's broker's log (kafka-host.sh writes it into its run dir). */
export const brokerLog = path.join(runDir, "broker.log");

/**
 * The run dir of another broker this run starts (`<pid>.<name>`): a run killed before stopping it
 * leaves it to the next run's clean-up, as its main broker.
 */
export const extraRunDir = (name: string): string => `${runDir}.${name}`;

/** Runs scripts/kafka-host.sh CMD on the broker of run dir DIR; `env` picks e.g. KAFKA_HOST_VERSION. */
export async function hostScript(
  cmd: "start" | "stop",
  dir: string,
  env: Record<string, string> = {},
): Promise<string> {
  const { stdout, stderr } = await run(script, [cmd], {
    env: { ...process.env, ...env, KAFKA_HOST_DIR: dir },
    maxBuffer: 16 * 1024 * 1024,
  }).catch((e: { stdout?: string; message: string }) => {
    // The message includes the script's stderr (its error and the broker log's tail).
    throw new Error(
      `scripts/kafka-host.sh ${cmd} failed — the component tier needs a host Kafka broker:\n` +
        `${e.message}\n${e.stdout ?? ""}`,
    );
  });
  process.stderr.write(stderr);
  return stdout;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function mochaGlobalSetup(): Promise<void> {
  if (existsSync(runsDir)) {
    for (const name of readdirSync(runsDir)) {
      const pid = Number(/^(\d+)(\.[a-z0-9-]+)?$/.exec(name)?.[1] ?? NaN);
      if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) {
        await hostScript("stop", path.join(runsDir, name)).catch((e) => console.error(String(e)));
        rmSync(path.join(runsDir, name), { recursive: true, force: true });
      }
    }
  }
  const t0 = Date.now();
  const out = await hostScript("start", runDir).catch((e) => {
    rmSync(runDir, { recursive: true, force: true });
    throw e;
  });
  brokerStartMs = Date.now() - t0;
  const m = /^KAFKA_BOOTSTRAP_SERVERS=(\S+)$/m.exec(out);
  if (!m) throw new Error(`scripts/kafka-host.sh start printed no KAFKA_BOOTSTRAP_SERVERS line:\n${out}`);
  process.env.KAFKA_BOOTSTRAP_SERVERS = m[1];
  process.env.ARTIFACTS_DIR ??= path.join(root, "artifacts/component");
  console.log(`[component] host Kafka broker at ${m[1]}, started in ${brokerStartMs} ms`);
}

export async function mochaGlobalTeardown(): Promise<void> {
  const t0 = Date.now();
  await hostScript("stop", runDir);
  rmSync(runDir, { recursive: true, force: true });
  console.log(`[component] host Kafka broker stopped in ${Date.now() - t0} ms`);
}
