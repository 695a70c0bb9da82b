/**
 * Secrets never leak (scripts/e2e-devo.sh): one stack's S3 secret key, registry password and the
 * secretEnv of its service and of its suite are unique canary strings. After a green run and a red
 * run of that stack, no canary may be in any file of its run folders, the `pulumi up` logs,
 * `pulumi stack export` (without --show-secrets), .inception/ or the state backend — neither as
 * written nor base64-encoded. No canary value is ever printed: hits name the config key.
 *
 * INCEPTION_E2E_CANARIES        JSON, config key → canary: s3SecretKey, images.password,
 *                               services[0].secretEnv.E2E_CANARY, suite.secretEnv.E2E_CANARY
 * INCEPTION_E2E_CANARY_OUTPUTS  the stack outputs (JSON files) of the green run, then of the red run
 * INCEPTION_E2E_CANARY_ROOTS    directories and files searched, besides the runs' stack folder
 * INCEPTION_E2E_CANARY_FILES    files that must be among those searched (up logs, exports)
 * INCEPTION_E2E_KUBECONFIG, INCEPTION_E2E_CANARY_NAMESPACE: where the canaries must have arrived
 * Lists are separated by ':'.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { ScanResult, scan } from "./canary-scan";

const need = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run through scripts/e2e-devo.sh)`);
  return v;
};
const list = (k: string): string[] => need(k).split(path.delimiter).filter(Boolean);

const canaries = JSON.parse(need("INCEPTION_E2E_CANARIES")) as Record<string, string>;

/** Where each canary must be in the cluster (a Secret's key), so that the search is not vacuous. */
const IN_CLUSTER: Record<string, { secret: string; key: string }> = {
  s3SecretKey: { secret: "outputs-infrastructure-secrets", key: "s3_secret_key" },
  "services[0].secretEnv.E2E_CANARY": { secret: "executor-secret-env", key: "E2E_CANARY" },
  "suite.secretEnv.E2E_CANARY": { secret: "suite-secret-env", key: "E2E_CANARY" },
};

interface RunOutputs {
  runId: string;
  artifactsDir: string;
}

describe("canaries: the stack's secrets in no file, log or state", () => {
  const runs = list("INCEPTION_E2E_CANARY_OUTPUTS").map(
    (f) => JSON.parse(fs.readFileSync(f, "utf8")) as RunOutputs,
  );

  it("the canaries are distinct and long enough that any hit is a leak", () => {
    expect(Object.keys(canaries).sort()).to.deep.equal([
      "images.password",
      "s3SecretKey",
      "services[0].secretEnv.E2E_CANARY",
      "suite.secretEnv.E2E_CANARY",
    ]);
    const values = Object.values(canaries);
    expect(new Set(values).size, "distinct").to.equal(values.length);
    for (const [k, v] of Object.entries(canaries)) expect(v.length, `${k}: length`).to.be.at.least(16);
  });

  it("the canaries reached the cluster: the stack's Secrets hold them", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(need("INCEPTION_E2E_KUBECONFIG"));
    const core = kc.makeApiClient(CoreV1Api);
    const namespace = need("INCEPTION_E2E_CANARY_NAMESPACE");
    for (const [canary, { secret, key }] of Object.entries(IN_CLUSTER)) {
      const s = await core.readNamespacedSecret({ name: secret, namespace });
      const value = Buffer.from(s.data?.[key] ?? "", "base64").toString("utf8");
      // A boolean, so that a failure does not print the value.
      expect(value === canaries[canary], `${namespace}/${secret} ${key} holds ${canary}`).to.equal(true);
    }
  });

  it("a green run and then a red run wrote their run folders", () => {
    expect(runs).to.have.length(2);
    const [green, red] = runs.map(
      (r) =>
        JSON.parse(fs.readFileSync(path.join(r.artifactsDir, "verdict.json"), "utf8")) as { ok: boolean },
    );
    expect(green.ok, `${runs[0].runId} green`).to.equal(true);
    expect(red.ok, `${runs[1].runId} red`).to.equal(false);
    expect(runs[1].runId).to.not.equal(runs[0].runId);
  });

  describe("the search", () => {
    let result: ScanResult;
    const stackDirs = [...new Set(runs.map((r) => path.dirname(r.artifactsDir)))];
    const roots = [...stackDirs, ...list("INCEPTION_E2E_CANARY_ROOTS")];

    before(() => {
      result = scan(roots, canaries);
      console.log(
        `      searched ${result.files.length} files (${(result.bytes / 1e6).toFixed(1)} MB) under ` +
          `${roots.join(", ")} for ${Object.keys(canaries).length} canaries: ${result.hits.length} hit(s)`,
      );
    });

    it("covers both run folders, the up logs and the state exports", () => {
      const searched = new Set(result.files);
      const required = [
        ...runs.flatMap((r) => [
          path.join(r.artifactsDir, "verdict.json"),
          path.join(r.artifactsDir, "suite.log"),
        ]),
        ...list("INCEPTION_E2E_CANARY_FILES"),
      ].map((f) => path.resolve(f));
      expect(required.filter((f) => !searched.has(f))).to.deep.equal([]);
      for (const r of runs) {
        const inRun = result.files.filter((f) => f.startsWith(r.artifactsDir + path.sep));
        expect(inRun.length, `files of run ${r.runId}`).to.be.greaterThan(5);
      }
    });

    it("finds no canary anywhere", () => {
      expect(
        result.hits.map(
          (h) => `${h.file} (byte ${h.offset}): ${h.canary}${h.form === "base64" ? " as base64" : ""}`,
        ),
      ).to.deep.equal([]);
    });
  });
});
